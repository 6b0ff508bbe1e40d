"""Privacy and security hardening of the service (issue 17), in process on SQLite."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emotiondesk.service import create_app
from emotiondesk.storage import repository as repo
from emotiondesk.storage.tables import Conversation, Feedback
from tests.unit.test_service import Service, make_settings


@pytest.fixture
def svc(tmp_path: Path, tiny_pack: Path) -> Iterator[Service]:
    app = create_app(make_settings(tmp_path, tiny_pack))
    with TestClient(app) as client:
        yield Service(client)


def _rows(svc: Service, table: Any) -> list[Any]:
    with svc.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        return list(s.query(table))


# -- PII in every stored free-text field ---------------------------------------------------


def test_metadata_note_and_ids_are_masked(svc: Service) -> None:
    conv = svc.post(
        "/v1/conversations",
        {
            "customer_id": "13812345678",
            "agent_id": "li.wei@example.com",
            "metadata": {"note": "call 13912345678", "deep": [{"id": "11010519491231002X"}]},
        },
    ).json()
    stored = _rows(svc, Conversation)[0]
    assert stored.customer_id == "[PHONE]" and stored.agent_id == "[EMAIL]"
    assert stored.meta == {"note": "call [PHONE]", "deep": [{"id": "[ID]"}]}
    assert conv["metadata"] == stored.meta
    msg = svc.post(
        f"/v1/conversations/{conv['id']}/messages", {"role": "customer", "text": "hi"}
    ).json()["message"]
    r = svc.post(
        "/v1/feedback",
        {
            "message_id": msg["id"],
            "polarity": "neutral",
            "note": "手机13812345678 邮箱 a.b@example.com 身份证11010519491231002X",
        },
    )
    assert r.status_code == 201, r.text
    (fb,) = _rows(svc, Feedback)
    assert fb.note == "手机[PHONE] 邮箱 [EMAIL] 身份证[ID]"


def test_identifiers_are_pseudonymised_with_a_keyed_hash(tmp_path: Path, tiny_pack: Path) -> None:
    settings = make_settings(tmp_path, tiny_pack, pseudonymize_ids=True, pseudonym_key="k" * 32)
    with TestClient(create_app(settings)) as client:
        svc = Service(client)
        a = svc.post("/v1/conversations", {"customer_id": "13812345678", "agent_id": "lin"}).json()
        svc.post("/v1/conversations", {"customer_id": "13812345678"})
        svc.post("/v1/conversations", {"customer_id": "other"})
        assert a["customer_id"] != "13812345678" and a["customer_id"].startswith("p_")
        assert "13812345678" not in json.dumps([c.customer_id for c in _rows(svc, Conversation)])
        # still joinable: the same id gives the same pseudonym, and filters by the raw id work
        page = client.get(
            "/v1/conversations", params={"customer_id": "13812345678"}, headers=svc.h()
        ).json()
        assert page["total"] == 2
        # and the queue's search finds a customer by the raw id too
        found = client.get("/v1/conversations", params={"q": "13812345678"}, headers=svc.h())
        assert found.json()["total"] == 2
    other = make_settings(tmp_path / "o", tiny_pack, pseudonymize_ids=True, pseudonym_key="z" * 32)
    (tmp_path / "o").mkdir()
    with TestClient(create_app(other)) as client:
        b = Service(client).post("/v1/conversations", {"customer_id": "13812345678"}).json()
    assert b["customer_id"] != a["customer_id"]  # keyed: another key, another pseudonym


def test_pseudonymising_without_a_key_is_refused(tmp_path: Path, tiny_pack: Path) -> None:
    from emotiondesk.errors import ConfigError

    with pytest.raises(ConfigError, match="pseudonym_key"):
        create_app(make_settings(tmp_path, tiny_pack, pseudonymize_ids=True))


# -- poison input: lone surrogates, NUL bytes, out-of-range datetimes ------------------------


def _raw_post(svc: Service, url: str, body: str) -> Any:
    return svc.client.post(
        url,
        content=body.encode(),
        headers={**svc.h(), "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("bad", [r"\ud800", r"\udfff", r"\u0000", r"a\u0000b"])
def test_surrogates_and_nul_in_any_json_field_are_422_and_nothing_is_stored(
    svc: Service, bad: str
) -> None:
    for body in (
        '{"metadata": {"k": "%s"}}',
        '{"metadata": {"a": [{"b": ["%s"]}]}}',
        '{"metadata": {"%s": 1}}',
        '{"channel": "%s"}',
        '{"customer_id": "%s"}',
    ):
        r = _raw_post(svc, "/v1/conversations", body % bad)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "invalid_request"
    assert _rows(svc, Conversation) == []
    conv = svc.post("/v1/conversations", {}).json()
    for body in (
        '{"role": "customer", "text": "%s"}',
        '{"role": "customer", "text": "ok", "client_message_id": "%s"}',
    ):
        r = _raw_post(svc, f"/v1/conversations/{conv['id']}/messages", body % bad)
        assert r.status_code == 422, (body, r.text)
    assert _raw_post(svc, "/v1/feedback", '{"message_id": "' + bad + '"}').status_code == 422
    assert _raw_post(svc, "/v1/analyze", '{"texts": ["' + bad + '"]}').status_code == 422
    listing = svc.client.get("/v1/conversations", headers=svc.h())
    assert listing.status_code == 200 and listing.json()["total"] == 1


def test_paired_surrogates_are_fine(svc: Service) -> None:
    r = _raw_post(svc, "/v1/conversations", r'{"metadata": {"k": "\ud83d\ude00 \\u0000"}}')
    assert r.status_code == 201, r.text
    assert r.json()["metadata"] == {"k": "\U0001f600 \\u0000"}


@pytest.mark.parametrize(
    "url",
    [
        "/v1/conversations?channel=a%00b",
        "/v1/conversations?channel=%ED%A0%80",
        "/v1/conversations?category=%FF",
        "/v1/alerts?kind=%00",
        "/v1/conversations/abc%00def",
        "/v1/conversations/%ED%A0%80",
    ],
)
def test_nul_and_surrogates_in_query_and_path_are_422(svc: Service, url: str) -> None:
    r = svc.client.get(url, headers=svc.h())
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1700000000"]
)
def test_out_of_range_or_numeric_datetimes_are_422(svc: Service, value: str) -> None:
    c = svc.client
    for url in (
        "/v1/conversations?created_after={}",
        "/v1/conversations?created_before={}",
        "/v1/analytics/overview?since={}",
        "/v1/analytics/overview?until={}",
    ):
        r = c.get(url.format(value.replace("+", "%2B")), headers=svc.h())
        assert r.status_code == 422, (url, r.status_code, r.text)
    conv = svc.post("/v1/conversations", {}).json()
    body = {"role": "customer", "text": "hi", "timestamp": value}
    if value.isdigit():
        body["timestamp"] = int(value)  # type: ignore[assignment]
    r = svc.post(f"/v1/conversations/{conv['id']}/messages", body)
    assert r.status_code == 422, r.text


# -- errors: no bound parameters in the log, the connection survives ----------------------


def test_unhandled_errors_log_no_sql_parameters(
    svc: Service, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import text

    app = svc.client.app

    phone = "".join(["138", "1234", "5678"])  # not in this file's source (tracebacks show it)

    @app.get("/boom")  # type: ignore[attr-defined]
    def boom() -> None:
        with app.state.sessions() as s:  # type: ignore[attr-defined]
            s.execute(text("SELECT * FROM no_such_table WHERE x = :x"), {"x": phone})

    with caplog.at_level(logging.DEBUG):
        r = svc.client.get("/boom")  # raise_server_exceptions: a re-raised error fails here
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert phone not in caplog.text
    assert "no_such_table" in caplog.text  # the statement itself is logged


# -- OpenAPI agrees with the service ------------------------------------------------------


def test_openapi_agrees_with_behaviour(svc: Service) -> None:
    schema = svc.client.get("/openapi.json").json()
    texts = schema["components"]["schemas"]["AnalyzeRequest"]["properties"]["texts"]
    assert texts["maxItems"] == 128
    post = schema["paths"]["/v1/conversations"]["post"]
    assert "400" in post["responses"]
    r = svc.client.post(
        "/v1/conversations",
        content=b'{"channel": "\xff"}',
        headers={**svc.h(), "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)


# -- rate limits shared by workers and restarts, failed-auth throttling ---------------------


def test_rate_limit_is_shared_by_two_apps_on_one_database(tmp_path: Path, tiny_pack: Path) -> None:
    """Two workers (two apps, one database) and a restart enforce one limit."""
    settings = make_settings(tmp_path, tiny_pack)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        key = Service(a).key("analyze", rate_limit=10)  # burst of 5
        h = {"X-API-Key": key}
        codes = [
            (a if i % 2 else b).post("/v1/analyze", json={"texts": ["hi"]}, headers=h).status_code
            for i in range(10)
        ]
    assert codes.count(200) == 5 and codes.count(429) == 5, codes
    with TestClient(create_app(settings)) as c:  # a restart: the bucket is still spent
        r = c.post("/v1/analyze", json={"texts": ["hi"]}, headers=h)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_failed_authentication_is_throttled_per_address(tmp_path: Path, tiny_pack: Path) -> None:
    # one failure a minute refills (a burst of 5): on a busy machine the 20 requests below
    # take seconds, and a faster refill let a sixth guess through as 401 (a flaky test)
    settings = make_settings(tmp_path, tiny_pack, auth_failures_per_minute=1)
    with TestClient(create_app(settings)) as client:
        svc = Service(client)
        good = svc.key("read")
        codes = [
            client.get("/v1/conversations", headers={"X-API-Key": f"ed_random_{i}"}).status_code
            for i in range(20)
        ]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
        r = client.post("/login", json={"api_key": "ed_guess"})
        assert r.status_code == 429
        # while throttled, a good key gets 429 too (or the answers would still tell which
        # guess was right); another address is served
        assert client.get("/v1/conversations", headers={"X-API-Key": good}).status_code == 429
    with TestClient(create_app(settings), client=("10.0.0.2", 50000)) as other:
        assert other.get("/v1/conversations", headers={"X-API-Key": good}).status_code == 200


# -- dashboard session, CSRF, headers, /metrics ---------------------------------------------


def test_session_cookie_is_signed_not_the_key(svc: Service) -> None:
    from emotiondesk.service.deps import SESSION_COOKIE

    key = svc.key("read", "write")
    r = svc.client.post("/login", json={"api_key": key})
    assert r.status_code == 200
    cookie = svc.client.cookies.get(SESSION_COOKIE)
    assert cookie and key not in cookie and repo.hash_key(key) in cookie
    assert svc.client.get("/v1/conversations").status_code == 200
    # cookie-authenticated POSTs need a same-site Origin (or Referer)
    assert svc.client.post("/v1/conversations", json={}).status_code == 403
    evil = svc.client.post("/v1/conversations", json={}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    ok = svc.client.post("/v1/conversations", json={}, headers={"Origin": "http://testserver"})
    assert ok.status_code == 201
    referer = {"Referer": "http://testserver/dashboard"}
    assert svc.client.post("/v1/conversations", json={}, headers=referer).status_code == 201
    # a forged token is no session
    svc.client.cookies.clear()
    svc.client.cookies.set(SESSION_COOKIE, cookie[:-4] + "0000")
    assert svc.client.get("/v1/conversations").status_code == 401
    assert (
        svc.client.post(
            "/login", json={"api_key": key}, headers={"Origin": "https://evil.example"}
        ).status_code
        == 403
    )


def test_security_headers_on_every_response(svc: Service) -> None:
    for r in (
        svc.client.get("/healthz"),
        svc.client.get("/login"),
        svc.client.post("/v1/analyze", json={"texts": ["hi"]}, headers=svc.h()),
        svc.client.post("/v1/analyze", json={"texts": ["hi"]}, headers=svc.h()),  # fast lane
        svc.client.get("/v1/conversations"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "unsafe-inline'" not in r.headers["content-security-policy"].split("style-src")[0]
    # the API docs page (static Swagger UI) alone may run its inline bootstrap script
    docs = svc.client.get("/docs").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in docs


def test_metrics_needs_a_key_outside_dev(tmp_path: Path, tiny_pack: Path) -> None:
    settings = make_settings(tmp_path, tiny_pack, dev=False, api_key="b" * 32)
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"X-API-Key": "b" * 32}).status_code == 200
        bearer = {"Authorization": "Bearer " + "b" * 32}
        assert client.get("/metrics", headers=bearer).status_code == 200
    open_settings = make_settings(
        tmp_path, tiny_pack, dev=False, api_key="b" * 32, metrics_require_key=False
    )
    with TestClient(create_app(open_settings)) as client:
        assert client.get("/metrics").status_code == 200
