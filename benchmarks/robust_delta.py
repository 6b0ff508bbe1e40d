"""What a change of the reading (signal lexicon, spelling) does to the public dev sets.

    python benchmarks/robust_delta.py --data ../shared/data --before-signals BEFORE.yaml
        [--model default|PACK_DIR] [--dev SUBSTRING] [--full]

Compares two readings of the same loaded pack, in one process: *before* reads
with the lexicon file ``--before-signals`` (e.g. ``git show
COMMIT:src/emotiondesk/text/data/signals.yaml > before.yaml``) and without
the English spelling corrector; *after* is the shipped reading (the shipped
lexicon, spelling on). The models are the same objects in both.

Without ``--full`` only the rows the change can touch are read twice: a row
whose text units (after normalisation, chunking and PII removal, as
``Analyzer.read`` forms them) the corrector leaves as they are and on which
both lexicons fire the same signals (checked under the zh and the en rules)
gets the same probabilities from both readings, so the accuracy difference on
the whole dev set is exactly (right after - right before) / n over the
touched rows. That makes the default pack (seconds per hundred texts on a
shared 2-core machine) affordable on every dev set. ``--full`` reads every
row both ways and prints accuracy and macro-F1 of each.

Prints a markdown table; ``--json`` writes the rows.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_pack import RECIPES  # noqa: E402

from emotiondesk.analyzer import Analyzer, load_analyzer  # noqa: E402
from emotiondesk.evaluation.evaluate import predicted_labels, report_from_proba  # noqa: E402
from emotiondesk.text.chunks import chunk_spans  # noqa: E402
from emotiondesk.text.pii import without_pii  # noqa: E402
from emotiondesk.text.pinyin import is_pinyin  # noqa: E402
from emotiondesk.text.signals import load_signals  # noqa: E402


def touched(after: Analyzer, before: Analyzer, texts: list[str]) -> list[int]:
    """Indices of the texts whose reading can differ between ``before`` and ``after``."""
    normed, _, _ = after.preprocess(texts)
    out = []
    for i, text in enumerate(normed):
        if text.isascii() and is_pinyin(text):
            out.append(i)  # read in characters by the Chinese models: read both ways
            continue
        spans = (
            chunk_spans(text, size=after.chunk_chars, overlap=after.chunk_overlap)
            if after.chunk_chars > 0
            else [(0, len(text))]
        )
        for s, e in spans:
            unit = without_pii(text[s:e]) if after.pii_neutral else text[s:e]
            fixed = after.spelling.correct(unit) if after.spelling is not None else unit
            if fixed != unit:
                out.append(i)
                break
            assert after.signals is not None and before.signals is not None
            if any(
                after.signals.match(unit, lang) != before.signals.match(unit, lang)
                for lang in ("zh", "en")
            ):
                out.append(i)
                break
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="default", help="'default' or a pack directory")
    parser.add_argument("--before-signals", type=Path, required=True)
    parser.add_argument("--dev", help="only the dev sets whose name contains this")
    parser.add_argument("--full", action="store_true", help="read every row both ways")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: no dataset folder at {args.data} (pass --data DIR)", file=sys.stderr)
        return 0
    after = load_analyzer(None if args.model == "default" else args.model)
    before = copy.copy(after)
    before.signals = load_signals(args.before_signals)
    before.spelling = None
    rows = []
    for recipe in RECIPES:
        for dev in recipe.devs:
            if args.dev and args.dev not in dev.name:
                continue
            path = dev.resolve(args.data)
            if not path.is_file():
                print(f"skipped {dev.name}: {path} is absent", file=sys.stderr)
                continue
            data = dev.load(args.data, recipe.task)
            texts = list(data.texts)
            start = time.perf_counter()
            idx = list(range(len(texts))) if args.full else touched(after, before, texts)
            row: dict[str, object] = {
                "dev": dev.name,
                "task": recipe.task,
                "n": len(texts),
                "read_twice": len(idx),
            }
            if idx:
                sub = [texts[i] for i in idx]
                gold = [data.labels[i] for i in idx]
                probas = {}
                for name, analyzer in (("before", before), ("after", after)):
                    reading = analyzer.read_texts(sub)
                    probas[name] = (
                        reading.polarity if recipe.task == "polarity" else reading.emotion
                    )
                pred = {
                    k: predicted_labels(p, task=recipe.task, binary=dev.binary)
                    for k, p in probas.items()
                }
                right = {
                    k: sum(a == b for a, b in zip(v, gold, strict=True)) for k, v in pred.items()
                }
                row["right_before"], row["right_after"] = right["before"], right["after"]
                row["changed"] = sum(
                    a != b for a, b in zip(pred["before"], pred["after"], strict=True)
                )
                row["delta_accuracy_points"] = 100 * (right["after"] - right["before"]) / len(texts)
                if args.full:
                    for k, p in probas.items():
                        rep = report_from_proba(data, p, task=recipe.task, binary=dev.binary)
                        row[f"accuracy_{k}"] = rep["accuracy"]
                        row[f"macro_f1_{k}"] = rep["macro_f1"]
            row["seconds"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), file=sys.stderr, flush=True)
    print(
        "| dev set | task | n | read twice | right before | right after | changed | "
        "accuracy change (points) |"
        + (" accuracy before -> after | macro-F1 before -> after |" if args.full else "")
    )
    print(
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        + (" ---: | ---: |" if args.full else "")
    )
    for r in rows:
        line = (
            f"| {r['dev']} | {r['task']} | {r['n']} | {r['read_twice']} | "
            f"{r.get('right_before', 0)} | {r.get('right_after', 0)} | {r.get('changed', 0)} | "
            f"{r.get('delta_accuracy_points', 0.0):+.2f} |"
        )
        if args.full and "accuracy_before" in r:
            line += (
                f" {r['accuracy_before']:.4f} -> {r['accuracy_after']:.4f} |"
                f" {r['macro_f1_before']:.4f} -> {r['macro_f1_after']:.4f} |"
            )
        print(line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
