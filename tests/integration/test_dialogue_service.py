"""Conversation intelligence through the real HTTP service (uvicorn on loopback, SQLite)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emotiondesk.config import Settings
from emotiondesk.service import create_app
from emotiondesk.storage import repository as repo

pytestmark = pytest.mark.integration

KEY = "dialogue-integration-key-0123456789abcdef"


class Live:
    def __init__(self, app: Any, base: str) -> None:
        self.app = app
        self.http = httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=30)

    def conversation(self, **body: Any) -> str:
        r = self.http.post("/v1/conversations", json=body)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def say(self, cid: str, role: str, text: str) -> dict[str, Any]:
        r = self.http.post(f"/v1/conversations/{cid}/messages", json={"role": role, "text": text})
        assert r.status_code == 201, r.text
        return r.json()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp: Path, pack: Path | None) -> Iterator[Live]:
    import uvicorn

    settings = Settings(
        _env_file=None,
        dev=True,
        api_key=KEY,
        database_url=f"sqlite:///{tmp / 'svc.sqlite'}",
        model_dir=pack,
        rate_limit_per_minute=0,
    )
    app = create_app(settings)
    port = _port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        assert thread.is_alive(), "the service stopped while starting"
        time.sleep(0.05)
    live = Live(app, f"http://127.0.0.1:{port}")
    try:
        yield live
    finally:
        live.http.close()
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, tiny_pack: Path) -> Iterator[Live]:
    """The service on the tiny test pack (scripted predictions)."""
    yield from _start(tmp_path_factory.mktemp("dialogue_service"), tiny_pack)


@pytest.fixture(scope="module")
def live_shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The service on the shipped model pack (``models/``)."""
    from emotiondesk.errors import ModelError
    from emotiondesk.pack import default_pack_dir

    try:
        pack = default_pack_dir()
    except ModelError:
        pytest.skip("no shipped model pack in this checkout")
    yield from _start(tmp_path_factory.mktemp("dialogue_service_shipped"), pack)


def actions(body: dict[str, Any]) -> list[str]:
    return [d["action"] for d in body["message"]["state"]["decisions"]]


@pytest.mark.parametrize(
    ("lang", "script"),
    [
        (
            "en",
            [
                ("customer", "When will my order ship"),
                ("agent", "Let me check that for you."),
                ("customer", "I am worried my payment went through twice"),
                ("agent", "Sorry, I cannot see the payment yet."),
                ("customer", "Still no delivery after two weeks, furious"),
                ("customer", "Terrible service, I am angry and want a refund now"),
            ],
        ),
        (
            "zh",
            [
                ("customer", "订单什么时候发货"),
                ("agent", "您好，我帮您查一下。"),
                ("customer", "快递丢了怎么办，我很担心"),
                ("agent", "抱歉，暂时没有查到物流信息。"),
                ("customer", "等了一个星期还没到，太气人了"),
                ("customer", "客服态度恶劣，我要投诉"),
            ],
        ),
    ],
)
def test_a_conversation_getting_angrier_is_escalated_with_reasons(live: Live, lang: str, script):
    cid = live.conversation(channel="web", metadata={"tier": "standard"})
    bodies = [live.say(cid, role, text) for role, text in script]
    customer = [b for b, (role, _) in zip(bodies, script, strict=True) if role == "customer"]

    # the first, neutral turn: no escalation, low risk, replies in the customer's language
    first = customer[0]["message"]["state"]
    assert "escalate_to_senior" not in actions(customer[0])
    assert first["risk"]["value"] < 0.5
    # the worried turn is reassured
    assert "reassure" in actions(customer[1])
    # by the third customer turn (anger) the customer goes to a senior agent, with reasons
    third = customer[2]["message"]["state"]
    escalations = [d for d in third["decisions"] if d["action"] == "escalate_to_senior"]
    assert escalations and escalations[0]["reason"]
    assert "anger" in [r["code"] for r in third["risk"]["reasons"]]
    assert third["risk"]["value"] >= 0.7
    # the trajectory says where it went
    traj = customer[-1]["message"]["state"]["trajectory"]
    assert traj["start_emotion"] == "neutral" and traj["current_emotion"] == "anger"
    assert traj["trend"] == "worsening" and traj["consecutive_negative"] >= 2
    assert traj["anger_peaks"]
    # every customer turn gets suggestions in its language; agent turns none
    for b in customer:
        sugg = b["message"]["state"]["suggestions"]
        assert 1 <= len(sugg) <= 3
        assert all(
            any("\u4e00" <= c <= "\u9fff" for c in s["text"]) == (lang == "zh") for s in sugg
        )
    assert bodies[1]["message"]["state"]["decisions"] == []
    # the decisions are stored: with the message and the conversation
    detail = live.http.get(f"/v1/conversations/{cid}").json()
    stored = [m["state"]["decisions"] for m in detail["messages"]]
    assert stored == [b["message"]["state"]["decisions"] for b in bodies]
    assert detail["state"]["escalated"] is True and "escalated" in detail["state"]["tags"]
    # the alert action made an alert row for this conversation
    with live.app.state.sessions() as s:
        rows = [a for a in repo.list_alerts(s, workspace="default") if a.conversation_id == cid]
    assert rows and rows[0].kind == "policy" and rows[0].details["rule"]


