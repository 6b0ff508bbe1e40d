"""``emotiondesk serve --workers 2`` on a real PostgreSQL behaves as one service.

Two uvicorn worker processes share the port (the kernel spreads the
connections); what must hold across them lives in the database: idempotent
ingestion (a message sent twice, concurrently, is stored once), the live
stream (every message stored by either worker arrives once), policy alerts
(one per conversation, cooldown included) and surge alerts (concurrent scans
store each episode once).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
from emotiondesk.storage.tables import Alert, Message
from tests.integration.test_service_http import (
    ADMIN_KEY,
    CLEAN_EXIT,
    ROOT,
    Server,
    reset_postgres,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pack_dir(tiny_pack: Path) -> Path:
    """The shipped fast pack (n-gram models: quick to load in every worker)."""
    fast = ROOT / "models" / "fast"
    return fast if (fast / "pack.json").is_file() else tiny_pack


@pytest.fixture(scope="module")
def pg_url() -> str:
    url = os.environ.get("EMOTIONDESK_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must set EMOTIONDESK_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("EMOTIONDESK_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    reset_postgres(url)
    return url


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


@pytest.fixture(scope="module")
def workers(
    pg_url: str, pack_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.service.demo_reviews import generate_reviews, write_jsonl
    from emotiondesk.usecases.import_archive import import_archive

    # a review archive with a negative surge, for the surge scans
    engine = make_engine(pg_url)
    upgrade_database(engine)
    archive = write_jsonl(
        # ending now: the live messages of the tests come after it, as in production
        generate_reviews(n=600, seed=5, end=datetime.now(UTC).replace(minute=0, second=0)),
        tmp_path_factory.mktemp("reviews") / "r.jsonl",
    )
    import_archive(archive, analyzer=load_analyzer(pack_dir), sessions=make_session_factory(engine))
    engine.dispose()
    srv = start_server(
        pg_url,
        pack_dir,
        tmp_path_factory.mktemp("log") / "server.log",
        EMOTIONDESK_WORKERS="2",
        EMOTIONDESK_SURGE_SCAN_MINUTES="0",
        EMOTIONDESK_API_KEY_CACHE_SECONDS="1",
    )
    yield srv
    assert stop_server(srv) in CLEAN_EXIT


def _sessions(server: Server):  # type: ignore[no-untyped-def]
    return make_session_factory(make_engine(server.database_url))


class Stream(threading.Thread):
    """Reads ``/v1/analytics/live/stream`` and keeps the message ids after ``ready``."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.ids: list[str] = []

    def run(self) -> None:
        with (
            httpx.Client(base_url=self.base, headers={"X-API-Key": ADMIN_KEY}, timeout=60) as http,
            http.stream("GET", "/v1/analytics/live/stream?poll=0.2") as r,
        ):
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "ready":
                        self.ready.set()
                elif line.startswith("data: ") and event == "message" and self.ready.is_set():
                    self.ids.append(json.loads(line[6:])["id"])
                if self.stop.is_set():
                    return


def _post_all(server: Server, jobs: list[tuple[str, dict]]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        # many connections at once: the kernel hands them to both workers
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=server.base, headers={"X-API-Key": ADMIN_KEY}, timeout=60, limits=limits
        ) as http:
            return await asyncio.gather(*(http.post(path, json=body) for path, body in jobs))

    return asyncio.run(run())


def _conversations(server: Server, n: int) -> list[str]:
    with server.client() as http:
        return [
            http.post("/v1/conversations", json={"channel": "web", "customer_id": f"w{i}"}).json()[
                "id"
            ]
            for i in range(n)
        ]


