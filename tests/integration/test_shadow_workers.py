"""Shadow scoring with ``serve --workers 2``: GET /v1/models reports the service's totals.

Each worker scores the challenger on its own share of the traffic and writes
its counts to the database (``shadow_counts``); whichever worker answers
``GET /v1/models`` sums every worker's row. On SQLite and, when
``EMOTIONDESK_TEST_POSTGRES_URL`` is set, PostgreSQL (both upgraded from an
empty database by the service's own migrations).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emotiondesk.registry import Registry
from emotiondesk.storage import make_engine, make_session_factory
from emotiondesk.storage.tables import ShadowCount
from emotiondesk.training.learn import FeedbackRow, build_candidate
from tests.integration.test_service_http import (
    ADMIN_KEY,
    CLEAN_EXIT,
    Server,
    reset_postgres,
    start_server,
    stop_server,
)
from tests.learning_data import domain_messages

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shadow.sqlite'}"
    url = os.environ.get("EMOTIONDESK_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must set EMOTIONDESK_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("EMOTIONDESK_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    reset_postgres(url)
    return url


@pytest.fixture
def shadow_server(database_url: str, tiny_pack: Path, tmp_path: Path) -> Iterator[Server]:
    reg = Registry.init(tmp_path / "registry", source=tiny_pack, by="t")
    rows = [
        FeedbackRow(id=i, message_id=str(i), text=t, language="zh", emotion="anger")
        for i, t in enumerate(domain_messages())
    ]
    build_candidate(reg, rows)  # v2: the challenger, which reads the domain as anger
    srv = start_server(
        database_url,
        reg.root,
        tmp_path / "server.log",
        EMOTIONDESK_WORKERS="2",
        EMOTIONDESK_SHADOW="true",
        EMOTIONDESK_MODEL_POLL_SECONDS="0.2",
        EMOTIONDESK_SURGE_SCAN_MINUTES="0",
    )
    yield srv
    assert stop_server(srv) in CLEAN_EXIT


def _analyze_all(server: Server, texts: list[str]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        # many fresh connections at once: the kernel hands them to both workers
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=server.base, headers={"X-API-Key": ADMIN_KEY}, timeout=60, limits=limits
        ) as http:
            return await asyncio.gather(
                *(http.post("/v1/analyze", json={"texts": [t]}) for t in texts)
            )

    return asyncio.run(run())


def test_shadow_agreement_is_summed_over_workers(shadow_server: Server) -> None:
    texts = [f"{t} #{i}" for i, t in enumerate(domain_messages()[:10] * 8)]  # 80 requests
    engine = make_engine(shadow_server.database_url)
    sessions = make_session_factory(engine)
    deadline = time.monotonic() + 60
    while True:  # both workers follow the challenger (each writes its row, at zero, on loading it)
        with sessions() as s:
            if s.query(ShadowCount).filter_by(challenger="v2").count() == 2:
                break
        assert time.monotonic() < deadline, "the workers never started shadow scoring"
        time.sleep(0.2)
    responses = _analyze_all(shadow_server, texts)
    assert all(r.status_code == 200 for r in responses)
    assert {r.json()["results"][0]["model"] for r in responses} == {"tiny-v1"}

    try:
        deadline = time.monotonic() + 30
        with shadow_server.client() as http:
            while True:
                body = http.get("/v1/models").json()
                shadow = body["shadow"]
                if shadow and shadow["compared"] + shadow["skipped"] >= len(texts):
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"shadow counts never reached {len(texts)}: {body}")
                time.sleep(0.3)
            with sessions() as s:
                rows = s.query(ShadowCount).filter_by(challenger="v2").all()
            # both workers scored part of the traffic; the report is their sum, whichever answers
            assert len(rows) == 2, [(r.worker, r.compared) for r in rows]
            assert all(r.compared + r.skipped > 0 for r in rows)
            assert all(r.compared + r.skipped < len(texts) for r in rows)
            for _ in range(6):  # several requests: both workers answer some of them
                again = http.get("/v1/models").json()["shadow"]
                assert again["workers"] == 2 and again["scope"] == "service"
                assert again["compared"] + again["skipped"] == len(texts)
                assert again["compared"] == sum(r.compared for r in rows)
    finally:
        engine.dispose()
    assert shadow["agreement"]["emotion"] < 1.0
    pairs = {(d["champion"], d["challenger"]) for d in shadow["disagreements"]["emotion"]}
    assert ("neutral", "anger") in pairs
