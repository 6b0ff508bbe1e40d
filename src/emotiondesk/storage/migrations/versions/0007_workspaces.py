"""Workspaces: every tenant row and every API key belongs to one (issue 17).

Adds ``workspace`` (NOT NULL, default ``default``) to conversations, messages,
feedback, alerts, API keys and practice sessions: existing rows and keys go
to the default workspace, so a one-shop install behaves as before. The
analytics covering index gets the workspace as its first column, since every
aggregate is now scoped to one workspace; messages and conversations get
``(workspace, created_at)`` (a workspace's newest rows: the live feed, the
conversation list), the other tables an index on ``workspace``.

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-29 08:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("conversations", "messages", "feedback", "alerts", "api_keys", "practice_sessions")
#: Tables whose workspace index is ``(workspace, created_at)``.
BY_TIME = ("conversations", "messages")
COVERED = ["polarity", "emotion", "score", "conversation_id"]


def _analytics_index(columns: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_messages_analytics", "messages", columns, postgresql_include=COVERED)
    else:
        op.create_index("ix_messages_analytics", "messages", [*columns, *COVERED])


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("workspace", sa.String(length=64), nullable=False, server_default="default"),
        )
        if table in BY_TIME:
            op.create_index(f"ix_{table}_workspace_created", table, ["workspace", "created_at"])
        else:
            op.create_index(f"ix_{table}_workspace", table, ["workspace"])
    op.drop_index("ix_messages_analytics", table_name="messages")
    _analytics_index(["workspace", "role", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_analytics", table_name="messages")
    _analytics_index(["role", "created_at"])
    for table in reversed(TABLES):
        suffix = "workspace_created" if table in BY_TIME else "workspace"
        op.drop_index(f"ix_{table}_{suffix}", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("workspace")
