"""A YAML rule engine for service decisions, in the style of contact-centre rule builders.

A rule file::

    version: 1
    rules:
      - id: angry_to_senior
        priority: 100            # higher runs first
        cooldown: 3              # customer turns before this rule may fire again
        when:                    # all / any / not, or several keys (= all)
          any:
            - emotion: anger
            - risk: ">= 0.7"
            - request: [human, manager, complaint]
        then:
          - escalate_to_senior
          - tag: angry_customer
          - alert: {severity: high, message: "angry customer"}
        reason: "the customer is {emotion} (risk {risk:.2f})"
        stop: false              # true: lower-priority rules are skipped when this fires

Condition keys (facts of the turn): ``emotion``, ``polarity``, ``language``,
``channel``, ``tier``, ``trend`` (worsening / improving / stable) take a value
or a list; numbers (``score``, ``smoothed_score``, ``slope``, ``risk``,
``satisfaction``, ``intensity``, ``anger``, ``turn``, ``turns``,
``consecutive_negative``, ``model_probability``) take a number, a string such
as ``">= 0.7"`` or a mapping ``{gte: 0.7}`` (ops: eq ne gt gte lt lte
between in, or the symbols); ``keywords`` a list (any present, or
``{all: [...]}``; a keyword that starts or ends with a Latin letter or digit
matches whole words only at that end, so ``sue`` does not fire on "issue",
Chinese keywords match anywhere); ``request`` and ``risk_reason`` a kind or a list;
``closing``, ``escalated`` and ``question`` (a plain question, no sign of
frustration) a boolean; ``tag`` a tag already on the conversation.

Actions: ``escalate_to_senior``, ``comfort``, ``apologise``, ``reassure``,
``recommend``, ``tag`` (needs a value), ``alert`` (severity, message).

Every decision carries a reason: the rule's ``reason`` (formatted with the
facts) followed by the conditions that matched. A file that breaks any of
this fails at load with :class:`PolicyError` naming the file, the line and
what is wrong.
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from emotiondesk.errors import ConfigError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS

logger = logging.getLogger(__name__)

ACTIONS: tuple[str, ...] = (
    "escalate_to_senior",
    "comfort",
    "apologise",
    "reassure",
    "recommend",
    "tag",
    "alert",
)
ALERT_SEVERITIES = ("low", "medium", "high", "critical")
TRENDS = ("worsening", "improving", "stable")
STRING_FIELDS: dict[str, tuple[str, ...] | None] = {
    "emotion": EMOTION_LABELS,
    "polarity": POLARITY_LABELS,
    "language": ("zh", "en", "other"),
    "trend": TRENDS,
    "channel": None,
    "tier": None,
}
NUMERIC_FIELDS = (
    "score",
    "smoothed_score",
    "slope",
    "risk",
    "satisfaction",
    "intensity",
    "anger",
    "turn",
    "turns",
    "consecutive_negative",
    "model_probability",
)
SET_FIELDS = ("request", "risk_reason", "tag")
BOOL_FIELDS = ("closing", "escalated", "question")
RULE_KEYS = (
    "id",
    "description",
    "priority",
    "cooldown",
    "when",
    "then",
    "reason",
    "stop",
    "enabled",
)

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_SYMBOL = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_CMP_RE = re.compile(r"^\s*(==|!=|>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")

#: Facts used to check reason templates at load time.
SAMPLE_FACTS: dict[str, Any] = {
    "emotion": "neutral",
    "polarity": "neutral",
    "language": "en",
    "trend": "stable",
    "channel": "chat",
    "tier": "standard",
    "score": 0.5,
    "smoothed_score": 0.5,
    "slope": 0.0,
    "risk": 0.0,
    "satisfaction": 3.0,
    "intensity": 0.5,
    "anger": 0.0,
    "turn": 1,
    "turns": 1,
    "consecutive_negative": 0,
    "model_probability": 0.0,
    "request": [],
    "risk_reason": [],
    "tag": [],
    "closing": False,
    "question": False,
    "escalated": False,
    "text": "",
}


class PolicyError(ConfigError):
    """A rule file is invalid: says which file, which line and what is wrong."""

    code = "invalid_policy"

    def __init__(self, reason: str, *, source: str, line: int | None = None) -> None:
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"invalid rule file {where}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


# -- conditions ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    k = keyword.lower()
    head = r"(?<![0-9a-z])" if k[:1].isascii() and k[:1].isalnum() else ""
    tail = r"(?![0-9a-z])" if k[-1:].isascii() and k[-1:].isalnum() else ""
    return re.compile(head + re.escape(k) + tail)


def keyword_in(keyword: str, text: str) -> bool:
    """Whether ``keyword`` occurs in the lower-cased ``text`` (Latin ends on word boundaries)."""
    return _keyword_pattern(keyword).search(text) is not None


@dataclass(frozen=True)
class Condition:
    """A node of a rule's condition tree."""

    kind: str  # all | any | not | leaf
    children: tuple[Condition, ...] = ()
    field: str = ""
    op: str = ""
    value: Any = None
    line: int = 0

    def evaluate(self, facts: Mapping[str, Any]) -> tuple[bool, list[str]]:
        """Whether the condition holds, and the matched leaves in words."""
        if self.kind == "all":
            why: list[str] = []
            for child in self.children:
                ok, sub = child.evaluate(facts)
                if not ok:
                    return False, []
                why.extend(sub)
            return True, why
        if self.kind == "any":
            for child in self.children:
                ok, sub = child.evaluate(facts)
                if ok:
                    return True, sub
            return False, []
        if self.kind == "not":
            ok, _ = self.children[0].evaluate(facts)
            return (not ok), ([f"not ({self.children[0].describe()})"] if not ok else [])
        return self._leaf(facts)

    def describe(self) -> str:
        if self.kind == "leaf":
            return f"{self.field} {self.op} {self.value}"
        if self.kind == "not":
            return f"not ({self.children[0].describe()})"
        joiner = " and " if self.kind == "all" else " or "
        return joiner.join(c.describe() for c in self.children)

    def _leaf(self, facts: Mapping[str, Any]) -> tuple[bool, list[str]]:
        name = self.field
        if name == "keywords":
            text = str(facts.get("text", "")).lower()
            hits = [k for k in self.value if keyword_in(k, text)]
            ok = bool(hits) if self.op == "any" else len(hits) == len(self.value)
            return ok, ([f"keywords {', '.join(hits)}"] if ok else [])
        actual = facts.get(name)
        if name in SET_FIELDS:
            present = set(actual or ())
            hits = sorted(present & set(self.value))
            ok = bool(hits) if self.op == "any" else not hits
            shown = ", ".join(hits) if hits else ", ".join(self.value)
            return ok, (
                [f"{name} {'' if self.op == 'any' else 'not '}{shown}".strip()] if ok else []
            )
        if actual is None:
            return False, []
        if self.op in ("in", "not_in"):
            ok = (actual in self.value) == (self.op == "in")
        elif self.op == "between":
            lo, hi = self.value
            ok = lo <= actual <= hi
        else:
            ok = _OPS[self.op](actual, self.value)
        if not ok:
            return False, []
        shown = f"{actual:.2f}" if isinstance(actual, float) else str(actual)
        if isinstance(self.value, bool):
            return True, [name if self.value else f"not {name}"]
        if (self.op == "in" and len(self.value) == 1) or (
            self.op == "eq" and name in STRING_FIELDS
        ):
            return True, [f"{name}={shown}"]
        if self.op in ("in", "not_in"):
            return True, [f"{name}={shown} ({self.op.replace('_', ' ')} {list(self.value)})"]
        if self.op == "between":
            return True, [f"{name} {shown} in [{self.value[0]}, {self.value[1]}]"]
        return True, [f"{name} {shown} {_SYMBOL.get(self.op, self.op)} {_num(self.value)}"]


