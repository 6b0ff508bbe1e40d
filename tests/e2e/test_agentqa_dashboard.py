"""Agent quality in the dashboard (headless Chromium, real server): the scorecard next to
each agent reply, the Agents page (en and zh) and a practice session on the Practice page."""

from __future__ import annotations

import pytest

from tests.e2e.test_dashboard import browser, dash_server, page, shot  # noqa: F401 (fixtures)
from tests.integration.test_service_http import Server

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def scored(dash_server: Server) -> dict:  # noqa: F811
    with dash_server.client() as http:
        conv = http.post("/v1/conversations", json={"channel": "web", "agent_id": "e2e-agent"})
        cid = conv.json()["id"]
        for role, text in [
            ("customer", "My parcel is ten days late and nobody tells me anything!"),
            ("agent", "Calm down, delays are normal this time of year."),
            ("customer", "Unbelievable. I want a refund."),
            (
                "agent",
                "I'm so sorry, I understand how frustrating this is. I've opened a trace with "
                "the courier and I'll email you an update by 5pm today.",
            ),
        ]:
            r = http.post(f"/v1/conversations/{cid}/messages", json={"role": role, "text": text})
            assert r.status_code == 201, r.text
        return http.get(f"/v1/conversations/{cid}").json()


def test_scorecards_next_to_agent_replies(page, dash_server: Server, scored) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(f"{dash_server.base}/dashboard#/conversation/{scored['id']}")
    page.wait_for_selector("#main[data-ready=true][data-page=conversation]")
    cards = page.locator("article.turn.agent aside.scorecard")
    assert cards.count() == 2
    first = cards.nth(0)
    assert first.locator("li[data-criterion=empathy][data-verdict=fail]").count() == 1
    assert "Calm down" in first.locator("li[data-criterion=empathy]").inner_text()
    assert cards.nth(1).locator("li[data-criterion=empathy][data-verdict=pass]").count() == 1
    assert page.locator("article.turn.customer aside.scorecard").count() == 0
    assert page.locator("[data-kpi=qa] .qa-score").count() == 1
    shot(page, "conversation-scorecards")


def test_agents_page_in_both_languages(page, dash_server: Server, scored) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(f"{dash_server.base}/dashboard#/agents")
    page.wait_for_selector("#main[data-ready=true][data-page=agents]")
    row = page.locator("tr[data-agent=e2e-agent]")
    assert row.count() == 1
    row.locator("a").click()
    page.wait_for_selector("#main[data-ready=true] #chart-agent-trend[data-rendered=true]")
    assert page.locator("table.criteria tr[data-criterion=empathy]").count() == 1
    assert "Calm down" in page.locator("ul.examples.worst").inner_text()
    shot(page, "agent")
    page.click("#lang")
    page.wait_for_selector("nav a[data-nav=agents]:has-text('客服')")
    page.wait_for_selector("#main[data-ready=true] table.criteria:has-text('回应情绪')")
    page.click("#lang")


def test_practice_page_session(page, dash_server: Server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(f"{dash_server.base}/dashboard#/practice")
    page.wait_for_selector("#main[data-ready=true][data-page=practice]")
    page.select_option("#practice-start select[name=scenario]", "vip_leaving")
    page.select_option("#practice-start select[name=difficulty]", "hard")
    page.fill("#practice-start input[name=agent_id]", "e2e-trainee")
    page.click("#practice-start button[type=submit]")
    page.wait_for_selector("#practice-chat .line.customer")
    for _ in range(3):
        if page.locator("#practice-report [data-outcome]").count():
            break
        page.fill("#practice-reply input[name=text]", "That's not our problem, calm down.")
        page.click("#practice-reply button[type=submit]")
        page.wait_for_timeout(500)
    page.wait_for_selector("#practice-report [data-outcome=left]")
    page.wait_for_selector("#chart-practice-curve[data-rendered=true]")
    assert page.locator("#practice-chat aside.scorecard").count() >= 1
    shot(page, "practice")
    with dash_server.client() as http:
        stored = http.get("/v1/practice", params={"agent_id": "e2e-trainee"}).json()
    assert [p["outcome"] for p in stored] == ["left"]
