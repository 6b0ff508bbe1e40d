"""Agent quality: each agent message's rubric scorecard and score; practice sessions.

Revision ID: 0003_agent_quality
Revises: 0002
Create Date: 2026-11-29 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003_agent_quality"
down_revision = "0002"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("scorecard", JSONType, nullable=True))
        batch.add_column(sa.Column("qa_score", sa.Float(), nullable=True))
    op.create_table(
        "practice_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("difficulty", sa.String(16), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("replies", JSONType, nullable=False),
        sa.Column("report", JSONType, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_practice_sessions"),
    )
    op.create_index("ix_practice_sessions_agent_id", "practice_sessions", ["agent_id"])
    op.create_index("ix_practice_sessions_outcome", "practice_sessions", ["outcome"])
    op.create_index("ix_practice_sessions_created_at", "practice_sessions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_practice_sessions_created_at", table_name="practice_sessions")
    op.drop_index("ix_practice_sessions_outcome", table_name="practice_sessions")
    op.drop_index("ix_practice_sessions_agent_id", table_name="practice_sessions")
    op.drop_table("practice_sessions")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("qa_score")
        batch.drop_column("scorecard")
