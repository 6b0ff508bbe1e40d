"""Data for the learning-loop tests: a domain the tiny pack reads wrong, and a general gate set.

The domain: Chinese complaints about devices that fail (lag, crashes, no
charge), which the tiny pack, trained on delivery and service complaints,
reads as neutral or joy. Agents correct them to negative / anger.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import TINY_EN, TINY_ZH

DEVICES = ["手机", "电脑", "平板", "耳机", "手表", "音箱", "相机", "路由器"]
FAULTS = ["又卡顿了", "老是死机", "一直闪退", "发烫得厉害", "充不进电", "连不上蓝牙", "开不了机"]


def domain_messages() -> list[str]:
    """56 device-fault complaints (8 devices x 7 faults)."""
    return [f"这个{d}{f}" for d in DEVICES for f in FAULTS]


#: General messages (not the tiny pack's training rows) for the gate: (text, polarity, emotion).
GENERAL: list[tuple[str, str, str]] = [
    ("物流太慢了，我很生气", "negative", "anger"),
    ("客服一直不回复，气死我了", "negative", "anger"),
    ("又发错货了，太气人了", "negative", "anger"),
    ("谢谢，非常满意", "positive", "joy"),
    ("很喜欢，好评", "positive", "joy"),
    ("质量很好，谢谢客服", "positive", "joy"),
    ("请问什么时候发货", "neutral", "neutral"),
    ("我想改一下收货地址", "neutral", "neutral"),
    ("请问有没有蓝色的", "neutral", "neutral"),
    ("I am furious, the parcel is late again", "negative", "anger"),
    ("Thanks, I love it", "positive", "joy"),
    ("When will my order ship?", "neutral", "neutral"),
]


def write_gate_file(path: Path, task: str) -> Path:
    """The general set as ``text,label`` for one task."""
    col = 1 if task == "polarity" else 2
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for row in GENERAL:
            writer.writerow([row[0], row[col]])
    return path


def anchor_texts() -> list[str]:
    """Ordinary traffic nobody corrected (the tiny pack's own examples)."""
    return [t for t, _, _ in TINY_ZH + TINY_EN]
