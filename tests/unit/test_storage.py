"""Storage: migrations from the package, repository functions, API keys (SQLite in a temp dir)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from emotiondesk.errors import InvalidInputError, NotFoundError
from emotiondesk.storage import (
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    upgrade_database,
)
from emotiondesk.storage import repository as repo


@pytest.fixture
def sessions(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade_database(engine)
    yield make_session_factory(engine)
    engine.dispose()


def test_migrations_create_every_table(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    assert current_revision(engine) is None
    assert upgrade_database(engine) == head_revision()
    names = set(inspect(engine).get_table_names())
    assert {"conversations", "messages", "feedback", "alerts", "api_keys"} <= names
    # idempotent
    assert upgrade_database(engine) == head_revision()


def test_conversation_messages_feedback_roundtrip(sessions) -> None:
    with sessions() as s:
        conv = repo.create_conversation(
            s, workspace="default", channel="web", customer_id="c1", metadata={"tier": "gold"}
        )
        analysis = {"language": "zh", "polarity": "negative", "score": 0.1, "emotion": "anger"}
        m1 = repo.add_message(
            s,
            conversation=conv,
            role="customer",
            text="物流太慢",
            analysis=analysis,
            state={"turns": 1},
            client_message_id="a",
        )
        m2 = repo.add_message(s, conversation=conv, role="agent", text="抱歉", analysis=analysis)
        s.commit()
        assert (m1.seq, m2.seq) == (1, 2)
        assert conv.message_count == 2
        fb = repo.add_feedback(
            s, workspace="default", message_id=m1.id, emotion="sadness", author="agent-7"
        )
        s.commit()
        assert fb.predicted_emotion == "anger" and fb.emotion == "sadness"
        conv_id = conv.id
    with sessions() as s:
        got = repo.get_conversation(
            s, workspace="default", conversation_id=conv_id, with_messages=True
        )
        assert [m.text for m in got.messages] == ["物流太慢", "抱歉"]
        assert got.state == {"turns": 1}
        assert got.meta == {"tier": "gold"}
        assert (
            repo.find_message(
                s, workspace="default", conversation_id=conv_id, client_message_id="a"
            ).id
            == m1.id
        )
        assert [f.id for f in repo.list_feedback(s, workspace="default", unused_only=True)] == [
            fb.id
        ]


def test_list_conversations_filters_and_pages(sessions) -> None:
    with sessions() as s:
        for i in range(7):
            repo.create_conversation(
                s, workspace="default", channel="web" if i % 2 else "app", agent_id=f"a{i % 3}"
            )
        s.commit()
        page = repo.list_conversations(s, workspace="default", channel="web", limit=2, offset=0)
        assert page.total == 3 and len(page.items) == 2
        assert (
            repo.list_conversations(
                s, workspace="default", channel="web", limit=2, offset=2
            ).items.__len__()
            == 1
        )
        assert repo.list_conversations(s, workspace="default", agent_id="a0").total == 3


def test_errors(sessions) -> None:
    with sessions() as s:
        with pytest.raises(NotFoundError):
            repo.get_conversation(s, workspace="default", conversation_id="nope")
        with pytest.raises(NotFoundError):
            repo.add_feedback(s, workspace="default", message_id="nope", polarity="negative")
        with pytest.raises(InvalidInputError):
            repo.add_feedback(s, workspace="default", message_id="nope")


def test_api_keys_are_hashed_and_revocable(sessions) -> None:
    with sessions() as s:
        row, key = repo.create_api_key(s, name="ci", scopes=["read,write"], rate_limit=10)
        s.commit()
        assert key.startswith("ed_") and key not in (row.key_hash, row.prefix)
        assert row.key_hash == repo.hash_key(key)
        assert repo.find_api_key(s, key=key).scopes == ["read", "write"]
        assert repo.find_api_key(s, key=key + "x") is None
        repo.revoke_api_key(s, key_id=row.id)
        s.commit()
        assert repo.find_api_key(s, key=key) is None
        with pytest.raises(InvalidInputError):
            repo.create_api_key(s, name="bad", scopes=["root"])
        with pytest.raises(InvalidInputError):
            repo.create_api_key(s, name="none", scopes=[])


def test_alerts(sessions) -> None:
    with sessions() as s:
        repo.create_alert(
            s, workspace="default", kind="negative_surge", title="surge", details={"n": 3}
        )
        s.commit()
        (a,) = repo.list_alerts(s, workspace="default")
        assert a.details == {"n": 3}


def test_bad_url_is_a_config_error() -> None:
    from emotiondesk.errors import ConfigError

    with pytest.raises(ConfigError):
        make_engine("nonsense://")


def test_add_message_refuses_a_stale_conversation(sessions) -> None:
    with sessions() as s:
        cid = repo.create_conversation(s, workspace="default").id
        s.commit()
    a, b = sessions(), sessions()
    conv_a = repo.get_conversation(a, workspace="default", conversation_id=cid)
    conv_b = repo.get_conversation(b, workspace="default", conversation_id=cid)
    repo.add_message(a, conversation=conv_a, role="customer", text="1", analysis={}, state={"n": 1})
    a.commit()
    with pytest.raises(repo.StaleConversationError):
        repo.add_message(
            b, conversation=conv_b, role="customer", text="2", analysis={}, state={"n": 1}
        )
    b.rollback()
    conv_b = repo.get_conversation(b, workspace="default", conversation_id=cid)
    repo.add_message(b, conversation=conv_b, role="customer", text="2", analysis={}, state={"n": 2})
    b.commit()
    with sessions() as s:
        conv = repo.get_conversation(
            s, workspace="default", conversation_id=cid, with_messages=True
        )
        assert conv.state == {"n": 2} and [m.seq for m in conv.messages] == [1, 2]
    a.close()
    b.close()
