"""What a rule file becomes: conditions, actions, rules, decisions (and the error for a bad file).

The vocabulary (facts, actions) is data, ``vocabulary.yaml``; the reading of a
rule file is :mod:`emotiondesk.policy.loader`; the evaluation of a rule set is
:class:`emotiondesk.policy.rules.PolicyEngine`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from emotiondesk.errors import ConfigError
from emotiondesk.policy.vocabulary import SET_FIELDS, STRING_FIELDS

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


def _num(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
