"""``emotiondesk practice``: answer a virtual customer; every reply is scored on the rubric."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from emotiondesk.cli.common import err_console, print_json, read_lines, user_errors
from emotiondesk.errors import EmotionDeskError

HELP = {
    "en": "Reply to the customer and press Enter; '/quit' (or Ctrl-D) ends and shows the report.",
    "zh": "输入您的回复并回车；'/quit'（或 Ctrl-D）结束并查看报告。",
}
PROMPT = {"zh": "客服> ", "en": "agent> "}


def _bar(anger: float) -> str:
    filled = round(anger * 20)
    colour = "red" if anger >= 0.7 else "yellow" if anger >= 0.4 else "green"
    return f"[{colour}]{'█' * filled}{'░' * (20 - filled)}[/] {anger:.2f}"


def _render_step(console: Console, step: Any, language: str) -> None:
    card = step.scorecard
    score = card.get("score")
    console.print(
        f"[bold]score[/] {score if score is not None else '–'}   [bold]anger[/] {_bar(step.anger)}"
    )
    for c in card["criteria"]:
        if c["verdict"] == "fail":
            ev = f' ("{escape(c["evidence"]["text"])}")' if c.get("evidence") else ""
            console.print(f"  [red]✗ {c['criterion']}[/]{ev}")
    if step.reply:
        who = "顾客" if language == "zh" else "customer"
        console.print(f"[bold cyan]{who}:[/] {escape(step.reply)}")


def _render_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"{report['title']} · {report['outcome']}", show_lines=False)
    table.add_column("turn")
    table.add_column("score")
    table.add_column("anger")
    table.add_column("failed")
    for s in report["steps"]:
        table.add_row(
            str(s["turn"]),
            str(s["score"]),
            f"{s['anger_before']:.2f} → {s['anger']:.2f}",
            ", ".join(s["scorecard"]["failed"]) or "–",
        )
    console.print(table)
    console.print(f"[bold]conversation score[/] {report['score']}")
    console.print(
        "[bold]emotion curve[/] " + " → ".join(f"{a:.2f}" for a in report["emotion_curve"])
    )
    for item in report["practise_next"]:
        nxt = f" (try the '{item['scenario']}' scenario)" if item.get("scenario") else ""
        console.print(f"[bold]practise next:[/] {escape(item['advice'])}{nxt}")


def practice_command(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="A scenario id (see --list) or a .yaml file.")
    ] = "late_delivery",
    lang: Annotated[str, typer.Option("--lang", help="zh or en.")] = "en",
    difficulty: Annotated[
        str, typer.Option("--difficulty", help="easy, normal or hard.")
    ] = "normal",
    seed: Annotated[int, typer.Option("--seed", help="Picks the customer's lines.")] = 0,
    rubric: Annotated[
        str | None, typer.Option("--rubric", help="A rubric YAML file (default: shipped).")
    ] = None,
    list_only: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON object per reply, then {'report': ...} on stdout."),
    ] = False,
) -> None:
    """Practise with a virtual customer whose anger follows the rubric scores of your replies."""
    from emotiondesk.agentqa import AgentScorer, PracticeSession, list_scenarios, load_rubric
    from emotiondesk.agentqa.practice import load_scenario
    from emotiondesk.config import get_settings
    from emotiondesk.replies.llm import LLMBackend

    if list_only:
        items: list[dict[str, Any]] = [
            {"id": s.id, "title": dict(s.titles), "emotion": s.emotion, "languages": s.languages}
            for s in list_scenarios()
        ]
        if as_json:
            print_json(items)
        else:
            for it in items:
                sys.stdout.write(
                    f"{it['id']}\t{it['title'].get('en', '')}\t{it['title'].get('zh', '')}\n"
                )
        return
    with user_errors():
        session = PracticeSession(
            load_scenario(scenario),
            language=lang,
            difficulty=difficulty,
            seed=seed,
            scorer=AgentScorer(load_rubric(rubric)),
            llm=LLMBackend.from_settings(get_settings()),  # varies the lines when configured
        )
    console = Console()
    if as_json:
        print_json({"scenario": session.scenario.id, "customer": session.opening})
    else:
        err_console.print(f"[dim]{HELP.get(lang, HELP['en'])}[/]")
        who = "顾客" if lang == "zh" else "customer"
        console.print(f"[bold cyan]{who}:[/] {escape(session.opening)}")
    for line in read_lines(PROMPT.get(lang, PROMPT["en"])):
        try:
            step = session.reply(line)
        except EmotionDeskError as exc:
            err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False)
            continue
        if as_json:
            print_json(step.to_dict())
        else:
            _render_step(console, step, lang)
        if session.done:
            break
    report = session.report()
    if as_json:
        print_json({"report": report})
    else:
        _render_report(console, report)
