"""The real service: `emotiondesk serve` in a subprocess on a loopback port, with the
shipped model pack, on SQLite and on a real PostgreSQL (marker ``postgres``).

PostgreSQL comes from ``EMOTIONDESK_TEST_POSTGRES_URL`` (``.ci/run`` starts one).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from emotiondesk.storage import make_engine
from emotiondesk.storage import repository as repo
from emotiondesk.storage.db import make_session_factory

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_PACK = ROOT / "models"
ADMIN_KEY = "ed_integration_" + "k" * 32
#: uvicorn drains, then re-raises the SIGTERM it caught: -15 is a clean stop.
CLEAN_EXIT = (0, -signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from emotiondesk.storage.tables import Base

    engine = make_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.fixture(scope="module")
def pack_dir(tiny_pack: Path) -> Path:
    """The shipped pack when the checkout has it, else the tiny test pack."""
    return SHIPPED_PACK if (SHIPPED_PACK / "pack.json").is_file() else tiny_pack


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('http') / 'service.sqlite'}"
    url = os.environ.get("EMOTIONDESK_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must set EMOTIONDESK_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("EMOTIONDESK_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    reset_postgres(url)
    return url


def _env(database_url: str, pack: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTIONDESK_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH", "")])),
        EMOTIONDESK_DATABASE_URL=database_url,
        EMOTIONDESK_MODEL_DIR=str(pack),
        EMOTIONDESK_API_KEY=ADMIN_KEY,
        EMOTIONDESK_RATE_LIMIT_PER_MINUTE="0",
        OMP_NUM_THREADS="1",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    database_url: str
    env: dict[str, str]

    def client(self, key: str = ADMIN_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"X-API-Key": key}, timeout=30)

    def stored_messages(self, conversation_id: str | None = None) -> int:
        engine = make_engine(self.database_url)
        try:
            with make_session_factory(engine)() as s:
                return repo.count_messages(s, workspace="default", conversation_id=conversation_id)
        finally:
            engine.dispose()


def start_server(
    database_url: str, pack: Path, log: Path, *, log_level: str = "warning", **extra: str
) -> Server:
    port = free_port()
    env = _env(database_url, pack, **extra)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emotiondesk",
            "serve",
            "--port",
            str(port),
            "--log-level",
            log_level,
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return Server(proc, base, database_url, env)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server not ready in 90 s: {log.read_text()[-2000:]}")


def stop_server(server: Server) -> int:
    server.proc.send_signal(signal.SIGTERM)
    try:
        return server.proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        return -9


@pytest.fixture(scope="module")
def server(
    database_url: str, pack_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    srv = start_server(database_url, pack_dir, tmp_path_factory.mktemp("log") / "server.log")
    yield srv
    assert stop_server(srv) in CLEAN_EXIT


def test_ready_and_analyze(server: Server) -> None:
    with server.client() as http:
        ready = http.get("/readyz").json()
        assert ready["status"] == "ready" and ready["database"] == "ok"
        r = http.post(
            "/v1/analyze", json={"texts": ["物流太慢了，气死我了", "Thank you so much, I love it!"]}
        )
        assert r.status_code == 200, r.text
        zh, en = r.json()["results"]
        assert zh["language"] == "zh" and zh["polarity"] == "negative"
        assert en["language"] == "en" and en["polarity"] == "positive"


def test_concurrent_idempotent_ingestion(server: Server) -> None:
    with server.client() as http:
        cid = http.post("/v1/conversations", json={"channel": "web", "customer_id": "it-1"}).json()[
            "id"
        ]

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=server.base, headers={"X-API-Key": ADMIN_KEY}, timeout=60
        ) as http:
            jobs = [
                http.post(
                    f"/v1/conversations/{cid}/messages",
                    json={
                        "role": "customer",
                        "text": f"第{i}次催单了，还没发货，电话13812345678",
                        "client_message_id": f"m{i}",
                    },
                )
                for i in list(range(15)) * 2  # every message sent twice, concurrently
            ]
            return await asyncio.gather(*jobs)

    responses = asyncio.run(send_all())
    assert all(r.status_code in (200, 201) for r in responses), [
        r.text for r in responses if r.status_code >= 300
    ]
    assert sum(r.json()["created"] for r in responses) == 15
    assert server.stored_messages(cid) == 15
    with server.client() as http:
        detail = http.get(f"/v1/conversations/{cid}").json()
    assert sorted(m["seq"] for m in detail["messages"]) == list(range(1, 16))
    assert {m["client_message_id"] for m in detail["messages"]} == {f"m{i}" for i in range(15)}
    assert all(
        "[PHONE]" in m["text"] and "13812345678" not in m["text"] for m in detail["messages"]
    )
    assert detail["state"]["customer_turns"] == 15


def test_keys_scopes_limits(server: Server) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "emotiondesk",
            "keys",
            "create",
            "--scope",
            "read",
            "--name",
            "it-read",
            "--rate-limit",
            "3",
            "--json",
            "--url",
            server.database_url,
        ],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(out.stdout)["key"]
    with server.client(key) as http:
        assert http.post("/v1/analyze", json={"texts": ["hi"]}).status_code == 403
        codes = [http.get("/v1/conversations").status_code for _ in range(8)]
        assert 429 in codes and codes[0] == 200
        limited = http.get("/v1/conversations")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    with server.client("ed_not_a_key") as http:
        assert http.get("/v1/conversations").status_code == 401
    with server.client() as http:
        assert http.post("/v1/analyze", json={"texts": ["x" * 2_000_000]}).status_code == 413
        r = http.post("/v1/feedback", json={"message_id": "missing", "polarity": "negative"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_metrics(server: Server) -> None:
    with server.client() as http:
        http.post("/v1/analyze", json={"texts": ["物流太慢了"]})
        text = http.get("/metrics").text
    assert "emotiondesk_batch_size_bucket" in text
    assert "emotiondesk_inference_seconds_count" in text
    assert 'route="/v1/conversations/{conversation_id}/messages"' in text


def test_graceful_shutdown_keeps_acknowledged_messages(
    database_url: str, pack_dir: Path, tmp_path: Path
) -> None:
    srv = start_server(database_url, pack_dir, tmp_path / "drain.log", log_level="debug")
    with srv.client() as http:
        cid = http.post("/v1/conversations", json={"channel": "drain"}).json()["id"]

    async def load() -> list[httpx.Response | BaseException]:
        async with httpx.AsyncClient(
            base_url=srv.base, headers={"X-API-Key": ADMIN_KEY}, timeout=60
        ) as http:
            jobs = [
                asyncio.create_task(
                    http.post(
                        f"/v1/conversations/{cid}/messages",
                        json={
                            "role": "customer",
                            "text": f"where is my parcel {i}?",
                            "client_message_id": f"d{i}",
                        },
                    )
                )
                for i in range(30)
            ]
            # SIGTERM once the server has acknowledged one of them, so that the
            # shutdown lands mid-stream however loaded the machine is (a fixed
            # sleep sent it before any request had been accepted under load)
            await asyncio.wait(jobs, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            srv.proc.send_signal(signal.SIGTERM)
            return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(load())
    assert srv.proc.wait(timeout=40) in CLEAN_EXIT
    acked = [r for r in results if isinstance(r, httpx.Response) and r.status_code == 201]
    assert all(isinstance(r, BaseException) or r.status_code < 500 for r in results)
    assert acked, "no request completed before shutdown"
    print(f"drain: {len(acked)} of {len(results)} acknowledged before the server stopped")
    assert srv.stored_messages(cid) == len(acked)
    # the server logged requests (debug level), but neither texts nor keys
    log = (tmp_path / "drain.log").read_text(encoding="utf-8", errors="replace")
    assert "/messages" in log
    assert "where is my parcel" not in log and ADMIN_KEY not in log
