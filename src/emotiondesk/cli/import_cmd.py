"""``emotiondesk import FILE``: load an archive of conversations or reviews into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from emotiondesk.cli.common import err_console, print_json, user_errors


def import_command(
    file: Annotated[
        Path, typer.Argument(help="A CSV or JSONL archive (one message or review a row).")
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the extension).")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Name of this archive (default: the file name); the same name resumes an import."
        ),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="Channel for rows that have none (e.g. reviews).")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Category for rows that have none.")] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            help="FIELD=COLUMN where the file names a field otherwise, e.g. --column "
            "text=评论内容 --column timestamp=下单时间 (repeatable; fields: text, timestamp, "
            "channel, product_id, category, conversation_id, role, customer_id, agent_id, rating).",
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="A SQLite file path or a database URL (default: EMOTIONDESK_DATABASE_URL, "
            "else the SQLite file in the user data dir that demo and serve use).",
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model", help="'default', a pack directory or a model directory (train --out)."
        ),
    ] = "default",
    batch_size: Annotated[
        int, typer.Option(min=1, max=4096, help="Rows analysed and stored per transaction.")
    ] = 256,
    limit: Annotated[int | None, typer.Option(min=1, help="Read at most this many rows.")] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Write rejected rows (row, reason, record) to this CSV.")
    ] = None,
    scan_surges: Annotated[
        bool, typer.Option(help="Run negative-surge detection afterwards.")
    ] = True,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout.")
    ] = False,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (the analysis in a Ray actor pool).")
    ] = "local",
    workers: Annotated[
        int | None, typer.Option(min=1, help="Ray engine: actors, each with the pack (default 2).")
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Ray engine: an existing cluster (default RAY_ADDRESS or a local Ray for the run).",
        ),
    ] = None,
    workspace: Annotated[
        str,
        typer.Option(
            "--workspace",
            help="The workspace the rows go into (its keys see them; default: the default one).",
        ),
    ] = "default",
) -> None:
    """Import FILE, analysing every row; resumable (re-run the same command after an interruption)."""
    with user_errors():
        run_import(
            file,
            fmt=fmt,
            source=source,
            channel=channel,
            category=category,
            columns=column,
            database=database,
            model=model,
            batch_size=batch_size,
            limit=limit,
            rejects=rejects,
            scan_surges=scan_surges,
            json_out=json_out,
            engine=engine,
            workers=workers,
            ray_address=ray_address,
            workspace=workspace,
        )


def run_import(
    file: Path,
    *,
    fmt: str | None,
    source: str | None,
    channel: str | None,
    category: str | None,
    columns: list[str] | None,
    database: str | None,
    model: str,
    batch_size: int,
    limit: int | None,
    rejects: Path | None,
    scan_surges: bool,
    json_out: bool,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    workspace: str = "default",
) -> None:
    from contextlib import ExitStack

    from tqdm import tqdm

    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.errors import DataError, InvalidInputError
    from emotiondesk.storage import (
        describe_database,
        make_engine,
        make_session_factory,
        upgrade_database,
    )
    from emotiondesk.storage.repository import check_workspace
    from emotiondesk.usecases.import_archive import (
        count_rows,
        detect_format,
        import_archive,
        parse_column_map,
    )

    workspace = check_workspace(workspace)
    if engine not in ("local", "ray"):
        raise InvalidInputError(f"--engine must be local or ray, not {engine!r}")
    if engine == "local" and (workers is not None or ray_address is not None):
        raise InvalidInputError("--workers and --ray-address need --engine ray")
    if not file.is_file():
        raise DataError(f"{file}: no such file")
    if file.stat().st_size == 0:
        raise DataError(f"{file}: the file is empty")
    kind = detect_format(file, fmt)
    mapping = parse_column_map(columns)
    where = describe_database(database)
    if not json_out:
        err_console.print(
            f"importing {file} into {where}, workspace {workspace!r}", highlight=False
        )
    db = make_engine(database)
    upgrade_database(db)
    sessions = make_session_factory(db)
    stack = ExitStack()
    if engine == "ray":
        from emotiondesk.usecases.distributed import RayScorer, ray_session

        ray = stack.enter_context(ray_session(ray_address))
        scorer: Any = RayScorer(ray, pack=model, workers=workers or 2)
        analyzer = None
    else:
        analyzer = load_analyzer(None if model == "default" else model)
        scorer = None
    total = count_rows(file, kind)
    if limit is not None:
        total = min(total, limit)
    bar = tqdm(total=total, unit="row", desc=f"import {file.name}", disable=None, file=None)
    try:
        report = import_archive(
            file,
            analyzer=analyzer,
            scorer=scorer,
            sessions=sessions,
            fmt=kind,
            source=source,
            channel=channel,
            category=category,
            batch_size=batch_size,
            limit=limit,
            progress=bar.update,
            rejects_to=rejects,
            columns=mapping,
            workspace=workspace,
        )
    finally:
        bar.close()
        stack.close()
    if scan_surges and report.imported:
        from emotiondesk.usecases.analytics import scan_surges as scan

        with sessions() as session:
            report.surges = len(scan(session, workspace=workspace, by="category"))
    db.dispose()
    if json_out:
        print_json({**report.to_dict(), "database": where, "workspace": workspace})
    else:
        err_console.print(
            f"{report.rows} rows: {report.imported} imported, {report.already_stored} already stored, "
            f"{report.rejected} rejected; {report.conversations} conversations; "
            f"{report.rows_per_second:.0f} rows/s; {report.surges} negative surge(s) found; "
            f"database: {where}",
            highlight=False,
        )
        for reason, n in report.reasons.most_common():
            err_console.print(f"  rejected {n}: {reason}", highlight=False)
        for ex in report.rejected_examples[:5]:
            err_console.print(f"    row {ex['row']}: {ex['reason']}", highlight=False)
