"""CPU cost of ``POST /v1/analyze`` inside the application, without HTTP or sockets.

Builds the service with ``create_app`` (the shipped pack unless ``--model``, a
fresh SQLite database in a temp dir, a benchmark key), runs its lifespan, then
N concurrent in-process callers each send single-text requests straight into
the ASGI application (no uvicorn, no loopback) and the script prints the
process CPU time per request (all threads: event loop, micro-batcher, model).
That isolates the application's own cost from the HTTP server's and from the
load generator's, and is steadier than wall-clock figures on a shared machine.

    python benchmarks/service_cpu.py                       # 6000 requests, 50 callers
    python benchmarks/service_cpu.py --requests 3000 --profile   # + cProfile of the event loop thread
    python benchmarks/service_cpu.py --no-fast-path              # every call through FastAPI
    python benchmarks/service_cpu.py --endpoint ingest --requests 600  # POST .../messages
    python benchmarks/service_cpu.py --model-only                # the analyzer alone, per text

With ``--endpoint ingest`` each caller posts customer messages to its own
conversation (mask, analyse, the conversation hook, one SQLite transaction).

The texts are the demo conversations' customer messages (written for the
project), so no dataset is needed. ``benchmarks/load.py`` is the end-to-end
figure (real server, real sockets).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.config import Settings  # noqa: E402
from emotiondesk.service import create_app  # noqa: E402
from emotiondesk.service.demo import SAMPLE_CONVERSATIONS  # noqa: E402
from emotiondesk.service.server import limit_blas_threads  # noqa: E402

KEY = "ed_cpubench_" + "k" * 32
TEXTS = [text for _, turns in SAMPLE_CONVERSATIONS for role, text in turns if role == "customer"]


class InProcess:
    """Drives an ASGI app directly: lifespan, then HTTP requests as ASGI messages."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self.app(scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if message["type"] != "lifespan.startup.complete":
            raise SystemExit(f"startup failed: {message}")

    async def stop(self) -> None:
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._from_app.get()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"x-api-key", KEY.encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "state": {},
        }
        delivered = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


async def run(args: argparse.Namespace, tmp: str) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp}/cpu.sqlite",
        api_key=KEY,
        rate_limit_per_minute=0,
        surge_scan_minutes=0,
        batching=not args.no_batching,
        model_dir=args.model,
        _env_file=None,  # type: ignore[call-arg]
        **({"analyze_fast_path": False} if args.no_fast_path else {}),
    )
    client = InProcess(create_app(settings))
    await client.start()
    per_caller = max(1, args.requests // args.callers)
    failures: list[int] = []
    if args.endpoint == "ingest":
        bodies = [
            json.dumps({"role": "customer", "text": t}, ensure_ascii=False).encode() for t in TEXTS
        ]
        paths = []
        for _ in range(args.callers):
            status, out = await client.post("/v1/conversations", b"{}")
            if status != 201:
                raise SystemExit(f"cannot open a conversation: {status} {out[:200]!r}")
            paths.append(f"/v1/conversations/{json.loads(out)['id']}/messages")
        expected = 201
    else:
        bodies = [json.dumps({"texts": [t]}, ensure_ascii=False).encode() for t in TEXTS]
        paths = ["/v1/analyze"] * args.callers
        expected = 200

    async def caller(idx: int, n: int) -> None:
        for k in range(n):
            status, _ = await client.post(paths[idx], bodies[(idx + k) % len(bodies)])
            if status != expected:
                failures.append(status)

    await asyncio.gather(*(caller(i, 20) for i in range(args.callers)))  # warm-up
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller(i, per_caller) for i in range(args.callers)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    await client.stop()
    n = per_caller * args.callers
    if failures:
        raise SystemExit(f"{len(failures)} requests failed (statuses {sorted(set(failures))})")
    print(
        f"{args.endpoint}: {n} requests, {args.callers} in-process callers, micro-batching "
        f"{'off' if args.no_batching else 'on'}, fast path "
        f"{'off' if args.no_fast_path else 'on'}, BLAS threads "
        f"{'default' if args.no_blas_limit else 'as served'}: {cpu / n * 1000:.3f} ms CPU per request "
        f"(all threads), {n / wall:.0f} requests/s wall"
    )


def model_only(args: argparse.Namespace) -> None:
    """CPU per text of ``Analyzer.analyze`` alone on batches of 1, 25 and 64 texts."""
    from emotiondesk.analyzer import load_analyzer

    analyzer = load_analyzer(args.model)
    if args.no_shared_lookups:  # undo what load_analyzer linked (models/ngram.py)
        stack = [m for tasks in analyzer.models.values() for m in tasks.values()]
        while stack:
            model = stack.pop()
            if getattr(model, "featurizer_", None) is not None:
                model.featurizer_._shared = None
            stack.extend(getattr(model, "models_", ()))
    for size in (1, 25, 64):
        batches = [[TEXTS[(i + k) % len(TEXTS)] for k in range(size)] for i in range(40)]
        analyzer.analyze(batches[0])
        rounds = max(1, 2000 // (40 * size))
        cpu0 = time.process_time()
        for _ in range(rounds):
            for batch in batches:
                analyzer.analyze(batch)
        per_text = (time.process_time() - cpu0) / (rounds * 40 * size) * 1000
        shared = "off" if args.no_shared_lookups else "on"
        print(
            f"{analyzer.version}, shared n-gram lookups {shared}: batch {size}: "
            f"{per_text:.3f} ms CPU per text"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--model", type=Path, default=None, help="A pack dir (default: shipped).")
    parser.add_argument("--no-batching", action="store_true")
    parser.add_argument(
        "--endpoint",
        choices=("analyze", "ingest"),
        default="analyze",
        help="POST /v1/analyze, or messages into conversations.",
    )
    parser.add_argument(
        "--no-fast-path",
        action="store_true",
        help="EMOTIONDESK_ANALYZE_FAST_PATH=false: every /v1/analyze call through FastAPI.",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile to stderr.")
    parser.add_argument(
        "--model-only", action="store_true", help="Time the analyzer alone, per text."
    )
    parser.add_argument(
        "--no-shared-lookups",
        action="store_true",
        help="With --model-only: each n-gram model looks n-grams up on its own.",
    )
    parser.add_argument(
        "--no-blas-limit",
        action="store_true",
        help="Keep the BLAS default threads (`emotiondesk serve` limits them to 1).",
    )
    args = parser.parse_args()
    if not args.no_blas_limit:
        limit_blas_threads()  # as `emotiondesk serve` does
    if args.model_only:
        model_only(args)
        return
    import uvloop  # the event loop `emotiondesk serve` uses (uvicorn[standard])

    with tempfile.TemporaryDirectory(prefix="emotiondesk-cpu-") as tmp:
        uvloop.run(run(args, tmp))


if __name__ == "__main__":
    main()
