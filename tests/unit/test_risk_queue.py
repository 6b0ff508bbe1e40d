"""The risk queue (issue 13): open conversations by current risk, filters, search,
assign and resolve through the API, unknown parameters refused, conversations and
imported reviews told apart."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from emotiondesk.service import create_app
from emotiondesk.storage import Conversation

from .test_service import Service, make_settings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def svc(request: pytest.FixtureRequest, tmp_path: Path, tiny_pack: Path) -> Iterator[Service]:
    """The service on SQLite, and on PostgreSQL (JSON paths differ) where one is given."""
    extra = {}
    if request.param == "postgres":
        url = os.environ.get("EMOTIONDESK_TEST_POSTGRES_URL", "")
        if not url:
            if os.environ.get("CI"):
                pytest.fail("CI must set EMOTIONDESK_TEST_POSTGRES_URL")
            pytest.skip("EMOTIONDESK_TEST_POSTGRES_URL is not set")
        from tests.integration.test_service_http import reset_postgres

        reset_postgres(url)
        extra["database_url"] = url
    app = create_app(make_settings(tmp_path, tiny_pack, **extra))
    with TestClient(app) as client:
        yield Service(client)


def conversation(svc: Service, turns: list[str], **fields: str) -> str:
    cid = svc.post("/v1/conversations", fields).json()["id"]
    for text in turns:
        r = svc.post(f"/v1/conversations/{cid}/messages", {"role": "customer", "text": text})
        assert r.status_code == 201, r.text
    return cid


def test_queue_sorts_by_risk_filters_searches_and_resolves(svc: Service) -> None:
    calm = conversation(
        svc, ["请问这个有黑色的吗？"], channel="web", customer_id="c-calm", agent_id="a1"
    )
    angry = conversation(
        svc,
        ["物流太慢了，气死我了", "还没到，太差了，我要投诉！Order 2026111800123"],
        channel="app",
        customer_id="c-angry",
        product_id="sku-1",
    )
    happy = conversation(
        svc, ["Great, thanks, it works perfectly!"], channel="chat", customer_id="c-happy"
    )
    with svc.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.add(Conversation(channel="review", meta={"imported": True}, message_count=1))
        s.commit()
    h = svc.h("read")
    page = svc.client.get(
        "/v1/conversations?sort=risk&status=open&kind=conversation", headers=h
    ).json()
    ids = [c["id"] for c in page["items"]]
    assert set(ids) == {calm, angry, happy} and page["total"] == 3
    risks = [c["risk"] for c in page["items"]]
    assert risks == sorted(risks, reverse=True) and ids[0] == angry
    assert all(c["kind"] == "conversation" for c in page["items"])
    reviews = svc.client.get("/v1/conversations?kind=review", headers=h).json()
    assert reviews["total"] == 1 and reviews["items"][0]["kind"] == "review"

    # filters and search
    def get(qs: str) -> list[str]:
        resp = svc.client.get(f"/v1/conversations?{qs}", headers=h)
        return [c["id"] for c in resp.json()["items"]]

    assert get("channel=app") == [angry]
    assert get("product_id=sku-1") == [angry]
    assert get("agent_id=a1") == [calm]
    assert get("q=c-happy") == [happy]
    assert get("q=2026111800123") == [angry]  # an order number in a message
    assert get("language=en&kind=conversation") == [happy]
    escalated = (
        svc.client.get(f"/v1/conversations/{angry}", headers=h).json()["state"].get("escalated")
    )
    assert (angry in get("escalated=true")) == bool(escalated)
    # assign, then resolve: it leaves the open queue, and the database says so
    r = svc.client.patch(
        f"/v1/conversations/{angry}", json={"agent_id": "senior-wu"}, headers=svc.h("write")
    )
    assert r.status_code == 200 and r.json()["agent_id"] == "senior-wu"
    r = svc.client.patch(
        f"/v1/conversations/{angry}", json={"status": "resolved"}, headers=svc.h("write")
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    assert angry not in get("sort=risk&status=open")
    assert get("status=resolved") == [angry]
    with svc.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        row = s.get(Conversation, angry)
        assert (row.status, row.agent_id) == ("resolved", "senior-wu")


def test_unknown_parameters_and_values_are_422(svc: Service) -> None:
    h = svc.h("read")
    for qs in (
        "sort=loudness",
        "srot=risk",
        "status=pending",
        "kind=chat",
        "escalated=maybe",
        "language=fr",
    ):
        r = svc.client.get(f"/v1/conversations?{qs}", headers=h)
        assert r.status_code == 422, (qs, r.text)
    r = svc.client.get("/v1/conversations?srot=risk", headers=h)
    assert "srot" in r.json()["error"]["message"]
    cid = conversation(svc, ["你好"])
    w = svc.h("write")
    assert (
        svc.client.patch(f"/v1/conversations/{cid}", json={"status": "done"}, headers=w).status_code
        == 422
    )
    assert (
        svc.client.patch(f"/v1/conversations/{cid}", json={"colour": "red"}, headers=w).status_code
        == 422
    )
    assert (
        svc.client.patch("/v1/conversations/nope", json={"status": "closed"}, headers=w).status_code
        == 404
    )
    assert (
        svc.client.patch(
            f"/v1/conversations/{cid}", json={"status": "closed"}, headers=h
        ).status_code
        == 403
    )
