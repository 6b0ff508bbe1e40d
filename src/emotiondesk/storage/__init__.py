"""Storage: SQLAlchemy tables, repository functions and the shipped Alembic migrations."""

from __future__ import annotations

from emotiondesk.storage.db import (
    check_database,
    current_revision,
    default_sqlite_path,
    describe_database,
    head_revision,
    make_engine,
    make_session_factory,
    redact_url,
    resolve_url,
    session_scope,
    sqlite_file,
    upgrade_database,
)
from emotiondesk.storage.tables import Alert, ApiKey, Base, Conversation, Feedback, Message

__all__ = [
    "Alert",
    "ApiKey",
    "Base",
    "Conversation",
    "Feedback",
    "Message",
    "check_database",
    "current_revision",
    "default_sqlite_path",
    "describe_database",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "redact_url",
    "resolve_url",
    "session_scope",
    "sqlite_file",
    "upgrade_database",
]
