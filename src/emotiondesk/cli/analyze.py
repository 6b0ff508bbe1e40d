"""``emotiondesk analyze``: analyse messages with a model pack."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from emotiondesk.cli.common import print_json, user_errors
from emotiondesk.errors import DataError, InvalidInputError

if TYPE_CHECKING:
    from emotiondesk.analyzer import AnalysisResult
    from emotiondesk.explain import Evidence

BATCH = 512


def read_lines(path: Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file ('-' for stdin)."""
    import sys

    if str(path) == "-":
        data = sys.stdin.buffer.read()
    else:
        if not path.is_file():
            raise DataError(f"input file {str(path)!r} does not exist")
        data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 (byte {exc.start}): convert it, e.g. "
            f"`iconv -f GBK -t UTF-8 {path} > fixed.txt`"
        ) from None
    return [line for line in text.splitlines() if line.strip()]


def analyze_command(
    texts: Annotated[list[str] | None, typer.Argument(help="Messages to analyse.")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A UTF-8 file, one message a line ('-' = stdin)."),
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="auto (detect per message), zh or en.")
    ] = "auto",
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="'default' (the shipped pack), a pack directory or a model directory (train --out).",
        ),
    ] = "default",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per text on stdout.")
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Show the words that drove polarity and emotion (JSON: an 'evidence' field).",
        ),
    ] = False,
) -> None:
    """Tell how each message feels: polarity, 0-1 score and emotion."""
    from tqdm import tqdm

    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.usecases.analyze_messages import evidence_dicts, explain_results, to_rows

    with user_errors():
        items = list(texts or [])
        if file is not None:
            items.extend(read_lines(file))
        if not items:
            raise InvalidInputError("nothing to analyse: pass TEXT arguments or --file FILE")
        if lang not in ("auto", "zh", "en"):
            raise InvalidInputError(f"--lang must be auto, zh or en, not {lang!r}")
        analyzer = load_analyzer(model)
        results = []
        evidence: list[Evidence] = []
        show = len(items) > BATCH
        with tqdm(total=len(items), disable=not show, unit="msg") as bar:
            for start in range(0, len(items), BATCH):
                chunk = items[start : start + BATCH]
                batch = analyzer.analyze(chunk, language=None if lang == "auto" else lang)
                results.extend(batch)
                if explain:
                    evidence.extend(explain_results(analyzer, batch))
                bar.update(len(chunk))
    if as_json:
        for row in to_rows(results, evidence if explain else None, analyzer):
            print_json(row)
        return
    if explain:
        print_explained(results, evidence_dicts(results, evidence, analyzer))
        return
    table = Table(show_lines=False)
    for col in ("text", "lang", "polarity", "score", "emotion", "confidence"):
        table.add_column(col)
    for r in results:
        shown = r.text if len(r.text) <= 60 else r.text[:57] + "..."
        table.add_row(
            shown,
            r.language,
            r.polarity,
            f"{r.score:.2f}",
            r.emotion,
            f"{r.emotion_scores[r.emotion]:.2f}",
        )
    Console().print(table)


#: Highlight styles: the spans that pushed towards the label, by its polarity; against it.
_TOWARDS = {"negative": "bold white on red", "positive": "bold black on green"}
_AGAINST = "underline dim"
_ASPECT = {"negative": "red", "positive": "green", "neutral": "yellow"}


def print_explained(results: Sequence[AnalysisResult], evidence: Sequence[dict[str, Any]]) -> None:
    """Each message with its evidence highlighted, the spans with their weights, its aspects.

    ``evidence``: per message the JSON evidence (``evidence_dicts``): the tasks'
    spans, the aspects with their opinions, and the note.
    """
    console = Console()
    for r, ev in zip(results, evidence, strict=True):
        text = Text(r.text)
        towards = _TOWARDS.get(r.polarity, "bold black on yellow")
        for span in ev["polarity"]["spans"]:
            text.stylize(towards if span["weight"] > 0 else _AGAINST, span["start"], span["end"])
        head = Text(
            f"{r.language}  {r.polarity} {r.score:.2f}  {r.emotion} "
            f"{r.emotion_scores[r.emotion]:.2f}",
            style="bold",
        )
        console.print(head)
        console.print(text)
        for name in ("polarity", "emotion"):
            task = ev[name]
            shown = ", ".join(f"{s['text']!r} {s['weight']:+.3f}" for s in task["spans"]) or "-"
            console.print(f"  {name} {task['label']} ({task['method']}): {shown}", markup=False)
        for a in ev["aspects"]:
            line = Text("  aspect ")
            line.append(a["aspect"], style="bold")
            if a["term"] and a["term"] != a["aspect"]:
                line.append(f" ({a['term']!r})")
            line.append(f" {a['polarity']}", style=_ASPECT.get(a["polarity"], ""))
            if a["negated"]:
                line.append(" negated", style="italic")
            opinions = [
                f"{o['text']!r}{' (negated)' if o['negated'] else ''} {o['polarity']}"
                for o in a["opinions"]
            ]
            line.append(": " + (", ".join(opinions) or "no opinion word"))
            console.print(line)
        if not ev["aspects"]:
            console.print("  aspects: -")
        if ev["note"]:
            console.print(f"  note: {ev['note']}", markup=False)
        console.print()