def test_two_worker_processes(workers: Server) -> None:
    deadline = time.monotonic() + 30
    while len(_children(workers.proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    kids = _children(workers.proc.pid)
    assert len(kids) >= 2, kids  # the supervisor and its two workers


def test_ingestion_is_idempotent_and_the_stream_has_every_message_once(workers: Server) -> None:
    stream = Stream(workers.base)
    stream.start()
    assert stream.ready.wait(30)
    convs = _conversations(workers, 4)
    jobs = [
        (
            f"/v1/conversations/{cid}/messages",
            {
                "role": "customer",
                "text": f"第{i}次问了，订单还没发货",
                "client_message_id": f"k{i}",
            },
        )
        for cid in convs
        for i in range(10)
    ]
    responses = _post_all(workers, jobs * 2)  # every message twice, concurrently
    assert all(r.status_code in (200, 201) for r in responses), [
        r.text for r in responses if r.status_code >= 300
    ]
    acknowledged = {r.json()["message"]["id"] for r in responses}
    with _sessions(workers)() as s:
        stored = [m.id for m in s.query(Message).filter(Message.conversation_id.in_(convs))]
    assert len(stored) == len(set(stored)) == 40 and set(stored) == acknowledged
    deadline = time.monotonic() + 30
    while not acknowledged <= set(stream.ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    stream.stop.set()
    mine = [i for i in stream.ids if i in acknowledged]
    assert sorted(mine) == sorted(acknowledged)  # every one, once


def test_policy_alerts_once_per_conversation_across_workers(workers: Server) -> None:
    convs = _conversations(workers, 3)
    threat = "你们再不退款我就去法院起诉，已经找了律师"
    first = [
        (
            f"/v1/conversations/{cid}/messages",
            {"role": "customer", "text": threat, "client_message_id": "t1"},
        )
        for cid in convs
    ]
    assert all(r.status_code in (200, 201) for r in _post_all(workers, first * 3))
    # a second threat within the rule's cooldown, by whichever worker: no new alert
    second = [
        (
            f"/v1/conversations/{cid}/messages",
            {"role": "customer", "text": threat, "client_message_id": "t2"},
        )
        for cid in convs
    ]
    assert all(r.status_code in (200, 201) for r in _post_all(workers, second))
    with _sessions(workers)() as s:
        alerts = s.query(Alert).filter(Alert.conversation_id.in_(convs)).all()
    # the threat raises its alerts once (legal threat, high risk), on the first turn only
    assert {a.conversation_id for a in alerts} == set(convs)
    for cid in convs:
        rules = [a.details["rule"] for a in alerts if a.conversation_id == cid]
        assert "legal_threat" in rules and len(rules) == len(set(rules)), rules
    assert {a.details["turn"] for a in alerts} == {0}


def test_concurrent_surge_scans_store_each_episode_once(workers: Server) -> None:
    scan = ("/v1/analytics/surges/scan?by=product_id&sensitivity=high&days=8", {})
    responses = _post_all(workers, [scan] * 8)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    found = [s["alert_id"] for s in responses[0].json()["surges"]]
    assert found, "the archive has a negative surge"
    assert all(
        sorted(s["alert_id"] for s in r.json()["surges"]) == sorted(found) for r in responses
    )
    with _sessions(workers)() as s:
        surges = s.query(Alert).filter(Alert.kind == "negative_surge").all()
    assert len(surges) == len({a.details["episode"] for a in surges}) == len(found)


def test_a_revoked_key_is_refused_by_every_worker(workers: Server) -> None:
    from emotiondesk.storage import repository as repo

    sessions = _sessions(workers)
    with sessions() as s:
        key = repo.generate_key()
        row, _ = repo.create_api_key(s, name="revoke-me", scopes=["read"], key=key)
        s.commit()
        key_id = row.id

    def statuses(n: int) -> list[int]:
        async def run() -> list[int]:
            limits = httpx.Limits(max_connections=16, max_keepalive_connections=0)
            async with httpx.AsyncClient(
                base_url=workers.base, headers={"X-API-Key": key}, timeout=30, limits=limits
            ) as http:
                rs = await asyncio.gather(*(http.get("/v1/alerts?limit=1") for _ in range(n)))
            return [r.status_code for r in rs]

        return asyncio.run(run())

    assert set(statuses(40)) == {200}  # both workers know (and cache) the key
    with sessions() as s:
        repo.revoke_api_key(s, key_id=key_id)
        s.commit()
    time.sleep(1.5)  # EMOTIONDESK_API_KEY_CACHE_SECONDS=1
    after = statuses(40)
    # refused everywhere: 401, or 429 once the failed attempts are throttled
    assert 401 in after and set(after) <= {401, 429}, after
