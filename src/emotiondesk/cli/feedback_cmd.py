"""``emotiondesk feedback export``: the labels agents' corrections settle, with provenance."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from emotiondesk.cli.common import err_console, print_json, user_errors
from emotiondesk.cli.db_cmd import UrlOpt

feedback_app = typer.Typer(
    help="Agents' corrections: export them for training or review.", no_args_is_help=True
)


@feedback_app.command("export")
def export_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The file to write: .csv, .jsonl or .parquet.")
    ],
    task: Annotated[
        str | None, typer.Option("--task", help="polarity or emotion (default: both).")
    ] = None,
    language: Annotated[str | None, typer.Option("--lang", help="zh, en or other.")] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Corrections from this time (UTC).")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--until", help="Corrections before this time (UTC).")
    ] = None,
    unused_only: Annotated[
        bool, typer.Option("--unused-only", help="Only rows no retraining has used yet.")
    ] = False,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", "-w", help="Only this workspace's corrections (default: every one's)."
        ),
    ] = None,
    url: UrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a summary as JSON.")] = False,
) -> None:
    """Write one row per corrected message and task: text, label, then who corrected it,
    when, the old label, the model version and whether corrections conflicted.

    Conflicting corrections of one message: the latest correction wins; the
    row says so (conflict, labels_given) and the conflicts are listed here.
    """
    from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
    from emotiondesk.storage.repository import check_workspace
    from emotiondesk.usecases.feedback_export import export_feedback

    with user_errors():
        engine = make_engine(url)
        upgrade_database(engine)
        with make_session_factory(engine)() as s:
            report = export_feedback(
                s,
                out=out,
                workspace=check_workspace(workspace) if workspace is not None else None,
                task=task,
                language=language,
                created_after=since,
                created_before=until,
                unused_only=unused_only,
            )
        engine.dispose()
    conflicts = [
        {"message_id": c.message_id, "task": c.task, "labels": list(c.labels), "label": c.label}
        for c in report.conflicts
    ]
    if as_json:
        print_json(
            {
                "out": str(report.path),
                "format": report.format,
                "rows": report.rows,
                "by_task": report.by_task,
                "conflicts": conflicts,
            }
        )
        return
    per_task = ", ".join(f"{k} {v}" for k, v in report.by_task.items())
    err_console.print(
        f"wrote {report.rows} rows ({per_task}) to {report.path} ({report.format})",
        highlight=False,
    )
    if conflicts:
        err_console.print(
            f"{len(conflicts)} message(s) had conflicting corrections (the latest one wins):",
            highlight=False,
        )
        for c in conflicts:
            err_console.print(
                f"  {c['message_id']} {c['task']}: {' -> '.join(c['labels'])} => {c['label']}",
                highlight=False,
            )
