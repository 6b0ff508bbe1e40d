"""The cost of reading long texts whole, and what it buys.

    python benchmarks/long_texts.py [--data ../shared/data] [--model default] [--runs 5]

Messages: every review of ``online_shopping_10_cats/dev.csv`` (6,270 real
e-commerce reviews: their real length distribution, printed), or, without
that folder, ``examples/messages.txt`` (the output says so).

Three readings of the same pack, timed interleaved in the same run (median
of ``--runs``; batches of 1,000):

* ``before``: what the analyzer did before issue 18: the first 1,500 and the
  last 499 characters of a text longer than 2,000, one model call per text,
  no lexical signals;
* ``chunks``: texts read whole up to 20,000 characters in chunks of 400
  (overlap 80), the most negative chunk deciding; no signals;
* ``after``: chunks plus the lexical signals (the shipped default).

Then the position check: a neutral order story of 500 to 20,000 characters
with one angry paragraph at the start, middle or end, read by ``before`` and
``after`` (the same texts as tests/integration/test_long_messages.py).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))


def messages(data: Path) -> tuple[list[str], str]:
    path = data / "online_shopping_10_cats" / "dev.csv"
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as fh:
            return [r["text"] for r in csv.DictReader(fh) if r["text"].strip()], str(path.name)
    lines = (ROOT / "examples" / "messages.txt").read_text(encoding="utf-8").splitlines()
    print(f"{path} is absent: using examples/messages.txt", file=sys.stderr)
    return [ln for ln in lines if ln.strip()], "examples/messages.txt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--model", default="default")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    from test_long_messages import long_message

    from emotiondesk.analyzer import Analyzer, load_analyzer

    after = load_analyzer(args.model)
    common = {"fallback_language": after.fallback_language, "version": after.version}
    readers = {
        "before": Analyzer(after.models, **common, max_chars=2000, signals=None, chunk_chars=10**9),
        "chunks": Analyzer(after.models, **common, max_chars=after.max_chars, signals=None),
        "after": after,
    }
    texts, source = messages(args.data)
    lengths = sorted(len(t) for t in texts)
    q = statistics.quantiles(lengths, n=100)
    print(
        f"{after.version}: {len(texts)} messages from {source}; length median {q[49]:.0f}, "
        f"p90 {q[89]:.0f}, p99 {q[98]:.0f}, max {lengths[-1]}; "
        f"> 400 chars {sum(n > 400 for n in lengths)}, > 2,000 chars {sum(n > 2000 for n in lengths)}"
    )
    for reader in readers.values():  # warm-up (lazy tables, encoder caches)
        reader.analyze(texts[:200])
    times: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(args.runs):
        for name, reader in readers.items():
            t0 = time.perf_counter()
            for i in range(0, len(texts), 1000):
                reader.analyze(texts[i : i + 1000])
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["before"])
    print("\n| reading | wall median (s) | msgs/s | relative to before |")
    print("| --- | ---: | ---: | ---: |")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.2f} | {len(texts) / med:,.0f} | {base / med:.2f}x |")
    changed = sum(
        a.polarity != b.polarity
        for a, b in zip(readers["before"].analyze(texts), after.analyze(texts), strict=True)
    )
    print(f"\npolarity label changed by the new reading: {changed} of {len(texts)} reviews")

    print("\n| language | length | anger at | before | after |")
    print("| --- | ---: | --- | --- | --- |")
    for lang in ("zh", "en"):
        for length in (500, 3_000, 20_000):
            for where in ("start", "middle", "end"):
                text, _ = long_message(lang, length, where)
                b = readers["before"].analyze([text])[0]
                a = after.analyze([text])[0]
                print(
                    f"| {lang} | {len(text):,} | {where} | {b.polarity} {b.score:.2f} "
                    f"| {a.polarity} {a.score:.2f} |"
                )


if __name__ == "__main__":
    main()
