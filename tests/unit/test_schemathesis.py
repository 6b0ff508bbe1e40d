"""Property-based API testing: requests generated from the OpenAPI schema never get a 5xx.

Schemathesis generates the requests; hypothesis runs them (driven here
directly, not through schemathesis' pytest plugin, which is tied to pytest
internals).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from emotiondesk.config import Settings
from emotiondesk.service import create_app

KEY = "ed_" + "s" * 40
EXAMPLES_PER_OPERATION = 10


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory, tiny_pack: Path) -> Iterator[Any]:
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


def operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_every_service_operation_is_covered(api_app: Any) -> None:
    paths = {op.path for op in operations(api_app)}
    assert {
        "/v1/analyze",
        "/v1/conversations",
        "/v1/conversations/{conversation_id}/messages",
        "/v1/feedback",
        "/healthz",
        "/readyz",
    } <= paths


@pytest.mark.slow
def test_no_server_errors(api_app: Any) -> None:
    failures: list[str] = []
    for op in operations(api_app):

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=op.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers={"X-API-Key": KEY})
            assert response.status_code < 500, (
                case.method,
                case.path,
                response.status_code,
                response.text[:300],
            )
            if case.path.startswith("/v1/"):  # without a key: refused cleanly
                anon = case.call(headers={"X-API-Key": ""})
                assert 400 <= anon.status_code < 500, (case.method, case.path, anon.status_code)

        try:
            check()
        except AssertionError as exc:
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n".join(failures)
