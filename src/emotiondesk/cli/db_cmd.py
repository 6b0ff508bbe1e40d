"""``emotiondesk db upgrade|current``: the database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from emotiondesk.cli.common import err_console, print_json, user_errors

db_app = typer.Typer(help="Create or upgrade the service database.", no_args_is_help=True)

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="A SQLite file path or a SQLAlchemy URL (default: EMOTIONDESK_DATABASE_URL, "
        "else the SQLite file in the user data dir that every command uses).",
    ),
]


@db_app.command("upgrade")
def upgrade_command(url: UrlOpt = None, revision: Annotated[str, typer.Option()] = "head") -> None:
    """Apply the shipped migrations (creates the database on first use)."""
    from emotiondesk.storage import describe_database, make_engine, upgrade_database

    with user_errors():
        engine = make_engine(url)
        rev = upgrade_database(engine, revision)
        engine.dispose()
    err_console.print(f"database {describe_database(url)} is at revision {rev}", highlight=False)


@db_app.command("current")
def current_command(
    url: UrlOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Show the database's schema revision and the newest one shipped."""
    from emotiondesk.storage import current_revision, head_revision, make_engine, redact_url

    with user_errors():
        engine = make_engine(url)
        current = current_revision(engine)
        engine.dispose()
    info = {"url": redact_url(str(engine.url)), "current": current, "head": head_revision()}
    if as_json:
        print_json(info)
    else:
        err_console.print(f"{info['url']}: at {current}, newest {info['head']}")
