"""Escalation decisions on the customer-service turn set (issue 10: "for the risk thresholds").

    python benchmarks/cs_escalation.py [--model default|PACK_DIR] [--data FILE]
        [--policy RULES.yaml] [--errors FILE.csv] [--json]

Each customer turn of ``benchmarks/data/cs_turns.csv`` is processed as the
first turn of a new conversation by the real conversation engine (analysis,
context, escalation risk, the policy rules: the shipped ones or ``--policy``),
and the script counts which turns the policy hands to a senior agent
(``escalate_to_senior``). What should happen to a first turn is read from the
set's labels, not labelled anew:

* **must escalate**: the ``threat`` and ``anger`` categories (12315, chargeback,
  lawyer, "You people are useless.");
* **must not escalate**: every customer turn labelled neutral or positive
  (polite questions such as 你好，我上周买的空气炸锅怎么还没发货？, thanks, praise,
  negated complaints such as 没有破损);
* **either**: the other negative turns (impatience, complaints, sarcasm, worry,
  disappointment): a team may or may not hand them over on the first turn;
  only their escalation rate is reported.

Figures, per language and overall: recall on "must escalate", the false
escalation rate on "must not", precision over the turns of those two groups,
and the escalation rate of "either" and of each category, with the mean risk.
Agent turns are not customer turns and are left out (the engine never
escalates on them). ``--errors`` writes the missed and the wrongly escalated
rows.

``--sweep`` asks whether a lower risk threshold for escalation (the shipped
rule hands over at ``risk >= 0.7``) would do better, without fitting on the
rows it reports: the customer turns are split in two halves by id (odd
numbers = half A, even = half B, so every category is in both); on half A
the threshold is chosen from 0.20-0.70 (step 0.05) as the one with the
highest recall whose false escalation rate stays <= 5 %; its figures are then
reported on half B next to the shipped threshold's. A turn counts as
escalated at threshold t when the shipped policy escalates it or its risk is
>= t (what lowering that rule's risk condition does on a first turn).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cs_turns import DEFAULT_DATA, LANGS, Turn, read_turns  # noqa: E402

from emotiondesk.errors import DataError, ModelError  # noqa: E402

MUST = ("threat", "anger")
ESCALATE = "escalate_to_senior"


def expected(turn: Turn) -> str:
    """``must``, ``must_not`` or ``either`` for a customer turn."""
    if turn.category in MUST:
        return "must"
    if turn.polarity in ("neutral", "positive"):
        return "must_not"
    return "either"


@dataclass(frozen=True)
class Outcome:
    """What the engine did with one customer turn opening a conversation."""

    turn: Turn
    escalated: bool
    risk: float
    rules: tuple[str, ...]
    reasons: tuple[str, ...]


def run(
    turns: Sequence[Turn], *, model: str = "default", policy: str | None = None
) -> list[Outcome]:
    """Process every customer turn as a first turn; agent turns are skipped."""
    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.policy.rules import load_policy
    from emotiondesk.usecases.conversation import ConversationEngine

    customer = [t for t in turns if t.speaker == "customer"]
    analyzer = load_analyzer(None if model == "default" else Path(model))
    engine = ConversationEngine(
        analyzer, policy=load_policy(policy) if policy else None, suggest=False
    )
    analyses = analyzer.analyze([t.text for t in customer])
    out = []
    for t, analysis in zip(customer, analyses, strict=True):
        state = engine.new_state(t.id)
        res = engine.process(state, t.text, analysis=analysis)
        assert res.risk is not None
        out.append(
            Outcome(
                turn=t,
                escalated=any(d.action == ESCALATE for d in res.decisions),
                risk=res.risk.value,
                rules=tuple(sorted({d.rule for d in res.decisions if d.action == ESCALATE})),
                reasons=tuple(r.code for r in res.risk.reasons),
            )
        )
    return out


def _rate(xs: Sequence[bool]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Recall, false escalation rate, precision and rates for a group of outcomes."""
    by = {k: [o for o in outcomes if expected(o.turn) == k] for k in ("must", "must_not", "either")}
    tp = sum(o.escalated for o in by["must"])
    fp = sum(o.escalated for o in by["must_not"])
    return {
        "n": len(outcomes),
        "n_must": len(by["must"]),
        "n_must_not": len(by["must_not"]),
        "n_either": len(by["either"]),
        "recall": _rate([o.escalated for o in by["must"]]),
        "false_escalation_rate": _rate([o.escalated for o in by["must_not"]]),
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "either_escalation_rate": _rate([o.escalated for o in by["either"]]),
        "escalated": sum(o.escalated for o in outcomes),
    }


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    result: dict[str, Any] = {"overall": figures(outcomes), "by_lang": {}, "by_category": {}}
    for lang in LANGS:
        result["by_lang"][lang] = figures([o for o in outcomes if o.turn.lang == lang])
    for cat in sorted({o.turn.category for o in outcomes}):
        group = [o for o in outcomes if o.turn.category == cat]
        row: dict[str, Any] = {}
        for lang in LANGS:
            g = [o for o in group if o.turn.lang == lang]
            if g:
                row[lang] = {
                    "n": len(g),
                    "escalation_rate": _rate([o.escalated for o in g]),
                    "mean_risk": round(sum(o.risk for o in g) / len(g), 4),
                }
        result["by_category"][cat] = row
    return result


