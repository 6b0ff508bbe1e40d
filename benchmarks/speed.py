"""Throughput of ``Analyzer.analyze`` on short messages, against baselines in the same run.

    python benchmarks/speed.py [--data ../shared/data] [--model default] [--runs 7]
    python benchmarks/speed.py --model models --compare OTHER_PACK [--runs 7]

With ``--compare`` two packs are measured side by side in the same run
(timing runs interleaved, so a load spike on the shared machine hits both):
throughput at the large batch and at batch 64, single-message latency p50/p95,
pack load time, peak RSS (each pack in a fresh child process) and size on
disk (files of every model the pack routes to, ensemble members included);
the baselines are skipped.

Messages: 10-60 characters, half Chinese and half English, drawn (seeded) from
the dev splits in ``--data`` (online_shopping_10_cats, smp2020_ewect,
tweeteval_sentiment, sst2); without that folder, the sample messages in
``examples/messages.txt`` are repeated (and the output says so). Each run
analyses batches of 1,000 (both tasks: polarity and emotion, language
detection and normalisation included); the figure is the median of ``--runs``
runs. Peak RSS is measured in this process after loading the pack.

Baselines, timed on the same messages in the same run:

* a scikit-learn ``TfidfVectorizer`` (char 1-3) + ``LogisticRegression``
  pipeline (one task, one language-agnostic model, trained on the same
  messages: only its speed matters here);
* snownlp's built-in sentiment (``SnowNLP(text).sentiments``) on the Chinese
  messages (a few hundred of them; it is slow).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SOURCES = {
    "zh": ["online_shopping_10_cats/dev.csv", "smp2020_ewect/dev.csv"],
    "en": ["tweeteval_sentiment/dev.csv", "sst2/dev.csv"],
}


def short_messages(data: Path, n: int, seed: int = 42) -> tuple[list[str], str]:
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {}
    for lang, files in SOURCES.items():
        pool: list[str] = []
        for rel in files:
            path = data / rel
            if path.is_file():
                with path.open(encoding="utf-8", newline="") as fh:
                    pool.extend(r["text"] for r in csv.DictReader(fh) if 10 <= len(r["text"]) <= 60)
        pools[lang] = pool
    if all(pools.values()):
        msgs = [rng.choice(pools["zh"]) for _ in range(n // 2)]
        msgs += [rng.choice(pools["en"]) for _ in range(n - n // 2)]
        rng.shuffle(msgs)
        return msgs, f"{n} messages of 10-60 chars, half zh, half en, from the dev splits in {data}"
    lines = (ROOT / "examples" / "messages.txt").read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if line.strip()]
    msgs = [lines[i % len(lines)] for i in range(n)]
    return msgs, f"no data at {data}: examples/messages.txt repeated to {n} messages"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_runs(fn, runs: int) -> list[float]:
    """Wall-clock seconds of each run."""
    return [t for t, _ in time_runs_cpu(fn, runs)]


def time_runs_cpu(fn, runs: int) -> list[tuple[float, float]]:
    """(wall, process CPU) seconds of each run: CPU time is what a shared, busy
    machine does not inflate (the analyzer is single-threaded)."""
    out = []
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - start, time.process_time() - cpu))
    return out


def pack_files(pack: Path) -> set[Path]:
    """Every file of every model a pack routes to (ensemble members followed)."""
    import json

    from emotiondesk.pack import read_pack

    spec = read_pack(pack)
    seen: set[Path] = set()
    files: set[Path] = {pack / "pack.json"}
    todo = [spec.root / rel for tasks in spec.routes.values() for rel in tasks.values()]
    while todo:
        d = todo.pop().resolve()
        if d in seen:
            continue
        seen.add(d)
        files |= {f for f in d.rglob("*") if f.is_file()}
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
        todo += [d.parent / m["path"] for m in cfg.get("members", [])]
    return files


_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
msgs = json.loads(sys.stdin.read())
start = time.perf_counter()
from emotiondesk.analyzer import load_analyzer
a = load_analyzer(sys.argv[2])
a.analyze(msgs[:1])
ready = time.perf_counter() - start
a.analyze(msgs)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
try:  # ru_maxrss survives exec (it would count the parent); VmHWM does not
    with open("/proc/self/status") as fh:
        peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM")) / 1024
except OSError:
    pass
print(json.dumps({"peak_mb": peak, "ready_s": ready}))
"""