def test_a_conversation_ending_happily_gets_a_recommendation(live: Live):
    cid = live.conversation(channel="app")
    live.say(cid, "customer", "Does this phone support wireless charging")
    live.say(cid, "agent", "Yes, it supports 15W wireless charging.")
    last = live.say(cid, "customer", "Thanks, the headphones sound amazing, happy")
    state = last["message"]["state"]
    assert "recommend" in actions(last)
    rec = next(d for d in state["decisions"] if d["action"] == "recommend")
    assert "satisfied" in rec["reason"]
    assert state["recommended"]
    assert state["risk"]["value"] < 0.3
    assert state["trajectory"]["current_emotion"] == "joy"
    closing = state["suggestions"][-1]
    assert closing["kind"] == "closing" and closing["source"].startswith("catalog:")
    with live.app.state.sessions() as s:
        assert not [a for a in repo.list_alerts(s, workspace="default") if a.conversation_id == cid]


def test_bad_input_through_the_service(live: Live):
    cid = live.conversation()
    r = live.http.post(f"/v1/conversations/{cid}/messages", json={"role": "customer", "text": ""})
    assert 400 <= r.status_code < 500
    r = live.http.post("/v1/conversations/nope/messages", json={"role": "customer", "text": "hi"})
    assert r.status_code == 404
    # out-of-order timestamps: stored in arrival order, no error
    r1 = live.http.post(
        f"/v1/conversations/{cid}/messages",
        json={
            "role": "customer",
            "text": "When will my order ship",
            "timestamp": "2026-11-24T10:05:00Z",
        },
    )
    r2 = live.http.post(
        f"/v1/conversations/{cid}/messages",
        json={
            "role": "customer",
            "text": "Do you have this in red",
            "timestamp": "2026-11-24T10:00:00Z",
        },
    )
    assert r1.status_code == r2.status_code == 201
    assert r2.json()["message"]["state"]["customer_turns"] == 2


SHIPPED_ANGRY = {
    "en": [
        ("customer", "When will my order ship?"),
        ("agent", "Let me check that for you."),
        ("customer", "I'm worried my payment went through twice, can you check?"),
        ("agent", "Sorry, I cannot see the payment yet."),
        ("customer", "The parcel still hasn't arrived after two weeks. This is unacceptable!"),
        ("customer", "Terrible service, I am angry and want a refund now"),
    ],
    "zh": [
        ("customer", "订单什么时候发货？"),
        ("agent", "您好，我帮您查一下。"),
        ("customer", "担心付款扣了两次，我很担心"),
        ("agent", "抱歉，暂时没有查到。"),
        ("customer", "物流太慢了，等了一个星期还没到，气死我了！"),
        ("customer", "客服态度恶劣，我要投诉"),
    ],
}
SHIPPED_HAPPY = {
    "en": [
        "Does this phone support wireless charging?",
        "Thank you so much, the headphones sound amazing!",
    ],
    "zh": ["请问这款手机支持无线充电吗？", "衣服质量很好，尺码也合适，谢谢客服耐心解答😊"],
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shipped_pack_escalates_an_angry_customer(live_shipped: Live, lang: str):
    cid = live_shipped.conversation(channel="web")
    bodies = [live_shipped.say(cid, role, text) for role, text in SHIPPED_ANGRY[lang]]
    escalated = [i for i, b in enumerate(bodies) if "escalate_to_senior" in actions(b)]
    assert escalated and escalated[0] <= 5, "escalated by the last customer turn"
    state = bodies[escalated[0]]["message"]["state"]
    decision = next(d for d in state["decisions"] if d["action"] == "escalate_to_senior")
    assert "risk" in decision["reason"]
    # the pack may escalate already on the first furious turn (worried -> angry trend)
    # before anger is strong enough to be a reason of its own; by the explicit
    # "I am angry" turn it must be one
    last_reasons = bodies[-1]["message"]["state"]["risk"]["reasons"]
    assert "anger" in [r["code"] for r in last_reasons]
    assert bodies[-1]["message"]["state"]["trajectory"]["current_emotion"] == "anger"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shipped_pack_recommends_to_a_happy_customer(live_shipped: Live, lang: str):
    cid = live_shipped.conversation(channel="app")
    first, last = SHIPPED_HAPPY[lang]
    live_shipped.say(cid, "customer", first)
    live_shipped.say(cid, "agent", "Yes." if lang == "en" else "支持的。")
    body = live_shipped.say(cid, "customer", last)
    assert "recommend" in actions(body)
    assert body["message"]["state"]["recommended"]
