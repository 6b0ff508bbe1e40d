"""Engines, sessions and migrations.

SQLite by default (a file in the user's data directory), PostgreSQL through
``EMOTIONDESK_DATABASE_URL`` (``postgresql+psycopg://...``; a plain
``postgresql://`` URL is read as psycopg 3). The schema is managed by the
Alembic migrations shipped inside the package.

Example:
    >>> from emotiondesk.storage import make_engine, upgrade_database
    >>> engine = make_engine("sqlite:///:memory:")   # doctest: +SKIP
    >>> upgrade_database(engine)                      # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from emotiondesk.errors import ConfigError, StorageError

logger = logging.getLogger(__name__)

HEAD = "head"


def default_sqlite_path() -> Path:
    """``<user data dir>/emotiondesk/emotiondesk.db`` (platformdirs)."""
    from platformdirs import user_data_path

    return user_data_path("emotiondesk", appauthor=False) / "emotiondesk.db"


def resolve_url(url: str | None = None) -> str:
    """The database URL to use: ``url``, else the settings, else the default SQLite file.

    Every command uses this one default (``EMOTIONDESK_DATABASE_URL``, else
    :func:`default_sqlite_path`). ``url`` may also be a plain file path, read as a
    SQLite file (``demo.db`` is ``sqlite:///<absolute path of demo.db>``).
    """
    if not url:
        from emotiondesk.config import get_settings

        configured = get_settings().database_url
        url = configured.get_secret_value() if configured is not None else ""
    if not url:
        path = default_sqlite_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if "://" not in url and url != "sqlite:":
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def describe_database(url: str | None = None) -> str:
    """Where ``url`` (see :func:`resolve_url`) points, for messages: a SQLite file's
    path, else the URL with its password hidden."""
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError:
        return redact_url(resolved)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return f"SQLite file {parsed.database}"
    return redact_url(resolved)


def sqlite_file(url: str | None = None) -> Path | None:
    """The SQLite file ``url`` (see :func:`resolve_url`) points to, else None."""
    try:
        parsed = make_url(resolve_url(url))
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    db = str(parsed.database)
    return None if db.startswith("file:") else Path(db)


def redact_url(url: str) -> str:
    """The URL with its password hidden (for logs and messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (see :func:`resolve_url`), with SQLite set up for concurrent use."""
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError:
        raise ConfigError(
            f"database URL {redact_url(resolved)!r} is not a valid SQLAlchemy URL "
            "(e.g. sqlite:///path/to/file.db or postgresql+psycopg://user:pass@host/db)"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        if db in ("", ":memory:"):
            from sqlalchemy.pool import StaticPool

            kwargs.setdefault("poolclass", StaticPool)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    # Errors never carry bound values (a customer's text or phone) into logs.
    kwargs.setdefault("hide_parameters", True)
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"cannot use database {redact_url(resolved)!r}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "emotiondesk.storage:migrations")
    cfg.attributes["engine"] = engine
    return cfg


def upgrade_database(engine: Engine, revision: str = HEAD) -> str | None:
    """Apply the shipped migrations up to ``revision``; return the new revision."""
    from alembic import command

    cfg = _alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except SQLAlchemyError as exc:
        raise StorageError(
            f"cannot migrate the database {redact_url(str(engine.url))}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the shipped migrations define."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()  # type: ignore[arg-type]


def check_database(engine: Engine) -> None:
    """Raise :class:`StorageError` unless the database answers and has the current schema."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            if not inspect(conn).has_table("conversations"):
                raise StorageError(
                    "the database has no emotiondesk tables: run `emotiondesk db upgrade`"
                )
    except SQLAlchemyError as exc:
        raise StorageError(f"database unreachable: {exc.__class__.__name__}") from None
