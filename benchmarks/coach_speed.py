"""Latency of the coach (score a draft, say what is missing, build an improved draft)
and of the rubric scorer alone, in process, without the LLM backend.

Drafts are the hand-written replies of ``benchmarks/data/agentqa_*.yaml``
(416, zh and en), each coached as the answer to its customer turn; every
draft is coached ``--reps`` times after a warm-up pass. ``--http`` also
times ``POST /v1/coach`` on the real service (uvicorn on loopback, SQLite,
the shipped pack loaded but not used by the coach).

    python benchmarks/coach_speed.py [--reps 5] [--http]
"""

from __future__ import annotations

import argparse
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
    coach_ms, score_ms = [], []
    for _ in range(args.reps):
        for customer, emotion, draft in items:
            t0 = time.perf_counter()
            scorer.score_reply(draft, customer=CustomerTurn(customer, emotion=emotion))
            t1 = time.perf_counter()
            coach.coach(draft, history=[Turn("customer", customer, emotion)])
            t2 = time.perf_counter()
            score_ms.append(1000 * (t1 - t0))
            coach_ms.append(1000 * (t2 - t1))
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"drafts: {len(items)} x {args.reps}")
    c, s = percentiles(coach_ms), percentiles(score_ms)
    print(f"coach (in process):  {c}")
    print(f"scorer alone:        {s}  (coach / scorer p50 = {c['p50'] / s['p50']:.1f}x)")
    if args.http:
        analysed, given = time_http(items, args.reps)
        print(f"POST /v1/coach, customer turn analysed by the pack: {percentiles(analysed)}")
        print(f"POST /v1/coach, customer emotion given:            {percentiles(given)}")
    return 0


def time_http(items: list[tuple[str, str, str]], reps: int) -> tuple[list[float], list[float]]:
    """Latencies of ``POST /v1/coach`` without and with the customer's emotion in the request."""
    import socket
    import tempfile
    import threading

    import httpx
    import uvicorn

    from emotiondesk.config import Settings
    from emotiondesk.service import create_app

    key = "coach-speed-benchmark-key-0123456789"
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
        analysed: list[float] = []
        given: list[float] = []
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=300
            ) as c:
                for i, (customer, emotion, draft) in enumerate(items * (reps + 1)):
                    for out, turn in (
                        (analysed, {"role": "customer", "text": customer}),
                        (given, {"role": "customer", "text": customer, "emotion": emotion}),
                    ):
                        body = {"messages": [turn], "draft": draft}
                        t0 = time.perf_counter()
                        r = c.post("/v1/coach", json=body)
                        dt = 1000 * (time.perf_counter() - t0)
                        if r.status_code != 200:
                            print(r.status_code, r.text, file=sys.stderr)
                            raise SystemExit(1)
                        if i >= len(items):  # the first pass warms up
                            out.append(dt)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    return analysed, given


if __name__ == "__main__":
    raise SystemExit(main())
