"""Import throughput and analytics query latency.

1. Import: ``emotiondesk import`` of the online_shopping_10_cats training
   reviews (50,164 rows, read from ``--data``, default ``../shared/data``;
   skipped when absent) into a fresh SQLite file with the default pack;
   baseline in the same run: the analyzer alone on the same texts (no storage).
2. Queries: a synthetic store of ``--messages`` customer messages (default
   1,000,000; 90 days, 6 channels, 10 categories, 200 products, 50 agents,
   one conversation per 5 messages) bulk-inserted into SQLite and, with
   ``--postgres URL``, PostgreSQL; then each analytics endpoint is called
   ``--reps`` times in process (FastAPI TestClient: server time, no network)
   and p50/p95 reported, with and without the analytics index (migration 0002;
   the workspace is its first column since 0007).

Usage:
    python benchmarks/analytics_speed.py [--data ../shared/data] [--messages 1000000]
        [--postgres postgresql+psycopg://...] [--skip-import] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

EMOTIONS = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
CATEGORIES = ["书籍", "平板", "手机", "水果", "洗发水", "热水器", "蒙牛", "衣服", "计算机", "酒店"]
CHANNELS = ["app", "web", "chat", "email", "phone", "review"]
TEXTS = [
    "物流太慢了，等了一个星期",
    "质量很好，做工精细",
    "The battery drains fast",
    "Great price and fast shipping",
    "包装太简陋了",
    "客服态度很好",
    "Delivery took two weeks",
    "味道不错就是有点贵",
]


def bench_import(data: Path) -> dict | None:
    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
    from emotiondesk.usecases.import_archive import import_archive

    path = data / "online_shopping_10_cats" / "train.csv"
    if not path.is_file():
        print(f"import benchmark skipped: {path} not found (pass --data)", file=sys.stderr)
        return None
    analyzer = load_analyzer()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/import.sqlite")
        upgrade_database(engine)
        report = import_archive(
            path, analyzer=analyzer, sessions=make_session_factory(engine), channel="review"
        )
        engine.dispose()
    import csv

    with path.open(encoding="utf-8") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    t0 = time.perf_counter()
    for i in range(0, len(texts), 256):
        analyzer.analyze(texts[i : i + 256])
    analyze_s = time.perf_counter() - t0
    return {
        "file": "online_shopping_10_cats/train.csv",
        "rows": report.rows,
        "imported": report.imported,
        "rejected": report.rejected,
        "seconds": round(report.seconds, 1),
        "rows_per_s": round(report.rows_per_second, 1),
        "baseline_analyze_only_rows_per_s": round(len(texts) / analyze_s, 1),
        "model": analyzer.version,
    }


def build_store(url: str, n: int, seed: int = 0) -> float:
    from sqlalchemy import insert

    from emotiondesk.storage import make_engine, upgrade_database
    from emotiondesk.storage.tables import Conversation, Message

    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade_database(engine)
    end = datetime(2026, 11, 24, tzinfo=UTC)
    t0 = time.perf_counter()
    n_conv = n // 5
    products = [f"sku-{i:04d}" for i in range(200)]
    conv_ids = []
    with engine.begin() as conn:
        rows = []
        for i in range(n_conv):
            cid = uuid.UUID(int=rng.getrandbits(128)).hex
            conv_ids.append(cid)
            p = rng.randrange(200)
            rows.append(
                {
                    "id": cid,
                    "channel": CHANNELS[p % 6],
                    "customer_id": f"c{i}",
                    "product_id": products[p],
                    "category": CATEGORIES[p % 10],
                    "agent_id": f"agent-{rng.randrange(50)}",
                    "metadata": {},
                    "state": {},
                    "status": "closed",
                    "message_count": 5,
                    "created_at": end - timedelta(days=90),
                    "updated_at": end,
                }
            )
            if len(rows) >= 10_000:
                conn.execute(insert(Conversation), rows)
                rows = []
        if rows:
            conn.execute(insert(Conversation), rows)
    with engine.begin() as conn:
        rows = []
        for i in range(n):
            cid = conv_ids[i // 5]
            pol = rng.choices(["negative", "neutral", "positive"], weights=[3, 2, 5])[0]
            rows.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "conversation_id": cid,
                    "seq": i % 5 + 1,
                    "client_message_id": None,
                    "role": "customer",
                    "text": TEXTS[i % len(TEXTS)],
                    "raw_text": None,
                    "language": "zh",
                    "polarity": pol,
                    "score": rng.random(),
                    "emotion": rng.choice(EMOTIONS),
                    "analysis": {},
                    "state": None,
                    "pii": {},
                    "model_version": "bench",
                    "sent_at": None,
                    "created_at": end - timedelta(seconds=rng.randrange(90 * 86400)),
                }
            )
            if len(rows) >= 10_000:
                conn.execute(insert(Message), rows)
                rows = []
        if rows:
            conn.execute(insert(Message), rows)
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - t0


ENDPOINTS = [
    ("overview 30 d by day", "/v1/analytics/overview?days=30&granularity=day"),
    ("overview 7 d by hour", "/v1/analytics/overview?days=7&granularity=hour"),
    ("trend 30 d by category", "/v1/analytics/trend?days=30&granularity=day&by=category"),
    ("breakdown by product 30 d", "/v1/analytics/breakdown?days=30&by=product_id"),
    ("aspects (2000 newest) 手机", "/v1/analytics/aspects?days=30&category=手机"),
    ("live (50 newest)", "/v1/analytics/live?limit=50"),
]


def bench_queries(url: str, reps: int) -> dict:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from emotiondesk.config import Settings
    from emotiondesk.service import create_app

    key = "ed_bench_" + "k" * 30
    settings = Settings(
        database_url=SecretStr(url), api_key=SecretStr(key), rate_limit_per_minute=0, _env_file=None
    )
    out: dict[str, dict] = {}
    with TestClient(create_app(settings)) as client:
        client.headers["X-API-Key"] = key
        engine = client.app.state.engine  # type: ignore[attr-defined]
        for label, index in (("with analytics index", True), ("without (baseline)", False)):
            if not index:
                with engine.begin() as conn:
                    conn.exec_driver_sql("DROP INDEX ix_messages_analytics")
            res = {}
            for name, path in ENDPOINTS:
                if not index and not name.startswith("overview"):
                    continue
                assert client.get(path).status_code == 200
                times = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    r = client.get(path)
                    times.append(1000 * (time.perf_counter() - t0))
                    assert r.status_code == 200, r.text
                times.sort()
                res[name] = {
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
                }
            out[label] = res
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "CREATE INDEX ix_messages_analytics ON messages (workspace, role, created_at) INCLUDE (polarity, emotion, score, conversation_id)"
                )
            else:
                conn.exec_driver_sql(
                    "CREATE INDEX ix_messages_analytics ON messages (workspace, role, created_at, polarity, emotion, score, conversation_id)"
                )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument(
        "--postgres",
        default=None,
        help="a PostgreSQL URL to benchmark too (its tables are replaced)",
    )
    ap.add_argument("--skip-import", action="store_true")
    ap.add_argument("--skip-queries", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument(
        "--reuse-postgres",
        action="store_true",
        help="keep a store of --messages rows already there",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results: dict = {"messages": args.messages}
    if not args.skip_import:
        results["import"] = bench_import(args.data)
        print(json.dumps({"import": results["import"]}, ensure_ascii=False), file=sys.stderr)
    if args.skip_queries:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return 0
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/store.sqlite"
            results["sqlite_build_s"] = round(build_store(url, args.messages), 1)
            results["sqlite"] = bench_queries(url, args.reps)
            print(json.dumps({"sqlite": results["sqlite"]}, ensure_ascii=False), file=sys.stderr)
    if args.postgres:
        from sqlalchemy import text

        from emotiondesk.storage import make_engine
        from emotiondesk.storage.tables import Base

        engine = make_engine(args.postgres)
        with engine.begin() as conn:
            have = 0
            if args.reuse_postgres:
                try:
                    have = int(conn.execute(text("SELECT count(*) FROM messages")).scalar() or 0)
                except Exception:
                    have = 0
            if have != args.messages:
                Base.metadata.drop_all(conn)
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
        if have != args.messages:
            results["postgres_build_s"] = round(build_store(args.postgres, args.messages), 1)
        results["postgres"] = bench_queries(args.postgres, args.reps)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
