"""Alembic environment: runs on the engine or connection the caller put in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from emotiondesk.storage.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = config.attributes["engine"]
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("emotiondesk migrations run online only: use `emotiondesk db upgrade`")
run_migrations_online()
