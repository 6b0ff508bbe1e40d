"""Migration 0007 on a database made before workspaces, on SQLite and PostgreSQL: the
existing rows and keys land in the default workspace, and the old key still reads them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
from emotiondesk.storage import repository as repo
from emotiondesk.storage.db import head_revision
from emotiondesk.storage.tables import DEFAULT_WORKSPACE

pytestmark = pytest.mark.integration

BEFORE = "0004"  # the revision before workspaces
TABLES = ("conversations", "messages", "feedback", "alerts", "api_keys", "practice_sessions")


def _url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite'}"
    url = os.environ.get("EMOTIONDESK_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must set EMOTIONDESK_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("EMOTIONDESK_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    return url


def _drop_all(url: str) -> None:
    from emotiondesk.storage.tables import Base

    engine = make_engine(url)
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_existing_rows_go_to_the_default_workspace(kind: str, tmp_path: Path) -> None:
    url = _url(kind, tmp_path)
    if kind == "postgresql":
        _drop_all(url)
    engine = make_engine(url)
    try:
        assert upgrade_database(engine, BEFORE) == BEFORE
        old_key = "ed_" + "k" * 40
        with engine.begin() as conn:  # rows as a pre-workspace install wrote them
            conn.execute(
                text(
                    "INSERT INTO conversations (id, channel, metadata, state, status, "
                    "message_count, created_at, updated_at) VALUES ('c1', 'web', '{}', '{}', "
                    "'open', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO messages (id, conversation_id, seq, client_message_id, role, "
                    "text, analysis, pii, polarity, created_at) VALUES ('m1', 'c1', 1, 'x', "
                    "'customer', '物流太慢了', '{}', '{}', 'negative', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO feedback (message_id, polarity, used_for_training, created_at) "
                    "VALUES ('m1', 'negative', false, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO alerts (kind, severity, conversation_id, title, details, "
                    "created_at) VALUES ('policy', 'high', 'c1', 'old', '{}', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO practice_sessions (id, scenario, language, difficulty, seed, "
                    "outcome, turns, replies, report, created_at, updated_at) VALUES ('p1', "
                    "'late_delivery', 'en', 'easy', 0, 'in_progress', 0, '[]', '{}', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO api_keys (name, prefix, key_hash, scopes, created_at) VALUES "
                    "('old', 'ed_kkkkkkk', :h, '[\"read\"]', CURRENT_TIMESTAMP)"
                ),
                {"h": repo.hash_key(old_key)},
            )
        assert upgrade_database(engine) == head_revision()
        with engine.connect() as conn:
            for table in TABLES:
                found = conn.execute(text(f"SELECT DISTINCT workspace FROM {table}")).all()
                assert found == [(DEFAULT_WORKSPACE,)], table
        columns = {c["name"]: c for c in inspect(engine).get_columns("messages")}
        assert columns["workspace"]["nullable"] is False
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("messages")}
        assert indexes["ix_messages_analytics"]["column_names"][:3] == [
            "workspace",
            "role",
            "created_at",
        ]
        from emotiondesk.storage.tables import Base

        for table in TABLES:  # the migration builds the indexes the tables declare
            declared = {i.name for i in Base.metadata.tables[table].indexes}
            built = {i["name"] for i in inspect(engine).get_indexes(table)}
            assert declared <= built, (table, declared - built)
        sessions = make_session_factory(engine)
        with sessions() as s:
            key = repo.find_api_key(s, key=old_key)
            assert key is not None and key.workspace == DEFAULT_WORKSPACE
            assert [
                c.id for c in repo.list_conversations(s, workspace=DEFAULT_WORKSPACE).items
            ] == ["c1"]
            assert repo.list_conversations(s, workspace="other").total == 0
            # a new row without a workspace given gets the default one
            conv = repo.create_conversation(s, workspace=DEFAULT_WORKSPACE)
            s.commit()
            assert conv.workspace == DEFAULT_WORKSPACE
        # and back down (0007's downgrade), then up again
        from alembic import command
        from alembic.script import ScriptDirectory

        from emotiondesk.storage.db import _alembic_config

        cfg = _alembic_config(engine)
        below = ScriptDirectory.from_config(cfg).get_revision("0007").down_revision
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, str(below))
        assert "workspace" not in {c["name"] for c in inspect(engine).get_columns("messages")}
        assert upgrade_database(engine) == head_revision()
    finally:
        engine.dispose()
        if kind == "postgresql":
            _drop_all(url)
