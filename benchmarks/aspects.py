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

Second, the aspect set (benchmarks/data/aspect_set.csv, issue 15): 505
sentences, 253 zh and 252 en, written and labelled for this project (not
taken from any data set), each with ALL its aspects (``aspect:polarity``,
``:neg`` when a negator turns the opinion about it; empty: no aspect; a
question names its aspect with ``neutral``). Rows alternate between a
``tune`` half (the only one read while refining the lexicon) and a ``report``
half (scored, never read for tuning). Per split and language: aspect
precision and recall over (sentence, aspect) pairs, polarity accuracy and
negation accuracy over the found pairs, and polarity accuracy over all gold
pairs (a missed aspect counts as wrong).

Usage:
    python benchmarks/aspects.py [--pack DIR] [--json] [--set-only]
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
ASPECT_SET = HERE / "data" / "aspect_set.csv"


def parse_gold(field: str) -> dict[str, tuple[str, bool]]:
    """``"packaging:positive:neg;price:negative"`` -> {aspect: (polarity, negated)}."""
    out = {}
    for item in filter(None, field.split(";")):
        aspect, polarity, *rest = item.split(":")
        out[aspect] = (polarity, rest == ["neg"])
    return out


def predicted(mentions) -> dict[str, tuple[str, bool]]:
    """Per aspect: the polarity of its first mention, negated when any mention is."""
    out: dict[str, tuple[str, bool]] = {}
    for m in mentions:
        if m.aspect in out:
            out[m.aspect] = (out[m.aspect][0], out[m.aspect][1] or m.negated)
        else:
            out[m.aspect] = (m.polarity, m.negated)
    return out


def score_set(rows, preds) -> dict[str, dict[str, float]]:
    """Aspect precision/recall, polarity and negation accuracy per split and language."""
    out = {}
    for split in ("tune", "report"):
        for lang in ("zh", "en", "all"):
            idx = [
                i for i, r in enumerate(rows) if r["split"] == split and lang in (r["lang"], "all")
            ]
            n_gold = n_pred = matched = pol_ok = neg_ok = 0
            for i in idx:
                gold = parse_gold(rows[i]["aspects"])
                pred = preds[i]
                n_gold += len(gold)
                n_pred += len(pred)
                for aspect, (polarity, negated) in gold.items():
                    if aspect in pred:
                        matched += 1
                        pol_ok += pred[aspect][0] == polarity
                        neg_ok += pred[aspect][1] == negated
            p = matched / n_pred if n_pred else 0.0
            r = matched / n_gold if n_gold else 0.0
            out[f"{split}/{lang}"] = {
                "sentences": len(idx),
                "gold_aspects": n_gold,
                "precision": p,
                "recall": r,
                "f1": 2 * p * r / (p + r) if p + r else 0.0,
                "polarity_acc_found": pol_ok / matched if matched else 0.0,
                "polarity_acc_all": pol_ok / n_gold if n_gold else 0.0,
                "negation_acc_found": neg_ok / matched if matched else 0.0,
            }
    return out


def print_set(results) -> None:
    print(
        f"{'method':18s} {'split/lang':12s} {'n':>4s} {'gold':>4s} {'prec':>6s} {'recall':>6s} "
        f"{'pol|found':>9s} {'pol|all':>7s} {'neg|found':>9s}"
    )
    for method, by in results.items():
        for key, s in by.items():
            print(
                f"{method:18s} {key:12s} {s['sentences']:4d} {s['gold_aspects']:4d} "
                f"{s['precision']:6.3f} {s['recall']:6.3f} {s['polarity_acc_found']:9.3f} "
                f"{s['polarity_acc_all']:7.3f} {s['negation_acc_found']:9.3f}"
            )


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
    ap.add_argument("--set", type=Path, default=ASPECT_SET, help="the aspect set (issue 15)")
    ap.add_argument("--set-only", action="store_true", help="score the aspect set only")
    args = ap.parse_args()
    set_rows = load(args.set)
    set_results = {
        "lexicon": score_set(
            set_rows, [predicted(m) for m in extract_aspects([r["text"] for r in set_rows])]
        )
    }
    if args.set_only:
        if args.json:
            print(json.dumps({"aspect_set": set_results}, indent=2))
        else:
            print_set(set_results)
        return 0
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
        set_results["lexicon+analyzer"] = score_set(
            set_rows,
            [predicted(m) for m in extract_aspects([r["text"] for r in set_rows], polarity_fn=fn)],
        )
    if args.json:
        print(json.dumps({**results, "aspect_set": set_results}, indent=2, ensure_ascii=False))
    else:
        print(f"{'method':20s} {'lang':4s} {'n':>4s} {'recall':>7s} {'acc':>6s} {'acc|found':>9s}")
        for method, by_lang in results.items():
            if method.startswith("_"):
                continue
            for lang, s in by_lang.items():
                print(
                    f"{method:20s} {lang:4s} {s['n']:4d} {s['aspect_recall']:7.3f} {s['accuracy']:6.3f} {s['accuracy_on_found']:9.3f}"
                )
        print()
        print_set(set_results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
