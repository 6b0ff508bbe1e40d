"""Faithfulness and cost of the evidence spans (emotiondesk.explain).

Faithfulness, as in the ERASER benchmark, for the polarity task: with ``p`` the
models' probability of the predicted polarity (the pack's models on the
normalised text, before the lexical signals),

* comprehensiveness = p(text) - p(text without the top-3 spans): high when
  the spans carry the decision;
* sufficiency = p(text) - p(only the top-3 spans): low when they suffice;

for the top-3 evidence spans with a positive weight, against random spans of
the same length (the same number of segmenter words each, non-overlapping,
five draws per message, seed 0). Messages without a positive span are counted
and skipped.

Cost: analysing N messages, explaining them and computing the evidence
ingestion stores (``method="linear"`` plus the aspects; for the ensembles
their n-gram members), timed in the same run (one thread) in alternating
blocks of 100 messages, per tier.

Tiers: ``ngram`` = the shipped pack's n-gram sub-pack (``models/fast``,
linear contributions); ``transformer`` (alias ``ensemble``) = the shipped
default pack (blends of the pack-v2 routes and the e5 ONNX model; grouped
occlusion by default, ``--method occlusion`` erases every word). Data: dev samples from ../shared/data
(online_shopping_10_cats for zh, sst2 for en; skipped, with a note, when
absent) and benchmarks/data/cs_turns.csv (per language).

Usage:
    OMP_NUM_THREADS=1 python benchmarks/explain.py [--n 150] [--cost-n 1000] [--tiers ngram,ensemble]
        [--method auto|grouped|occlusion] [--max-groups 3] [--cost-only] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.analyzer import Analyzer, load_analyzer  # noqa: E402
from emotiondesk.explain import MAX_GROUPS, explain, segment  # noqa: E402
from emotiondesk.labels import POLARITY_LABELS  # noqa: E402
from emotiondesk.usecases.analyze_messages import evidence_for_storage  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
DEV_SETS = {"zh": SHARED / "online_shopping_10_cats" / "dev.csv", "en": SHARED / "sst2" / "dev.csv"}
CS_TURNS = ROOT / "benchmarks" / "data" / "cs_turns.csv"
TIERS = {
    "ngram": ROOT / "models" / "fast",
    "transformer": ROOT / "models",
    "ensemble": ROOT / "models",  # the earlier name of the default pack's tier
}
TOP = 3
DRAWS = 5


def read_texts(path: Path, n: int, lang: str | None = None, seed: int = 0) -> list[str]:
    with path.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["text"].strip()]
    if lang is not None and "lang" in rows[0]:
        rows = [r for r in rows if r["lang"] == lang]
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(rows))[:n]
    return [rows[i]["text"] for i in sorted(idx)]


def _remove(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for s, e in sorted(spans):
        out.append(text[pos:s])
        pos = e
    out.append(text[pos:])
    return " ".join(p for p in out if p.strip())


def _keep(text: str, spans: list[tuple[int, int]]) -> str:
    return " ".join(text[s:e] for s, e in sorted(spans))


def _random_spans(
    words: list[tuple[int, int]], sizes: list[int], rng: np.random.Generator
) -> list[tuple[int, int]] | None:
    """Non-overlapping runs of ``sizes`` words, at random (None when they do not fit)."""
    for _ in range(50):
        used = np.zeros(len(words), dtype=bool)
        out = []
        for k in sizes:
            starts = [i for i in range(len(words) - k + 1) if not used[i : i + k].any()]
            if not starts:
                break
            i = int(rng.choice(starts))
            used[i : i + k] = True
            out.append((words[i][0], words[i + k - 1][1]))
        else:
            return out
    return None


def polarity_proba(analyzer: Analyzer, texts: list[str], langs: list[str]) -> np.ndarray:
    normed, _langs, _ = analyzer.preprocess(texts)
    pol, _emo = analyzer.forward(normed, langs)
    return pol


def faithfulness(analyzer: Analyzer, texts: list[str], **how: Any) -> dict[str, Any]:
    results = analyzer.analyze(texts)
    evidence = explain(analyzer, results, **how)
    rng = np.random.default_rng(0)
    variants: list[str] = []
    langs: list[str] = []
    owners: list[tuple[int, str]] = []  # (message, kind)
    skipped = 0
    for i, (r, ev) in enumerate(zip(results, evidence, strict=True)):
        top = [s for s in ev.polarity.spans if s.weight > 0][:TOP]
        if not top:
            skipped += 1
            continue
        words = segment(r.text, analyzer.route(r.language))
        spans = [(s.start, s.end) for s in top]
        sizes = [max(1, sum(1 for a, b in words if a >= s and b <= e)) for s, e in spans]
        draws = [_random_spans(words, sizes, rng) for _ in range(DRAWS)]
        if any(d is None for d in draws):
            skipped += 1
            continue
        lang = analyzer.route(r.language)
        batch = [r.text, _remove(r.text, spans), _keep(r.text, spans)]
        kinds = ["full", "comp", "suff"]
        for d in draws:
            assert d is not None
            batch += [_remove(r.text, d), _keep(r.text, d)]
            kinds += ["rcomp", "rsuff"]
        variants += batch
        langs += [lang] * len(batch)
        owners += [(i, k) for k in kinds]
    proba = polarity_proba(analyzer, variants, langs)
    label_of = {i: POLARITY_LABELS.index(results[i].polarity) for i in range(len(results))}
    scores: dict[int, dict[str, list[float]]] = {}
    for (i, kind), row in zip(owners, proba, strict=True):
        scores.setdefault(i, {}).setdefault(kind, []).append(float(row[label_of[i]]))
    comp, suff, rcomp, rsuff = [], [], [], []
    for s in scores.values():
        full = s["full"][0]
        comp.append(full - s["comp"][0])
        suff.append(full - s["suff"][0])
        rcomp.append(full - float(np.mean(s["rcomp"])))
        rsuff.append(full - float(np.mean(s["rsuff"])))
    c, rc = float(np.mean(comp)), float(np.mean(rcomp))
    return {
        "n": len(scores),
        "skipped": skipped,
        "comprehensiveness": round(c, 4),
        "random_comprehensiveness": round(rc, 4),
        "comp_ratio": round(c / rc, 2) if rc > 0 else None,
        "sufficiency": round(float(np.mean(suff)), 4),
        "random_sufficiency": round(float(np.mean(rsuff)), 4),
    }


def cost(analyzer: Analyzer, texts: list[str], block: int = 100, **how: Any) -> dict[str, Any]:
    """Analysis, explanation and stored evidence of ``texts``, timed in alternating blocks.

    Each block of ``block`` messages is analysed, then explained, then given
    its stored evidence, so a change in the machine's load during the run
    weighs on the three alike (the machine is shared).
    """
    analyzer.analyze(texts[:16])  # warm up (loads encoders)
    explain(analyzer, analyzer.analyze(texts[:16]), **how)
    stored = evidence_for_storage(analyzer)
    t_analyze = t_explain = t_stored = 0.0
    for start in tqdm(range(0, len(texts), block), desc="cost", unit="block"):
        chunk = texts[start : start + block]
        t0 = time.perf_counter()
        results = analyzer.analyze(chunk)
        t1 = time.perf_counter()
        explain(analyzer, results, **how)
        t2 = time.perf_counter()
        stored(results)
        t3 = time.perf_counter()
        t_analyze, t_explain, t_stored = (
            t_analyze + t1 - t0,
            t_explain + t2 - t1,
            t_stored + t3 - t2,
        )
    n = len(texts)
    return {
        "n": n,
        "block": block,
        "analyze_ms_per_msg": round(1000 * t_analyze / n, 3),
        "explain_ms_per_msg": round(1000 * t_explain / n, 3),
        "explain_over_analyze": round(t_explain / t_analyze, 2),
        "stored_ms_per_msg": round(1000 * t_stored / n, 3),
        "stored_over_analyze": round(t_stored / t_analyze, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=150, help="messages per data set and language")
    ap.add_argument(
        "--cost-n", type=int, default=1000, help="messages timed for the cost (0: none)"
    )
    ap.add_argument("--tiers", default="ngram,transformer")
    ap.add_argument("--method", default="auto", choices=["auto", "grouped", "occlusion"])
    ap.add_argument("--max-groups", type=int, default=MAX_GROUPS)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--cost-only", action="store_true", help="skip the faithfulness figures")
    args = ap.parse_args()
    how = {"method": args.method, "max_groups": args.max_groups}
    sets: dict[str, list[str]] = {}
    for lang, path in DEV_SETS.items():
        if path.is_file():
            sets[f"dev/{lang} ({path.parent.name})"] = read_texts(path, args.n)
        else:
            print(f"note: {path} is absent; its dev sample is skipped", file=sys.stderr)
    for lang in ("zh", "en"):
        sets[f"cs_turns/{lang}"] = read_texts(CS_TURNS, args.n, lang=lang)
    pool = [t for texts in sets.values() for t in texts]
    cost_texts = [pool[i % len(pool)] for i in range(args.cost_n)]
    report: dict[str, Any] = {}
    for tier in args.tiers.split(","):
        analyzer = load_analyzer(TIERS[tier])
        out: dict[str, Any] = {"faithfulness": {}}
        for name, texts in tqdm(
            sets.items(), desc=f"{tier} faithfulness", unit="set", disable=args.cost_only
        ):
            if not args.cost_only:
                out["faithfulness"][name] = faithfulness(analyzer, texts, **how)
        if args.cost_n > 0:
            out["cost"] = cost(analyzer, cost_texts, **how)
        report[tier] = out
        if not args.json:
            print(
                f"== {tier} ({TIERS[tier].relative_to(ROOT)}), method {args.method}, max groups {args.max_groups}"
            )
            for name, f in out["faithfulness"].items():
                print(
                    f"{name:34s} n={f['n']:4d} comp {f['comprehensiveness']:.3f} "
                    f"(random {f['random_comprehensiveness']:.3f}, x{f['comp_ratio']}) "
                    f"suff {f['sufficiency']:.3f} (random {f['random_sufficiency']:.3f})"
                )
            c = out.get("cost")
            if c is None:
                continue
            print(
                f"cost n={c['n']}: analyze {c['analyze_ms_per_msg']} ms/msg, explain "
                f"{c['explain_ms_per_msg']} ms/msg ({c['explain_over_analyze']}x analysis), "
                f"stored evidence (linear, with aspects) {c['stored_ms_per_msg']} ms/msg "
                f"({c['stored_over_analyze']}x analysis)"
            )
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
