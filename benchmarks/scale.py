"""Scale-out benchmark (issue 14), one run, side by side on this machine.

1. Batch scoring (``emotiondesk score``): messages/s of the local engine and of
   the Ray engine with 1 and 2 actors, for the fast pack (n-gram) and the
   default pack (USE heads), on a generated Parquet archive of review texts
   (``service.demo_reviews``, written for the project; no dataset needed).
   Ray's fixed overhead (actor start and pack load per run) is measured with
   a small file of the same texts, and its steady rate from the difference;
   the local engine's rate is the per-core rate. Memory: peak RSS of each
   actor process (``ray::MapWorker``), and the local process's RSS growth
   when it loads the pack. Every Ray output is checked against the local one.
2. The service on PostgreSQL with 1 and 2 uvicorn workers (``serve --workers``):
   the ingest and analyze phases of ``benchmarks/load.py``, errors, and every
   acknowledged message stored once.

    python benchmarks/scale.py --database-url postgresql+psycopg://...    # both parts
    python benchmarks/scale.py --skip-service                             # scoring only

Reads no files outside the repository. Ray comes with ``pip install -e '.[ray]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import load  # noqa: E402

from emotiondesk.analyzer import load_analyzer  # noqa: E402
from emotiondesk.service.demo_reviews import generate_reviews  # noqa: E402
from emotiondesk.usecases.distributed import read_output, score_file_ray  # noqa: E402
from emotiondesk.usecases.score_files import score_file  # noqa: E402

PACKS = {"fast": ROOT / "models" / "fast", "default": ROOT / "models"}


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class ActorMemory(threading.Thread):
    """Samples the RSS of the Ray actor processes (``ray::MapWorker``) until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.25):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    cmd = (entry / "cmdline").read_bytes()
                    if cmd.startswith(b"ray::MapWorker"):
                        pid = int(entry.name)
                        self.peak[pid] = max(self.peak.get(pid, 0.0), rss_mb(pid))
                except OSError:
                    continue


