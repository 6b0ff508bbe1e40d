"""The pack v2 selection rule of benchmarks/train_pack.py (synthetic dev figures)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import train_pack  # noqa: E402

NGRAM = {"sst2/dev.csv (binary)": 0.82, "tweeteval/dev.csv": 0.66}
HELD = "benchmarks/data/cs_inquiries_en_heldout.csv"


def write(out: Path, name: str, public: dict[str, float], held: tuple[float, float]) -> None:
    rows = [{"dev": d, "n": 10, "accuracy": v, "macro_f1": v} for d, v in public.items()]
    rows.append({"dev": HELD, "n": 10, "accuracy": held[0], "macro_f1": held[1]})
    (out / name).mkdir()
    (out / name / "config.json").write_text(
        json.dumps({"model_type": "x", "training": {"dev": rows}}), encoding="utf-8"
    )


@pytest.mark.parametrize(
    ("ensemble", "held", "chosen"),
    [
        ({"sst2/dev.csv (binary)": 0.83, "tweeteval/dev.csv": 0.70}, (0.90, 0.88), "ensemble"),
        # better on average but one dev set worse than the n-gram model: not eligible
        ({"sst2/dev.csv (binary)": 0.80, "tweeteval/dev.csv": 0.75}, (0.90, 0.88), "ngram"),
        # better on dev, worse on the held-out customer-service set: not eligible
        ({"sst2/dev.csv (binary)": 0.83, "tweeteval/dev.csv": 0.70}, (0.90, 0.85), "ngram"),
        # a gain within MIN_GAIN does not replace the n-gram model
        ({"sst2/dev.csv (binary)": 0.821, "tweeteval/dev.csv": 0.661}, (0.90, 0.88), "ngram"),
    ],
)
def test_choose_route(tmp_path: Path, ensemble: dict, held: tuple, chosen: str) -> None:
    write(tmp_path, "en-polarity-ngram", NGRAM, (0.90, 0.88))
    write(tmp_path, "en-polarity-use", {k: v - 0.05 for k, v in NGRAM.items()}, (0.95, 0.95))
    write(tmp_path, "en-polarity-ensemble", ensemble, held)
    name, log = train_pack.choose_route("en", "polarity", tmp_path)
    assert name == f"en-polarity-{chosen}"
    use = next(c for c in log if c["model"] == "en-polarity-use")
    assert use["not_eligible"]  # worse on both public dev sets


def test_shipped_pack_follows_the_rule() -> None:
    """Each route is pack v2's choice, or its blend with the e5 model where that passed."""
    pack = json.loads((ROOT / "models" / "pack.json").read_text(encoding="utf-8"))
    blends = pack["selection"]["e5_blend"]
    for lang, tasks in pack["routes"].items():
        for task, name in tasks.items():
            base = train_pack.choose_route(lang, task, ROOT / "models")[0]
            record = blends[f"{lang}/{task}"]
            assert record["route_before"] == base and record["chosen"] == name
            if record["not_eligible"]:
                assert name == base
                continue
            assert name == f"{lang}-{task}-e5blend"
            cfg = json.loads((ROOT / "models" / name / "config.json").read_text())
            members = [(m["path"], m.get("task"), m["weight"]) for m in cfg["members"]]
            w = record["e5_weight"]
            assert members == [(base, None, round(1 - w, 2)), ("e5-multitask", task, w)]
