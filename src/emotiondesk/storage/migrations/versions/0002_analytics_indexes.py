"""Analytics indexes: a covering index for the time-windowed aggregates of customer messages.

``/v1/analytics/overview`` and friends filter messages on role and a
``created_at`` window and read polarity, emotion, score and the conversation;
with this index PostgreSQL answers them with index-only scans and SQLite with a
covering index (see docs/BENCHMARKS.md, analytics query latency).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 18:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COVERED = ["polarity", "emotion", "score", "conversation_id"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_messages_analytics",
            "messages",
            ["role", "created_at"],
            postgresql_include=COVERED,
        )
    else:
        op.create_index("ix_messages_analytics", "messages", ["role", "created_at", *COVERED])


def downgrade() -> None:
    op.drop_index("ix_messages_analytics", table_name="messages")