def archive(path: Path, n: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = generate_reviews(n=n, seed=14)
    table = pa.table(
        {
            "review_id": [f"r{i:07d}" for i in range(n)],
            "text": [r["text"] for r in rows],
            "product_id": [r.get("product_id") for r in rows],
        }
    )
    pq.write_table(table, path, row_group_size=4096)
    return path


def scoring(pack_name: str, rows: int, small: int, tmp: Path, ray: object) -> list[dict]:
    pack = PACKS[pack_name]
    big = archive(tmp / f"{pack_name}-{rows}.parquet", rows)
    little = archive(tmp / f"{pack_name}-{small}.parquet", small)
    out = []
    before = rss_mb()
    t0 = time.perf_counter()
    analyzer = load_analyzer(pack)
    load_s = time.perf_counter() - t0
    pack_mb = rss_mb() - before
    local = score_file(big, tmp / f"{pack_name}-local.parquet", analyzer=analyzer)
    ref = read_output(tmp / f"{pack_name}-local.parquet")
    out.append(
        {
            "pack": pack_name,
            "engine": "local (1 process)",
            "rows": rows,
            "seconds": local.seconds,
            "rate": rows / local.seconds,
            "steady": rows / local.seconds,
            "overhead_s": load_s,
            "memory": f"+{pack_mb:.0f} MB (pack load in this process)",
        }
    )
    for workers in (1, 2):
        mem = ActorMemory()
        mem.start()
        t0 = time.perf_counter()
        score_file_ray(
            little, tmp / f"{pack_name}-ray{workers}-small.parquet", pack=pack, workers=workers
        )
        t_small = time.perf_counter() - t0
        t0 = time.perf_counter()
        score_file_ray(
            big,
            tmp / f"{pack_name}-ray{workers}.parquet",
            pack=pack,
            workers=workers,
            batch_size=1024,
        )
        t_big = time.perf_counter() - t0
        mem.done.set()
        mem.join()
        got = read_output(tmp / f"{pack_name}-ray{workers}.parquet")
        assert got.column("polarity").to_pylist() == ref.column("polarity").to_pylist()
        assert got.column("emotion").to_pylist() == ref.column("emotion").to_pylist()
        steady = (rows - small) / max(t_big - t_small, 1e-9)
        overhead = max(0.0, t_big - rows / steady)
        peaks = sorted(mem.peak.values(), reverse=True)[:workers]
        out.append(
            {
                "pack": pack_name,
                "engine": f"ray, {workers} actor{'s' if workers > 1 else ''}",
                "rows": rows,
                "seconds": t_big,
                "rate": rows / t_big,
                "steady": steady,
                "overhead_s": overhead,
                "memory": ", ".join(f"{p:.0f} MB" for p in peaks) + " RSS per actor",
            }
        )
    return out


def service(db_url: str, clients: int, duration: float, model: str | None) -> list[dict]:
    from sqlalchemy import text

    from emotiondesk.storage import make_engine
    from emotiondesk.storage.tables import Base

    results = []
    for workers in (1, 2):
        engine = make_engine(db_url)
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
        with tempfile.TemporaryDirectory(prefix="emotiondesk-scale-") as tmp:
            proc, base = load.start_server(
                batching=True,
                db_url=db_url,
                model=model,
                log=Path(tmp) / "server.log",
                workers=workers,
            )
            try:
                for phase in ("analyze", "ingest"):
                    res = asyncio.run(
                        load.run_phase(
                            phase,
                            base,
                            clients=clients,
                            duration=duration,
                            batching=True,
                            warmup=3.0,
                            raw=True,
                        )
                    )
                    results.append((workers, res))
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
        engine = make_engine(db_url)
        with engine.connect() as conn:
            stored, distinct = conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT (conversation_id, client_message_id)) "
                    "FROM messages"
                )
            ).one()
        engine.dispose()
        for w, res in results:
            if w == workers and res.name == "ingest":
                res.stored = int(stored)
                res.distinct = int(distinct)  # type: ignore[attr-defined]
    return [{"workers": w, "res": r} for w, r in results]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000, help="Rows scored (fast pack).")
    parser.add_argument("--default-rows", type=int, default=5_000, help="Rows (default pack).")
    parser.add_argument("--database-url", default=os.environ.get("EMOTIONDESK_TEST_POSTGRES_URL"))
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument("--skip-service", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"machine: {load.machine()}", flush=True)
    if not args.skip_scoring:
        from emotiondesk.usecases.distributed import ray_session

        rows = []
        with (
            tempfile.TemporaryDirectory(prefix="emotiondesk-scale-") as tmp,
            ray_session(None, num_cpus=os.cpu_count()) as ray,
        ):
            ray.cluster_resources()
            for pack, n in (("fast", args.rows), ("default", args.default_rows)):
                rows += scoring(pack, n, max(1000, n // 10), Path(tmp), ray)
                print(f"scored with the {pack} pack", file=sys.stderr, flush=True)
        base = {r["pack"]: r["rate"] for r in rows if r["engine"].startswith("local")}
        print(f"\nload average after scoring: {os.getloadavg()}\n")
        print(
            "| pack | engine | rows | wall s | msgs/s (wall) | x local | steady msgs/s | fixed overhead s | memory |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for r in rows:
            print(
                f"| {r['pack']} | {r['engine']} | {r['rows']} | {r['seconds']:.1f} | {r['rate']:.0f} "
                f"| {r['rate'] / base[r['pack']]:.2f} | {r['steady']:.0f} | {r['overhead_s']:.1f} | {r['memory']} |"
            )
    if not args.skip_service:
        if not args.database_url:
            raise SystemExit("--database-url (or EMOTIONDESK_TEST_POSTGRES_URL) is needed")
        res = service(args.database_url, args.clients, args.duration, str(PACKS["fast"]))
        print(f"\nload average after the service runs: {os.getloadavg()}\n")
        print(
            "| workers | phase | requests | errors | msgs/s | p50 ms | p95 ms | acknowledged | stored | distinct |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for item in res:
            r = item["res"]
            print(
                f"| {item['workers']} | {r.name} | {r.requests} | {r.errors} | {r.throughput_rps:.0f} "
                f"| {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.acknowledged or ''} | {r.stored or ''} "
                f"| {getattr(r, 'distinct', '') or ''} |"
            )
        bad = [
            i
            for i in res
            if i["res"].errors
            or (
                i["res"].name == "ingest"
                and not (
                    i["res"].acknowledged == i["res"].stored == getattr(i["res"], "distinct", None)
                )
            )
        ]
        if bad:
            raise SystemExit("errors, or acknowledged messages not stored exactly once")


if __name__ == "__main__":
    main()