def child_rss(pack: str, msgs: list[str]) -> dict[str, float]:
    """A fresh process loads ``pack`` and analyses ``msgs``: its peak RSS (MB) and the
    time from import to the first result (lazy weights, e.g. the USE encoder, included)."""
    import json
    import subprocess

    res = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT / "src"), pack],
        input=json.dumps(msgs),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def compare(args: argparse.Namespace, msgs: list[str]) -> int:
    """Two packs side by side: throughput, latency, load time, RSS, size."""
    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.pack import default_pack_dir

    packs = [args.model, args.compare]
    analyzers, loads = [], []
    for p in packs:
        start = time.perf_counter()
        analyzers.append(load_analyzer(p))
        loads.append(time.perf_counter() - start)
    for a in analyzers:
        a.analyze(msgs[:64])  # warm-up (lazy tables, encoder weights)
    big: list[list[tuple[float, float]]] = [[], []]
    small: list[list[float]] = [[], []]
    singles: list[list[float]] = [[], []]
    batch64 = msgs[:64]
    one = msgs[: args.singles]
    for _ in range(args.runs):
        for i, a in enumerate(analyzers):
            big[i] += time_runs_cpu(lambda a=a: a.analyze(msgs), 1)
            small[i] += time_runs(lambda a=a: a.analyze(batch64), 1)
    for i, a in enumerate(analyzers):
        for m in one:
            start = time.perf_counter()
            a.analyze([m])
            singles[i].append(time.perf_counter() - start)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average after the timing runs: {load:.1f} (2 cores)")
    print(
        f"| pack | msgs/s, batch {len(msgs)} (wall) | msgs/s per core (CPU) | msgs/s, batch 64 "
        f"| single message p50 / p95 | pack load | import to first result (fresh process) "
        f"| peak RSS (fresh process) | size on disk |"
    )
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for i, a in enumerate(analyzers):
        wall = statistics.median(w for w, _ in big[i])
        cpu = statistics.median(c for _, c in big[i])
        b64 = statistics.median(small[i])
        lat = sorted(singles[i])
        p50 = lat[len(lat) // 2] * 1000
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))] * 1000
        root = default_pack_dir() if packs[i] in (None, "default") else Path(packs[i])
        size = sum(f.stat().st_size for f in pack_files(root)) / 1e6
        child = child_rss(str(root), msgs)
        print(
            f"| {packs[i]} ({a.version}) | {len(msgs) / wall:,.0f} | {len(msgs) / cpu:,.0f} "
            f"| {64 / b64:,.0f} | {p50:.1f} ms / {p95:.1f} ms | {loads[i]:.2f} s "
            f"| {child['ready_s']:.2f} s | {child['peak_mb']:.0f} MB | {size:.1f} MB |"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--compare", help="a second pack measured side by side with --model")
    parser.add_argument(
        "--singles", type=int, default=200, help="messages timed one by one (--compare)"
    )
    args = parser.parse_args(argv)

    msgs, origin = short_messages(args.data, args.batch)
    print(f"messages: {origin}")
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    if args.compare:
        return compare(args, msgs)
    rss_before = rss_mb()
    start = time.perf_counter()
    from emotiondesk.analyzer import load_analyzer

    analyzer = load_analyzer(args.model)
    load_s = time.perf_counter() - start
    analyzer.analyze(msgs[:50])  # warm-up (lazy tables)
    rss_loaded = rss_mb()
    both = time_runs_cpu(lambda: analyzer.analyze(msgs), args.runs)
    times = [w for w, _ in both]
    med = statistics.median(times)
    cpu_med = statistics.median(c for _, c in both)
    rate = len(msgs) / med
    print(
        f"emotiondesk analyze ({analyzer.version}): batch {len(msgs)}, median of {args.runs} runs "
        f"{med * 1000:.1f} ms wall -> {rate:,.0f} msgs/s; CPU time {cpu_med * 1000:.1f} ms "
        f"-> {len(msgs) / cpu_med:,.0f} msgs/s per core "
        f"(wall runs: {', '.join(f'{t * 1000:.0f}' for t in times)} ms)"
    )
    if hasattr(os, "getloadavg"):
        print(f"load average during the run: {os.getloadavg()[0]:.1f} (2 cores)")
    print(
        f"pack load {load_s:.2f} s; peak RSS {rss_loaded:.0f} MB "
        f"(process before import/load: {rss_before:.0f} MB)"
    )
    if args.no_baselines:
        return 0

    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    y = np.arange(len(msgs)) % 3
    pipe = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(max_iter=200),
    ).fit(msgs, y)
    pipe2 = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(max_iter=200),
    ).fit(msgs, (np.arange(len(msgs)) % 7))

    def sklearn_both() -> None:
        pipe.predict_proba(msgs)
        pipe2.predict_proba(msgs)

    sk_both = time_runs_cpu(sklearn_both, args.runs)
    sk_med = statistics.median(w for w, _ in sk_both)
    sk_cpu = statistics.median(c for _, c in sk_both)
    sk_rate = len(msgs) / sk_med
    print(
        f"baseline scikit-learn TfidfVectorizer(char 1-3)+LogisticRegression, two pipelines "
        f"(3 and 7 classes, i.e. both tasks; no normalisation, no language routing): median "
        f"{sk_med * 1000:.1f} ms wall -> {sk_rate:,.0f} msgs/s; CPU {sk_cpu * 1000:.1f} ms "
        f"-> {len(msgs) / sk_cpu:,.0f} msgs/s per core; emotiondesk / scikit-learn = "
        f"{rate / sk_rate:.2f}x wall, {sk_cpu / cpu_med:.2f}x CPU"
    )
    try:
        from snownlp import SnowNLP
    except ImportError:
        print("snownlp not installed: its baseline skipped")
        return 0
    from emotiondesk.text import detect_language

    zh = [m for m in msgs if detect_language(m) == "zh"][:200]
    sn_times = time_runs(lambda: [SnowNLP(t).sentiments for t in zh], 3)
    sn_rate = len(zh) / statistics.median(sn_times)
    ed_times = time_runs(lambda: analyzer.analyze(zh), 3)
    ed_rate = len(zh) / statistics.median(ed_times)
    print(
        f"baseline snownlp sentiment on {len(zh)} zh messages: {sn_rate:,.0f} msgs/s; "
        f"emotiondesk on the same (both tasks): {ed_rate:,.0f} msgs/s = {ed_rate / sn_rate:.0f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
