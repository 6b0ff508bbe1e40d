"""Shared rate-limit buckets and service secrets (issue 17).

``rate_buckets`` holds one token bucket per API key and per client address
that failed authentication, so every worker and every restart enforce one
limit. ``service_secrets`` holds the key that signs dashboard sessions, shared
by the workers.

Revision ID: 0004
Revises: 0003_agent_quality
Create Date: 2026-11-29 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003_agent_quality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("bucket", sa.String(length=160), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_rate_buckets")),
    )
    op.create_table(
        "service_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_secrets")),
    )


def downgrade() -> None:
    op.drop_table("service_secrets")
    op.drop_table("rate_buckets")