# -- actions, rules, decisions --------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    id: str
    when: Condition
    then: tuple[Action, ...]
    priority: int = 0
    cooldown: int = 0
    reason: str = ""
    description: str = ""
    stop: bool = False
    line: int = 0


@dataclass(frozen=True)
class Decision:
    """One action the policy decided on, with the rule and the reason."""

    action: str
    rule: str
    priority: int
    reason: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PolicyResult:
    decisions: list[Decision]
    fired: dict[str, int]
    suppressed: list[str] = field(default_factory=list)


class _Formatter(dict):  # type: ignore[type-arg]
    """format_map facts: missing keys raise KeyError (caught at load)."""


class PolicyEngine:
    """Evaluates a rule set on the facts of a turn.

    Example:
        >>> engine = PolicyEngine.from_yaml('''
        ... rules:
        ...   - id: angry
        ...     when: {emotion: anger}
        ...     then: [escalate_to_senior]
        ...     reason: "angry customer"
        ... ''')
        >>> facts = dict(SAMPLE_FACTS, emotion="anger")
        >>> [d.action for d in engine.evaluate(facts, fired={}, turn=1).decisions]
        ['escalate_to_senior']
    """

    def __init__(self, rules: Sequence[Rule], *, source: str = "<rules>") -> None:
        self.rules = sorted(rules, key=lambda r: -r.priority)  # stable: file order breaks ties
        self.source = source

    # -- loading ----------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<string>") -> PolicyEngine:
        return cls(_parse(text, source), source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> PolicyEngine:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PolicyError("the file does not exist", source=str(p)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot be read ({exc})", source=str(p)) from None
        return cls.from_yaml(text, source=str(p))

    @classmethod
    def default(cls) -> PolicyEngine:
        """The shipped default rule set (zh and en)."""
        res = resources.files("emotiondesk.policy").joinpath("default_rules.yaml")
        return cls.from_yaml(res.read_text(encoding="utf-8"), source="default_rules.yaml")

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(
        self, facts: Mapping[str, Any], *, fired: Mapping[str, int], turn: int
    ) -> PolicyResult:
        """Decide on the turn ``turn`` (customer turns, 1-based).

        ``fired`` maps rule ids to the turn they last fired (the cooldown
        memory kept in the conversation state); the result carries the
        updated map.
        """
        decisions: list[Decision] = []
        seen: set[tuple[str, str]] = set()
        new_fired = dict(fired)
        suppressed: list[str] = []
        for rule in self.rules:
            ok, why = rule.when.evaluate(facts)
            if not ok:
                continue
            last = fired.get(rule.id)
            if last is not None and rule.cooldown > 0 and turn - last <= rule.cooldown:
                suppressed.append(rule.id)
                continue
            new_fired[rule.id] = turn
            reason = _format_reason(rule, facts, why)
            for act in rule.then:
                key = (
                    act.name,
                    str(sorted(act.params.items())) if act.name in ("tag", "alert") else "",
                )
                if key in seen:
                    continue
                seen.add(key)
                decisions.append(
                    Decision(
                        action=act.name,
                        rule=rule.id,
                        priority=rule.priority,
                        reason=reason,
                        params=dict(act.params),
                    )
                )
            if rule.stop:
                break
        return PolicyResult(decisions=decisions, fired=new_fired, suppressed=suppressed)


def _format_reason(rule: Rule, facts: Mapping[str, Any], why: list[str]) -> str:
    matched = "; ".join(why) if why else rule.when.describe()
    head = ""
    if rule.reason:
        try:
            head = rule.reason.format_map(_Formatter(facts))
        except (KeyError, ValueError, IndexError) as exc:  # facts without a key the template names
            logger.warning("rule %s: reason template failed (%s)", rule.id, exc)
            head = rule.reason
    return f"{head} [{rule.id}: {matched}]" if head else f"[{rule.id}: {matched}]"


# -- parsing with line numbers ----------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.constructor = SafeConstructor()

    def fail(self, node: Node | None, reason: str) -> PolicyError:
        line = node.start_mark.line + 1 if node is not None else None
        return PolicyError(reason, source=self.source, line=line)

    def value(self, node: Node) -> Any:
        return self.constructor.construct_object(node, deep=True)

    def mapping(self, node: Node, what: str) -> list[tuple[str, Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        items: list[tuple[str, Node, Node]] = []
        seen: set[str] = set()
        for knode, vnode in node.value:
            if not isinstance(knode, ScalarNode):
                raise self.fail(knode, f"{what}: keys must be plain names")
            key = str(knode.value)
            if key in seen:
                raise self.fail(knode, f"{what}: duplicate key {key!r}")
            seen.add(key)
            items.append((key, knode, vnode))
        return items

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def string(self, node: Node, what: str) -> str:
        v = self.value(node) if isinstance(node, ScalarNode) else None
        if isinstance(v, int | float) and not isinstance(v, bool):
            v = str(node.value)  # 12315, a numeric tier: read as written
        if not isinstance(v, str) or not v.strip():
            raise self.fail(node, f"{what} must be a non-empty string")
        return v

    def integer(self, node: Node, what: str, *, minimum: int | None = None) -> int:
        v = self.value(node) if isinstance(node, ScalarNode) else None
        if not isinstance(v, int) or isinstance(v, bool):
            raise self.fail(node, f"{what} must be an integer")
        if minimum is not None and v < minimum:
            raise self.fail(node, f"{what} must be >= {minimum}")
        return v

    def boolean(self, node: Node, what: str) -> bool:
        v = self.value(node) if isinstance(node, ScalarNode) else None
        if not isinstance(v, bool):
            raise self.fail(node, f"{what} must be true or false")
        return v

    def strings(self, node: Node, what: str) -> tuple[str, ...]:
        if isinstance(node, SequenceNode):
            items = [self.string(n, what) for n in node.value]
            if not items:
                raise self.fail(node, f"{what} must not be an empty list")
            return tuple(items)
        return (self.string(node, what),)

    # -- conditions --------------------------------------------------------------------

    def condition(self, node: Node) -> Condition:
        items = self.mapping(node, "a condition")
        if not items:
            raise self.fail(node, "a condition must not be empty")
        parts = [self.clause(key, knode, vnode) for key, knode, vnode in items]
        if len(parts) == 1:
            return parts[0]
        return Condition("all", tuple(parts), line=node.start_mark.line + 1)

    def clause(self, key: str, knode: Node, vnode: Node) -> Condition:
        line = knode.start_mark.line + 1
        if key in ("all", "any"):
            children = tuple(self.condition(n) for n in self.sequence(vnode, f"'{key}'"))
            if not children:
                raise self.fail(vnode, f"'{key}' needs at least one condition")
            return Condition(key, children, line=line)
        if key == "not":
            return Condition("not", (self.condition(vnode),), line=line)
        if key in STRING_FIELDS:
            return self.string_leaf(key, vnode, line)
        if key in NUMERIC_FIELDS:
            return self.numeric_leaf(key, vnode, line)
        if key == "keywords":
            if isinstance(vnode, MappingNode):
                (mode, mknode, mvnode), *rest = self.mapping(vnode, "keywords")
                if rest or mode not in ("any", "all"):
                    raise self.fail(mknode, "keywords takes a list, {any: [...]} or {all: [...]}")
                return Condition(
                    "leaf", field=key, op=mode, value=self.strings(mvnode, "a keyword"), line=line
                )
            return Condition(
                "leaf", field=key, op="any", value=self.strings(vnode, "a keyword"), line=line
            )
        if key in SET_FIELDS:
            if isinstance(vnode, MappingNode):
                (mode, mknode, mvnode), *rest = self.mapping(vnode, key)
                if rest or mode not in ("any", "none"):
                    raise self.fail(
                        mknode, f"{key} takes a value, a list, {{any: [...]}} or {{none: [...]}}"
                    )
                return Condition(
                    "leaf", field=key, op=mode, value=self.strings(mvnode, key), line=line
                )
            return Condition("leaf", field=key, op="any", value=self.strings(vnode, key), line=line)
        if key in BOOL_FIELDS:
            return Condition("leaf", field=key, op="eq", value=self.boolean(vnode, key), line=line)
        known = ", ".join(
            [
                "all",
                "any",
                "not",
                "keywords",
                *STRING_FIELDS,
                *NUMERIC_FIELDS,
                *SET_FIELDS,
                *BOOL_FIELDS,
            ]
        )
        raise self.fail(knode, f"unknown condition {key!r}; known: {known}")

    def string_leaf(self, key: str, vnode: Node, line: int) -> Condition:
        allowed = STRING_FIELDS[key]
        op = "in"
        target = vnode
        if isinstance(vnode, MappingNode):
            (op, onode, target), *rest = self.mapping(vnode, key)
            if rest or op not in ("in", "not_in", "eq", "ne"):
                raise self.fail(onode, f"{key} takes a value, a list, or one of in/not_in/eq/ne")
            if op in ("eq", "ne"):
                op = "in" if op == "eq" else "not_in"
        values = self.strings(target, key)
        if allowed is not None:
            for v, n in zip(
                values, target.value if isinstance(target, SequenceNode) else [target], strict=True
            ):
                if v not in allowed:
                    raise self.fail(n, f"{key} {v!r} is not one of {', '.join(allowed)}")
        return Condition("leaf", field=key, op=op, value=values, line=line)

    def numeric_leaf(self, key: str, vnode: Node, line: int) -> Condition:
        if isinstance(vnode, MappingNode):
            items = self.mapping(vnode, key)
            if len(items) != 1:
                raise self.fail(
                    vnode, f"{key}: give one comparison (e.g. {{gte: 0.7}}); use all: for ranges"
                )
            op, onode, target = items[0]
            if op == "between":
                bounds = [self.number(n, key) for n in self.sequence(target, f"{key} between")]
                if len(bounds) != 2 or bounds[0] > bounds[1]:
                    raise self.fail(target, f"{key} between takes [low, high] with low <= high")
                return Condition("leaf", field=key, op="between", value=tuple(bounds), line=line)
            if op == "in":
                values = tuple(self.number(n, key) for n in self.sequence(target, f"{key} in"))
                return Condition("leaf", field=key, op="in", value=values, line=line)
            if op not in _OPS:
                raise self.fail(
                    onode,
                    f"unknown comparison {op!r}; use eq ne gt gte lt lte between in (or == != > >= < <=)",
                )
            return Condition(
                "leaf", field=key, op=_canon(op), value=self.number(target, key), line=line
            )
        v = self.value(vnode) if isinstance(vnode, ScalarNode) else None
        if isinstance(v, str):
            m = _CMP_RE.match(v)
            if not m:
                raise self.fail(vnode, f"{key}: cannot read comparison {v!r} (write e.g. '>= 0.7')")
            return Condition(
                "leaf", field=key, op=_canon(m.group(1)), value=float(m.group(2)), line=line
            )
        return Condition("leaf", field=key, op="eq", value=self.number(vnode, key), line=line)

    def number(self, node: Node, what: str) -> float:
        v = self.value(node) if isinstance(node, ScalarNode) else None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(node, f"{what} needs a number, got {getattr(node, 'value', node)!r}")
        return float(v)

    # -- actions and rules -------------------------------------------------------------

    def action(self, node: Node) -> Action:
        if isinstance(node, ScalarNode):
            name = self.string(node, "an action")
            params: dict[str, Any] = {}
            pnode: Node | None = None
        else:
            items = self.mapping(node, "an action")
            keys = {k for k, _, _ in items}
            if "action" in keys:
                d = {k: (kn, vn) for k, kn, vn in items}
                name = self.string(d["action"][1], "action")
                params = {k: self.value(vn) for k, (_, vn) in d.items() if k != "action"}
                pnode = node
            elif len(items) == 1:
                name, _, pnode = items[0]
                raw = self.value(pnode)
                if isinstance(raw, dict):
                    params = raw
                elif raw is None:
                    params = {}
                else:
                    params = {"severity" if name == "alert" else "value": raw}
            else:
                raise self.fail(node, "an action is a name, {name: params} or {action: name, ...}")
        if name not in ACTIONS:
            raise self.fail(node, f"unknown action {name!r}; known: {', '.join(ACTIONS)}")
        if name == "tag" and (
            not isinstance(params.get("value"), str) or not params["value"].strip()
        ):
            raise self.fail(pnode or node, "tag needs a value, e.g. {tag: angry_customer}")
        if name == "alert":
            sev = params.setdefault("severity", "medium")
            if sev not in ALERT_SEVERITIES:
                raise self.fail(
                    pnode or node,
                    f"alert severity {sev!r} is not one of {', '.join(ALERT_SEVERITIES)}",
                )
            extra = set(params) - {"severity", "message"}
            if extra:
                raise self.fail(
                    pnode or node, f"alert takes severity and message, not {sorted(extra)}"
                )
        return Action(name=name, params=params)

    def rule(self, node: Node) -> Rule | None:
        items = self.mapping(node, "a rule")
        d = {k: (kn, vn) for k, kn, vn in items}
        for key, kn, _ in items:
            if key not in RULE_KEYS:
                raise self.fail(kn, f"unknown rule key {key!r}; known: {', '.join(RULE_KEYS)}")
        for required in ("id", "when", "then"):
            if required not in d:
                raise self.fail(node, f"a rule needs '{required}'")
        rid = self.string(d["id"][1], "id")
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", rid):
            raise self.fail(d["id"][1], f"rule id {rid!r} may use letters, digits, _ . - only")
        when = self.condition(d["when"][1])
        then = tuple(self.action(n) for n in self.sequence(d["then"][1], "'then'"))
        if not then:
            raise self.fail(d["then"][1], "'then' needs at least one action")
        reason = self.string(d["reason"][1], "reason") if "reason" in d else ""
        if reason:
            try:
                reason.format_map(_Formatter(SAMPLE_FACTS))
            except (KeyError, ValueError, IndexError) as exc:
                raise self.fail(
                    d["reason"][1], f"reason template: unknown or bad placeholder {exc}"
                ) from None
        enabled = self.boolean(d["enabled"][1], "enabled") if "enabled" in d else True
        if not enabled:
            return None
        return Rule(
            id=rid,
            when=when,
            then=then,
            priority=self.integer(d["priority"][1], "priority") if "priority" in d else 0,
            cooldown=self.integer(d["cooldown"][1], "cooldown", minimum=0)
            if "cooldown" in d
            else 0,
            reason=reason,
            description=self.string(d["description"][1], "description")
            if "description" in d
            else "",
            stop=self.boolean(d["stop"][1], "stop") if "stop" in d else False,
            line=node.start_mark.line + 1,
        )


def _num(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _canon(op: str) -> str:
    return {"==": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}.get(op, op)


def _parse(text: str, source: str) -> list[Rule]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyError(
            f"not valid YAML ({exc.problem or exc.context})", source=source, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML ({exc})", source=source) from None
    parser = _Parser(source)
    if root is None:
        raise PolicyError("the file is empty; it needs a 'rules:' list", source=source)
    rules_node: Node
    if isinstance(root, SequenceNode):
        rules_node = root
    else:
        items = parser.mapping(root, "the rule file")
        d = {k: (kn, vn) for k, kn, vn in items}
        for key, kn, _ in items:
            if key not in ("version", "rules", "description"):
                raise parser.fail(
                    kn, f"unknown top-level key {key!r}; expected version, description, rules"
                )
        if "version" in d and parser.value(d["version"][1]) != 1:
            raise parser.fail(d["version"][1], "only version 1 rule files are understood")
        if "rules" not in d:
            raise parser.fail(root, "the rule file needs a 'rules:' list")
        rules_node = d["rules"][1]
    rules: list[Rule] = []
    ids: dict[str, int] = {}
    for node in parser.sequence(rules_node, "'rules'"):
        rule = parser.rule(node)
        if rule is None:
            continue
        if rule.id in ids:
            raise parser.fail(node, f"duplicate rule id {rule.id!r} (first at line {ids[rule.id]})")
        ids[rule.id] = rule.line
        rules.append(rule)
    return rules


def load_policy(path: str | Path | None = None) -> PolicyEngine:
    """The rule set at ``path`` or, with ``None``, the shipped default rules."""
    return PolicyEngine.default() if path is None else PolicyEngine.from_file(path)
