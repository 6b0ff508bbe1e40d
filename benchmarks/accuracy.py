"""Dev-set accuracy of a model pack (default: the shipped one), with simple baselines.

    python benchmarks/accuracy.py --data ../shared/data [--model default|PACK_DIR] [--snownlp]

Reads the dev splits in the shared data folder (``--data``, default
``../shared/data``; skips with a message when it is absent), evaluates the
whole pack (texts routed by detected language, as ``analyze`` does) and prints
a markdown table: accuracy and macro-F1 (averaged over the labels present in
the dev file) next to the majority-class baseline (the most frequent training
label). ``--snownlp`` adds snownlp's built-in sentiment on the
online_shopping_10_cats dev set (binary).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_pack import RECIPES  # noqa: E402

from emotiondesk.evaluation.evaluate import evaluate_data  # noqa: E402
from emotiondesk.evaluation.metrics import classification_report  # noqa: E402

#: Floors from issue #2 (dev split -> (metric, floor)).
FLOORS = {
    ("online_shopping_10_cats/dev.csv (binary)", "polarity"): ("accuracy", 0.93),
    ("sst2/dev.csv (binary)", "polarity"): ("accuracy", 0.82),
    ("smp2020_ewect/dev.csv", "emotion"): ("macro_f1", 0.62),
}


def majority(recipe, dev, data, root: Path) -> dict[str, float]:
    """Predict the most frequent label of the dev set's own training file."""
    from train_pack import Source

    train_file = "train.csv"
    if dev.dataset == "tweeteval_sentiment":
        train_file = "train_reconstructed.csv"
    src = Source(dev.dataset, train_file, dev.label_column, dev.map_dataset, dev.single_label_only)
    try:
        train = src.load(root, recipe.task)
        top = Counter(train.labels).most_common(1)[0][0]
    except Exception:  # no train split (e.g. CPED): the dev majority
        top = Counter(data.labels).most_common(1)[0][0]
    labels = sorted(set(data.labels))
    r = classification_report(data.labels, [top] * len(data), sorted(set(data.labels) | {top}))
    f1 = [r.per_class[label]["f1"] for label in labels]
    return {"accuracy": r.accuracy, "macro_f1": sum(f1) / len(f1), "label": top}


def snownlp_baseline(root: Path) -> dict[str, float] | None:
    try:
        from snownlp import SnowNLP
    except ImportError:
        print("snownlp is not installed: skipping its baseline", file=sys.stderr)
        return None
    from emotiondesk.data import load_dataset

    data = load_dataset(
        root / "online_shopping_10_cats" / "dev.csv",
        task="polarity",
        dataset="online_shopping_10_cats",
        drop_duplicates=False,
    )
    start = time.perf_counter()
    pred = ["positive" if SnowNLP(t).sentiments > 0.5 else "negative" for t in data.texts]
    seconds = time.perf_counter() - start
    r = classification_report(data.labels, pred, ["negative", "positive"])
    return {"n": r.n, "accuracy": r.accuracy, "macro_f1": r.macro_f1, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="default", help="'default' or a pack directory")
    parser.add_argument("--snownlp", action="store_true", help="add snownlp's sentiment baseline")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(
            f"skipped: no dataset folder at {args.data} (pass --data DIR; the accuracy "
            "benchmark reads the dev splits of the shared data)",
            file=sys.stderr,
        )
        return 0
    rows = []
    for recipe in RECIPES:
        for dev in recipe.devs:
            path = args.data / dev.dataset / dev.file
            if not path.is_file():
                print(f"skipped {dev.name}: {path} is absent", file=sys.stderr)
                continue
            data = dev.load(args.data, recipe.task)
            report = evaluate_data(data, task=recipe.task, model=args.model, binary=dev.binary)
            base = majority(recipe, dev, data, args.data)
            floor = FLOORS.get((dev.name, recipe.task))
            rows.append(
                {
                    "dev": dev.name,
                    "task": recipe.task,
                    "n": report["n"],
                    "accuracy": report["accuracy"],
                    "macro_f1": report["macro_f1"],
                    "majority_accuracy": base["accuracy"],
                    "majority_macro_f1": base["macro_f1"],
                    "floor": f"{floor[0]} >= {floor[1]}" if floor else "",
                    "meets_floor": (report[floor[0]] >= floor[1]) if floor else None,
                    "model": report["model"],
                }
            )
    print("| dev set | task | n | accuracy | macro-F1 | majority acc | majority macro-F1 | floor |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        floor = f"{r['floor']} {'met' if r['meets_floor'] else 'MISSED'}" if r["floor"] else ""
        print(
            f"| {r['dev']} | {r['task']} | {r['n']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} "
            f"| {r['majority_accuracy']:.4f} | {r['majority_macro_f1']:.4f} | {floor} |"
        )
    if args.snownlp:
        s = snownlp_baseline(args.data)
        if s:
            print(
                f"\nsnownlp sentiment (> 0.5 = positive) on online_shopping_10_cats/dev.csv: "
                f"n {s['n']}, accuracy {s['accuracy']:.4f}, macro-F1 {s['macro_f1']:.4f} "
                f"({s['seconds']:.0f} s)"
            )
            rows.append(
                {"dev": "online_shopping_10_cats/dev.csv (binary)", "baseline": "snownlp", **s}
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
