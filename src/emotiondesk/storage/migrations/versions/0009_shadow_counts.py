"""Shadow-scoring counts shared by the service's workers (issue 11).

``shadow_counts``: one row per (challenger, champion, worker) with that
worker's running totals (texts compared and skipped, agreements per task,
the label pairs of the disagreements), so ``GET /v1/models`` reports the
total across workers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "shadow_counts",
        sa.Column("challenger", sa.String(64), nullable=False),
        sa.Column("champion", sa.String(64), nullable=False),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("agree", JSONType, nullable=False),
        sa.Column("pairs", JSONType, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("challenger", "champion", "worker", name="pk_shadow_counts"),
    )


def downgrade() -> None:
    op.drop_table("shadow_counts")
