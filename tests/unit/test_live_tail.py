"""The live stream's cursor: every committed message once, also when commits come out of order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
from emotiondesk.storage import repository as repo
from emotiondesk.storage.tables import Message
from emotiondesk.usecases.live import LiveTail

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'live.sqlite'}")
    upgrade_database(engine)
    yield make_session_factory(engine)
    engine.dispose()


def add(sessions, conv_id: str, text: str, when: datetime) -> str:  # type: ignore[no-untyped-def]
    """Store one message with ``created_at`` = ``when`` (as a transaction begun then would)."""
    with sessions() as s:
        conv = repo.get_conversation(s, workspace="default", conversation_id=conv_id)
        msg = repo.add_message(
            s, conversation=conv, role="customer", text=text, analysis={"polarity": "neutral"}
        )
        msg.created_at = when
        s.commit()
        return msg.id


def test_late_commit_is_sent_once_and_old_rows_are_not(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as s:
        conv_id = repo.create_conversation(s, workspace="default", channel="web").id
        s.commit()
    # 30 messages before the stream opens: the backlog is the newest 20
    old = [
        add(sessions, conv_id, f"old {i}", T0 + timedelta(milliseconds=10 * i)) for i in range(30)
    ]
    tail = LiveTail(workspace="default", lag_s=10)
    with sessions() as s:
        backlog = tail.start(s, backlog=20)
    assert [m["id"] for m in backlog] == old[10:]

    # worker B stores a message stamped t+1 s; worker A's message stamped t+0.5 s commits later
    b = add(sessions, conv_id, "from worker B", T0 + timedelta(seconds=1))
    with sessions() as s:
        assert [m["id"] for m in tail.poll(s)] == [b]
    a = add(sessions, conv_id, "from worker A, committed late", T0 + timedelta(seconds=0.5))
    with sessions() as s:
        assert [m["id"] for m in tail.poll(s)] == [a]  # a cursor on created_at alone skips it
    with sessions() as s:
        assert tail.poll(s) == []
    c = add(sessions, conv_id, "later", T0 + timedelta(seconds=2))
    with sessions() as s:
        assert [m["id"] for m in tail.poll(s)] == [c]
    with sessions() as s:
        ids = {m.id for m in s.query(Message)}
    assert ids == set(old) | {a, b, c}


def test_empty_database_then_messages(sessions) -> None:  # type: ignore[no-untyped-def]
    tail = LiveTail(workspace="default")
    with sessions() as s:
        assert tail.start(s) == [] and tail.poll(s) == []
        conv_id = repo.create_conversation(s, workspace="default", channel="web").id
        s.commit()
    first = add(sessions, conv_id, "hello", T0)
    with sessions() as s:
        assert [m["id"] for m in tail.poll(s)] == [first]
        assert tail.poll(s) == []
