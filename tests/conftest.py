"""Shared fixtures.

``tiny_pack``: a complete model pack (``pack.json`` + zh/en x polarity/emotion
n-gram models) trained in a couple of seconds on the inline examples below.
Its predictions on those examples are right, elsewhere it is a toy; use it to
test plumbing (analyzer, service, dialogue), never accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# (text, polarity, emotion)
TINY_ZH: list[tuple[str, str, str]] = [
    ("物流太慢了，气死我了", "negative", "anger"),
    ("等了一个星期还没到，太气人了", "negative", "anger"),
    ("客服态度恶劣，我要投诉", "negative", "anger"),
    ("发错货了，你们怎么搞的，气死了", "negative", "anger"),
    ("质量太差了，恶心，垃圾东西", "negative", "disgust"),
    ("味道很恶心，简直是垃圾", "negative", "disgust"),
    ("包装破了，杯子碎了，好失望好难过", "negative", "sadness"),
    ("收到的衣服不合身，有点伤心", "negative", "sadness"),
    ("担心付款扣了两次，好害怕", "negative", "fear"),
    ("快递丢了怎么办，我很担心", "negative", "fear"),
    ("谢谢客服，非常满意，好开心", "positive", "joy"),
    ("质量很好，很喜欢，谢谢", "positive", "joy"),
    ("衣服很漂亮，尺码合适，开心", "positive", "joy"),
    ("物流很快，好评，满意", "positive", "joy"),
    ("竟然第二天就到了，太意外了", "positive", "surprise"),
    ("没想到这么便宜，惊喜", "positive", "surprise"),
    ("请问这款手机支持无线充电吗", "neutral", "neutral"),
    ("我想修改收货地址", "neutral", "neutral"),
    ("订单什么时候发货", "neutral", "neutral"),
    ("请问有没有红色的", "neutral", "neutral"),
]
TINY_EN: list[tuple[str, str, str]] = [
    ("The parcel is so late, this is unacceptable, I am furious", "negative", "anger"),
    ("Terrible service, I am angry and want a refund now", "negative", "anger"),
    ("You sent the wrong item again, this makes me mad", "negative", "anger"),
    ("Still no delivery after two weeks, furious", "negative", "anger"),
    ("Disgusting quality, it smells awful, gross", "negative", "disgust"),
    ("This is gross and disgusting junk", "negative", "disgust"),
    ("The cup arrived broken, I am so sad and disappointed", "negative", "sadness"),
    ("Sadly the dress does not fit, disappointed", "negative", "sadness"),
    ("I am worried my payment went through twice", "negative", "fear"),
    ("I am scared my package got lost, worried", "negative", "fear"),
    ("Thank you so much, I love it, great service", "positive", "joy"),
    ("Thanks, the headphones sound amazing, happy", "positive", "joy"),
    ("Great quality, love it, thank you", "positive", "joy"),
    ("Fast delivery, very happy, thanks", "positive", "joy"),
    ("Wow, it arrived already? What a surprise", "positive", "surprise"),
    ("I did not expect it so soon, wow, surprised", "positive", "surprise"),
    ("Can I change the delivery address for my order", "neutral", "neutral"),
    ("Does this phone support wireless charging", "neutral", "neutral"),
    ("When will my order ship", "neutral", "neutral"),
    ("Do you have this in red", "neutral", "neutral"),
]


def train_tiny_pack(root: Path) -> Path:
    """Train the four tiny models into ``root`` and write its ``pack.json``."""
    from emotiondesk.models.ngram import NgramClassifier

    routes: dict[str, dict[str, str]] = {}
    for lang, rows in (("zh", TINY_ZH), ("en", TINY_EN)):
        texts = [t for t, _, _ in rows] * 3
        for task, col in (("polarity", 1), ("emotion", 2)):
            labels = [r[col] for r in rows] * 3
            name = f"{lang}-{task}-ngram"
            NgramClassifier(
                language=lang, min_df=1, keep_features=None, C=20.0, calibration_fraction=0.0
            ).fit(texts, labels).save_pretrained(root / name)
            routes.setdefault(lang, {})[task] = name
    (root / "pack.json").write_text(
        json.dumps(
            {"name": "tiny", "version": "0.0.test", "fallback_language": "en", "routes": routes},
            indent=2,
        ),
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="session")
def tiny_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a full tiny model pack (pack.json + zh/en polarity/emotion n-gram models)."""
    return train_tiny_pack(tmp_path_factory.mktemp("tiny_pack"))
