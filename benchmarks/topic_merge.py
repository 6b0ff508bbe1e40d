"""Near-duplicate complaint topics: which hand-written topics merge, and what merging does.

1. Pairs: ``benchmarks/data/topic_pairs.yaml`` holds two pools (``tune``,
   ``report``) of hand-written complaint topics per language, each with a gold
   theme (written for this project). :func:`emotiondesk.analytics.topics.merge_groups`
   runs on each pool as the topics k-means would hand it; over all pairs of
   topics of a pool: precision and recall of "should merge" (same theme).
   Methods: no merging; the synonym map only; character n-gram TF-IDF cosine
   only; both (shipped).
2. Topics: with ``--data`` (``online_shopping_10_cats/dev.csv``, the 3,102
   negative reviews, ten categories), ``complaint_topics`` with k=10 with and
   without merging/synonyms: topics found, NMI and purity against the category.
   Skipped, with a note, when absent.

Usage:
    python benchmarks/topic_merge.py [--data ../shared/data] [--pool report]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml
from sklearn.metrics import normalized_mutual_info_score

from emotiondesk.analytics.topics import (
    MERGE_SIMILARITY,
    MERGE_TERM_OVERLAP,
    MERGE_TOP_TERMS,
    complaint_topics,
    merge_groups,
)
from emotiondesk.text.tokens import TOPICS

HERE = Path(__file__).resolve().parent

METHODS: dict[str, dict[str, Any]] = {
    "none (before)": {"similarity": None, "term_overlap": 2.0, "synonyms": {}},
    "top-term overlap, no synonyms": {"similarity": None, "synonyms": {}},
    "n-gram cosine >= 0.15 only": {"similarity": 0.15, "term_overlap": 2.0, "synonyms": {}},
    "n-gram cosine >= 0.3 only": {"similarity": 0.3, "term_overlap": 2.0, "synonyms": {}},
    "synonyms + n-gram cosine >= 0.3": {"similarity": 0.3},
    "shipped (synonyms, top terms)": {},
}


def top_terms(texts: list[str], lang: str) -> list[str]:
    counts = Counter(w for t in texts for w in dict.fromkeys(TOPICS(t, lang)))
    return [w for w, _c in counts.most_common(MERGE_TOP_TERMS)]


def pair_scores(pool: list[dict[str, Any]], lang: str, **kwargs: Any) -> tuple[int, int, int]:
    groups = [list(t["texts"]) for t in pool]
    roots = merge_groups(groups, [top_terms(g, lang) for g in groups], **kwargs)
    tp = fp = fn = 0
    for a, b in combinations(range(len(pool)), 2):
        gold = pool[a]["theme"] == pool[b]["theme"]
        got = roots[a] == roots[b]
        tp += gold and got
        fp += got and not gold
        fn += gold and not got
    return tp, fp, fn


def topic_figures(data: Path, **kwargs: Any) -> dict[str, Any] | None:
    path = data / "online_shopping_10_cats" / "dev.csv"
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] == "0" and r["text"].strip()]
    texts = [r["text"] for r in rows]
    cats = [r["category"] for r in rows]
    t0 = time.perf_counter()
    topics = complaint_topics(texts, k=10, examples=len(texts), language="zh", **kwargs)
    seconds = time.perf_counter() - t0
    where = {}
    for j, t in enumerate(topics):
        for e in t.examples:
            where.setdefault(e, j)
    pairs = [(where[t], c) for t, c in zip(texts, cats, strict=True) if t in where]
    got, gold = [p[0] for p in pairs], [p[1] for p in pairs]
    by = Counter(pairs)
    purity = sum(max(c for (j2, _), c in by.items() if j2 == j) for j in set(got)) / len(got)
    return {
        "texts": len(texts),
        "topics": len(topics),
        "nmi": normalized_mutual_info_score(gold, got),
        "purity": purity,
        "labels": [t.label for t in topics],
        "seconds": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pool", choices=("tune", "report", "fresh", "all"), default="all")
    args = parser.parse_args()
    pools = yaml.safe_load((HERE / "data" / "topic_pairs.yaml").read_text("utf-8"))
    print(f"thresholds: similarity {MERGE_SIMILARITY}, term overlap {MERGE_TERM_OVERLAP}")
    print("| pool | lang | method | topics | pairs (should merge) | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for name in ("tune", "report", "fresh") if args.pool == "all" else (args.pool,):
        for lang, pool in pools[name].items():
            n_pairs = len(pool) * (len(pool) - 1) // 2
            for method, kw in METHODS.items():
                tp, fp, fn = pair_scores(pool, lang, **kw)
                p = tp / (tp + fp) if tp + fp else float("nan")
                r = tp / (tp + fn) if tp + fn else float("nan")
                print(
                    f"| {name} | {lang} | {method} | {len(pool)} | {n_pairs} ({tp + fn}) "
                    f"| {p:.3f} | {r:.3f} |"
                )
    print()
    print("| topics (k=10) | texts | topics found | NMI | purity | seconds |")
    print("|---|---|---|---|---|---|")
    for method, kw in {
        "no synonyms, no merging, questions kept (before)": {
            "synonyms": {},
            "merge": False,
            "drop_questions": False,
        },
        "no synonyms, no merging": {"synonyms": {}, "merge": False},
        "synonyms, no merging": {"merge": False},
        "shipped (synonyms + merging)": {},
    }.items():
        fig = topic_figures(args.data, **kw)
        if fig is None:
            print(f"(skipped: {args.data}/online_shopping_10_cats/dev.csv not found)")
            break
        print(
            f"| {method} | {fig['texts']} | {fig['topics']} | {fig['nmi']:.3f} "
            f"| {fig['purity']:.3f} | {fig['seconds']:.2f} |"
        )
        print(f"{method}: {fig['labels']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
