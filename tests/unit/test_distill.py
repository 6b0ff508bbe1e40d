"""benchmarks/distill.py: the teacher's targets as training rows, and the shipping rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import distill  # noqa: E402

TEACHER = ["negative", "neutral", "positive"]
CACHE = [
    {"lang": "en", "source": "a.csv", "text": "fine", "polarity": [0.05, 0.25, 0.70]},
    {"lang": "en", "source": "b.csv", "text": "bad", "polarity": [0.95, 0.04, 0.01]},
    {"lang": "zh", "source": "c.csv", "text": "好", "polarity": [0.0, 0.1, 0.9]},
    {"lang": "en", "source": "a.csv", "text": "dev text", "polarity": [0.5, 0.5, 0.0]},
]


def test_soft_targets_are_weighted_rows_per_class() -> None:
    texts, labels, weights, sources = distill.distilled_rows(
        CACHE, "en", "polarity", TEACHER, set(TEACHER),
        mode="soft", weight=2.0, threshold=0.0, exclude={"dev text"},
    )  # fmt: skip
    assert sources == {"a.csv": 1, "b.csv": 1}
    rows = list(zip(texts, labels, weights, strict=True))
    # "fine": classes under MIN_PROB dropped, the rest renormalised, times the weight
    fine = {label: w for t, label, w in rows if t == "fine"}
    assert set(fine) == {"neutral", "positive"}
    assert fine["positive"] == pytest.approx(2.0 * 0.70 / 0.95)
    assert sum(fine.values()) == pytest.approx(2.0)
    assert [(label, w) for t, label, w in rows if t == "bad"] == [("negative", 2.0)]


def test_hard_labels_keep_confident_texts_and_drop_unknown_classes() -> None:
    texts, labels, weights, _ = distill.distilled_rows(
        CACHE, "en", "polarity", TEACHER, {"negative", "positive"},
        mode="hard", weight=1.0, threshold=0.95, exclude=set(),
    )  # fmt: skip
    # without neutral, "fine" is 0.70/0.75 positive (< 0.95): dropped; "dev text" is 1.0 negative
    assert list(zip(texts, labels, weights, strict=True)) == [
        ("bad", "negative", 1.0),
        ("dev text", "negative", 1.0),
    ]


def _rows(figs: dict[str, float]) -> dict[str, dict[str, dict[str, float]]]:
    return {
        name: {"choose": {"accuracy": v, "macro_f1": v}, "report": {"accuracy": v, "macro_f1": v}}
        for name, v in figs.items()
    }


HELD = "benchmarks/data/cs_inquiries_en_heldout.csv"


@pytest.mark.parametrize(
    ("new", "ships"),
    [
        ({"sst2/dev.csv (binary)": 0.84, "tweeteval/dev.csv": 0.67, HELD: 0.90}, True),
        # a public set more than 0.5 points down
        ({"sst2/dev.csv (binary)": 0.86, "tweeteval/dev.csv": 0.65, HELD: 0.90}, False),
        # the held-out set more than 1 point down
        ({"sst2/dev.csv (binary)": 0.84, "tweeteval/dev.csv": 0.67, HELD: 0.88}, False),
        # no gain in the mean
        ({"sst2/dev.csv (binary)": 0.82, "tweeteval/dev.csv": 0.661, HELD: 0.95}, False),
    ],
)
def test_judge_is_the_pack_rule(new: dict[str, float], ships: bool) -> None:
    current = _rows({"sst2/dev.csv (binary)": 0.82, "tweeteval/dev.csv": 0.66, HELD: 0.90})
    ok, why = distill.judge(current, _rows(new), "choose")
    assert ok is ships
    assert bool(why) is not ships


def test_says_so_without_data(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "distill.py"), "train",
         "--data", str(tmp_path / "absent"), "--cache", str(tmp_path / "c"),
         "--work", str(tmp_path / "w")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert res.returncode == 0
    assert "not found" in res.stderr
    assert not (tmp_path / "w").exists()
