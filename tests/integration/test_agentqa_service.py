"""Agent quality through the real HTTP service (uvicorn on loopback, SQLite, shipped pack):
scorecards on ingest, the conversation's score, the agent's page, coaching, practice,
and agent messages judged as agent messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_dialogue_service import Live, _start

pytestmark = pytest.mark.integration

ANGRY = "My parcel is ten days late and nobody tells me anything. This is ridiculous!"
DISMISSIVE = "Calm down, delays are normal this time of year."
GOOD = (
    "I'm so sorry, I understand how frustrating this is. I've opened a trace with the courier "
    "and I'll email you an update by 5pm today."
)
APOLOGY = "I apologise, that should never happen. I'll refund you right away."


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from emotiondesk.errors import ModelError
    from emotiondesk.pack import default_pack_dir

    try:
        pack = default_pack_dir()
    except ModelError:
        pytest.skip("no shipped model pack in this checkout")
    yield from _start(tmp_path_factory.mktemp("agentqa_service"), Path(pack))


def _criteria(card: dict) -> dict[str, dict]:
    return {c["criterion"]: c for c in card["criteria"]}


def test_replies_are_scored_and_the_agent_page_updates(live: Live):
    cid = live.conversation(channel="web", agent_id="agent-7")
    customer = live.say(cid, "customer", ANGRY)["message"]
    assert customer["scorecard"] is None

    bad = live.say(cid, "agent", DISMISSIVE)["message"]["scorecard"]
    empathy = _criteria(bad)["empathy"]
    assert empathy["verdict"] == "fail"
    assert empathy["evidence"] == {"start": 0, "end": 9, "text": "Calm down"}
    assert DISMISSIVE[empathy["evidence"]["start"] : empathy["evidence"]["end"]] == "Calm down"
    assert bad["answered"]["turn"] == 1 and bad["answered"]["text"] == ANGRY
    assert _criteria(bad)["no_blame"]["verdict"] == "fail"
    assert bad["score"] < 20

    live.say(cid, "customer", "Are you serious?? I want my money back.")
    good = live.say(cid, "agent", GOOD)["message"]["scorecard"]
    verdicts = {c["criterion"]: c["verdict"] for c in good["criteria"]}
    assert verdicts["empathy"] == "pass" and verdicts["next_step"] == "pass"
    assert verdicts["greeting"] == "na"  # not the agent's first reply
    assert good["score"] >= 80

    conv = live.http.get(f"/v1/conversations/{cid}").json()
    cards = [m["scorecard"] for m in conv["messages"]]
    assert [c is not None for c in cards] == [False, True, False, True]
    quality = conv["quality"]
    assert quality["replies"] == 2
    assert bad["score"] < quality["score"] < good["score"]

    agent = live.http.get("/v1/agents/agent-7").json()
    assert agent["replies"] == 2 and agent["conversations"] == 1
    assert agent["score"] == pytest.approx((bad["score"] + good["score"]) / 2, abs=0.1)
    assert "empathy" in agent["criteria"] and agent["criteria"]["empathy"]["fail"] == 1
    assert agent["weakest"]
    assert agent["examples"]["worst"][0]["text"] == DISMISSIVE
    assert agent["trend"] and agent["trend"][-1]["replies"] == 2

    live.say(cid, "customer", "Fine. Thanks.")
    live.say(cid, "agent", "You're welcome! Is there anything else I can help with?")
    updated = live.http.get("/v1/agents/agent-7").json()
    assert updated["replies"] == 3
    assert updated["score"] > agent["score"]
    assert "agent-7" in {a["agent_id"] for a in live.http.get("/v1/agents").json()["agents"]}
    assert live.http.get("/v1/agents/nobody").status_code == 404


def test_agent_messages_never_raise_the_customers_risk(live: Live):
    cid = live.conversation(channel="web", agent_id="agent-8")
    first = live.say(cid, "customer", "I want a refund NOW, this is the worst service ever!!")
    risk_before = first["conversation"]["state"]["risk"]["value"]
    reply = live.say(cid, "agent", APOLOGY)
    assert reply["conversation"]["state"]["risk"]["value"] == risk_before
    feed = live.http.get("/v1/analytics/live?limit=20").json()["messages"]
    mine = [m for m in feed if m["conversation_id"] == cid]
    assert [m["role"] for m in mine] == ["customer", "agent"]
    assert mine[0]["risk"] == pytest.approx(risk_before)
    assert mine[1]["risk"] is None and mine[1]["escalate"] is False
    # and the apology scores as a good agent reply
    card = reply["message"]["scorecard"]
    assert _criteria(card)["apology"]["verdict"] == "pass"


def test_coach_endpoint(live: Live):
    r = live.http.post(
        "/v1/coach",
        json={
            "messages": [{"role": "customer", "text": "我的快递一周了还没到，气死我了！"}],
            "draft": "这很正常，等着吧。",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    missing = {m["criterion"] for m in body["missing"]}
    assert {"empathy", "no_blame", "next_step"} <= missing
    assert "这很正常" not in body["improved"]
    assert body["improved_score"] > body["score"]
    assert body["source"] == "template"
    bad = live.http.post("/v1/coach", json={"messages": [], "draft": ""})
    assert bad.status_code == 422


def test_practice_sessions_are_stored(live: Live):
    r = live.http.post(
        "/v1/practice",
        json={"scenario": "broken_item", "language": "zh", "agent_id": "agent-9", "seed": 1},
    )
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["outcome"] == "in_progress" and session["customer"]
    pid = session["id"]
    curve = [session["report"]["emotion_curve"][0]]
    for _ in range(4):
        step = live.http.post(
            f"/v1/practice/{pid}/replies", json={"text": "这很正常，你自己看说明。"}
        )
        assert step.status_code == 200, step.text
        curve = step.json()["report"]["emotion_curve"]
        if step.json()["outcome"] != "in_progress":
            break
    assert step.json()["outcome"] == "escalated"
    assert curve[-1] > curve[0]
    again = live.http.post(f"/v1/practice/{pid}/replies", json={"text": "您好"})
    assert again.status_code == 422
    stored = live.http.get(f"/v1/practice/{pid}").json()
    assert stored["outcome"] == "escalated" and stored["turns"] == len(curve) - 1
    agent = live.http.get("/v1/agents/agent-9").json()
    assert agent["practice"]["sessions"] == 1
    assert agent["practice"]["outcomes"] == {"escalated": 1}
    missing = live.http.post("/v1/practice", json={"scenario": "alien_invasion"})
    assert missing.status_code == 422
    assert live.http.get("/v1/practice/doesnotexist").status_code == 404


def test_response_time_from_the_timestamps(live: Live):
    cid = live.conversation(channel="web", agent_id="agent-10")
    r = live.http.post(
        f"/v1/conversations/{cid}/messages",
        json={"role": "customer", "text": ANGRY, "timestamp": "2026-11-29T10:00:00Z"},
    )
    assert r.status_code == 201
    slow = live.http.post(
        f"/v1/conversations/{cid}/messages",
        json={"role": "agent", "text": GOOD, "timestamp": "2026-11-29T10:05:00+00:00"},
    ).json()["message"]["scorecard"]
    timing = _criteria(slow)["response_time"]
    assert timing["verdict"] == "fail" and "300 s" in timing["note"]
