"""``emotiondesk chat``: play the customer and watch the engine turn by turn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from emotiondesk.cli.common import err_console, print_json, user_errors
from emotiondesk.errors import EmotionDeskError, InvalidInputError

HELP = (
    "Type what the customer says and press Enter. "
    "'/agent TEXT' adds an agent turn, '/state' shows the trajectory, '/quit' (or Ctrl-D) ends."
)
PROMPT = {"zh": "顾客> ", "en": "customer> "}


def _render(console: Console, out: Any) -> None:
    r = out.reading
    t = out.trajectory
    risk = out.risk
    head = Table.grid(padding=(0, 2))
    head.add_row(
        f"[bold]emotion[/] {r.emotion} ({r.emotion_scores.get(r.emotion, 0):.2f})",
        f"[bold]polarity[/] {r.polarity}",
        f"[bold]score[/] {r.score:.2f}",
        f"[bold]trend[/] {t.trend} ({t.slope:+.2f}/turn)",
        f"[bold]risk[/] {risk.value:.2f}",
        f"[bold]satisfaction[/] {risk.satisfaction:.1f}/5",
    )
    if r.context_weight > 0 and r.emotion != out.analysis.emotion:
        head.add_row(f"[dim]read alone: {out.analysis.emotion}; in context: {r.emotion}[/]")
    body: list[Any] = [head]
    if risk.reasons:
        body.append("[bold]risk reasons:[/] " + escape("; ".join(x.detail for x in risk.reasons)))
    if out.decisions:
        dec = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        dec.add_column("decision")
        dec.add_column("reason")
        for d in out.decisions:
            label = d.action + (
                f" {d.params.get('value') or d.params.get('severity')}" if d.params else ""
            )
            dec.add_row(escape(label), escape(d.reason))
        body.append(dec)
    else:
        body.append("[dim]no decision this turn[/]")
    if out.suggestions is not None:
        for i, s in enumerate(out.suggestions.suggestions, start=1):
            body.append(f"[bold]{i}. {s.kind}[/]  {escape(s.text)}")
        if out.suggestions.llm_error:
            body.append(
                f"[yellow]LLM unavailable ({escape(out.suggestions.llm_error)}); template replies shown[/]"
            )
    from rich.console import Group

    style = "red" if risk.value >= 0.7 else "yellow" if risk.value >= 0.4 else "green"
    console.print(Panel(Group(*body), title=f"turn {out.turn + 1}", border_style=style))


def chat_command(
    lang: Annotated[
        str, typer.Option("--lang", help="auto (detect per message), zh or en.")
    ] = "auto",
    model: Annotated[
        str, typer.Option("--model", help="'default' (the shipped pack) or a pack directory.")
    ] = "default",
    rules: Annotated[
        Path | None, typer.Option("--rules", help="A YAML rule file (default: the shipped rules).")
    ] = None,
    faq: Annotated[Path | None, typer.Option("--faq", help="An FAQ file (YAML or CSV).")] = None,
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="A product catalog (CSV or YAML).")
    ] = None,
    tier: Annotated[
        str | None, typer.Option("--tier", help="The customer's tier (e.g. vip).")
    ] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="The channel (web, app, ...).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per turn on stdout (no panels).")
    ] = False,
) -> None:
    """Play the customer: see each turn's emotion, risk, decisions and suggested replies."""
    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.config import get_settings
    from emotiondesk.usecases.conversation import ConversationEngine

    with user_errors():
        if lang not in ("auto", "zh", "en"):
            raise InvalidInputError(f"--lang must be auto, zh or en, not {lang!r}")
        overrides = {
            k: v
            for k, v in {"policy_file": rules, "faq_file": faq, "catalog_file": catalog}.items()
            if v
        }
        settings = get_settings().model_copy(update=overrides)
        engine = ConversationEngine.from_settings(load_analyzer(model), settings)
    state = engine.new_state("chat", channel=channel, tier=tier)
    language = None if lang == "auto" else lang
    console = Console()
    interactive = sys.stdin.isatty()
    if not as_json:
        err_console.print(f"[dim]{HELP}[/]")
    while True:
        try:
            line = input(PROMPT.get(lang, PROMPT["en"]) if interactive else "")
        except (EOFError, KeyboardInterrupt):
            break
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            break
        if line == "/state":
            print_json(state.trajectory.to_dict()) if as_json else console.print(
                state.trajectory.to_dict()
            )
            continue
        role = "customer"
        if line.startswith("/agent"):
            role, line = "agent", line[len("/agent") :].strip()
        try:
            out = engine.process(state, line, role=role, language=language)
        except EmotionDeskError as exc:
            err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False)
            continue
        if as_json:
            print_json(out.to_dict())
        elif role == "customer":
            _render(console, out)
