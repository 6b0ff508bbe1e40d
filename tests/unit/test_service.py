"""The REST service, in process (TestClient), on SQLite in a temp dir with the tiny pack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emotiondesk.config import Settings
from emotiondesk.errors import ConfigError
from emotiondesk.service import create_app
from emotiondesk.storage import repository as repo


class Service:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.keys: dict[str, str] = {}

    def key(self, *scopes: str, rate_limit: int | None = None) -> str:
        name = ",".join(scopes) + f"/{rate_limit}"
        if name not in self.keys:
            with self.client.app.state.sessions() as s:  # type: ignore[attr-defined]
                _, key = repo.create_api_key(s, name=name, scopes=scopes, rate_limit=rate_limit)
                s.commit()
            self.keys[name] = key
        return self.keys[name]

    def h(self, *scopes: str) -> dict[str, str]:
        return {"X-API-Key": self.key(*(scopes or ("admin",)))}

    def post(self, url: str, json: Any, *scopes: str) -> Any:
        return self.client.post(url, json=json, headers=self.h(*scopes))


def make_settings(tmp_path: Path, tiny_pack: Path, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "dev": True,
        "database_url": f"sqlite:///{tmp_path / 'svc.sqlite'}",
        "model_dir": tiny_pack,
        "rate_limit_per_minute": 0,
        "_env_file": None,
    }
    base.update(kw)
    return Settings(**base)


@pytest.fixture
def svc(tmp_path: Path, tiny_pack: Path) -> Iterator[Service]:
    app = create_app(make_settings(tmp_path, tiny_pack))
    with TestClient(app) as client:
        yield Service(client)


def test_health_ready_metrics(svc: Service) -> None:
    c = svc.client
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["model"] == "tiny-0.0.test" and ready.json()["database"] == "ok"
    svc.post("/v1/analyze", {"texts": ["物流太慢了，气死我了"]})
    text = c.get("/metrics").text
    assert (
        'emotiondesk_http_requests_total{method="POST",route="/v1/analyze",status="200"} 1.0'
        in text
    )
    assert "emotiondesk_batch_size_count" in text
    assert 'emotiondesk_predictions_total{label="anger",task="emotion"}' in text


def test_analyze(svc: Service) -> None:
    r = svc.post(
        "/v1/analyze",
        {"texts": ["物流太慢了，气死我了", "Thank you so much, I love it, great service"]},
        "analyze",
    )
    assert r.status_code == 200, r.text
    a, b = r.json()["results"]
    assert (a["language"], a["polarity"], a["emotion"]) == ("zh", "negative", "anger")
    assert (b["language"], b["polarity"], b["emotion"]) == ("en", "positive", "joy")
    assert set(a) >= {
        "text",
        "language",
        "polarity",
        "polarity_scores",
        "score",
        "emotion",
        "emotion_scores",
    }
    assert a["text"] == "物流太慢了，气死我了"
    assert abs(sum(a["emotion_scores"].values()) - 1) < 1e-3


def test_auth_and_scopes(svc: Service) -> None:
    c = svc.client
    body = {"texts": ["hi"]}
    r = c.post("/v1/analyze", json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    r = c.post("/v1/analyze", json=body, headers={"X-API-Key": "ed_wrong"})
    assert r.status_code == 401
    r = svc.post("/v1/analyze", body, "read")
    assert r.status_code == 403 and "'analyze'" in r.json()["error"]["message"]
    r = svc.post("/v1/conversations", {}, "analyze")
    assert r.status_code == 403
    assert c.get("/v1/conversations", headers=svc.h("write")).status_code == 403
    assert c.get("/v1/conversations", headers=svc.h("read")).status_code == 200
    # revoked keys stop working (after the short verification cache)
    key = svc.key("analyze", rate_limit=None)
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = repo.find_api_key(s, key=key)
        repo.revoke_api_key(s, key_id=row.id)
        s.commit()
    c.app.state.verifier._cache.clear()  # type: ignore[attr-defined]
    assert c.post("/v1/analyze", json=body, headers={"X-API-Key": key}).status_code == 401


def test_rate_limit(svc: Service) -> None:
    key = svc.key("analyze", rate_limit=5)
    codes = [
        svc.client.post("/v1/analyze", json={"texts": ["hi"]}, headers={"X-API-Key": key})
        for _ in range(7)
    ]
    assert [r.status_code for r in codes[:5]] == [200] * 5
    last = codes[-1]
    assert last.status_code == 429
    assert int(last.headers["Retry-After"]) >= 1
    assert last.json()["error"]["code"] == "rate_limited"


def test_size_limits(tmp_path: Path, tiny_pack: Path) -> None:
    app = create_app(
        make_settings(tmp_path, tiny_pack, max_body_bytes=2048, max_texts=3, max_text_chars=50)
    )
    with TestClient(app) as client:
        svc = Service(client)
        r = svc.post("/v1/analyze", {"texts": ["x" * 3000]})
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        r = svc.post("/v1/analyze", {"texts": ["a", "b", "c", "d"]})
        assert r.status_code == 422 and "at most 3 texts" in r.json()["error"]["message"]
        r = svc.post("/v1/analyze", {"texts": ["y" * 51]})
        assert r.status_code == 422 and "limit is 50" in r.json()["error"]["message"]
        r = svc.post("/v1/analyze", {"texts": []})
        assert r.status_code == 422
        r = svc.client.post(
            "/v1/analyze",
            content=b"{not json",
            headers={**svc.h(), "content-type": "application/json"},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_validation_errors_do_not_echo_input(svc: Service) -> None:
    r = svc.post("/v1/analyze", {"texts": "13812345678 secret"})
    assert r.status_code == 422
    assert "13812345678" not in r.text


def test_conversation_flow(svc: Service) -> None:
    r = svc.post(
        "/v1/conversations",
        {
            "channel": "web",
            "customer_id": "c-1",
            "product_id": "p-9",
            "category": "phones",
            "agent_id": "a-1",
            "metadata": {"tier": "vip"},
        },
        "write",
    )
    assert r.status_code == 201, r.text
    conv = r.json()
    cid = conv["id"]
    assert conv["message_count"] == 0 and conv["metadata"] == {"tier": "vip"}

    url = f"/v1/conversations/{cid}/messages"
    r = svc.post(
        url,
        {
            "role": "customer",
            "text": "物流太慢了，气死我了，电话13812345678",
            "client_message_id": "m1",
            "timestamp": "2026-11-24T10:00:00+08:00",
        },
        "write",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] is True
    msg = body["message"]
    assert msg["text"] == "物流太慢了，气死我了，电话[PHONE]"
    assert msg["emotion"] == "anger" and msg["polarity"] == "negative"
    assert msg["model_version"] == "tiny-0.0.test"
    assert "13812345678" not in r.text
    # The evidence is stored with the customer message: spans of the masked text.
    ev = msg["evidence"]
    assert ev["emotion"]["label"] == "anger" and ev["emotion"]["method"] == "linear"
    assert ev["polarity"]["spans"] and ev["emotion"]["spans"]
    for span in ev["polarity"]["spans"] + ev["emotion"]["spans"]:
        assert msg["text"][span["start"] : span["end"]] == span["text"]
    assert any("气" in s["text"] or "慢" in s["text"] for s in ev["emotion"]["spans"])
    assert [a["aspect"] for a in ev["aspects"]] == ["logistics"]
    state = body["conversation"]["state"]
    assert state["engine"] == "dialogue" and state["customer_turns"] == 1
    assert state["last_emotion"] == "anger"

    # the same client message id again: nothing new stored, status 200
    again = svc.post(
        url,
        {
            "role": "customer",
            "text": "物流太慢了，气死我了，电话13812345678",
            "client_message_id": "m1",
        },
        "write",
    )
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["message"]["id"] == msg["id"]

    r = svc.post(url, {"role": "agent", "text": "非常抱歉，我马上帮您查询"}, "write")
    assert r.status_code == 201
    r = svc.post(
        url,
        {"role": "customer", "text": "谢谢客服，非常满意，好开心", "client_message_id": "m3"},
        "write",
    )
    assert r.json()["conversation"]["state"]["customer_turns"] == 2
    assert r.json()["conversation"]["message_count"] == 3

    detail = svc.client.get(f"/v1/conversations/{cid}", headers=svc.h("read")).json()
    assert [m["seq"] for m in detail["messages"]] == [1, 2, 3]
    assert [m["role"] for m in detail["messages"]] == ["customer", "agent", "customer"]
    assert detail["messages"][0]["sent_at"].startswith("2026-11-24T02:00:00")
    assert detail["messages"][0]["evidence"] == ev
    assert detail["messages"][1]["evidence"] is None  # agent turns are not explained

    # raw text is not persisted by default
    with svc.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        stored = repo.get_message(s, workspace="default", message_id=msg["id"])
        assert stored.raw_text is None and stored.pii == {"phone": 1}
        # Offsets only: the words come from the stored text when it is read.
        assert stored.evidence is not None
        assert all("text" not in span for span in stored.evidence["polarity"]["spans"])

    fb = svc.post(
        "/v1/feedback",
        {"message_id": msg["id"], "emotion": "sadness", "note": "sad, not angry"},
        "write",
    )
    assert fb.status_code == 201, fb.text
    assert fb.json()["predicted_emotion"] == "anger" and fb.json()["emotion"] == "sadness"


def test_conversation_errors_and_listing(svc: Service) -> None:
    c = svc.client
    assert c.get("/v1/conversations/nope", headers=svc.h("read")).status_code == 404
    r = svc.post("/v1/conversations/nope/messages", {"role": "customer", "text": "hi"}, "write")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    cid = svc.post("/v1/conversations", {"channel": "app"}, "write").json()["id"]
    r = svc.post(f"/v1/conversations/{cid}/messages", {"role": "bot", "text": "hi"}, "write")
    assert r.status_code == 422
    r = svc.post("/v1/feedback", {"message_id": "nope", "polarity": "negative"}, "write")
    assert r.status_code == 404
    r = svc.post("/v1/feedback", {"message_id": "x", "emotion": "bored"}, "write")
    assert r.status_code == 422
    for ch in ("web", "web", "app"):
        svc.post("/v1/conversations", {"channel": ch}, "write")
    page = c.get("/v1/conversations?channel=web&limit=1", headers=svc.h("read")).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["limit"] == 1
    page2 = c.get("/v1/conversations?channel=web&limit=1&offset=1", headers=svc.h("read")).json()
    assert page2["items"][0]["id"] != page["items"][0]["id"]
    assert c.get("/v1/conversations?limit=0", headers=svc.h("read")).status_code == 422
    assert c.get("/v1/alerts", headers=svc.h("read")).json() == []


def test_custom_conversation_engine(tmp_path: Path, tiny_pack: Path) -> None:
    seen: list[int] = []

    def engine(*, conversation, history, turn):
        seen.append(len(history))
        return {
            "risk": 0.9 if turn["analysis"]["polarity"] == "negative" else 0.1,
            "at": turn["sent_at"],
        }

    app = create_app(make_settings(tmp_path, tiny_pack), conversation_engine=engine)
    with TestClient(app) as client:
        svc = Service(client)
        cid = svc.post("/v1/conversations", {}, "write").json()["id"]
        for text in ("物流太慢了，气死我了", "谢谢客服，非常满意，好开心"):
            r = svc.post(
                f"/v1/conversations/{cid}/messages", {"role": "customer", "text": text}, "write"
            )
        assert r.json()["conversation"]["state"] == {"risk": 0.1, "at": None}
    assert seen == [0, 1]


def test_engine_setting_is_resolved(tmp_path: Path, tiny_pack: Path) -> None:
    with pytest.raises(ConfigError):
        create_app(make_settings(tmp_path, tiny_pack, conversation_engine="nope.module:fn"))


def test_refuses_placeholder_key_outside_dev(tmp_path: Path, tiny_pack: Path) -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        create_app(make_settings(tmp_path, tiny_pack, dev=False, api_key="changeme"))
    create_app(make_settings(tmp_path, tiny_pack, dev=True, api_key="changeme"))
    strong = "ed_" + "k" * 40
    app = create_app(make_settings(tmp_path, tiny_pack, dev=False, api_key=strong))
    with TestClient(app) as client:
        r = client.post("/v1/analyze", json={"texts": ["hi"]}, headers={"X-API-Key": strong})
        assert r.status_code == 200


def test_store_raw_text_setting(tmp_path: Path, tiny_pack: Path) -> None:
    app = create_app(make_settings(tmp_path, tiny_pack, store_raw_text=True))
    with TestClient(app) as client:
        svc = Service(client)
        cid = svc.post("/v1/conversations", {}, "write").json()["id"]
        mid = svc.post(
            f"/v1/conversations/{cid}/messages",
            {"role": "customer", "text": "call 13812345678"},
            "write",
        ).json()["message"]["id"]
        with client.app.state.sessions() as s:  # type: ignore[attr-defined]
            m = repo.get_message(s, workspace="default", message_id=mid)
            assert m.raw_text == "call 13812345678" and m.text == "call [PHONE]"


def test_unbatched_mode(tmp_path: Path, tiny_pack: Path) -> None:
    app = create_app(make_settings(tmp_path, tiny_pack, batching=False))
    with TestClient(app) as client:
        r = Service(client).post("/v1/analyze", {"texts": ["物流太慢了，气死我了"]})
        assert r.json()["results"][0]["emotion"] == "anger"


def test_service_does_not_import_training_or_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import emotiondesk.service, emotiondesk.service.demo, emotiondesk.storage; "
        "bad = [m for m in sys.modules if m.startswith(('emotiondesk.training', 'torch'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    import os

    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
