"""The dashboard in headless Chromium (Debian's package, driven by Playwright) against
the real server on loopback: login, overview charts, a conversation with a label
correction stored as feedback, and a message posted through the API showing up in Live.

Set ``EMOTIONDESK_SCREENSHOTS=DIR`` to save a screenshot of each page there
(``make screenshots`` writes the ones in ``docs/``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
from emotiondesk.storage import repository as repo
from tests.integration.test_service_http import (
    ADMIN_KEY,
    SHIPPED_PACK,
    Server,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Flags for a root, offline, headless Chromium (no sandbox, no background networking).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = os.environ.get("EMOTIONDESK_SCREENSHOTS")


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"dashboard-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def dash_server(tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.service.demo_reviews import generate_reviews, write_jsonl
    from emotiondesk.usecases.import_archive import import_archive

    pack = SHIPPED_PACK if (SHIPPED_PACK / "pack.json").is_file() else tiny_pack
    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp / 'dash.sqlite'}"
    engine = make_engine(url)
    upgrade_database(engine)
    archive = write_jsonl(generate_reviews(n=1200, seed=3), tmp / "reviews.jsonl")
    report = import_archive(
        archive, analyzer=load_analyzer(pack), sessions=make_session_factory(engine)
    )
    assert report.imported == 1200
    engine.dispose()
    srv = start_server(url, pack, tmp / "server.log")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def conversation(dash_server: Server) -> dict:
    with dash_server.client() as http:
        conv = http.post(
            "/v1/conversations",
            json={
                "channel": "app",
                "product_id": "sku-air-fryer-5l",
                "category": "kitchen",
                "agent_id": "agent-lin",
            },
        ).json()
        for role, text in [
            ("customer", "物流太慢了，等了一个星期还没到，气死我了"),
            ("agent", "非常抱歉，我马上帮您查询。"),
            ("customer", "The parcel is so late, this is unacceptable"),
        ]:
            r = http.post(
                f"/v1/conversations/{conv['id']}/messages", json={"role": role, "text": text}
            )
            assert r.status_code == 201, r.text
        return http.get(f"/v1/conversations/{conv['id']}").json()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (.ci/run does)")
        pytest.skip("no chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, dash_server: Server) -> Iterator[object]:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    pg = ctx.new_page()
    pg.set_default_timeout(20_000)
    pg.goto(f"{dash_server.base}/dashboard")
    pg.wait_for_url("**/login")
    pg.fill("#api_key", ADMIN_KEY)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_url("**/dashboard")
    yield pg
    ctx.close()


def test_login_rejects_a_wrong_key(browser, dash_server: Server) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context()
    pg = ctx.new_page()
    pg.goto(f"{dash_server.base}/login")
    shot(pg, "login")
    pg.fill("#api_key", "ed_not_a_key_" + "x" * 30)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_selector("#login-error:has-text('unknown or revoked')")
    assert httpx.get(f"{dash_server.base}/v1/analytics/overview").status_code == 401
    ctx.close()


def test_overview_charts_render_with_data(page, conversation) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("#main[data-ready=true][data-page=overview]")
    for chart in ("#chart-trend", "#chart-emotions", "#chart-channels"):
        el = page.wait_for_selector(f"{chart}[data-rendered=true]")
        assert int(el.get_attribute("data-points")) > 0
        box = el.bounding_box()
        assert box["width"] > 100 and box["height"] > 100
    messages = int(page.inner_text("[data-kpi=messages] .v"))
    assert messages >= 1200
    assert page.locator("table.convs a.conv-link").count() > 0
    shot(page, "overview")
    # the same page in Chinese
    page.click("#lang")
    page.wait_for_selector("nav a[data-nav=overview]:has-text('总览')")
    page.wait_for_selector("#main[data-ready=true] #chart-trend[data-rendered=true]")
    shot(page, "overview-zh")
    page.click("#lang")


def test_conversation_label_correction_is_stored(page, dash_server: Server, conversation) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{dash_server.base}/dashboard#/conversation/{conversation['id']}")
    page.wait_for_selector("#main[data-ready=true][data-page=conversation]")
    page.wait_for_selector("#chart-timeline[data-rendered=true]")
    first = conversation["messages"][0]
    turn = page.locator(f"article.turn[data-message-id='{first['id']}']")
    assert "物流太慢了" in turn.inner_text()
    assert page.locator("article.turn").count() == 3
    shot(page, "conversation")
    turn.locator("select[name=polarity]").select_option("positive")
    turn.locator("select[name=emotion]").select_option("surprise")
    turn.locator("button[type=submit]").click()
    turn.locator(".result.ok").wait_for()
    engine = make_engine(dash_server.database_url)
    try:
        with make_session_factory(engine)() as s:
            stored = [
                f for f in repo.list_feedback(s, workspace="default") if f.message_id == first["id"]
            ]
    finally:
        engine.dispose()
    assert len(stored) == 1
    assert (stored[0].polarity, stored[0].emotion) == ("positive", "surprise")
    assert stored[0].predicted_polarity == first["polarity"]


def test_review_page_labels_the_queue_with_the_keyboard(
    page, dash_server: Server, conversation
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{dash_server.base}/dashboard#/review")
    page.wait_for_selector("#main[data-ready=true][data-page=review]")
    card = page.locator("#review-card")
    first = card.get_attribute("data-message-id")
    assert first
    assert card.locator("ul.reasons li[data-reason]").count() >= 1  # it says why
    assert page.locator("#review-rows tr").count() > 1
    shot(page, "review")
    # polarity "1" (negative), emotion "a" (anger), Enter saves and moves on
    page.keyboard.press("1")
    page.keyboard.press("a")
    assert card.locator("button.pick.on").count() == 2
    page.keyboard.press("Enter")
    page.locator(f"#review-card:not([data-message-id='{first}'])").wait_for()
    second = card.get_attribute("data-message-id")
    page.keyboard.press("x")  # skip: nothing stored
    page.locator(f"#review-card:not([data-message-id='{second}'])").wait_for()
    engine = make_engine(dash_server.database_url)
    try:
        with make_session_factory(engine)() as s:
            stored = [
                f
                for f in repo.list_feedback(s, workspace="default")
                if f.message_id in (first, second)
            ]
    finally:
        engine.dispose()
    assert [(f.message_id, f.polarity, f.emotion) for f in stored] == [(first, "negative", "anger")]
    # after a reload the corrected message shows who corrected it, and from what
    with dash_server.client() as http:
        queue = http.get("/v1/review-queue?limit=500").json()
        assert first not in {i["message_id"] for i in queue["items"]}
        conv_id = next(
            f["conversation_id"]
            for f in http.get("/v1/feedback?limit=500").json()["items"]
            if f["message_id"] == first
        )
    page.goto(f"{dash_server.base}/dashboard#/conversation/{conv_id}")
    page.wait_for_selector("#main[data-ready=true][data-page=conversation]")
    box = page.locator(f"article.turn[data-message-id='{first}'] .corrections")
    # one correction of both tasks: two lines (polarity, emotion), each old -> new
    assert box.get_attribute("data-corrections") == "2"
    assert "negative" in box.inner_text() and "anger" in box.inner_text()
    # the page in Chinese
    page.goto(f"{dash_server.base}/dashboard#/review")
    page.wait_for_selector("#main[data-ready=true][data-page=review]")
    page.click("#lang")
    page.wait_for_selector("nav a[data-nav=review]:has-text('标注')")
    page.wait_for_selector("#main[data-ready=true][data-page=review] h1:has-text('标注队列')")
    page.click("#lang")


def test_conversation_highlights_the_evidence(browser, dash_server: Server, conversation) -> None:  # type: ignore[no-untyped-def]
    """The stored evidence spans are marked in the text, with tooltips in English and Chinese."""
    first = conversation["messages"][0]
    spans = first["evidence"]["polarity"]["spans"] + first["evidence"]["emotion"]["spans"]
    assert spans and conversation["messages"][1]["evidence"] is None
    for locale, towards, chip in (("en-GB", "pushed", "logistics"), ("zh-CN", "推向", "物流")):
        ctx, pg = login(
            browser, dash_server, locale=locale, viewport={"width": 1366, "height": 900}
        )
        try:
            pg.goto(f"{dash_server.base}/dashboard#/conversation/{conversation['id']}")
            pg.wait_for_selector("#main[data-ready=true][data-page=conversation]")
            want = "总览" if locale == "zh-CN" else "Overview"
            if pg.locator("nav a[data-nav=overview]").inner_text() != want:
                pg.click("#lang")
                pg.wait_for_selector(f"nav a[data-nav=overview]:has-text('{want}')")
                pg.wait_for_selector("#main[data-ready=true][data-page=conversation]")
            turn = pg.locator(f"article.turn[data-message-id='{first['id']}']")
            marks = turn.locator("p.text mark.ev")
            assert marks.count() >= 1
            # The text is unchanged; every marked piece lies inside a stored span.
            assert turn.locator("p.text").inner_text() == first["text"]
            covered = {i for s in spans for i in range(s["start"], s["end"])}
            marked = "".join(marks.nth(k).inner_text() for k in range(marks.count()))
            assert set(marked) <= {first["text"][i] for i in covered}
            tips = [marks.nth(k).get_attribute("title") for k in range(marks.count())]
            assert any(towards in (tip or "") for tip in tips), tips
            aspect = turn.locator(".aspects-line .aspect-chip[data-aspect=logistics]")
            assert chip in aspect.inner_text()
            # Agent turns carry no evidence.
            agent = pg.locator(
                f"article.turn[data-message-id='{conversation['messages'][1]['id']}']"
            )
            assert agent.locator("mark.ev").count() == 0
            shot(pg, f"conversation-evidence-{locale[:2]}")
        finally:
            ctx.close()
    # Live marks the evidence of a message as it arrives.
    ctx, pg = login(browser, dash_server, locale="en-GB", viewport={"width": 1366, "height": 900})
    try:
        pg.goto(f"{dash_server.base}/dashboard#/live")
        pg.wait_for_selector("#live-status.ok")
        with dash_server.client() as http:
            r = http.post(
                f"/v1/conversations/{conversation['id']}/messages",
                json={
                    "role": "customer",
                    "text": f"太差了，气死我了，退款！{uuid.uuid4().hex[:4]}",
                },
            )
            assert r.status_code == 201
            posted = r.json()["message"]
        assert posted["polarity"] == "negative" and posted["evidence"]["polarity"]["spans"]
        row = pg.wait_for_selector(f"tr.live-row[data-message-id='{posted['id']}']", timeout=15_000)
        assert row.query_selector("td.text mark.ev.ev-negative") is not None
    finally:
        ctx.close()


def test_message_posted_through_the_api_appears_in_live(
    page, dash_server: Server, conversation
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{dash_server.base}/dashboard#/live")
    page.wait_for_selector("#live-status.ok")
    text = f"Where is my order? It is really late {uuid.uuid4().hex[:6]}"
    with dash_server.client() as http:
        r = http.post(
            f"/v1/conversations/{conversation['id']}/messages",
            json={"role": "customer", "text": text},
        )
        assert r.status_code == 201
        mid = r.json()["message"]["id"]
    row = page.wait_for_selector(f"tr.live-row[data-message-id='{mid}']", timeout=15_000)
    assert text in row.inner_text()
    assert row.query_selector("[data-emotion]") is not None
    # imported reviews are told apart from live conversations
    assert row.query_selector("[data-kind=review]") is None
    assert page.locator("tr.live-row [data-kind=review]").count() > 0
    shot(page, "live")


def test_products_and_alerts_pages(page, dash_server: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{dash_server.base}/dashboard#/products?category=kitchen")
    page.wait_for_selector("#main[data-ready=true][data-page=products]")
    page.wait_for_selector("#chart-aspects[data-rendered=true]")
    assert page.locator("table.aspects tr[data-aspect]").count() > 0
    shot(page, "products")
    with dash_server.client() as http:
        found = http.post("/v1/analytics/surges/scan?by=product_id").json()["surges"]
    # the generated archive has one surge: the air fryer's last hours
    assert [s["key"] for s in found] == ["sku-air-fryer-5l"]
    page.goto(f"{dash_server.base}/dashboard#/alerts")
    page.wait_for_selector("#main[data-ready=true][data-page=alerts]")
    surge = page.wait_for_selector("article.alert:has-text('sku-air-fryer-5l')")
    assert "baseline" in surge.inner_text() and surge.query_selector("ul.examples li")
    shot(page, "alerts")
    # a scan's result stays on the page after the list is redrawn
    page.click("#scan")
    page.wait_for_selector("#scan-result:not(:empty)")
    page.wait_for_timeout(1500)
    page.wait_for_selector("#main[data-ready=true][data-page=alerts]")
    assert page.inner_text("#scan-result").strip()
    acks = page.locator("button.ack")
    if acks.count():
        n = acks.count()
        acks.first.click()
        # a locator wait, not wait_for_function: the page's CSP forbids evaluating strings
        from playwright.sync_api import expect

        expect(page.locator("button.ack")).to_have_count(n - 1)


def login(browser, dash_server: Server, **context):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(**context)
    pg = ctx.new_page()
    pg.set_default_timeout(20_000)
    pg.goto(f"{dash_server.base}/login")
    pg.fill("#api_key", ADMIN_KEY)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_url("**/dashboard")
    return ctx, pg


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True}


def test_every_page_fits_a_phone(browser, dash_server: Server, conversation) -> None:  # type: ignore[no-untyped-def]
    """At 390 x 844 nothing is wider than the screen and the whole nav is on it."""
    ctx, pg = login(browser, dash_server, locale="zh-CN", **PHONE)
    try:
        pages = {
            "overview": "#/overview",
            "queue": "#/queue",
            "live": "#/live",
            "products": "#/products",
            "alerts": "#/alerts",
            "review": "#/review",
            "conversation": f"#/conversation/{conversation['id']}",
        }
        for name, hash_ in pages.items():
            pg.goto(f"{dash_server.base}/dashboard{hash_}")
            pg.wait_for_selector(f"#main[data-ready=true][data-page={name}]")
            if name == "live":
                pg.wait_for_selector("#live-status.ok")
            width = pg.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{name}: the page is {width} px wide"
            for sel in ("a[data-nav=alerts]", "#lang", "#logout", "#main h1"):
                box = pg.locator(sel).bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (
                    name,
                    sel,
                    box,
                )
            shot(pg, f"phone-{name}")
        # the live view on a phone: text, emotion and risk all on screen
        with dash_server.client() as http:
            r = http.post(
                f"/v1/conversations/{conversation['id']}/messages",
                json={"role": "customer", "text": "还没到，太慢了，我要投诉！"},
            )
            mid = r.json()["message"]["id"]
        pg.goto(f"{dash_server.base}/dashboard#/live")
        row = pg.wait_for_selector(f"tr.live-row[data-message-id='{mid}']", timeout=15_000)
        for sel in ("td.text", "[data-emotion]", ".risk"):
            box = row.query_selector(sel).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (sel, box)
        shot(pg, "phone-live")
    finally:
        ctx.close()
    ctx = browser.new_context(**PHONE)
    try:
        pg = ctx.new_page()
        pg.goto(f"{dash_server.base}/login")
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        shot(pg, "phone-login")
    finally:
        ctx.close()


def test_chinese_conversation_reads_as_sentences(
    browser, dash_server: Server, conversation
) -> None:  # type: ignore[no-untyped-def]
    ctx, pg = login(browser, dash_server, locale="zh-CN", viewport={"width": 1366, "height": 900})
    try:
        pg.goto(f"{dash_server.base}/dashboard#/conversation/{conversation['id']}")
        pg.wait_for_selector("#main[data-ready=true][data-page=conversation]")
        if pg.locator("nav a[data-nav=overview]").inner_text() != "总览":
            pg.click("#lang")
            pg.wait_for_selector("#main[data-ready=true] nav, #main[data-ready=true]")
        pg.wait_for_selector("#chart-timeline[data-rendered=true]")
        first = pg.locator(f"article.turn[data-message-id='{conversation['messages'][0]['id']}']")
        lines = first.locator(".decisions li")
        assert lines.count() >= 1
        text = first.locator(".decisions").inner_text()
        # one sentence per rule; raw identifiers only behind the toggle
        assert "已转高级客服" in text, text
        assert "escalate_to_senior" not in text and "[" not in text
        assert lines.count() == len(
            {d["rule"] for d in conversation["messages"][0]["state"]["decisions"]}
        )
        first.locator(".decisions details summary").first.click()
        assert "escalate_to_senior" in first.locator(".decisions").inner_text()
        trend = pg.locator("p.trend").inner_text()
        assert any(w in trend for w in ("负面", "中性", "正面")), trend
        # the timeline: the customer's score per turn, agent turns marked
        assert int(pg.get_attribute("#chart-timeline", "data-points")) >= 4
        shot(pg, "conversation-zh")
        pg.goto(f"{dash_server.base}/dashboard#/alerts")
        pg.wait_for_selector("#main[data-ready=true][data-page=alerts]")
        body = pg.locator("#main").inner_text()
        for english in ("negative_surge", "policy", "warning", "customer at high risk"):
            assert english not in body, english
    finally:
        ctx.close()


def test_api_docs_work_offline(browser, dash_server: Server) -> None:  # type: ignore[no-untyped-def]
    """/docs and /redoc load every asset from the service itself (no CDN)."""
    ctx = browser.new_context()
    outside: list[str] = []

    def guard(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith(dash_server.base):
            route.continue_()
        else:
            outside.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()

    ctx.route("**/*", guard)
    try:
        pg = ctx.new_page()
        pg.goto(f"{dash_server.base}/docs")
        pg.wait_for_selector(".swagger-ui .info .title:has-text('emotiondesk')", timeout=20_000)
        assert pg.locator(".opblock").count() > 5
        pg.goto(f"{dash_server.base}/redoc")
        pg.wait_for_selector("h1:has-text('emotiondesk')", timeout=20_000)
        assert httpx.get(f"{dash_server.base}/favicon.ico").status_code == 200
        # only ReDoc's "powered by" logo is asked of the internet: decoration, not content
        assert [u for u in outside if not u.startswith("image ")] == [], outside
    finally:
        ctx.close()


def test_risk_queue_assign_and_resolve(page, dash_server: Server, conversation) -> None:  # type: ignore[no-untyped-def]
    """Open conversations by risk (no imported reviews), filter, search, assign, resolve."""
    with dash_server.client() as http:
        calm = http.post(
            "/v1/conversations", json={"channel": "web", "customer_id": "c-calm-e2e"}
        ).json()
        http.post(
            f"/v1/conversations/{calm['id']}/messages",
            json={"role": "customer", "text": "请问有黑色的吗？"},
        )
    page.goto(f"{dash_server.base}/dashboard#/queue")
    page.wait_for_selector("#main[data-ready=true][data-page=queue]")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() >= 2
    risks = [
        float(r)
        for r in page.eval_on_selector_all(
            "table.queue tbody tr", "rs => rs.map(r => r.dataset.risk || '-1')"
        )
    ]
    assert risks == sorted(risks, reverse=True)
    ids = page.eval_on_selector_all(
        "table.queue tbody tr", "rs => rs.map(r => r.dataset.conversationId)"
    )
    assert ids.index(conversation["id"]) < ids.index(calm["id"])
    assert "review" not in page.locator("table.queue").inner_text()  # reviews are not in the queue
    shot(page, "queue")
    # search by customer
    page.fill("#queue-filters input[name=q]", "c-calm-e2e")
    page.click("#queue-filters button[type=submit]")
    page.wait_for_function("location.hash.includes('q=c-calm-e2e')")
    page.wait_for_selector("#main[data-ready=true][data-page=queue]")
    assert page.locator("table.queue tbody tr").count() == 1
    row = page.locator(f"tr[data-conversation-id='{calm['id']}']")
    # assign, then resolve: it leaves the open queue and the database says so
    row.locator("form.assign input").fill("agent-wu")
    row.locator("form.assign button").click()
    page.wait_for_selector(
        f"tr[data-conversation-id='{calm['id']}'] form.assign input[value='agent-wu']"
    )
    page.locator(f"tr[data-conversation-id='{calm['id']}'] button[data-status=resolved]").click()
    page.wait_for_selector("#main[data-ready=true] p.empty")
    with dash_server.client() as http:
        stored = http.get(f"/v1/conversations/{calm['id']}").json()
    assert (stored["status"], stored["agent_id"]) == ("resolved", "agent-wu")
    # the overview's queue is sorted by risk too, and links to the whole queue
    page.goto(f"{dash_server.base}/dashboard#/overview")
    page.wait_for_selector("#main[data-ready=true][data-page=overview]")
    assert page.locator("a[href='#/queue']").count() >= 1
