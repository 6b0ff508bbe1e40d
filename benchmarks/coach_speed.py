"""Latency of the coach (score a draft, say what is missing, build an improved draft)
and of the rubric scorer alone, in process, without the LLM backend.

Drafts are the hand-written replies of ``benchmarks/data/agentqa_*.yaml``
(416, zh and en), each coached as the answer to its customer turn; every
draft is coached ``--reps`` times after a warm-up pass. ``--http`` also
times ``POST /v1/coach`` on the real service (uvicorn on loopback, SQLite,
the shipped default pack loaded), request by request in each of
:data:`HTTP_MODES`: the customer turn read by the service's pack (as before
the coach had its own reader) or by the fast n-gram tier (the default), each
with and without the reader's cache, and with the customer's emotion given.
The cached modes hit the cache on every timed request (the warm-up pass fills
it); the uncached ones never do: the two ends of real use, where an agent
coaches several drafts per customer turn. Each latency comes with the CPU time
it cost (thread time in process; process time over HTTP, where client and
server share the process), which a loaded machine does not inflate.

    python benchmarks/coach_speed.py [--reps 5] [--http]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import yaml

from emotiondesk.agentqa import AgentScorer, Coach, CustomerTurn, Turn

DATA = Path(__file__).resolve().parent / "data"


def load() -> list[tuple[str, str, str]]:
    out = []
    for f in sorted(DATA.glob("agentqa_*.yaml")):
        if f.stem.startswith("agentqa_tune_"):  # two criteria only; not the 416 drafts
            continue
        for turn in yaml.safe_load(f.read_text("utf-8")):
            for r in turn["replies"]:
                out.append((turn["customer"], turn["emotion"], r["text"]))
    return out


def percentiles(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "p50": round(statistics.median(ms), 3),
        "p95": round(ms[int(0.95 * (len(ms) - 1))], 3),
        "max": round(ms[-1], 3),
        "n": len(ms),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--http", action="store_true")
    args = ap.parse_args(argv)
    items = load()
    coach = Coach()
    scorer = AgentScorer()
    for customer, emotion, draft in items:  # warm-up (regex compile, BM25 index)
        coach.coach(draft, history=[Turn("customer", customer, emotion)])
    coach_ms, score_ms, coach_cpu, score_cpu = [], [], [], []
    for _ in range(args.reps):
        for customer, emotion, draft in items:
            t0, c0 = time.perf_counter(), time.thread_time()
            scorer.score_reply(draft, customer=CustomerTurn(customer, emotion=emotion))
            t1, c1 = time.perf_counter(), time.thread_time()
            coach.coach(draft, history=[Turn("customer", customer, emotion)])
            t2, c2 = time.perf_counter(), time.thread_time()
            score_ms.append(1000 * (t1 - t0))
            coach_ms.append(1000 * (t2 - t1))
            score_cpu.append(1000 * (c1 - c0))
            coach_cpu.append(1000 * (c2 - c1))
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"drafts: {len(items)} x {args.reps}")
    c, s = percentiles(coach_ms), percentiles(score_ms)
    print(f"coach (in process):  {c}")
    print(f"scorer alone:        {s}  (coach / scorer p50 = {c['p50'] / s['p50']:.1f}x)")
    print(f"coach, cpu time:     {percentiles(coach_cpu)}")
    print(f"scorer, cpu time:    {percentiles(score_cpu)}")
    print(f"load average: {os.getloadavg()}")
    if args.http:
        wall, cpu = time_http(items, args.reps)
        for name, ms in wall.items():
            print(f"POST /v1/coach, {name}: wall {percentiles(ms)}, cpu {percentiles(cpu[name])}")
    return 0


#: ``POST /v1/coach`` modes timed side by side (interleaved request by request): what reads
#: the customer turn (``service``: the service's own pack, the behaviour before the coach
#: had its own reader; ``fast``: the shipped n-gram tier, the default now), with or
#: without the reader's cache, and the customer's emotion sent in the request.
HTTP_MODES = (
    ("customer turn read by the service's pack, no cache (before)", "service", 0, False),
    ("customer turn read by the service's pack, cached", "service", 4096, False),
    ("customer turn read by the fast tier, no cache", "fast", 0, False),
    ("customer turn read by the fast tier, cached (default)", "fast", 4096, False),
    ("customer emotion given in the request", "fast", 4096, True),
)


def time_http(
    items: list[tuple[str, str, str]], reps: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock latencies of ``POST /v1/coach`` in each of :data:`HTTP_MODES`, and the
    CPU time of each request (client and server share this process: the CPU the request
    costs, without the time the scheduler gave to other processes on a loaded machine)."""
    import socket
    import tempfile
    import threading

    import httpx
    import uvicorn

    from emotiondesk.config import Settings
    from emotiondesk.service import create_app
    from emotiondesk.usecases.agent_quality import TurnReader

    key = "coach-speed-benchmark-key-0123456789"
    out: dict[str, list[float]] = {name: [] for name, *_ in HTTP_MODES}
    cpu: dict[str, list[float]] = {name: [] for name, *_ in HTTP_MODES}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            dev=True,
            api_key=key,
            database_url=f"sqlite:///{tmp}/bench.sqlite",
            rate_limit_per_minute=0,
        )
        app = create_app(settings)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        quality = app.state.agent_quality
        readers = {}
        for _, model, cache, _ in HTTP_MODES:
            readers.setdefault((model, cache), TurnReader(model, cache_size=cache))
        fast = readers[("fast", 0)]._own()  # one fast pack for both fast readers
        for (model, _), r in readers.items():
            if model == "fast":
                r._analyzer = fast
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=300
            ) as c:
                for i, (customer, emotion, draft) in enumerate(items * (reps + 1)):
                    for name, model, cache, given in HTTP_MODES:
                        quality.reader = readers[(model, cache)]
                        turn = {"role": "customer", "text": customer}
                        if given:
                            turn["emotion"] = emotion
                        body = {"messages": [turn], "draft": draft}
                        t0, c0 = time.perf_counter(), time.process_time()
                        r = c.post("/v1/coach", json=body)
                        dt = 1000 * (time.perf_counter() - t0)
                        dc = 1000 * (time.process_time() - c0)
                        if r.status_code != 200:
                            print(r.status_code, r.text, file=sys.stderr)
                            raise SystemExit(1)
                        if i >= len(items):  # the first pass warms up (and fills the caches)
                            out[name].append(dt)
                            cpu[name].append(dc)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    return out, cpu


if __name__ == "__main__":
    raise SystemExit(main())
