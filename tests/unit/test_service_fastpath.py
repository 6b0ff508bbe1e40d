"""The fast lane of POST /v1/analyze and the API-key cache (in process, tiny pack, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emotiondesk.analyzer import AnalysisResult
from emotiondesk.service import create_app
from emotiondesk.service.deps import SESSION_COOKIE, get_settings_dep
from emotiondesk.service.schemas import Analysis
from emotiondesk.storage import repository as repo
from tests.unit.test_service import Service, make_settings

BODY = {"texts": ["物流太慢了，气死我了"]}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Routed:
    """Counts the requests that reach the FastAPI route (the fast lane's fallback)."""

    def __init__(self, client: TestClient) -> None:
        self.calls = 0
        app: Any = client.app
        real = app.state.settings

        async def settings_dep() -> Any:
            self.calls += 1
            return real

        app.dependency_overrides[get_settings_dep] = settings_dep


def _start(tmp_path: Path, tiny_pack: Path, **kw: Any) -> Iterator[Service]:
    app = create_app(make_settings(tmp_path, tiny_pack, **kw))
    with TestClient(app) as client:
        yield Service(client)


@pytest.fixture
def svc(tmp_path: Path, tiny_pack: Path) -> Iterator[Service]:
    yield from _start(tmp_path, tiny_pack)


def _revoke(svc: Service, key: str) -> None:
    with svc.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = repo.find_api_key(s, key=key)
        assert row is not None
        repo.revoke_api_key(s, key_id=row.id)
        s.commit()


def test_to_dict_has_exactly_the_response_fields() -> None:
    r = AnalysisResult(
        text="t",
        language="en",
        polarity="neutral",
        polarity_scores={"negative": 0.1, "neutral": 0.8, "positive": 0.1},
        score=0.5,
        emotion="neutral",
        emotion_scores={"neutral": 1.0},
        truncated=True,
        model="m",
    )
    d = r.to_dict()
    assert list(d) == list(Analysis.model_fields)
    assert Analysis.model_validate(d).model_dump() == d
    d["polarity_scores"]["neutral"] = 0.0  # a copy, not the result's own dict
    assert r.polarity_scores["neutral"] == 0.8


def test_fast_lane_answers_like_the_route(svc: Service) -> None:
    routed = Routed(svc.client)
    h = svc.h("analyze")
    first = svc.client.post("/v1/analyze", json=BODY, headers=h)  # verifies the key: route
    assert first.status_code == 200 and routed.calls == 1
    again = [svc.client.post("/v1/analyze", json=BODY, headers=h) for _ in range(3)]
    again.append(
        svc.client.post(
            "/v1/analyze",
            content=first.request.content,
            headers={**h, "content-type": "Application/JSON;charset=UTF-8"},
        )
    )
    assert routed.calls == 1  # answered by the fast lane
    # A JSON media type the fast lane leaves to FastAPI: same body either way.
    other = svc.client.post(
        "/v1/analyze",
        content=first.request.content,
        headers={**h, "content-type": "application/vnd.api+json"},
    )
    assert routed.calls == 2 and other.status_code == 200
    for r in (*again, other):
        assert r.status_code == 200
        assert r.content == first.content
        assert r.headers["content-type"] == "application/json"
    result = first.json()["results"][0]
    assert (result["language"], result["emotion"]) == ("zh", "anger")


def test_fast_lane_can_be_switched_off(tmp_path: Path, tiny_pack: Path) -> None:
    answers = []
    for on in (True, False):
        (tmp_path / str(on)).mkdir()
        for svc in _start(tmp_path / str(on), tiny_pack, analyze_fast_path=on):
            routed = Routed(svc.client)
            h = svc.h("analyze")
            answers.append([svc.client.post("/v1/analyze", json=BODY, headers=h) for _ in range(3)])
            assert routed.calls == (1 if on else 3)  # off: every call reaches the route
    for fast, routed_r in zip(*answers, strict=True):
        assert fast.status_code == routed_r.status_code == 200
        assert fast.content == routed_r.content


def test_fast_lane_rate_limit_and_metrics(svc: Service) -> None:
    routed = Routed(svc.client)
    key = svc.key("analyze", rate_limit=5)
    codes = [
        svc.client.post("/v1/analyze", json=BODY, headers={"X-API-Key": key}) for _ in range(7)
    ]
    assert routed.calls == 1
    assert [r.status_code for r in codes] == [200] * 5 + [429] * 2
    assert int(codes[-1].headers["Retry-After"]) >= 1
    assert codes[-1].json()["error"]["code"] == "rate_limited"
    text = svc.client.get("/metrics").text
    route = 'emotiondesk_http_requests_total{method="POST",route="/v1/analyze"'
    assert f'{route},status="200"}} 5.0' in text
    assert f'{route},status="429"}} 2.0' in text
    assert 'emotiondesk_predictions_total{label="anger",task="emotion"} 5.0' in text


def test_fast_lane_leaves_errors_to_the_route(tmp_path: Path, tiny_pack: Path) -> None:
    for svc in _start(tmp_path, tiny_pack, max_body_bytes=2048, max_texts=3, max_text_chars=50):
        h = {**svc.h("analyze"), "content-type": "application/json"}
        assert svc.client.post("/v1/analyze", json=BODY, headers=h).status_code == 200  # cached
        cases = [
            (b"{not json", 422, "invalid_request"),
            (b'{"texts": ["a", "b", "c", "d"]}', 422, "at most 3 texts"),
            (b'{"texts": ["' + b"y" * 51 + b'"]}', 422, "limit is 50"),
            (b'{"texts": ["hi"], "extra": 1}', 422, "invalid_request"),
            (b'{"texts": "13812345678 secret"}', 422, "invalid_request"),
            (b'{"texts": ["' + b"x" * 3000 + b'"]}', 413, "payload_too_large"),
        ]
        for content, status, needle in cases:
            r = svc.client.post("/v1/analyze", content=content, headers=h)
            assert r.status_code == status, (content[:40], r.text)
            assert needle in r.text
            assert "13812345678" not in r.text


def test_scopes_and_cookie_on_the_fast_lane(svc: Service) -> None:
    body = {"texts": ["hi"]}
    read = {"X-API-Key": svc.key("read")}
    for _ in range(2):  # uncached, then cached
        r = svc.client.post("/v1/analyze", json=body, headers=read)
        assert r.status_code == 403 and "'analyze'" in r.json()["error"]["message"]
        r = svc.client.post("/v1/analyze", json=body, headers={"X-API-Key": "ed_wrong_key"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert svc.client.post("/v1/analyze", json=body).status_code == 401
    svc.client.cookies.set(SESSION_COOKIE, svc.key("analyze"))  # a raw key is no session
    assert svc.client.post("/v1/analyze", json=body).status_code == 401
    login = svc.client.post("/login", json={"api_key": svc.key("analyze", "read")})
    assert login.status_code == 200
    same_site = {"Origin": "http://testserver"}
    try:
        codes = [
            svc.client.post("/v1/analyze", json=body, headers=same_site).status_code
            for _ in range(2)
        ]
        assert codes == [200, 200]
        assert svc.client.post("/v1/analyze", json=body).status_code == 403  # no Origin
    finally:
        svc.client.cookies.clear()


def test_shutting_down_is_a_503_on_the_fast_lane(svc: Service) -> None:
    h = svc.h("analyze")
    assert svc.client.post("/v1/analyze", json=BODY, headers=h).status_code == 200
    svc.client.app.state.batcher._closed = True  # type: ignore[attr-defined]
    r = svc.client.post("/v1/analyze", json=BODY, headers=h)
    assert r.status_code == 503 and "shutting down" in r.json()["error"]["message"]


def test_revoked_key_stops_within_the_cache_bound(tmp_path: Path, tiny_pack: Path) -> None:
    for svc in _start(tmp_path, tiny_pack, api_key_cache_seconds=10):
        clock = Clock()
        verifier = svc.client.app.state.verifier  # type: ignore[attr-defined]
        verifier.clock = clock
        key = svc.key("analyze")
        h = {"X-API-Key": key}
        assert svc.client.post("/v1/analyze", json=BODY, headers=h).status_code == 200
        _revoke(svc, key)
        clock.now += 9.5  # within the documented bound the cached verification is used
        assert svc.client.post("/v1/analyze", json=BODY, headers=h).status_code == 200
        clock.now += 1.0  # past it, the database is asked again
        r = svc.client.post("/v1/analyze", json=BODY, headers=h)
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
        clock.now += 100.0  # and the refusal is cached too, not the old principal
        assert svc.client.post("/v1/analyze", json=BODY, headers=h).status_code == 401


def test_no_key_cache_checks_every_request(tmp_path: Path, tiny_pack: Path) -> None:
    for svc in _start(tmp_path, tiny_pack, api_key_cache_seconds=0):
        routed = Routed(svc.client)
        key = svc.key("analyze")
        h = {"X-API-Key": key}
        assert svc.client.post("/v1/analyze", json=BODY, headers=h).status_code == 200
        assert svc.client.post("/v1/analyze", json=BODY, headers=h).status_code == 200
        assert routed.calls == 2  # nothing cached, so no fast lane either
        _revoke(svc, key)
        assert svc.client.post("/v1/analyze", json=BODY, headers=h).status_code == 401


def test_lone_surrogates_are_a_422_not_a_500(svc: Service) -> None:
    h = {**svc.h("admin"), "content-type": "application/json"}
    body = b'{"texts": ["\\ud800 hi"]}'  # valid JSON, but no valid Unicode text
    for _ in range(2):  # the route, then (key cached) the fast lane's fallback
        r = svc.client.post("/v1/analyze", content=body, headers=h)
        assert r.status_code == 422 and "lone surrogate" in r.json()["error"]["message"]
    pair = svc.client.post("/v1/analyze", content=b'{"texts": ["\\ud83d\\ude00 ok"]}', headers=h)
    assert pair.status_code == 200 and pair.json()["results"][0]["text"] == "\U0001f600 ok"
    cid = svc.post("/v1/conversations", {}, "write").json()["id"]
    r = svc.client.post(
        f"/v1/conversations/{cid}/messages",
        content=b'{"role": "customer", "text": "\\udc00"}',
        headers=h,
    )
    assert r.status_code == 422


def test_serve_runs_one_blas_thread_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    from threadpoolctl import threadpool_info

    from emotiondesk.service.server import BLAS_THREAD_VARS, limit_blas_threads

    for name in BLAS_THREAD_VARS:
        monkeypatch.delenv(name, raising=False)
    limiter = limit_blas_threads()
    try:
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        assert blas and all(lib["num_threads"] == 1 for lib in blas)
    finally:
        limiter.restore_original_limits()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert limit_blas_threads() is None  # the operator's number stands


def test_explain_requests_go_to_the_route_and_keep_the_contract(svc: Service) -> None:
    routed = Routed(svc.client)
    h = svc.h("analyze")
    plain = svc.client.post("/v1/analyze", json=BODY, headers=h)
    assert plain.status_code == 200 and routed.calls == 1
    assert "evidence" not in plain.json()["results"][0]  # unchanged without explain
    bodies = [
        svc.client.post("/v1/analyze", json={**BODY, "explain": True}, headers=h) for _ in range(2)
    ]
    assert routed.calls == 3  # the fast lane leaves explanations to the route
    assert bodies[0].content == bodies[1].content  # the same explanation twice
    result = bodies[0].json()["results"][0]
    plain_result = plain.json()["results"][0]
    assert {k: v for k, v in result.items() if k != "evidence"} == plain_result
    evidence = result["evidence"]
    assert evidence["emotion"]["label"] == plain_result["emotion"]
    assert evidence["polarity"]["method"] == "linear"
    for span in evidence["polarity"]["spans"] + evidence["emotion"]["spans"]:
        assert result["text"][span["start"] : span["end"]] == span["text"]
    bad = svc.client.post("/v1/analyze", json={**BODY, "explain": "maybe"}, headers=h)
    assert bad.status_code == 422
