"""Workspaces keep tenants apart: through every route of the service, a key of workspace A
never reads, lists, counts, streams or writes workspace B's data.

The route test enumerates the app's routes: a route that is not in :func:`_calls`
fails it, so a new endpoint cannot ship without saying how it is scoped.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from emotiondesk.config import Settings
from emotiondesk.errors import InvalidInputError
from emotiondesk.service import create_app
from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
from emotiondesk.storage import repository as repo
from emotiondesk.storage.tables import Alert, Conversation, Feedback, Message, PracticeSession
from emotiondesk.usecases.import_archive import import_archive
from emotiondesk.usecases.live import LiveTail

A, B = "shop-a", "shop-b"
#: In every text, id and label of B's data; no answer to A's key may contain it.
MARK_B = "zqmarkb"


@dataclass
class Tenant:
    name: str
    key: str
    conversations: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    practice: str = ""
    alert: int = 0

    @property
    def h(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


def _seed(client: TestClient, t: Tenant, mark: str, archive: Path) -> None:
    """One live conversation (customer + agent turns, feedback), a practice session, an
    alert and an imported archive, all through the tenant's own key (or its workspace)."""
    r = client.post(
        "/v1/conversations",
        json={
            "channel": f"web-{mark}",
            "customer_id": f"cust-{mark}",
            "product_id": f"prod-{mark}",
            "category": f"cat-{mark}",
            "agent_id": f"agent-{mark}",
            "metadata": {"tag": mark},
        },
        headers=t.h,
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    t.conversations.append(cid)
    for role, text, client_id in (
        ("customer", f"物流太慢了，气死我了 {mark}", f"c1-{mark}"),
        ("agent", f"非常抱歉，我马上帮您查询 {mark}", f"c2-{mark}"),
        ("customer", f"still waiting, this is terrible {mark}", "shared-client-id"),
    ):
        r = client.post(
            f"/v1/conversations/{cid}/messages",
            json={"role": role, "text": text, "client_message_id": client_id},
            headers=t.h,
        )
        assert r.status_code == 201, r.text
        t.messages.append(r.json()["message"]["id"])
    r = client.post(
        "/v1/feedback",
        json={"message_id": t.messages[0], "emotion": "anger", "note": f"note {mark}"},
        headers=t.h,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/practice",
        json={"scenario": "late_delivery", "agent_id": f"agent-{mark}"},
        headers=t.h,
    )
    assert r.status_code == 201, r.text
    t.practice = r.json()["id"]
    app: Any = client.app
    with app.state.sessions() as s:
        alert = repo.create_alert(
            s, workspace=t.name, kind="policy", title=f"alert {mark}", conversation_id=cid
        )
        s.commit()
        t.alert = alert.id
    report = import_archive(
        archive, analyzer=app.state.analyzer, sessions=app.state.sessions, workspace=t.name
    )
    assert report.imported == 3
    with app.state.sessions() as s:
        imported = s.scalars(
            select(Conversation.id).where(Conversation.workspace == t.name, Conversation.id != cid)
        ).all()
    t.conversations.extend(imported)


def _archive(path: Path, mark: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["conversation_id", "text", "category", "product_id"])
        w.writerow(["r1", f"质量太差了，退货 {mark}", f"cat-{mark}", f"prod-{mark}"])
        w.writerow(["r1", f"客服也不回复 {mark}", f"cat-{mark}", f"prod-{mark}"])
        w.writerow(["r2", f"great quality, fast shipping {mark}", f"cat-{mark}", f"prod-{mark}"])
    return path


def _reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from emotiondesk.storage.tables import Base

    engine = make_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def _database(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'ws.sqlite'}"
    url = os.environ.get("EMOTIONDESK_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must set EMOTIONDESK_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("EMOTIONDESK_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    _reset_postgres(url)
    return url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tiny_pack: Path
) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("workspaces")
    url = _database(request.param, tmp)
    settings = Settings(
        dev=True,
        database_url=url,
        model_dir=tiny_pack,
        rate_limit_per_minute=0,
        metrics_require_key=True,
        _env_file=None,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        with app.state.sessions() as s:
            _, key_a = repo.create_api_key(s, name="a", scopes=["admin"], workspace=A)
            _, key_b = repo.create_api_key(s, name="b", scopes=["admin"], workspace=B)
            s.commit()
        a, b = Tenant(A, key_a), Tenant(B, key_b)
        # both import a file of the same name: the stable ids must not meet
        _seed(client, a, "zqmarka", _archive(tmp / "a" / "same.csv", "zqmarka"))
        _seed(client, b, MARK_B, _archive(tmp / "b" / "same.csv", MARK_B))
        yield client, a, b
    if request.param == "postgresql":
        _reset_postgres(url)


def _b_markers(b: Tenant) -> list[str]:
    return [MARK_B, b.practice, *b.conversations, *b.messages]


def _leaks(text: str, b: Tenant) -> list[str]:
    return [m for m in _b_markers(b) if m and m in text]


def _routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, through included routers (``MOUNT`` for mounts)."""
    out: set[tuple[str, str]] = set()

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:  # FastAPI's lazily included router
                walk(original.routes, prefix + getattr(route.include_context, "prefix", ""))
                continue
            methods = getattr(route, "methods", None)
            if methods is None:
                out.add(("MOUNT", prefix + route.path))
                continue
            for m in methods:
                if m != "HEAD":
                    out.add((m, prefix + route.path))

    walk(app.routes, "")
    return out


def _stream_backlog(client: TestClient, headers: dict[str, str]) -> str:
    """The live stream's events up to ``ready``, then the client hangs up (raw ASGI: the
    test client cannot end an endless response)."""
    app: Any = client.app

    async def run() -> str:
        body = bytearray()
        gone = anyio.Event()
        sent_request = False
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if b"event: ready" in body or not message.get("more_body", False):
                    gone.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v1/analytics/live/stream",
            "raw_path": b"/v1/analytics/live/stream",
            "query_string": b"poll=0.2",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            + [(b"host", b"testserver")],
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
            "state": {},
        }
        with anyio.fail_after(30):
            await app(scope, receive, send)
        assert status == [200], status
        return body.decode()

    return client.portal.call(run)  # type: ignore[union-attr]


Call = Callable[[], httpx.Response | str]


def _calls(client: TestClient, a: Tenant, b: Tenant) -> dict[tuple[str, str], list[Any]]:
    """For every route, what A's key does with it: ``(call, expected status)`` pairs, the
    status ``404`` meaning "answered exactly as for an id that does not exist"."""
    c, h = client, a.h
    conv, msg = b.conversations[0], b.messages[0]
    review = b.conversations[-1]
    get = lambda url, **kw: lambda: c.get(url, headers=h, **kw)  # noqa: E731
    post = lambda url, body=None, **kw: lambda: c.post(url, json=body, headers=h, **kw)  # noqa: E731
    return {
        ("GET", "/openapi.json"): [(get("/openapi.json"), 200)],
        ("POST", "/v1/analyze"): [(post("/v1/analyze", {"texts": ["物流太慢了"]}), 200)],
        ("POST", "/v1/conversations"): [(post("/v1/conversations", {"channel": "web"}), 201)],
        ("GET", "/v1/conversations"): [
            (get("/v1/conversations"), 200),
            (get("/v1/conversations", params={"q": MARK_B}), 200),
            (get("/v1/conversations", params={"q": conv[:8]}), 200),
            (get("/v1/conversations", params={"agent_id": f"agent-{MARK_B}"}), 200),
            (get("/v1/conversations", params={"kind": "review", "limit": 200}), 200),
            (get("/v1/conversations", params={"sort": "risk"}), 200),
        ],
        ("PATCH", "/v1/conversations/{conversation_id}"): [
            (
                lambda: c.patch(
                    f"/v1/conversations/{conv}",
                    json={"status": "closed", "agent_id": "thief"},
                    headers=h,
                ),
                404,
            )
        ],
        ("GET", "/v1/conversations/{conversation_id}"): [
            (get(f"/v1/conversations/{conv}"), 404),
            (get(f"/v1/conversations/{review}"), 404),
        ],
        ("POST", "/v1/conversations/{conversation_id}/messages"): [
            (post(f"/v1/conversations/{conv}/messages", {"role": "customer", "text": "hi"}), 404),
            # B's client message id must not hand back B's stored message
            (
                post(
                    f"/v1/conversations/{conv}/messages",
                    {"role": "customer", "text": "x", "client_message_id": f"c1-{MARK_B}"},
                ),
                404,
            ),
            (
                post(
                    f"/v1/conversations/{a.conversations[0]}/messages",
                    {"role": "customer", "text": "again", "client_message_id": "shared-client-id"},
                ),
                200,  # A's own message with that id (B has one too)
            ),
        ],
        ("POST", "/v1/feedback"): [
            (post("/v1/feedback", {"message_id": msg, "polarity": "positive"}), 404)
        ],
        ("GET", "/v1/feedback"): [
            (get("/v1/feedback", params={"limit": 500}), 200),
            (get("/v1/feedback", params={"conversation_id": conv}), 200),
        ],
        ("GET", "/v1/review-queue"): [(get("/v1/review-queue", params={"limit": 500}), 200)],
        ("GET", "/v1/alerts"): [(get("/v1/alerts", params={"limit": 500}), 200)],
        # the served model is the same for all; its shadow figures only for the default's keys
        ("GET", "/v1/models"): [(get("/v1/models"), 200)],
        ("GET", "/healthz"): [(get("/healthz"), 200)],
        ("GET", "/readyz"): [(get("/readyz"), 200)],
        # the counters are the whole service's: only the default workspace's keys
        ("GET", "/metrics"): [(get("/metrics"), 403)],
        ("GET", "/v1/analytics/overview"): [
            (get("/v1/analytics/overview", params={"days": 0}), 200)
        ],
        ("GET", "/v1/analytics/trend"): [
            (get("/v1/analytics/trend", params={"days": 0, "by": by}), 200)
            for by in ("channel", "category", "product_id", "agent_id", "language")
        ],
        ("GET", "/v1/analytics/breakdown"): [
            (get("/v1/analytics/breakdown", params={"days": 0, "by": by}), 200)
            for by in ("channel", "category", "product_id", "agent_id", "language")
        ],
        ("GET", "/v1/analytics/aspects"): [(get("/v1/analytics/aspects"), 200)],
        ("GET", "/v1/analytics/topics"): [(get("/v1/analytics/topics"), 200)],
        ("POST", "/v1/analytics/surges/scan"): [
            (post(f"/v1/analytics/surges/scan?by={by}"), 200)
            for by in ("category", "product_id", "channel")
        ],
        ("POST", "/v1/alerts/{alert_id}/acknowledge"): [
            (post(f"/v1/alerts/{b.alert}/acknowledge"), 404)
        ],
        ("GET", "/v1/analytics/live"): [
            (get("/v1/analytics/live", params={"limit": 200}), 200),
            (get("/v1/analytics/live", params={"after": "2000-01-01T00:00:00Z"}), 200),
        ],
        ("GET", "/v1/analytics/live/stream"): [(lambda: _stream_backlog(c, h), 200)],
        ("POST", "/v1/coach"): [
            (post("/v1/coach", {"messages": [], "draft": "您好，马上为您处理"}), 200)
        ],
        ("GET", "/v1/agents"): [(get("/v1/agents"), 200)],
        ("GET", "/v1/agents/{agent_id}"): [(get(f"/v1/agents/agent-{MARK_B}"), 404)],
        ("POST", "/v1/practice"): [(post("/v1/practice", {"scenario": "late_delivery"}), 201)],
        ("POST", "/v1/practice/{practice_id}/replies"): [
            (post(f"/v1/practice/{b.practice}/replies", {"text": "sorry"}), 404)
        ],
        ("GET", "/v1/practice/{practice_id}"): [(get(f"/v1/practice/{b.practice}"), 404)],
        ("GET", "/v1/practice"): [(get("/v1/practice", params={"limit": 200}), 200)],
        # the dashboard: its pages hold no data; what it shows comes from the API above
        # under the session of A's key (test_dashboard_session_is_scoped)
        ("GET", "/"): [(lambda: c.get("/", follow_redirects=False), 307)],
        ("GET", "/login"): [(get("/login"), 200)],
        ("POST", "/login"): [(lambda: c.post("/login", json={"api_key": a.key}), 200)],
        ("GET", "/logout"): [(lambda: c.get("/logout", follow_redirects=False), 303)],
        ("GET", "/dashboard"): [(get("/dashboard"), 200)],
        ("GET", "/docs"): [(get("/docs"), 200)],
        ("GET", "/redoc"): [(get("/redoc"), 200)],
        ("GET", "/favicon.ico"): [(get("/favicon.ico"), 200)],
        # static assets (scripts, styles): no data
        ("MOUNT", "/static"): [],
        ("MOUNT", "/static/docs"): [],
    }


def _b_state(client: TestClient, b: Tenant) -> dict[str, Any]:
    """What A must not be able to change: B's rows, read through B's own key and the DB."""
    app: Any = client.app
    with app.state.sessions() as s:
        convs = s.scalars(select(Conversation).where(Conversation.workspace == B)).all()
        return {
            "conversations": sorted((c.id, c.status, c.agent_id, c.message_count) for c in convs),
            "messages": s.query(Message).filter(Message.workspace == B).count(),
            "alerts": sorted(
                (x.id, x.acknowledged_at is None)
                for x in s.scalars(select(Alert).where(Alert.workspace == B))
            ),
            "practice": sorted(
                (p.id, p.turns)
                for p in s.scalars(select(PracticeSession).where(PracticeSession.workspace == B))
            ),
            "listed": client.get("/v1/conversations", headers=b.h).json()["total"],
            "feedback": sorted(
                (f.id, f.polarity, f.emotion)
                for f in s.scalars(select(Feedback).where(Feedback.workspace == B))
            ),
        }


def test_no_route_lets_a_key_of_workspace_a_reach_workspace_b(world: Any) -> None:
    client, a, b = world
    calls = _calls(client, a, b)
    served = _routes(client.app)
    missing = sorted(served - set(calls))
    assert not missing, (
        f"routes not covered by the cross-tenant test: {missing}; add to _calls what a key "
        "of another workspace gets from them (and scope their queries to the key's workspace)"
    )
    stale = sorted(set(calls) - served)
    assert not stale, f"routes in the test that the app no longer serves: {stale}"
    before = _b_state(client, b)
    for route, entries in sorted(calls.items()):
        for call, expected in entries:
            out = call()
            if isinstance(out, str):  # the event stream
                text, status = out, 200
            else:
                text, status = out.text, out.status_code
            assert status == expected, (route, status, text[:300])
            if expected == 404:
                # answered exactly as for an id that never existed
                detail = json.dumps(out.json()) if not isinstance(out, str) else text
                for marker in [*_b_markers(b), f"#{b.alert} "]:
                    detail = detail.replace(marker, "<id>")
                assert "<id>" in detail or "does not exist" in detail or "no scored" in detail
                continue
            assert not _leaks(text, b), (route, _leaks(text, b), text[:300])
        client.cookies.clear()
    assert _b_state(client, b) == before


def test_a_sees_and_counts_its_own_data_only(world: Any) -> None:
    client, a, b = world
    own = client.get("/v1/conversations", headers=a.h, params={"limit": 200}).json()
    ids = {c["id"] for c in own["items"]}
    assert set(a.conversations) <= ids and not ids & set(b.conversations)
    # the analytics count A's customer messages only (2 live + 3 imported, and any
    # the route test stored); B's volume is never in them
    overview = client.get("/v1/analytics/overview", headers=a.h, params={"days": 0}).json()
    app: Any = client.app
    with app.state.sessions() as s:
        mine = s.query(Message).filter(Message.workspace == A, Message.role == "customer").count()
        theirs = s.query(Message).filter(Message.workspace == B, Message.role == "customer").count()
        open_a = (
            s.query(Alert).filter(Alert.workspace == A, Alert.acknowledged_at.is_(None)).count()
        )
    assert overview["kpis"]["messages"] == mine and theirs > 0
    assert overview["kpis"]["open_alerts"] == open_a  # A's own alerts, not B's
    by_agent = client.get(
        "/v1/analytics/breakdown", headers=a.h, params={"days": 0, "by": "agent_id"}
    ).json()
    assert {g["key"] for g in by_agent["groups"]} <= {"agent-zqmarka", None}
    agents = client.get("/v1/agents", headers=a.h).json()["agents"]
    assert {x["agent_id"] for x in agents} <= {"agent-zqmarka", "(unassigned)"}
    live = client.get("/v1/analytics/live", headers=a.h, params={"limit": 200}).json()
    assert live["messages"] and all(
        m["conversation_id"] not in b.conversations for m in live["messages"]
    )
    # the same client message id in both workspaces: each its own message
    assert client.get(f"/v1/conversations/{b.conversations[0]}", headers=b.h).status_code == 200


def test_dashboard_session_is_scoped(world: Any) -> None:
    client, a, b = world
    from emotiondesk.service.deps import SESSION_COOKIE

    assert client.post("/login", json={"api_key": a.key}).status_code == 200
    assert client.cookies.get(SESSION_COOKIE)
    try:
        listed = client.get("/v1/conversations", params={"limit": 200})
        assert listed.status_code == 200 and not _leaks(listed.text, b)
        assert client.get(f"/v1/conversations/{b.conversations[0]}").status_code == 404
        stream = _stream_backlog(
            client, {"Cookie": f"{SESSION_COOKIE}={client.cookies.get(SESSION_COOKIE)}"}
        )
        assert "zqmarka" in stream and not _leaks(stream, b)
    finally:
        client.cookies.clear()


def test_live_tail_follows_one_workspace(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 't.sqlite'}")
    upgrade_database(engine)
    sessions = make_session_factory(engine)

    def store(ws: str, text: str) -> str:
        with sessions() as s:
            conv = repo.create_conversation(s, workspace=ws)
            m = repo.add_message(s, conversation=conv, role="customer", text=text, analysis={})
            s.commit()
            return m.id

    store(A, "a0")
    store(B, "b0")
    tail = LiveTail(workspace=A)
    with sessions() as s:
        assert [m["text"] for m in tail.start(s)] == ["a0"]
    b1, a1 = store(B, "b1"), store(A, "a1")
    with sessions() as s:
        assert [m["id"] for m in tail.poll(s)] == [a1]
        assert b1 not in {m["id"] for m in tail.poll(s)}


def test_repository_refuses_other_workspaces_ids(tmp_path: Path) -> None:
    from emotiondesk.errors import NotFoundError
    from emotiondesk.storage import quality

    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")
    upgrade_database(engine)
    sessions = make_session_factory(engine)
    with sessions() as s:
        conv = repo.create_conversation(s, workspace=B)
        msg = repo.add_message(s, conversation=conv, role="customer", text="x", analysis={})
        practice = quality.create_practice(
            s,
            workspace=B,
            agent_id=None,
            scenario="x",
            language="en",
            difficulty="easy",
            seed=0,
            report={},
        )
        s.commit()
        assert msg.workspace == B
        for call in (
            lambda: repo.get_conversation(s, workspace=A, conversation_id=conv.id),
            lambda: repo.update_conversation(
                s, workspace=A, conversation_id=conv.id, status="closed"
            ),
            lambda: repo.get_message(s, workspace=A, message_id=msg.id),
            lambda: repo.add_feedback(s, workspace=A, message_id=msg.id, polarity="negative"),
            lambda: quality.get_practice(s, workspace=A, practice_id=practice.id),
        ):
            with pytest.raises(NotFoundError):
                call()
        assert repo.list_conversations(s, workspace=A).total == 0
        assert repo.count_messages(s, workspace=A) == 0
        assert repo.list_workspaces(s) == [B]


def test_workspace_names_are_checked() -> None:
    assert repo.check_workspace("shop-1") == "shop-1"
    for bad in ("", "Shop", "a b", "-x", "x" * 65, "../etc"):
        with pytest.raises(InvalidInputError):
            repo.check_workspace(bad)


def test_cli_keys_and_import_take_a_workspace(tmp_path: Path, tiny_pack: Path) -> None:
    from typer.testing import CliRunner

    from emotiondesk.cli.main import app as cli_app

    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    made = {}
    for ws in ("default", B):
        args = ["keys", "create", "--scope", "read", "--name", f"k-{ws}", "--url", url, "--json"]
        if ws != "default":
            args += ["--workspace", ws]
        r = runner.invoke(cli_app, args)
        assert r.exit_code == 0, r.output
        made[ws] = json.loads(r.stdout)
        assert made[ws]["workspace"] == ws
    listed = json.loads(runner.invoke(cli_app, ["keys", "list", "--url", url, "--json"]).stdout)
    assert {(k["name"], k["workspace"]) for k in listed} == {
        ("k-default", "default"),
        ("k-shop-b", B),
    }
    only_b = runner.invoke(cli_app, ["keys", "list", "--url", url, "--workspace", B, "--json"])
    assert [k["name"] for k in json.loads(only_b.stdout)] == ["k-shop-b"]
    table = runner.invoke(cli_app, ["keys", "list", "--url", url])
    assert "workspace" in table.stdout and B in table.stdout
    bad = runner.invoke(
        cli_app, ["keys", "create", "-s", "read", "--workspace", "No Such", "--url", url]
    )
    assert bad.exit_code == 2 and "not a valid name" in bad.output and "Traceback" not in bad.output

    archive = _archive(tmp_path / "same.csv", MARK_B)
    base = ["import", str(archive), "--database", url, "--model", str(tiny_pack), "--json"]
    for ws in (None, B, B):  # the default workspace, then B twice (the second skips all)
        r = runner.invoke(cli_app, base + ([] if ws is None else ["--workspace", ws]))
        assert r.exit_code == 0, r.output
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert out["workspace"] == (ws or "default")
    assert (out["imported"], out["already_stored"]) == (0, 3)
    r = runner.invoke(cli_app, [*base, "--workspace", "-bad"])
    assert r.exit_code == 2 and "not a valid name" in r.output
    sessions = make_session_factory(make_engine(url))
    with sessions() as s:
        for ws in ("default", B):
            page = repo.list_conversations(s, workspace=ws)
            assert page.total == 2  # r1 and r2, each workspace its own
            assert repo.count_messages(s, workspace=ws) == 3
        default_ids = {c.id for c in repo.list_conversations(s, workspace="default").items}
        assert not default_ids & {c.id for c in repo.list_conversations(s, workspace=B).items}
