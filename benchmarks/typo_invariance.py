"""Typo invariance on public English text, with and without the spelling corrector.

    python benchmarks/typo_invariance.py --data ../shared/data [--model default|PACK_DIR]
        [--rows 400] [--seed 0]

The behavioural suite's typos are one kind (two neighbouring letters swapped,
in templates written with the corrector's author). This puts typos of four
kinds into real sentences (the first ``--rows`` of SST-2 dev and of TweetEval
sentiment dev): in one word of 4+ letters chosen at random, a swap of two
neighbouring letters, a letter replaced by a neighbour on the keyboard, a
letter dropped, or a letter doubled (one kind per sentence, in turn). For
each reading (spelling off / on, the same loaded pack) it prints how often the
polarity label of the typed sentence differs from that of the clean one (the
suite's INV measure) and the accuracy on the typed sentences.
"""

from __future__ import annotations

import argparse
import copy
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.analyzer import load_analyzer  # noqa: E402
from emotiondesk.data import load_dataset  # noqa: E402
from emotiondesk.evaluation.evaluate import predicted_labels  # noqa: E402
from emotiondesk.text.spelling import _NEIGHBOURS  # noqa: E402

KINDS = ("swap", "keyboard", "drop", "double")


def typo(text: str, kind: str, rng: random.Random) -> str | None:
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text)]
    if not words:
        return None
    m = rng.choice(words)
    w, s = m.group(), m.start()
    i = rng.randrange(1, len(w) - 1)  # neither the first nor the last letter
    if kind == "swap":
        if w[i] == w[i + 1]:
            return None
        new = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
    elif kind == "keyboard":
        near = _NEIGHBOURS.get(w[i].lower(), "")
        if not near:
            return None
        new = w[:i] + rng.choice(near) + w[i + 1 :]
    elif kind == "drop":
        new = w[:i] + w[i + 1 :]
    else:
        new = w[: i + 1] + w[i] + w[i + 1 :]
    return text[:s] + new + text[s + len(w) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: no dataset folder at {args.data} (pass --data DIR)", file=sys.stderr)
        return 0
    on = load_analyzer(None if args.model == "default" else args.model)
    off = copy.copy(on)
    off.spelling = None
    print("| dev set | kind | n | reading | label changed by the typo | accuracy clean -> typed |")
    print("| --- | --- | ---: | --- | ---: | --- |")
    for name in ("sst2/dev.csv", "tweeteval_sentiment/dev.csv"):
        path = args.data / name
        if not path.is_file():
            print(f"skipped {name}: absent", file=sys.stderr)
            continue
        dataset = name.split("/")[0]
        data = load_dataset(path, task="polarity", dataset=dataset, drop_duplicates=False)
        rng = random.Random(args.seed)
        rows = []
        for k, (text, label) in enumerate(zip(data.texts, data.labels, strict=True)):
            if len(rows) >= args.rows:
                break
            kind = KINDS[k % len(KINDS)]
            typed = typo(text, kind, rng)
            if typed is not None and typed != text:
                rows.append((kind, text, typed, label))
        binary = name.startswith("sst2")
        for reading, analyzer in (("spelling off", off), ("spelling on", on)):
            clean = predicted_labels(
                analyzer.read_texts([r[1] for r in rows]).polarity, task="polarity", binary=binary
            )
            typed = predicted_labels(
                analyzer.read_texts([r[2] for r in rows]).polarity, task="polarity", binary=binary
            )
            for kind in (*KINDS, "all"):
                ix = [i for i, r in enumerate(rows) if kind in ("all", r[0])]
                changed = sum(clean[i] != typed[i] for i in ix)
                acc_c = sum(clean[i] == rows[i][3] for i in ix) / len(ix)
                acc_t = sum(typed[i] == rows[i][3] for i in ix) / len(ix)
                print(
                    f"| {name}{' (binary)' if binary else ''} | {kind} | {len(ix)} | {reading} | "
                    f"{100 * changed / len(ix):.1f} % ({changed}) | {acc_c:.4f} -> {acc_t:.4f} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
