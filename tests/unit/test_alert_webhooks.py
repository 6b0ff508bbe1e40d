"""Alert notifications (issue 13, item 5) against a real local HTTP receiver: the
message shapes, the signatures, retries, and ingestion that never waits for the
receiver; one surge alert per episode with the narrowest slice."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from emotiondesk.service import create_app
from emotiondesk.service.demo_reviews import generate_reviews, write_jsonl
from emotiondesk.service.notify import WebhookNotifier, sign
from emotiondesk.usecases.import_archive import import_archive
from tests.unit.test_service import make_settings

SECRET = "s3cret-for-tests"


class Receiver:
    """A webhook receiver on loopback: records requests; can fail or hold them."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []  # status codes to answer first
        self.hold = threading.Event()
        self.hold.set()
        self.got = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.hold.wait(30)
                status = outer.fail_next.pop(0) if outer.fail_next else 200
                with outer.got:
                    outer.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "status": status,
                        }
                    )
                    outer.got.notify_all()
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        with self.got:
            assert self.got.wait_for(lambda: len(self.requests) >= n, timeout), self.requests
            return list(self.requests)

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


ALERT = {
    "id": 7,
    "kind": "policy",
    "severity": "high",
    "title": "customer at high risk of a complaint",
    "conversation_id": "c1",
    "details": {"risk": 0.93},
}


def test_generic_json_is_signed(receiver: Receiver) -> None:
    n = WebhookNotifier(receiver.url, secret=SECRET, backoff=0.01)
    assert n.notify(ALERT)
    [req] = receiver.wait_for(1)
    n.close()
    assert json.loads(req["body"]) == {"event": "alert", "alert": ALERT}
    ts = req["headers"]["x-emotiondesk-timestamp"]
    assert req["headers"]["x-emotiondesk-signature"] == sign(SECRET, ts, req["body"])
    assert sign("wrong", ts, req["body"]) != req["headers"]["x-emotiondesk-signature"]


@pytest.mark.parametrize("fmt", ["wecom", "dingtalk", "slack"])
def test_robot_message_shapes(receiver: Receiver, fmt: str) -> None:
    n = WebhookNotifier(
        receiver.url, fmt=fmt, secret=SECRET, dashboard_url="https://cs.example.com", backoff=0.01
    )
    n.notify(ALERT)
    [req] = receiver.wait_for(1)
    n.close()
    body = json.loads(req["body"])
    if fmt == "slack":
        text = body["text"]
    else:
        assert body["msgtype"] == "markdown"
        text = body["markdown"]["content" if fmt == "wecom" else "text"]
    assert (
        "customer at high risk" in text
        and "https://cs.example.com/dashboard#/conversation/c1" in text
    )
    if fmt == "dingtalk":  # DingTalk's own signature in the query
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(req["path"]).query))
        mac = hmac.new(
            SECRET.encode(), f"{q['timestamp']}\n{SECRET}".encode(), hashlib.sha256
        ).digest()
        assert q["sign"] == base64.b64encode(mac).decode()


def test_retried_on_5xx_not_on_4xx(receiver: Receiver) -> None:
    receiver.fail_next = [503, 500]
    n = WebhookNotifier(receiver.url, retries=3, backoff=0.01)
    n.notify(ALERT)
    reqs = receiver.wait_for(3)
    n.close()
    assert [r["status"] for r in reqs] == [503, 500, 200] and n.sent == 1
    receiver.requests.clear()
    receiver.fail_next = [400]
    n = WebhookNotifier(receiver.url, retries=3, backoff=0.01)
    n.notify(ALERT)
    receiver.wait_for(1)
    n.close()
    time.sleep(0.1)
    assert len(receiver.requests) == 1 and n.failed == 1


def test_ingestion_never_waits_for_the_receiver(
    receiver: Receiver, tmp_path: Path, tiny_pack: Path
) -> None:
    receiver.hold.clear()  # the receiver holds every request until told
    settings = make_settings(
        tmp_path,
        tiny_pack,
        alert_webhook_url=receiver.url,
        alert_webhook_secret=SECRET,
        api_key="ed_dev_local_only_key",
    )
    with TestClient(create_app(settings)) as client:
        client.headers["X-API-Key"] = "ed_dev_local_only_key"
        cid = client.post("/v1/conversations", json={"channel": "web"}).json()["id"]
        r = client.post(
            f"/v1/conversations/{cid}/messages",
            json={"role": "customer", "text": "This is a scam, I will call my lawyer and sue you"},
        )
        assert r.status_code == 201
        assert r.json()["message"]["state"]["alerts"], "the legal-threat rule raises an alert"
        assert receiver.requests == []  # answered while the receiver still holds the webhook
        receiver.hold.set()
        reqs = receiver.wait_for(1)
    # one alert; on a slow machine the held request can outlast the notifier's timeout,
    # and its retry then arrives too: the same alert again, never another one
    assert len({r["body"] for r in reqs}) == 1, reqs
    alert = json.loads(reqs[0]["body"])["alert"]
    assert alert["conversation_id"] == cid and alert["severity"] == "critical"
    assert alert["workspace"] == "default"  # the key's workspace (the bootstrap key: default)


def test_robot_text_names_a_workspace_other_than_default() -> None:
    from emotiondesk.service.notify import render

    other = render({**ALERT, "workspace": "shop-b"}, "slack")["text"]
    assert "workspace shop-b" in other
    assert "workspace" not in render({**ALERT, "workspace": "default"}, "slack")["text"]


END = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_one_alert_per_episode_with_the_narrowest_slice(
    receiver: Receiver, tmp_path: Path, tiny_pack: Path
) -> None:
    settings = make_settings(
        tmp_path, tiny_pack, alert_webhook_url=receiver.url, api_key="ed_dev_local_only_key"
    )
    with TestClient(create_app(settings)) as client:
        client.headers["X-API-Key"] = "ed_dev_local_only_key"
        archive = write_jsonl(generate_reviews(n=1200, seed=3, end=END), tmp_path / "r.jsonl")
        import_archive(
            archive, analyzer=client.app.state.analyzer, sessions=client.app.state.sessions
        )  # type: ignore[attr-defined]
        by_cat = client.post("/v1/analytics/surges/scan?by=category").json()["surges"]
        by_prod = client.post("/v1/analytics/surges/scan?by=product_id").json()["surges"]
        again = client.post("/v1/analytics/surges/scan?by=category").json()["surges"]
        alerts = client.get("/v1/alerts?kind=negative_surge").json()
    assert [s["key"] for s in by_prod] == ["sku-air-fryer-5l"]
    assert any(s["key"] == "kitchen" for s in by_cat), by_cat
    # the kitchen surge is the air fryer's: one alert, named by the product
    assert len(alerts) == 1, [a["title"] for a in alerts]
    d = alerts[0]["details"]
    assert (d["scope"], d["key"]) == ("product_id", "sku-air-fryer-5l")
    assert d["narrowed_from"] == {"scope": "category", "key": "kitchen"}
    assert not any(s["new"] for s in again)
    # notified once, when first stored
    reqs = receiver.wait_for(1)
    time.sleep(0.3)
    assert (
        len(receiver.requests) == 1 and "kitchen" in json.loads(reqs[0]["body"])["alert"]["title"]
    )
