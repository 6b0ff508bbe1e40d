"""Feedback you can see, GET /v1/feedback and the review queue, through the service
(TestClient on SQLite with the tiny pack)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from emotiondesk.service import create_app
from tests.conftest import TINY_ZH
from tests.unit.test_service import Service, make_settings


@pytest.fixture
def svc(tmp_path: Path, tiny_pack: Path) -> Iterator[Service]:
    app = create_app(make_settings(tmp_path, tiny_pack))
    with TestClient(app) as client:
        yield Service(client)


def _conversation(svc: Service, texts: list[str], product: str | None = None) -> list[str]:
    body = {"channel": "web"} | ({"product_id": product} if product else {})
    cid = svc.post("/v1/conversations", body, "write").json()["id"]
    ids = []
    for text in texts:
        r = svc.post(f"/v1/conversations/{cid}/messages", {"role": "customer", "text": text})
        assert r.status_code == 201, r.text
        ids.append(r.json()["message"]["id"])
    return ids


def test_corrections_show_on_the_message_and_in_the_listing(svc: Service) -> None:
    m1, m2 = _conversation(svc, ["物流太慢了，气死我了", "请问有没有红色的"])
    first = svc.post("/v1/feedback", {"message_id": m1, "emotion": "sadness"}, "write")
    second = svc.post("/v1/feedback", {"message_id": m1, "emotion": "fear"}, "admin")
    third = svc.post("/v1/feedback", {"message_id": m2, "polarity": "neutral"}, "write")
    assert first.status_code == second.status_code == third.status_code == 201

    r = svc.client.get("/v1/feedback", headers=svc.h("read"))
    page = r.json()
    assert r.status_code == 200 and page["total"] == 3
    assert "latest correction wins" in page["rule"]
    rows = {row["id"]: row for row in page["items"]}
    assert rows[first.json()["id"]]["superseded"] and rows[first.json()["id"]]["conflict"]
    assert not rows[second.json()["id"]]["superseded"]
    assert not rows[third.json()["id"]]["conflict"]
    (conflict,) = page["conflicts"]
    assert conflict["message_id"] == m1 and conflict["labels"] == ["sadness", "fear"]
    assert conflict["label"] == "fear" and conflict["feedback_id"] == second.json()["id"]

    get = svc.client.get
    assert get("/v1/feedback?task=polarity", headers=svc.h("read")).json()["total"] == 1
    assert get("/v1/feedback?label=fear", headers=svc.h("read")).json()["total"] == 1
    assert get("/v1/feedback?used_for_training=true", headers=svc.h("read")).json()["total"] == 0
    assert (
        get("/v1/feedback?limit=1&offset=2", headers=svc.h("read")).json()["items"][0]["message_id"]
        == m2
    )
    assert (
        get("/v1/feedback?task=emotion&label=neutralish", headers=svc.h("read")).status_code == 422
    )
    assert (
        get("/v1/feedback?created_after=2999-01-01T00:00:00Z", headers=svc.h("read")).json()[
            "total"
        ]
        == 0
    )

    # after a reload the conversation shows who changed what, when, old -> new
    cid = page["items"][0]["conversation_id"]
    detail = get(f"/v1/conversations/{cid}", headers=svc.h("read")).json()
    msg = {m["id"]: m for m in detail["messages"]}
    chain = msg[m1]["corrections"]
    assert [(c["previous"], c["label"]) for c in chain] == [
        ("anger", "sadness"),
        ("sadness", "fear"),
    ]
    assert chain[0]["author"] and chain[0]["author"] != chain[1]["author"]
    assert msg[m1]["corrected"] == {"emotion": "fear"} and msg[m1]["conflicts"] == ["emotion"]
    assert msg[m2]["corrected"] == {"polarity": "neutral"} and msg[m2]["conflicts"] == []


def test_review_queue_ranks_uncorrected_messages_with_reasons(svc: Service) -> None:
    ids = _conversation(svc, ["物流太慢了，气死我了", "嗯", "订单什么时候发货"], product="p-1")
    svc.post("/v1/feedback", {"message_id": ids[0], "polarity": "negative"}, "write")
    r = svc.client.get("/v1/review-queue", headers=svc.h("read"))
    assert r.status_code == 200, r.text
    queue = r.json()
    assert queue["candidates"] == 2 and queue["total"] == 2
    assert {i["message_id"] for i in queue["items"]} == {ids[1], ids[2]}  # corrected: out
    priorities = [i["priority"] for i in queue["items"]]
    assert priorities == sorted(priorities, reverse=True)
    for item in queue["items"]:
        assert item["kind"] == "unlabelled" and item["reasons"]
        assert 0.0 <= item["priority"] <= 1.0
    assert "one model per route" in queue["tiers"]
    assert {c["status"] for c in queue["label_check"]} == {"skipped"}
    bad = svc.client.get("/v1/review-queue?window=0", headers=svc.h("read"))
    assert bad.status_code == 422


def test_review_queue_lists_likely_label_errors(svc: Service) -> None:
    texts = [t for t, _, _ in TINY_ZH] * 2
    ids = _conversation(svc, texts)
    planted = None
    for i, (mid, (_, polarity, _)) in enumerate(zip(ids, TINY_ZH * 2, strict=True)):
        label = polarity
        if i == 10:  # "谢谢客服，非常满意，好开心" corrected to negative: a label error
            label, planted = "negative", mid
        r = svc.post("/v1/feedback", {"message_id": mid, "polarity": label}, "write")
        assert r.status_code == 201
    queue = svc.client.get("/v1/review-queue?limit=100", headers=svc.h("read")).json()
    check = {c["task"]: c for c in queue["label_check"]}
    assert check["polarity"]["status"] == "checked" and check["polarity"]["checked"] == 40
    assert check["emotion"]["status"] == "skipped"
    issues = [i for i in queue["items"] if i["kind"] == "label_issue"]
    assert planted in {i["message_id"] for i in issues}
    flagged = next(i for i in issues if i["message_id"] == planted)
    assert flagged["correction"]["label"] == "negative"
    assert flagged["correction"]["suggested"] == "positive"
    assert flagged["reasons"][0]["code"] == "label_issue"
    assert len(issues) == check["polarity"]["flagged"]


def test_another_workspace_sees_none_of_it(svc: Service) -> None:
    from emotiondesk.storage import repository as repo

    (mid,) = _conversation(svc, ["物流太慢了，气死我了"])
    svc.post("/v1/feedback", {"message_id": mid, "emotion": "sadness"}, "write")
    with svc.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        _, other = repo.create_api_key(s, name="shop2", scopes=["read"], workspace="shop2")
        s.commit()
    h = {"X-API-Key": other}
    assert svc.client.get("/v1/feedback", headers=h).json()["total"] == 0
    assert svc.client.get("/v1/review-queue", headers=h).json()["total"] == 0
    assert svc.client.get("/v1/feedback", headers=svc.h("read")).json()["total"] == 1
