"""PII detection: recall and precision per kind on the marked set (``benchmarks/data/pii_set.jsonl``).

A gold span is found when a detected span of the same kind overlaps it; a
detected span is right when it overlaps a gold span of its kind. Rows without
spans are look-alikes (order and tracking numbers, prices, dates) that must
stay unmasked: every span detected in them counts against precision. The
baseline in the same run is the detector without normalisation (the text as
typed, no NFKC, no zero-width removal), so the figure says what the
normalisation buys.

Usage:
    python benchmarks/pii.py [--data benchmarks/data/pii_set.jsonl] [--json] [--errors]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from emotiondesk.text import pii

KINDS = ("phone", "email", "id_number", "bank_card")


def evaluate(rows: list[dict], detect: Callable[[str], list[pii.PiiSpan]]) -> tuple[dict, list]:
    gold_n: Counter[str] = Counter()
    found: Counter[str] = Counter()
    pred_n: Counter[str] = Counter()
    right: Counter[str] = Counter()
    errors = []
    for row in rows:
        text = row["text"]
        gold = [(g["kind"], g["start"], g["end"]) for g in row["spans"]]
        pred = [(s.kind, s.start, s.end) for s in detect(text)]

        def hit(a: tuple[str, int, int], others: list[tuple[str, int, int]]) -> bool:
            return any(a[0] == b[0] and a[1] < b[2] and b[1] < a[2] for b in others)

        for g in gold:
            gold_n[g[0]] += 1
            if hit(g, pred):
                found[g[0]] += 1
            else:
                errors.append(("missed", g[0], text))
        for p in pred:
            pred_n[p[0]] += 1
            if hit(p, gold):
                right[p[0]] += 1
            else:
                errors.append(("false", p[0], text))
    out = {}
    for kind in sorted(set(gold_n) | set(pred_n)):
        out[kind] = {
            "gold": gold_n[kind],
            "recall": found[kind] / gold_n[kind] if gold_n[kind] else None,
            "predicted": pred_n[kind],
            "precision": right[kind] / pred_n[kind] if pred_n[kind] else None,
        }
    return out, errors


def without_normalisation(text: str) -> list[pii.PiiSpan]:
    return pii._find(text)  # the detector on the raw text


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=Path(__file__).parent / "data" / "pii_set.jsonl")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--errors", action="store_true", help="print every miss and false detection")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line]
    result, errors = evaluate(rows, pii.find_pii)
    baseline, _ = evaluate(rows, without_normalisation)
    groups = Counter(r["group"] for r in rows)
    if args.json:
        print(
            json.dumps(
                {
                    "rows": len(rows),
                    "groups": groups,
                    "find_pii": result,
                    "no_normalisation": baseline,
                },
                indent=2,
            )
        )
    else:
        print(f"{len(rows)} strings ({', '.join(f'{g} {n}' for g, n in sorted(groups.items()))})")
        print(
            f"{'kind':10} {'gold':>5} {'recall':>7} {'pred':>5} {'precision':>9}   "
            f"{'recall':>7} {'precision':>9} (no normalisation)"
        )

        def f(x: float | None) -> str:
            return "   -" if x is None else f"{x:.3f}"

        for kind, r in result.items():
            b = baseline.get(kind, {"recall": None, "precision": None})
            print(
                f"{kind:10} {r['gold']:5d} {f(r['recall']):>7} {r['predicted']:5d} "
                f"{f(r['precision']):>9}   {f(b['recall']):>7} {f(b['precision']):>9}"
            )
    if args.errors:
        for what, kind, text in errors:
            print(f"{what:6} {kind:10} {text!r}")


if __name__ == "__main__":
    main()
