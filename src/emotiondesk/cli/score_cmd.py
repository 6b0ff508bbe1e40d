"""``emotiondesk score IN OUT``: add the analysis columns to a CSV / JSONL / Parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from emotiondesk.cli.common import err_console, print_json, user_errors


def score_command(
    src: Annotated[Path, typer.Argument(help="Input: a CSV, JSONL or Parquet file.")],
    dst: Annotated[
        Path,
        typer.Argument(
            help="Output: a .parquet or .csv file (with --engine ray: a folder of such files)."
        ),
    ],
    text_col: Annotated[
        str | None,
        typer.Option(
            "--text-col",
            help="The column holding the text (default: text, review, content, 评论, 内容, ...).",
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (Ray Data and an actor pool).")
    ] = "local",
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="'default' (the shipped pack), a pack directory or a model directory (train --out).",
        ),
    ] = "default",
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", help="csv, jsonl or parquet (default: the extension)."),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option("--output-format", help="parquet or csv (default: the extension)."),
    ] = None,
    prefix: Annotated[
        str, typer.Option(help="Prefix of the analysis columns' names (e.g. ed_).")
    ] = "",
    batch_size: Annotated[
        int, typer.Option(min=1, max=65536, help="Texts analysed per call (per actor call on Ray).")
    ] = 512,
    chunk_rows: Annotated[
        int,
        typer.Option(
            min=1, help="Local engine: rows per resumable part (finished parts are kept)."
        ),
    ] = 5000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Ray engine: actors, each with the pack loaded (default 2)."),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Ray engine: an existing cluster (host:6379 or ray://host:10001); "
            "default RAY_ADDRESS or a local Ray started for the run.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout.")
    ] = False,
) -> None:
    """Score every row of SRC into DST: all input columns kept, the analysis columns added.

    The local engine is resumable: after an interruption, run the same command
    again and it continues from the last finished part.
    """
    with user_errors():
        report = run_score(
            src,
            dst,
            text_col=text_col,
            engine=engine,
            model=model,
            input_format=input_format,
            output_format=output_format,
            prefix=prefix,
            batch_size=batch_size,
            chunk_rows=chunk_rows,
            workers=workers,
            ray_address=ray_address,
        )
    if json_out:
        print_json(report)
    else:
        resumed = (
            f" ({report['resumed_rows']} from an interrupted run)" if report["resumed_rows"] else ""
        )
        err_console.print(
            f"{report['rows']} rows scored{resumed} -> {report['output']} "
            f"(text column {report['text_column']!r}, {report['engine']} engine, "
            f"{report['rows_per_second']:.0f} rows/s)",
            highlight=False,
        )


def run_score(
    src: Path,
    dst: Path,
    *,
    text_col: str | None,
    engine: str,
    model: str,
    input_format: str | None,
    output_format: str | None,
    prefix: str,
    batch_size: int,
    chunk_rows: int,
    workers: int | None,
    ray_address: str | None,
) -> dict[str, Any]:
    from emotiondesk.errors import DataError, InvalidInputError

    if engine not in ("local", "ray"):
        raise InvalidInputError(f"--engine must be local or ray, not {engine!r}")
    if not src.is_file():
        raise DataError(f"{src}: no such file")
    if engine == "ray":
        from emotiondesk.usecases.distributed import score_file_ray

        return score_file_ray(
            src,
            dst,
            pack=model,
            text_col=text_col,
            in_format=input_format,
            out_format=output_format,
            prefix=prefix,
            workers=workers or 2,
            batch_size=batch_size,
            address=ray_address,
        ).to_dict()
    if workers is not None or ray_address is not None:
        raise InvalidInputError("--workers and --ray-address need --engine ray")

    from tqdm import tqdm

    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.usecases import score_files
    from emotiondesk.usecases.scoring import check_no_clash, resolve_text_column

    # Bad input is reported before the pack loads.
    score_files.output_format(dst, output_format)
    source = score_files.open_source(src, input_format)
    resolve_text_column(source.columns, text_col, name=src.name)
    check_no_clash(source.columns, prefix, name=src.name)
    analyzer = load_analyzer(model)
    bar = tqdm(unit="row", desc=f"score {src.name}", disable=None)

    def on_start(total: int | None, done: int) -> None:
        bar.total = total
        bar.n = done
        if done:
            err_console.print(f"resuming: {done} rows were scored by an interrupted run")
        bar.refresh()

    try:
        report = score_files.score_file(
            src,
            dst,
            analyzer=analyzer,
            text_col=text_col,
            in_format=input_format,
            out_format=output_format,
            prefix=prefix,
            chunk_rows=chunk_rows,
            batch_size=batch_size,
            progress=bar.update,
            on_start=on_start,
        )
    finally:
        bar.close()
    if report.started_over:
        err_console.print(f"started over: {report.started_over}", highlight=False)
    return report.to_dict()
