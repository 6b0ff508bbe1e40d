"""Fixed-weight average of an n-gram model and a deep model on the zh dev sets.

Usage (from the repository root)::

    python benchmarks/zh_ensemble.py --data ../shared/data --ngram models/fast \\
        --polarity out/zh-os-bigru out/zh-os --emotion out/zh-smp --weight 0.5

For online_shopping_10_cats (``--polarity`` models, scored binary) and
SMP2020-EWECT (``--emotion`` models, accuracy and macro-F1), prints one JSON
line per model: the n-gram model alone, the deep model alone, and the
average ``(1 - weight) * ngram + weight * deep`` of their calibrated
probabilities. The weight is fixed in advance (no search on dev), and the
scoring is :func:`emotiondesk.evaluation.evaluate.evaluate_data`'s.

When ``--data`` is absent the script says so and exits 0 without figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.data import load_dataset  # noqa: E402
from emotiondesk.evaluation.evaluate import predict_scheme_proba  # noqa: E402
from emotiondesk.evaluation.metrics import classification_report  # noqa: E402
from emotiondesk.labels import scheme  # noqa: E402

SETS = {
    "polarity": ("online_shopping_10_cats/dev.csv", "binary", True),
    "emotion": ("smp2020_ewect/dev.csv", "smp2020_ewect", False),
}


def score(task: str, gold: list[str], proba: np.ndarray, binary: bool) -> dict[str, float]:
    """Accuracy and macro-F1 as ``emotiondesk evaluate`` computes them."""
    labels = list(scheme(task))
    if binary:
        neg, pos = labels.index("negative"), labels.index("positive")
        pred = ["positive" if p[pos] > p[neg] else "negative" for p in proba]
        eval_labels = ["negative", "positive"]
    else:
        pred = [labels[i] for i in proba.argmax(axis=1)]
        eval_labels = [x for x in labels if x in set(gold) | set(pred)]
    rep = classification_report(gold, pred, eval_labels).to_dict()
    in_data = [x for x in eval_labels if x in set(gold)]
    macro = sum(rep["per_class"][x]["f1"] for x in in_data) / len(in_data)
    return {"accuracy": round(float(rep["accuracy"]), 4), "macro_f1": round(macro, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--ngram", default="models/fast", help="n-gram pack or model directory")
    ap.add_argument("--polarity", nargs="*", default=[], help="deep polarity model directories")
    ap.add_argument("--emotion", nargs="*", default=[], help="deep emotion model directories")
    ap.add_argument("--weight", type=float, default=0.5, help="weight of the deep model")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"data directory {args.data} not found; skipped", file=sys.stderr)
        return 0
    if not 0 <= args.weight <= 1:
        print("--weight must be in [0, 1]", file=sys.stderr)
        return 2
    for task, models in (("polarity", args.polarity), ("emotion", args.emotion)):
        if not models:
            continue
        rel, dataset, binary = SETS[task]
        data = load_dataset(args.data / rel, task=task, dataset=dataset, drop_duplicates=False)
        ngram, _ = predict_scheme_proba(args.ngram, data.texts, task=task)
        base = score(task, data.labels, ngram, binary)
        for model in models:
            deep, _ = predict_scheme_proba(model, data.texts, task=task)
            mixed = (1 - args.weight) * ngram + args.weight * deep
            row = {
                "task": task,
                "data": rel,
                "n": len(data),
                "ngram": base,
                "deep_model": Path(model).name,
                "deep": score(task, data.labels, deep, binary),
                "weight": args.weight,
                "average": score(task, data.labels, mixed, binary),
            }
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
