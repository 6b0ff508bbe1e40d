"""Property-based API testing: requests generated from the OpenAPI schema never get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from emotiondesk.config import Settings
from emotiondesk.service import create_app

KEY = "ed_" + "s" * 40


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory, tiny_pack: Path) -> Iterator[object]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    app = create_app(
        Settings(
            _env_file=None,
            database_url=f"sqlite:///{tmp / 'st.sqlite'}",
            model_dir=tiny_pack,
            api_key=KEY,
            rate_limit_per_minute=0,
            max_text_chars=2000,
        )
    )
    with TestClient(app):  # runs the lifespan: model, database, batcher
        yield app


@pytest.fixture(scope="module")
def api_schema(api_app: object) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", api_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers={"X-API-Key": KEY})
    assert response.status_code < 500, (
        case.method,
        case.path,
        response.status_code,
        response.text[:300],
    )
    # and the unauthenticated variant is refused cleanly
    if case.path.startswith("/v1/"):
        anon = case.call(headers={"X-API-Key": ""})
        assert 400 <= anon.status_code < 500, anon.status_code