def wrong(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Missed "must" turns and escalated "must not" turns."""
    return [
        o
        for o in outcomes
        if (expected(o.turn) == "must" and not o.escalated)
        or (expected(o.turn) == "must_not" and o.escalated)
    ]


THRESHOLDS = tuple(round(0.2 + 0.05 * i, 2) for i in range(11))
SHIPPED_THRESHOLD = 0.7
MAX_FALSE_ESCALATION = 0.05


def at_threshold(outcomes: Sequence[Outcome], t: float) -> list[Outcome]:
    """The outcomes had the policy also escalated every turn with risk >= ``t``."""
    return [
        Outcome(o.turn, o.escalated or o.risk >= t, o.risk, o.rules, o.reasons) for o in outcomes
    ]


def half(outcomes: Sequence[Outcome], which: str) -> list[Outcome]:
    """Half A (odd id numbers) or B (even)."""
    parity = 1 if which == "A" else 0
    return [o for o in outcomes if int(o.turn.id.rsplit("-", 1)[1]) % 2 == parity]


def sweep(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Choose a risk threshold on half A, report it on half B (see the module docstring)."""
    a, b = half(outcomes, "A"), half(outcomes, "B")
    table = []
    for t in THRESHOLDS:
        fa = figures(at_threshold(a, t))
        table.append({"threshold": t, "A": fa, "B": figures(at_threshold(b, t))})
    ok = [r for r in table if (r["A"]["false_escalation_rate"] or 0.0) <= MAX_FALSE_ESCALATION]
    best = max(ok, key=lambda r: (r["A"]["recall"] or 0.0, r["threshold"]))
    chosen = best["threshold"]
    return {
        "chosen_threshold": chosen,
        "criterion": f"highest recall on half A with false escalation rate <= {MAX_FALSE_ESCALATION}",
        "table": table,
        "B": {
            "shipped": summarise(at_threshold(b, SHIPPED_THRESHOLD))["by_lang"]
            | {"all": figures(at_threshold(b, SHIPPED_THRESHOLD))},
            "chosen": summarise(at_threshold(b, chosen))["by_lang"]
            | {"all": figures(at_threshold(b, chosen))},
        },
    }


def sweep_markdown(s: dict[str, Any]) -> str:
    lines = [
        "| risk threshold | A recall | A false esc. | B recall | B false esc. | B precision |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in s["table"]:
        lines.append(
            f"| {r['threshold']:.2f} | {_fmt(r['A']['recall'])} "
            f"| {_fmt(r['A']['false_escalation_rate'])} | {_fmt(r['B']['recall'])} "
            f"| {_fmt(r['B']['false_escalation_rate'])} | {_fmt(r['B']['precision'])} |"
        )
    lines += [
        "",
        f"chosen on half A ({s['criterion']}): {s['chosen_threshold']:.2f}; on half B:",
        "",
        "| half B | threshold | recall | false escalation rate | precision "
        "| either: escalation rate |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for which, t in (("shipped", SHIPPED_THRESHOLD), ("chosen", s["chosen_threshold"])):
        for lang in ("zh", "en", "all"):
            f = s["B"][which][lang]
            lines.append(
                f"| {lang}, {which} | {t:.2f} | {_fmt(f['recall'])} "
                f"| {_fmt(f['false_escalation_rate'])} | {_fmt(f['precision'])} "
                f"| {_fmt(f['either_escalation_rate'])} |"
            )
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| slice | must escalate: recall | must not: false escalation rate | precision "
        "| either: escalation rate | n must / must not / either |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, f in (
        ("zh", result["by_lang"]["zh"]),
        ("en", result["by_lang"]["en"]),
        ("all", result["overall"]),
    ):
        lines.append(
            f"| {name} | {_fmt(f['recall'])} | {_fmt(f['false_escalation_rate'])} "
            f"| {_fmt(f['precision'])} | {_fmt(f['either_escalation_rate'])} "
            f"| {f['n_must']} / {f['n_must_not']} / {f['n_either']} |"
        )
    lines += [
        "",
        "| category | escalated zh | escalated en | mean risk zh | mean risk en |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for cat, row in result["by_category"].items():
        zh, en = row.get("zh", {}), row.get("en", {})
        lines.append(
            f"| {cat} | {_fmt(zh.get('escalation_rate'))} | {_fmt(en.get('escalation_rate'))} "
            f"| {_fmt(zh.get('mean_risk'))} | {_fmt(en.get('mean_risk'))} |"
        )
    return "\n".join(lines)


def write_errors(outcomes: Sequence[Outcome], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            ["id", "text", "lang", "category", "expected", "escalated", "risk", "rules", "reasons"]
        )
        for o in outcomes:
            w.writerow(
                [
                    o.turn.id,
                    o.turn.text,
                    o.turn.lang,
                    o.turn.category,
                    expected(o.turn),
                    o.escalated,
                    o.risk,
                    "+".join(o.rules),
                    "+".join(o.reasons),
                ]
            )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default", help="default or a pack dir")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the turn set CSV")
    ap.add_argument("--policy", help="a rules YAML file (default: the shipped rules)")
    ap.add_argument("--errors", type=Path, help="write missed / wrongly escalated rows here")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument(
        "--sweep",
        action="store_true",
        help="choose a risk threshold on half A of the set, report it on half B",
    )
    args = ap.parse_args(argv)
    try:
        turns = read_turns(args.data)
        outcomes = run(turns, model=args.model, policy=args.policy)
    except (DataError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = summarise(outcomes)
    result.update({"model": args.model, "policy": args.policy or "shipped", "data": str(args.data)})
    if args.errors:
        bad = wrong(outcomes)
        write_errors(bad, args.errors)
        result["errors_written"] = len(bad)
    if args.sweep:
        result["sweep"] = sweep(outcomes)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(
            f"escalation on first turns: {len(outcomes)} customer turns ({args.data.name}), "
            f"model {args.model}, policy {result['policy']}"
        )
        print()
        print(markdown(result))
        if args.sweep:
            print()
            print(sweep_markdown(result["sweep"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
