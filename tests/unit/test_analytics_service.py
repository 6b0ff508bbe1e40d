"""Import, analytics endpoints, surge alerts and the dashboard login, in process on SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from emotiondesk.analyzer import load_analyzer
from emotiondesk.cli.main import app as cli_app
from emotiondesk.errors import DataError
from emotiondesk.service import create_app
from emotiondesk.service.demo_reviews import generate_reviews, write_jsonl
from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
from emotiondesk.storage import repository as repo
from emotiondesk.storage.tables import Message
from emotiondesk.usecases.import_archive import import_archive, parse_timestamp
from tests.unit.test_service import make_settings

END = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.sqlite'}")
    upgrade_database(engine)
    yield make_session_factory(engine)
    engine.dispose()


def test_import_masks_identifiers_like_the_service(tmp_path: Path, tiny_pack: Path, db) -> None:  # type: ignore[no-untyped-def]
    """The archive import stored customer_id raw (issue 17): it is masked, or
    pseudonymised with the same keyed hash the service uses."""
    from emotiondesk.storage.tables import Conversation
    from emotiondesk.text.privacy import Privacy

    archive = tmp_path / "chats.csv"
    archive.write_text(
        "text,customer_id,agent_id,conversation_id\n"
        "物流太慢了,13812345678,a1,c1\n"
        "where is my order?,bob@example.com,a1,c2\n",
        encoding="utf-8",
    )
    analyzer = load_analyzer(tiny_pack)
    import_archive(archive, analyzer=analyzer, sessions=db, privacy=Privacy())
    with db() as s:
        stored = sorted(c.customer_id for c in s.query(Conversation))
    assert stored == ["[EMAIL]", "[PHONE]"]

    keyed = Privacy(pseudonym_key=b"k" * 32)
    import_archive(archive, analyzer=analyzer, sessions=db, privacy=keyed, source="again")
    with db() as s:
        ids = {c.customer_id for c in s.query(Conversation)}
    assert keyed.identifier("13812345678") in ids and "13812345678" not in ids


def test_import_reports_rejects_and_resumes(tmp_path: Path, tiny_pack: Path, db) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "reviews.csv"
    archive.write_text(
        "review,timestamp,category,product,role,rating\n"
        "物流太慢了,2026-11-20 10:00:00,phone,p1,customer,1\n"
        ",2026-11-20 10:00:00,phone,p1,customer,1\n"
        "Great quality,not-a-date,phone,p1,customer,5\n"
        "Thanks,2026-11-20T11:00:00Z,phone,p1,robot,5\n"
        "质量很好，电话13812345678,1795168800,phone,p2,customer,five\n"
        "质量很好,1795168800,phone,p2,customer,5\n",
        encoding="utf-8",
    )
    analyzer = load_analyzer(tiny_pack)
    rejects = tmp_path / "rejects.csv"
    report = import_archive(
        archive, analyzer=analyzer, sessions=db, batch_size=2, rejects_to=rejects
    )
    assert (report.rows, report.imported, report.rejected) == (6, 2, 4)
    assert set(report.reasons) == {
        "empty or missing text",
        "unreadable timestamp",
        "unknown role",
        "rating is not a number",
    }
    assert [e["row"] for e in report.rejected_examples] == [3, 4, 5, 6]
    assert len(rejects.read_text(encoding="utf-8").splitlines()) == 5
    again = import_archive(archive, analyzer=analyzer, sessions=db)
    assert (again.imported, again.already_stored) == (0, 2)
    with db() as s:
        msgs = list(s.query(Message).order_by(Message.created_at))
        assert [m.created_at.replace(tzinfo=UTC) for m in msgs] == [
            datetime(2026, 11, 20, 10, tzinfo=UTC),
            datetime(2026, 11, 20, 10, tzinfo=UTC),
        ]
        assert msgs[0].conversation.category == "phone"
        assert msgs[0].analysis["rating"] in (1.0, 5.0)


def test_import_conversations_jsonl_in_order_and_pii_masked(
    tmp_path: Path, tiny_pack: Path, db
) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {
            "conversation_id": "c-1",
            "role": "customer",
            "text": "我的电话是13812345678，物流太慢了",
            "timestamp": "2026-11-20T10:00:00",
        },
        {
            "conversation_id": "c-1",
            "role": "agent",
            "text": "抱歉，马上处理",
            "timestamp": "2026-11-20T10:01:00",
        },
        {"conversation_id": "c-2", "role": "customer", "text": "Great, thanks!"},
    ]
    archive = tmp_path / "convs.jsonl"
    archive.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{broken\n", encoding="utf-8"
    )
    report = import_archive(archive, analyzer=load_analyzer(tiny_pack), sessions=db, limit=10)
    assert (report.imported, report.rejected, report.conversations) == (3, 1, 2)
    assert report.rejected_examples[0]["reason"].startswith("invalid JSON")
    with db() as s:
        page = repo.list_conversations(s, workspace="default")
        convs = {c.message_count: c for c in page.items}
        two = repo.get_conversation(
            s, workspace="default", conversation_id=convs[2].id, with_messages=True
        )
        assert [m.role for m in two.messages] == ["customer", "agent"]
        assert "13812345678" not in two.messages[0].text


def test_import_errors_and_timestamps(tmp_path: Path, tiny_pack: Path, db) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "x.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="no text column"):
        import_archive(bad, analyzer=load_analyzer(tiny_pack), sessions=db)
    with pytest.raises(DataError, match="format"):
        import_archive(
            tmp_path / "x.csv", analyzer=load_analyzer(tiny_pack), sessions=db, fmt="xml"
        )
    assert parse_timestamp("2026/11/20 10:00") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert parse_timestamp(1795168800000) == parse_timestamp(1795168800)
    assert parse_timestamp("") is None


def test_cli_import_json(tmp_path: Path, tiny_pack: Path) -> None:
    archive = write_jsonl(generate_reviews(n=50, seed=2, end=END), tmp_path / "r.jsonl")
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    res = CliRunner().invoke(
        cli_app, ["import", str(archive), "--database", url, "--model", str(tiny_pack), "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert (out["rows"], out["imported"], out["rejected"]) == (50, 50, 0)
    res = CliRunner().invoke(cli_app, ["import", str(tmp_path / "missing.csv"), "--database", url])
    assert res.exit_code == 2 and "no such file" in res.output


@pytest.fixture
def client(tmp_path: Path, tiny_pack: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, tiny_pack, api_key="ed_dev_local_only_key")
    app = create_app(settings)
    with TestClient(app) as c:
        rows = generate_reviews(n=600, seed=5, end=END)
        archive = write_jsonl(rows, tmp_path / "demo.jsonl")
        import_archive(archive, analyzer=app.state.analyzer, sessions=app.state.sessions)
        c.headers["X-API-Key"] = "ed_dev_local_only_key"
        yield c


def test_overview_trend_breakdown(client: TestClient) -> None:
    ov = client.get("/v1/analytics/overview?days=14").json()
    k = ov["kpis"]
    assert k["messages"] == sum(p["n"] for p in ov["trend"]) > 500
    assert k["conversations"] == k["messages"]  # one review, one conversation
    assert 0 <= k["share_negative"] <= 1 and k["top_emotion"] in ov["emotion_mix"]
    assert len(ov["trend"]) in (14, 15)
    assert {g["key"] for g in ov["by_category"]} == {
        "kitchen",
        "apparel",
        "home",
        "electronics",
        "grocery",
    }
    hourly = client.get("/v1/analytics/trend?granularity=hour&by=category&days=1").json()["points"]
    assert all(p["bucket"].endswith(":00:00+00:00") for p in hourly)
    weeks = client.get("/v1/analytics/trend?granularity=week&days=0").json()["points"]
    assert all(datetime.fromisoformat(p["bucket"]).weekday() == 0 for p in weeks)
    prods = client.get("/v1/analytics/breakdown?by=product_id&category=electronics").json()[
        "groups"
    ]
    assert {g["key"] for g in prods} == {"sku-anc-headphones", "sku-smartwatch-2"}
    assert client.get("/v1/analytics/breakdown?by=colour").status_code == 422
    assert client.get("/v1/analytics/overview?granularity=month").status_code == 422
    since = (END - timedelta(days=1)).isoformat()
    one_day = client.get("/v1/analytics/overview", params={"since": since}).json()
    assert one_day["kpis"]["messages"] < k["messages"]


def test_aspects_and_topics_endpoints(client: TestClient) -> None:
    a = client.get("/v1/analytics/aspects?category=apparel&days=0").json()
    names = {x["aspect"] for x in a["aspects"]}
    assert "size_fit" in names and "battery" not in names
    top = a["aspects"][0]
    assert top["n"] == top["positive"] + top["negative"] + top["neutral"]
    t = client.get("/v1/analytics/topics?days=0&k=3").json()
    assert len(t["topics"]) <= 3 and all(x["size"] > 0 and x["examples"] for x in t["topics"])
    # complaint topics come from the messages read as negative only, each example once
    t = client.get("/v1/analytics/topics?days=0").json()
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        rows = session.execute(select(Message.text, Message.polarity)).all()
    negative = {text for text, polarity in rows if polarity == "negative"}
    for x in t["topics"]:
        assert set(x) >= {"label", "terms", "size", "share", "examples", "merged_from"}
        assert len(x["examples"]) == len(set(x["examples"]))
        assert set(x["examples"]) <= negative
    assert sum(x["size"] for x in t["topics"]) <= t["texts"]


def test_surge_scan_alerts_once_and_acknowledge(client: TestClient) -> None:
    first = client.post("/v1/analytics/surges/scan?by=product_id&sensitivity=high").json()["surges"]
    again = client.post("/v1/analytics/surges/scan?by=product_id&sensitivity=high").json()["surges"]
    alerts = [a for a in client.get("/v1/alerts?kind=negative_surge").json()]
    assert len(alerts) == len({a["details"]["episode"] for a in alerts})
    assert [s["alert_id"] for s in again] == [s["alert_id"] for s in first]
    for a in alerts:
        d = a["details"]
        assert d["count"] <= d["total"] and d["share"] > d["baseline_share"]
    if alerts:
        r = client.post(f"/v1/alerts/{alerts[0]['id']}/acknowledge")
        assert r.status_code == 200 and r.json()["acknowledged_at"]
    assert client.post("/v1/alerts/999999/acknowledge").status_code == 404


def test_live_feed(client: TestClient) -> None:
    feed = client.get("/v1/analytics/live?limit=5").json()["messages"]
    assert len(feed) == 5
    times = [m["created_at"] for m in feed]
    assert times == sorted(times)
    later = client.get("/v1/analytics/live", params={"after": times[-1]}).json()["messages"]
    assert later == []


def test_dashboard_login_cookie(client: TestClient) -> None:
    del client.headers["X-API-Key"]
    assert client.get("/v1/analytics/overview").status_code == 401
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "login" in client.get("/login").text
    assert client.post("/login", json={"api_key": "nope"}).status_code == 401
    r = client.post("/login", json={"api_key": "ed_dev_local_only_key"})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/v1/analytics/overview").status_code == 200
    assert 'id="main"' in client.get("/dashboard").text
    js = client.get("/static/dashboard.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "cdn" not in client.get("/dashboard").text.lower()
    client.get("/logout")
    assert client.get("/v1/analytics/overview").status_code == 401


def test_surge_monitor_scans_categories_and_products(client: TestClient) -> None:
    from emotiondesk.service.monitor import SurgeMonitor

    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    monitor = SurgeMonitor(sessions, minutes=0, sensitivity="high")
    first = monitor.scan_once()
    assert monitor.scan_once() == first  # the same surges: no new alert rows
    alerts = client.get("/v1/alerts?kind=negative_surge").json()
    assert {a["details"]["scope"] for a in alerts} <= {"category", "product_id"}
    assert len(alerts) == len({a["details"]["episode"] for a in alerts})
    assert first >= 1 and any(a["details"]["key"] == "sku-air-fryer-5l" for a in alerts)
