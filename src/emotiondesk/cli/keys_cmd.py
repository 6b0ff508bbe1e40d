"""``emotiondesk keys create|list|revoke``: API keys (stored hashed)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from emotiondesk.cli.common import err_console, print_json, user_errors
from emotiondesk.cli.db_cmd import UrlOpt

keys_app = typer.Typer(help="Manage API keys for the service.", no_args_is_help=True)


def _sessions(url: str | None):  # type: ignore[no-untyped-def]
    from emotiondesk.storage import make_engine, make_session_factory, upgrade_database

    engine = make_engine(url)
    upgrade_database(engine)
    return make_session_factory(engine)


@keys_app.command("create")
def create_command(
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope", "-s", help="analyze, write, read or admin (repeat or comma-separate)."
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")] = "default",
    rate_limit: Annotated[
        int | None,
        typer.Option(
            "--rate-limit", help="Requests per minute (0 = unlimited; default: the service's)."
        ),
    ] = None,
    workspace: Annotated[
        str,
        typer.Option(
            "--workspace",
            "-w",
            help="The workspace whose data the key reads and writes (and no other's).",
        ),
    ] = "default",
    url: UrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a key of a workspace. It is printed once: only its hash is stored."""
    from emotiondesk.storage import repository as repo

    with user_errors():
        sessions = _sessions(url)
        with sessions() as s:
            row, key = repo.create_api_key(
                s, name=name, scopes=scope, rate_limit=rate_limit, workspace=workspace
            )
            s.commit()
    if as_json:
        print_json(
            {
                "id": row.id,
                "name": row.name,
                "workspace": row.workspace,
                "scopes": row.scopes,
                "key": key,
            }
        )
        return
    from emotiondesk.storage import describe_database

    err_console.print(
        f"created key #{row.id} {row.name!r} of workspace {row.workspace!r} with scopes "
        f"{', '.join(row.scopes)} in {describe_database(url)}",
        highlight=False,
    )
    err_console.print("store it now: it cannot be shown again")
    print(key)


@keys_app.command("list")
def list_command(
    url: UrlOpt = None,
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Only this workspace's keys.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List keys (id, name, workspace, prefix, scopes; never the key)."""
    from emotiondesk.storage import repository as repo

    with user_errors(), _sessions(url)() as s:
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "name": r.name,
                "workspace": r.workspace,
                "prefix": r.prefix,
                "scopes": r.scopes,
                "rate_limit": r.rate_limit,
                "created_at": r.created_at.isoformat(),
                "revoked": r.revoked_at is not None,
            }
            for r in repo.list_api_keys(s, include_revoked=all_keys, workspace=workspace)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table()
    for col in ("id", "name", "workspace", "prefix", "scopes", "rate_limit", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["name"],
            r["workspace"],
            r["prefix"] + "...",
            ",".join(r["scopes"]),
            str(r["rate_limit"]),
            str(r["revoked"]),
        )
    Console().print(table)


@keys_app.command("revoke")
def revoke_command(
    key_id: Annotated[int, typer.Argument(help="The key's id.")], url: UrlOpt = None
) -> None:
    """Revoke a key (services stop accepting it within seconds)."""
    from emotiondesk.storage import repository as repo

    with user_errors(), _sessions(url)() as s:
        row = repo.revoke_api_key(s, key_id=key_id)
        s.commit()
    err_console.print(f"revoked key #{row.id} {row.name!r}")
