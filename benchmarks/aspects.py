"""Aspect polarity accuracy on the hand-labelled sample (benchmarks/data/aspect_sample.csv).

Each row is (lang, text, aspect, gold polarity). A row is *found* when
``extract_aspects`` reports that aspect for the text; its prediction is the
polarity of the first such mention (a missed aspect counts as wrong in the
overall accuracy). Methods compared in the same run:

* ``lexicon``: the shipped method (clause + lexicon + negation);
* ``lexicon+analyzer``: clauses without opinion words labelled by the analyzer;
* ``analyzer-clause``: baseline, the analyzer's polarity of the aspect's clause;
* ``analyzer-text``: baseline, the analyzer's polarity of the whole text;
* ``majority``: baseline, the most frequent gold polarity.

The lexicon was refined by reading the errors on the even rows only; the
``held-out`` line scores the odd rows, which were not looked at.

Usage:
    python benchmarks/aspects.py [--pack DIR] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

from emotiondesk.analytics.aspects import extract_aspects

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "data" / "aspect_sample.csv"


def load(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def score(rows, preds):
    out = {}
    for lang in ("zh", "en", "all", "held-out"):
        # held-out: the odd rows, never looked at while the lexicon was refined
        idx = [
            i
            for i, r in enumerate(rows)
            if lang == "all" or r["lang"] == lang or (lang == "held-out" and i % 2 == 1)
        ]
        found = [i for i in idx if preds[i] is not None]
        correct = sum(1 for i in idx if preds[i] == rows[i]["polarity"])
        correct_found = sum(1 for i in found if preds[i] == rows[i]["polarity"])
        out[lang] = {
            "n": len(idx),
            "aspect_recall": len(found) / len(idx) if idx else 0.0,
            "accuracy": correct / len(idx) if idx else 0.0,
            "accuracy_on_found": correct_found / len(found) if found else 0.0,
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sample", type=Path, default=SAMPLE)
    ap.add_argument(
        "--pack", default=None, help="model pack for the analyzer methods (default: shipped)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = load(args.sample)
    texts = [r["text"] for r in rows]
    results = {}

    def first(mentions, aspect):
        for m in mentions:
            if m.aspect == aspect:
                return m
        return None

    lex = extract_aspects(texts)
    results["lexicon"] = score(
        rows,
        [getattr(first(m, r["aspect"]), "polarity", None) for m, r in zip(lex, rows, strict=False)],
    )
    majority = Counter(r["polarity"] for r in rows).most_common(1)[0][0]
    results["majority"] = score(rows, [majority] * len(rows))

    analyzer = None
    try:
        from emotiondesk import load_analyzer

        analyzer = load_analyzer(args.pack)
    except Exception as exc:  # report and keep the lexicon figures
        print(f"analyzer methods skipped: {exc}", file=sys.stderr)
    if analyzer is not None:
        fn = lambda cl: [r.polarity for r in analyzer.analyze(cl)]  # noqa: E731
        hyb = extract_aspects(texts, polarity_fn=fn)
        results["lexicon+analyzer"] = score(
            rows,
            [
                getattr(first(m, r["aspect"]), "polarity", None)
                for m, r in zip(hyb, rows, strict=False)
            ],
        )
        clause_preds = []
        for m, r in zip(lex, rows, strict=False):
            hit = first(m, r["aspect"])
            clause_preds.append(fn([hit.clause])[0] if hit else None)
        results["analyzer-clause"] = score(rows, clause_preds)
        results["analyzer-text"] = score(rows, fn(texts))
        results["_analyzer"] = analyzer.version
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        print(f"{'method':20s} {'lang':4s} {'n':>4s} {'recall':>7s} {'acc':>6s} {'acc|found':>9s}")
        for method, by_lang in results.items():
            if method.startswith("_"):
                continue
            for lang, s in by_lang.items():
                print(
                    f"{method:20s} {lang:4s} {s['n']:4d} {s['aspect_recall']:7.3f} {s['accuracy']:6.3f} {s['accuracy_on_found']:9.3f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
