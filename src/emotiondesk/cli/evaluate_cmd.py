"""``emotiondesk evaluate``: accuracy, macro-F1 and per-class figures on a labelled file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from emotiondesk.cli.common import err_console, print_json, user_errors


def evaluate_command(
    task: Annotated[str, typer.Option("--task", help="polarity or emotion.")],
    data: Annotated[
        Path, typer.Option("--data", help="A CSV (or JSONL/Parquet) file with text,label columns.")
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model", help="'default' (the shipped pack), a pack directory or a model directory."
        ),
    ] = "default",
    binary: Annotated[
        bool,
        typer.Option(
            "--binary",
            help="Labels are 0/1 (negative/positive); predict the more probable of the two.",
        ),
    ] = False,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="Apply this dataset's label map (see labels.py)."),
    ] = None,
    text_col: Annotated[
        str, typer.Option("--text-col", help="The column holding the texts.")
    ] = "text",
    label_col: Annotated[
        str, typer.Option("--label-col", help="The column holding the labels.")
    ] = "label",
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="Write per-row predictions to this CSV (or .jsonl) file, and the "
            "misclassified rows to <name>.errors.csv beside it.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Evaluate a model pack or model on a labelled file."""
    from tqdm import tqdm

    from emotiondesk.data import read_records
    from emotiondesk.errors import InvalidInputError
    from emotiondesk.evaluation.evaluate import evaluate_file

    with user_errors():
        if task not in ("polarity", "emotion"):
            raise InvalidInputError(f"--task must be polarity or emotion, not {task!r}")
        # a missing or unreadable file is reported before any progress bar
        total = len(read_records(data)[1])
        with tqdm(total=total, unit="msg", desc="evaluate", leave=False) as bar:
            result = evaluate_file(
                data,
                task=task,
                model=model,
                binary=binary,
                dataset=dataset,
                progress=bar.update,
                text_column=text_col,
                label_column=label_col,
                predictions=predictions,
            )
    if as_json:
        print_json(result)
        return
    err_console.print(
        f"{result['model']} on {data} ({result['n']} rows, task {task}"
        f"{', binary' if binary else ''})"
    )
    table = Table()
    for col in ("label", "precision", "recall", "f1", "support"):
        table.add_column(col, justify="right" if col != "label" else "left")
    for label, row in result["per_class"].items():
        table.add_row(
            label,
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            str(row["support"]),
        )
    console = Console()
    console.print(table)
    console.print(f"accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}")
    if predictions is not None:
        err_console.print(
            f"wrote per-row predictions to {result['predictions']} and the "
            f"{result['n_errors']} misclassified rows to {result['errors']}",
            highlight=False,
        )
