"""``emotiondesk robustness``: the behavioural (CheckList-style) suite, failure rates per test."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from emotiondesk.cli.common import print_json, user_errors


def robustness_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="'default' (the shipped pack), a pack directory or a model directory (train --out).",
        ),
    ] = "default",
    lang: Annotated[
        list[str] | None,
        typer.Option("--lang", help="Suite language(s) to run (default: all shipped: zh, en)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the case sampling.")] = 0,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many cases per test (a quick run).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Run the behavioural test suite (MFT, INV, DIR; zh and en) against a model pack."""
    from tqdm import tqdm

    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.evaluation.robustness import run_suite, suite_languages

    with user_errors():
        languages = lang or suite_languages()
        unknown = sorted(set(languages) - set(suite_languages()))
        if unknown:
            from emotiondesk.errors import InvalidInputError

            raise InvalidInputError(f"no suite for {unknown}; choose from {suite_languages()}")
        analyzer = load_analyzer(model)
        with tqdm(unit="text", desc="robustness", leave=False) as bar:
            report = run_suite(
                analyzer.analyze, languages, seed=seed, limit=limit, progress=bar.update
            )
    result = {"model": analyzer.version, "seed": seed, "languages": report}
    if as_json:
        print_json(result)
        return
    table = Table(title=f"behavioural suite: failure rate per test ({analyzer.version})")
    for col in ("language", "test", "type", "n", "failures", "failure rate", "target", "met"):
        table.add_column(col, justify="left" if col in ("language", "test", "type") else "right")
    for language, tests in report.items():
        for name, row in tests.items():
            table.add_row(
                language,
                name,
                row["type"],
                str(row["n"]),
                str(row["failures"]),
                f"{100 * row['failure_rate']:.1f} %",
                f"<= {100 * row['target']:.0f} %",
                "yes" if row["met"] else "[red]no[/]",
            )
    Console().print(table)
