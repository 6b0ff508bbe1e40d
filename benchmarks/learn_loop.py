"""The learning loop on a simulated domain shift: `learn` + the gate, timed, before/after.

The domain: English TV-series dialogue turns (MELD, `sentiment` column as
polarity), which the shipped English polarity models never saw (they were
trained on movie reviews and tweets). For each number of corrections N, the
first N turns of a seeded shuffle of MELD train are the agents' corrections;
`build_candidate` (what `emotiondesk learn` runs) fits the candidate on the
non-held-back ones, with uncorrected traffic as anchors (DailyDialog dev
turns, texts only); the candidate and the champion are scored on MELD dev
(never trained on), and the gate is run as `learn` runs it (the shipped
customer-service sets + the held-back corrections, default thresholds).

Needs the shared data (`--shared`, default ../shared/data); says so and
exits when it is absent. Writes a JSON report with `--out`.

    python benchmarks/learn_loop.py --sizes 100 300 1000 --out learn_loop.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from emotiondesk.analyzer import load_analyzer
from emotiondesk.data import load_dataset
from emotiondesk.evaluation.gate import feedback_gate_sets, run_gate, shipped_gate_sets
from emotiondesk.evaluation.metrics import classification_report
from emotiondesk.labels import POLARITY_LABELS
from emotiondesk.registry import Registry
from emotiondesk.training.learn import FeedbackRow, build_candidate, split_feedback

ROOT = Path(__file__).resolve().parents[1]


def score(pack: Path, texts: list[str], labels: list[str]) -> dict[str, float]:
    analyzer = load_analyzer(pack)
    pred = []
    for i in range(0, len(texts), 500):
        reading = analyzer.read_texts(texts[i : i + 500], language="en")
        pred += [POLARITY_LABELS[j] for j in np.asarray(reading.polarity).argmax(axis=1)]
    r = classification_report(labels, pred, list(POLARITY_LABELS))
    return {"accuracy": round(r.accuracy, 4), "macro_f1": round(r.macro_f1, 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--pack", type=Path, default=ROOT / "models")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--anchors", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    meld = args.shared / "meld"
    if not (meld / "train.csv").is_file():
        print(f"the shared data is absent ({meld}): nothing to measure", file=sys.stderr)
        return 0
    train = load_dataset(meld / "train.csv", task="polarity", label_column="sentiment")
    dev = load_dataset(meld / "dev.csv", task="polarity", label_column="sentiment")
    anchors_data = load_dataset(
        args.shared / "dailydialog" / "dev.csv", task="emotion", dataset="dailydialog"
    )
    rng = random.Random(args.seed)
    order = list(range(len(train)))
    rng.shuffle(order)
    anchor_idx = rng.sample(range(len(anchors_data)), min(args.anchors, len(anchors_data)))
    anchors = [(anchors_data.texts[i], "en") for i in anchor_idx]
    shipped, _ = shipped_gate_sets()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry.init(Path(tmp) / "registry", source=args.pack, by="benchmark")
        champion = registry.version_dir("v1")
        before = score(champion, dev.texts, dev.labels)
        print(f"champion on MELD dev: {before}", flush=True)
        for n in args.sizes:
            rows = [
                FeedbackRow(
                    id=k + 1,
                    message_id=str(i),
                    text=train.texts[i],
                    language="en",
                    polarity=train.labels[i],
                )
                for k, i in enumerate(order[:n])
            ]
            t0 = time.perf_counter()
            result = build_candidate(registry, rows, anchors=anchors, by="benchmark")
            learn_s = time.perf_counter() - t0
            after = score(result.path, dev.texts, dev.labels)
            _, held = split_feedback(rows)
            sets = shipped + feedback_gate_sets(
                [r.text for r in held],
                [r.polarity for r in held],
                [None] * len(held),
                ["en"] * len(held),
            )
            t0 = time.perf_counter()
            report = run_gate(
                champion, result.path, sets, champion_version="v1", candidate_version=result.version
            )
            gate_s = time.perf_counter() - t0
            run = {
                "corrections": n,
                "trained_on": len(result.trained_ids),
                "held_back": len(result.held_back_ids),
                "learn_seconds": round(learn_s, 1),
                "gate_seconds": round(gate_s, 1),
                "meld_dev_before": before,
                "meld_dev_after": after,
                "C": result.card["models"]["en/polarity"]["C"],
                "gate_passed": report["passed"],
                "gate_failures": report["failures"],
            }
            runs.append(run)
            print(json.dumps(run, ensure_ascii=False), flush=True)
    out = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "pack": str(args.pack.name),
        "dev": f"meld/dev.csv sentiment ({len(dev)} rows)",
        "anchors": f"{len(anchors)} dailydialog/dev.csv texts",
        "runs": runs,
    }
    if args.out:
        args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
