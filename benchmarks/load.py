"""Load benchmark of the REST service, on loopback only, bounded in time.

For each micro-batching setting (on, off) it starts ``emotiondesk serve`` on a
free 127.0.0.1 port with a fresh SQLite database, then runs N concurrent
clients (asyncio + httpx), each posting one message per request for D seconds:

1. ``POST /v1/analyze`` with a single text;
2. ``POST /v1/conversations/{id}/messages`` (one conversation per client,
   unique client message ids), then counts the messages in the database and
   compares with the number of acknowledged (201) posts.

It prints p50/p95/p99 latency, throughput and errors, and the ratio of the
two batching settings side by side (Markdown, for docs/BENCHMARKS.md).

    python benchmarks/load.py                      # 50 clients, 60 s per phase, default pack
    python benchmarks/load.py --clients 10 --duration 5 --model path/to/pack

The texts are the demo conversations' messages (written for the project), so
no dataset is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.service.demo import SAMPLE_CONVERSATIONS  # noqa: E402
from emotiondesk.storage import make_engine, make_session_factory  # noqa: E402
from emotiondesk.storage import repository as repo  # noqa: E402

HOST = "127.0.0.1"  # loopback only, never anything else
KEY = "ed_loadbench_" + "k" * 32
TEXTS = [text for _, turns in SAMPLE_CONVERSATIONS for role, text in turns if role == "customer"]


@dataclass
class PhaseResult:
    name: str
    batching: bool
    clients: int
    duration_s: float
    requests: int = 0
    ok: int = 0
    errors: int = 0
    status: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    throughput_rps: float = 0.0
    acknowledged: int | None = None
    stored: int | None = None
    mean_batch_size: float | None = None
    #: CPU time the server process spent per request (robust to a busy machine).
    server_cpu_ms_per_req: float | None = None
    #: CPU time this load generator spent per request.
    client_cpu_ms_per_req: float | None = None
    #: peak resident memory of the server (its processes' VmHWM summed, Linux), MB.
    server_peak_rss_mb: float | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def start_server(
    *,
    batching: bool,
    db_url: str,
    model: str | None,
    log: Path,
    workers: int = 1,
    log_level: str = "warning",
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTIONDESK_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH", "")])),
        EMOTIONDESK_DATABASE_URL=db_url,
        EMOTIONDESK_API_KEY=KEY,
        EMOTIONDESK_RATE_LIMIT_PER_MINUTE="0",
        EMOTIONDESK_BATCHING="true" if batching else "false",
        OMP_NUM_THREADS="1",
    )
    if model:
        env["EMOTIONDESK_MODEL_DIR"] = model
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emotiondesk",
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            log_level,
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    proc.kill()
    raise SystemExit("server not ready within 120 s")


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (one connection).

    Far cheaper per request than httpx, so on a small machine the load
    generator takes less CPU away from the server it measures.
    """

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict[str, object]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = json.dumps(payload, ensure_ascii=False).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nX-API-Key: {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def batch_stats(base: str) -> tuple[float, float]:
    """(sum, count) of the emotiondesk_batch_size histogram (``/metrics`` needs a key)."""
    text = httpx.get(f"{base}/metrics", headers={"X-API-Key": KEY}, timeout=10).text
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("emotiondesk_batch_size_sum"):
            total = float(line.split()[-1])
        elif line.startswith("emotiondesk_batch_size_count"):
            count = float(line.split()[-1])
    return total, count


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process and its child processes (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            total += process_cpu_seconds(int(child)) or 0.0
    return total


def process_peak_rss_mb(pid: int) -> float | None:
    """Peak resident set (VmHWM) of a process plus its child processes (Linux /proc), MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM")), 0)
    total = kb / 1024
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            total += process_peak_rss_mb(int(child)) or 0.0
    return total


async def run_phase(
    name: str,
    base: str,
    *,
    clients: int,
    duration: float,
    batching: bool,
    warmup: float,
    server_pid: int | None = None,
    raw: bool = False,
) -> PhaseResult:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": KEY}, timeout=30, limits=limits
    ) as http:
        conversations: list[str] = []
        if name == "ingest":
            for i in range(clients):
                r = await http.post(
                    "/v1/conversations", json={"channel": "bench", "customer_id": f"b{i}"}
                )
                r.raise_for_status()
                conversations.append(r.json()["id"])
        latencies: list[float] = []
        status: dict[str, int] = {}
        acknowledged = 0
        errors = 0
        requests = 0

        raw_clients = [RawClient(base) for _ in range(clients)] if raw else []

        async def client(idx: int, stop_at: float, record: bool) -> None:
            nonlocal acknowledged, errors, requests
            n = 0
            while time.perf_counter() < stop_at:
                text = TEXTS[(idx + n) % len(TEXTS)]
                if name == "analyze":
                    path = "/v1/analyze"
                    payload: dict[str, object] = {"texts": [text]}
                else:
                    path = f"/v1/conversations/{conversations[idx]}/messages"
                    payload = {
                        "role": "customer",
                        "text": text,
                        "client_message_id": f"{'r' if record else 'w'}-{idx}-{n}",
                    }
                n += 1
                t0 = time.perf_counter()
                try:
                    if raw:
                        code = str(await raw_clients[idx].post(path, payload))
                    else:
                        code = str((await http.post(path, json=payload)).status_code)
                except (httpx.HTTPError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    code = type(exc).__name__
                elapsed = time.perf_counter() - t0
                if name == "ingest" and code == "201":
                    acknowledged += 1
                if not record:
                    continue
                requests += 1
                status[code] = status.get(code, 0) + 1
                if code in ("200", "201"):
                    latencies.append(elapsed)
                else:
                    errors += 1

        if warmup > 0:
            stop = time.perf_counter() + warmup
            await asyncio.gather(*(client(i, stop, False) for i in range(clients)))
        before = batch_stats(base)
        cpu0 = process_cpu_seconds(server_pid) if server_pid else None
        client_cpu0 = time.process_time()
        start = time.perf_counter()
        stop = start + duration
        await asyncio.gather(*(client(i, stop, True) for i in range(clients)))
        wall = time.perf_counter() - start
        client_cpu = time.process_time() - client_cpu0
        cpu1 = process_cpu_seconds(server_pid) if server_pid else None
        peak = process_peak_rss_mb(server_pid) if server_pid else None
        after = batch_stats(base)
        for rc in raw_clients:
            await rc.close()

    lat = sorted(x * 1000 for x in latencies)
    res = PhaseResult(
        name=name,
        batching=batching,
        clients=clients,
        duration_s=round(wall, 2),
        requests=requests,
        ok=len(lat),
        errors=errors,
        status=status,
        p50_ms=round(percentile(lat, 50), 2),
        p95_ms=round(percentile(lat, 95), 2),
        p99_ms=round(percentile(lat, 99), 2),
        mean_ms=round(statistics.fmean(lat), 2) if lat else 0.0,
        throughput_rps=round(len(lat) / wall, 1),
    )
    res.server_peak_rss_mb = round(peak, 1) if peak is not None else None
    calls = after[1] - before[1]
    if calls > 0:
        res.mean_batch_size = round((after[0] - before[0]) / calls, 2)
    if name == "ingest":
        res.acknowledged = acknowledged
    if requests:
        res.client_cpu_ms_per_req = round(client_cpu / requests * 1000, 2)
        if cpu0 is not None and cpu1 is not None:
            res.server_cpu_ms_per_req = round((cpu1 - cpu0) / requests * 1000, 2)
    return res


def count_stored(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            return repo.count_messages(s, workspace="default")
    finally:
        engine.dispose()


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()}; load average before the run (1, 5, 15 min): {load}"
    )


def markdown(results: list[PhaseResult], args: argparse.Namespace) -> str:
    lines = [
        f"{args.clients} concurrent clients ({args.client}), {args.workers} server worker(s), "
        f"{args.duration:g} s per phase "
        f"(after {args.warmup:g} s warm-up), one message per request, SQLite, loopback.",
        "",
        "| endpoint | micro-batching | requests | errors | p50 ms | p95 ms | p99 ms | req/s | mean batch "
        "| server CPU ms/req | client CPU ms/req | server peak RSS MB | acknowledged / stored |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        stored = f"{r.acknowledged} / {r.stored}" if r.acknowledged is not None else "-"
        lines.append(
            f"| {r.name} | {'on' if r.batching else 'off'} | {r.requests} | {r.errors} | {r.p50_ms} | "
            f"{r.p95_ms} | {r.p99_ms} | {r.throughput_rps} | {r.mean_batch_size or '-'} | "
            f"{r.server_cpu_ms_per_req or '-'} | {r.client_cpu_ms_per_req or '-'} | "
            f"{r.server_peak_rss_mb or '-'} | {stored} |"
        )
    lines += [
        "",
        "| endpoint | p50 off/on | p95 off/on | p99 off/on | throughput on/off | server CPU/req off/on |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("analyze", "ingest"):
        on = next((r for r in results if r.name == name and r.batching), None)
        off = next((r for r in results if r.name == name and not r.batching), None)
        if on and off and on.p50_ms and off.throughput_rps:
            lines.append(
                f"| {name} | {off.p50_ms / on.p50_ms:.2f}x | {off.p95_ms / on.p95_ms:.2f}x | "
                f"{off.p99_ms / on.p99_ms:.2f}x | {on.throughput_rps / off.throughput_rps:.2f}x | "
                + (
                    f"{off.server_cpu_ms_per_req / on.server_cpu_ms_per_req:.2f}x |"
                    if on.server_cpu_ms_per_req and off.server_cpu_ms_per_req
                    else "- |"
                )
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds per phase (max 300).")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--model", default="default", help="'default' (the shipped pack) or a pack dir."
    )
    parser.add_argument("--batching", choices=["both", "on", "off"], default="both")
    parser.add_argument("--phases", default="analyze,ingest")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes.")
    parser.add_argument(
        "--client",
        choices=["httpx", "raw"],
        default="raw",
        help="httpx.AsyncClient, or a minimal keep-alive HTTP/1.1 client that costs less CPU.",
    )
    parser.add_argument(
        "--server-log-level",
        default="warning",
        help="The server's --log-level ('info' turns uvicorn's access log on).",
    )
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args()
    if not 0 < args.duration <= 300:
        raise SystemExit("--duration must be in (0, 300] seconds")
    model = None if args.model == "default" else str(Path(args.model).resolve())
    settings = {"both": [True, False], "on": [True], "off": [False]}[args.batching]
    phases = [p for p in args.phases.split(",") if p]
    results: list[PhaseResult] = []
    where = machine()
    with tempfile.TemporaryDirectory(prefix="emotiondesk-load-") as tmp:
        for batching in settings:
            db_url = f"sqlite:///{tmp}/load-{'on' if batching else 'off'}.sqlite"
            proc, base = start_server(
                batching=batching,
                db_url=db_url,
                model=model,
                log=Path(tmp) / "server.log",
                workers=args.workers,
                log_level=args.server_log_level,
            )
            try:
                for phase in phases:
                    print(
                        f"-- {phase}, micro-batching {'on' if batching else 'off'}", file=sys.stderr
                    )
                    res = asyncio.run(
                        run_phase(
                            phase,
                            base,
                            clients=args.clients,
                            duration=args.duration,
                            batching=batching,
                            warmup=args.warmup,
                            server_pid=proc.pid,
                            raw=args.client == "raw",
                        )
                    )
                    results.append(res)
                    print(json.dumps(asdict(res)), file=sys.stderr)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            for res in results:
                if res.name == "ingest" and res.batching == batching:
                    res.stored = count_stored(db_url)
    print(f"\nmachine: {where}; date: {datetime.now(UTC):%Y-%m-%d}; model: {args.model}\n")
    print(markdown(results, args))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2), encoding="utf-8")
    lost = [
        r
        for r in results
        if r.acknowledged is not None and r.stored is not None and r.stored < r.acknowledged
    ]
    if lost:
        raise SystemExit("acknowledged messages missing from the database")


if __name__ == "__main__":
    main()
