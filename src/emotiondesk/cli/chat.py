"""``emotiondesk chat``: play the customer and watch the engine turn by turn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from emotiondesk.cli.common import err_console, print_json, read_lines, user_errors
from emotiondesk.errors import EmotionDeskError, InvalidInputError

HELP = (
    "Type what the customer says and press Enter. "
    "'/agent TEXT' adds an agent turn, '/state' shows the trajectory, '/quit' (or Ctrl-D) ends."
)
PROMPT = {"zh": "顾客> ", "en": "customer> "}
HELP_ZH = "输入顾客说的话并回车。'/agent 文本' 添加客服发言，'/state' 查看会话走势，'/quit'（或 Ctrl-D）结束。"

#: What a turn's panel says, in the conversation's language (zh or en).
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "emotion": "emotion",
        "polarity": "polarity",
        "score": "score",
        "trend": "trend",
        "per_turn": "/turn",
        "risk": "risk",
        "satisfaction": "satisfaction",
        "read_alone": "read alone: {a}; in context: {b}",
        "risk_reasons": "risk reasons:",
        "decision": "decision",
        "reason": "reason",
        "no_decision": "no decision this turn",
        "llm": "LLM unavailable ({e}); template replies shown",
        "turn": "turn {n}",
    },
    "zh": {
        "emotion": "情绪",
        "polarity": "极性",
        "score": "情感分",
        "trend": "趋势",
        "per_turn": "/轮",
        "risk": "风险",
        "satisfaction": "预测满意度",
        "read_alone": "单独理解：{a}；结合上下文：{b}",
        "risk_reasons": "风险原因：",
        "decision": "决策",
        "reason": "原因",
        "no_decision": "本轮无决策",
        "llm": "大模型不可用（{e}），显示模板回复",
        "turn": "第 {n} 轮",
    },
}
VALUES_ZH = {
    "anger": "愤怒",
    "disgust": "厌恶",
    "fear": "担忧",
    "joy": "喜悦",
    "sadness": "悲伤",
    "surprise": "惊讶",
    "neutral": "平静",
    "positive": "正面",
    "negative": "负面",
    "worsening": "恶化",
    "improving": "好转",
    "stable": "平稳",
    "escalate_to_senior": "转高级客服",
    "apologise": "致歉",
    "reassure": "安抚",
    "comfort": "安慰",
    "recommend": "推荐商品",
    "alert": "通知主管",
    "tag": "标记",
    "empathy": "共情",
    "closing": "结束语",
    "answer": "解答",
    "action": "处理",
}


#: Risk reasons by code, in Chinese (the contribution follows in brackets).
REASONS_ZH = {
    "anger": "客户很生气",
    "worsening_trend": "情感持续下降",
    "negative_streak": "连续多轮负面",
    "request_human": "要求转人工",
    "request_manager": "要求找经理",
    "request_complaint": "威胁投诉",
    "request_refund": "要求退款",
    "request_cancel": "想要取消",
    "repetition": "客户在重复自己的话",
    "long_unresolved": "多轮对话仍未解决",
    "model": "不满意度模型",
}


def _ui_language(lang: str, out: Any) -> str:
    if lang in ("zh", "en"):
        return lang
    return "zh" if getattr(out.analysis, "language", None) == "zh" else "en"


def _render(console: Console, out: Any, lang: str = "en") -> None:
    ui = _ui_language(lang, out)
    L = LABELS[ui]

    def v(value: Any) -> str:
        return VALUES_ZH.get(str(value), str(value)) if ui == "zh" else str(value)

    r = out.reading
    t = out.trajectory
    risk = out.risk
    head = Table.grid(padding=(0, 2))
    head.add_row(
        f"[bold]{L['emotion']}[/] {v(r.emotion)} ({r.emotion_scores.get(r.emotion, 0):.2f})",
        f"[bold]{L['polarity']}[/] {v(r.polarity)}",
        f"[bold]{L['score']}[/] {r.score:.2f}",
        f"[bold]{L['trend']}[/] {v(t.trend)} ({t.slope:+.2f}{L['per_turn']})",
        f"[bold]{L['risk']}[/] {risk.value:.2f}",
        f"[bold]{L['satisfaction']}[/] {risk.satisfaction:.1f}/5",
    )
    if r.context_weight > 0 and r.emotion != out.analysis.emotion:
        text = L["read_alone"].format(a=v(out.analysis.emotion), b=v(r.emotion))
        head.add_row(f"[dim]{escape(text)}[/]")
    body: list[Any] = [head]
    if risk.reasons:
        details = [
            f"{REASONS_ZH[x.code]}（{x.contribution:.2f}）"
            if ui == "zh" and x.code in REASONS_ZH
            else x.detail
            for x in risk.reasons
        ]
        body.append(f"[bold]{L['risk_reasons']}[/] " + escape("; ".join(details)))
    if out.decisions:
        dec = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        dec.add_column(L["decision"])
        dec.add_column(L["reason"])
        for d in out.decisions:
            label = v(d.action) + (
                f" {d.params.get('value') or d.params.get('severity')}" if d.params else ""
            )
            # the rule's own words and the matched conditions (technical detail)
            dec.add_row(escape(label), f"[dim]{escape(d.reason)}[/]")
        body.append(dec)
    else:
        body.append(f"[dim]{L['no_decision']}[/]")
    if out.suggestions is not None:
        for i, sug in enumerate(out.suggestions.suggestions, start=1):
            body.append(f"[bold]{i}. {v(sug.kind)}[/]  {escape(sug.text)}")
        if out.suggestions.llm_error:
            body.append(f"[yellow]{escape(L['llm'].format(e=out.suggestions.llm_error))}[/]")
    from rich.console import Group

    style = "red" if risk.value >= 0.7 else "yellow" if risk.value >= 0.4 else "green"
    console.print(Panel(Group(*body), title=L["turn"].format(n=out.turn + 1), border_style=style))


def chat_command(
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
    if not as_json:
        err_console.print(f"[dim]{HELP_ZH if lang == 'zh' else HELP}[/]")
    for line in read_lines(PROMPT.get(lang, PROMPT["en"])):
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
            _render(console, out, lang)
