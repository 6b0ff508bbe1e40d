"""Evidence stored with each ingested message (issue 15).

``messages.evidence``: the spans that drove the message's polarity and
emotion (offsets and weights) and its aspects with their opinions, in the
bounded form of ``usecases.analyze_messages.stored_evidence``; null for
messages stored before this revision.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("evidence", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("evidence")
