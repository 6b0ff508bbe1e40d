"""What the tokeniser does to FAQ retrieval (BM25) and to complaint topics.

FAQ retrieval: the held-out customer-service messages of
``benchmarks/data/cs_inquiries_{zh,en}_heldout.csv`` (written for the project,
never written against the FAQ) labelled in ``benchmarks/data/faq_queries.csv``
with the shipped sample FAQ entry that answers them (``a|b``: either is right),
``-`` where no FAQ entry answers them (product questions, thanks, complaints
the FAQ does not cover) and ``?`` where the answer is arguable (not scored).
Figures per language: *answered* = the top hit is a right entry, on the
answerable rows; *ranked* = the same without the coverage bar (``min_coverage``
0: is the right entry ranked first at all); *wrong* = an entry is suggested for a row it does not answer
(a wrong entry on an answerable row, or any entry on a ``-`` row).

Complaint topics: the negative reviews of ``online_shopping_10_cats/dev.csv``
(``--data``; Chinese, ten product categories), clustered into ten topics with
``complaint_topics``; figures: NMI and purity of the topics against the product
category (the themes a tokeniser can find without labels), and the share of
texts the vocabulary covers. Skipped, with a note, when ``--data`` is absent.
English topics have no categorised public set here.

Variants (``--variants all``): ``shipped`` is the code as it is; the others
run the same code with another setting of the one tokeniser
(``emotiondesk.text.tokens``).

Usage:
    python benchmarks/tokenize_quality.py [--data ../shared/data] [--variants all] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "data" / "faq_queries.csv"


def faq_figures(tokenizer: Any | None) -> dict[str, Any]:
    from emotiondesk.replies.knowledge import FaqIndex

    kwargs = {} if tokenizer is None else {"tokenizer": tokenizer}
    entries = FaqIndex.load().entries
    index = FaqIndex(entries, **kwargs)
    ungated = FaqIndex(entries, min_coverage=0.0, **kwargs)
    with QUERIES.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[str, Any] = {}
    for lang in ("zh", "en"):
        c: Counter[str] = Counter()
        for r in rows:
            if r["lang"] != lang or r["expected"] == "?":
                continue
            hits = index.search(r["text"], lang)
            top = hits[0].entry.id if hits else None
            if r["expected"] == "-":
                c["none_rows"] += 1
                c["wrong"] += top is not None
            else:
                c["answerable"] += 1
                best = ungated.search(r["text"], lang)
                c["ranked"] += bool(best) and best[0].entry.id in r["expected"].split("|")
                right = top in r["expected"].split("|")
                c["answered"] += right
                c["wrong"] += top is not None and not right
        scored = c["answerable"] + c["none_rows"]
        out[lang] = {
            "answerable": c["answerable"],
            "none_rows": c["none_rows"],
            "answered": round(c["answered"] / c["answerable"], 3),
            "answered_n": c["answered"],
            "ranked": round(c["ranked"] / c["answerable"], 3),
            "wrong": round(c["wrong"] / scored, 3),
            "wrong_n": c["wrong"],
        }
    return out


def topic_figures(data: Path, tokenizer: Any | None, k: int) -> dict[str, Any] | None:
    from sklearn.metrics import normalized_mutual_info_score

    from emotiondesk.analytics.topics import complaint_topics

    path = data / "online_shopping_10_cats" / "dev.csv"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] == "0" and r["text"].strip()]
    texts = [r["text"] for r in rows]
    kwargs = {} if tokenizer is None else {"tokenizer": tokenizer}
    t0 = time.perf_counter()
    topics = complaint_topics(texts, k=k, examples=len(texts), language="zh", **kwargs)
    seconds = time.perf_counter() - t0
    # examples=len(texts) lists every member of a topic (nearest first): the assignment.
    cat_of = {}
    for r in rows:
        cat_of.setdefault(r["text"], r["category"])
    gold, pred = [], []
    for j, t in enumerate(topics):
        for ex in t.examples:
            gold.append(cat_of[ex])
            pred.append(j)
    purity = sum(
        Counter(g for g, p in zip(gold, pred, strict=True) if p == j).most_common(1)[0][1]
        for j in set(pred)
    )
    return {
        "texts": len(texts),
        "covered": round(len(gold) / len(texts), 3),
        "nmi": round(float(normalized_mutual_info_score(gold, pred)), 3),
        "purity": round(purity / max(len(gold), 1), 3),
        "seconds": round(seconds, 1),
        "labels": [t.label for t in topics],
    }


def variants() -> dict[str, tuple[Any, Any]]:
    """name -> (FAQ tokeniser, topics tokeniser); None: the shipped one."""
    from dataclasses import replace

    from emotiondesk.text.tokens import RETRIEVAL, TOPICS

    return {
        "shipped": (None, None),
        "faq: jieba words": (replace(RETRIEVAL, zh="words"), None),
        "faq: + topics stop words": (replace(RETRIEVAL, stop_sets=("common", "topics")), None),
        "topics: chars + bigrams": (None, replace(TOPICS, zh="chars", mixed=True)),
        "topics: common stop words only": (None, replace(TOPICS, stop_sets=("common",))),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--variants", default="shipped", help="comma-separated names, or 'all'")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results: dict[str, Any] = {}
    known = variants()
    names = list(known) if args.variants == "all" else args.variants.split(",")
    for name in names:
        if name not in known:
            ap.error(f"unknown variant {name!r}; known: {', '.join(known)}")
        faq_tok, topics_tok = known[name]
        results[name] = {
            "faq": faq_figures(faq_tok),
            "topics": topic_figures(args.data, topics_tok, args.k),
        }
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return 0
    print(
        "| variant | zh answered | zh ranked | zh wrong | en answered | en ranked | en wrong "
        "| topics NMI | purity | covered |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        f, t = r["faq"], r["topics"]
        cells = [
            f"{f[lang]['answered']:.3f} ({f[lang]['answered_n']}/{f[lang]['answerable']})"
            f" | {f[lang]['ranked']:.3f} | {f[lang]['wrong']:.3f} ({f[lang]['wrong_n']})"
            for lang in ("zh", "en")
        ]
        topic = f"{t['nmi']:.3f} | {t['purity']:.3f} | {t['covered']:.3f}" if t else "- | - | -"
        print(f"| {name} | {' | '.join(cells)} | {topic} |")
    if any(r["topics"] is None for r in results.values()):
        print(
            f"(topics skipped: {args.data}/online_shopping_10_cats/dev.csv not found)",
            file=sys.stderr,
        )
    for name, r in results.items():
        if r["topics"]:
            print(f"{name} topics: {r['topics']['labels']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
