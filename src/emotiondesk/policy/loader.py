"""The one reader of rule files: YAML with line numbers, checked against the vocabulary.

A file that breaks the rule language fails with :class:`PolicyError` naming
the file, the line and what is wrong. The user's rule file is named by the
setting ``policy_file`` (``EMOTIONDESK_POLICY_FILE``); without it the shipped
``default_rules.yaml`` is read.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from emotiondesk.policy.model import (
    _CMP_RE,
    _OPS,
    Action,
    Condition,
    PolicyError,
    Rule,
    _Formatter,
)
from emotiondesk.policy.vocabulary import (
    ACTIONS,
    ALERT_SEVERITIES,
    BOOL_FIELDS,
    NUMERIC_FIELDS,
    RULE_KEYS,
    SAMPLE_FACTS,
    SET_FIELDS,
    STRING_FIELDS,
)

DEFAULT_RULES = "default_rules.yaml"


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


def _canon(op: str) -> str:
    return {"==": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}.get(op, op)


def parse_rules(text: str, source: str = "<string>") -> list[Rule]:
    """The enabled rules of a rule file's text (``source`` names it in errors)."""
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


def read_rules(path: str | Path | None = None) -> tuple[list[Rule], str]:
    """The rules of the file at ``path`` (or the shipped default rules) and its name."""
    if path is None:
        res = resources.files("emotiondesk.policy").joinpath(DEFAULT_RULES)
        return parse_rules(res.read_text(encoding="utf-8"), DEFAULT_RULES), DEFAULT_RULES
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError("the file does not exist", source=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot be read ({exc})", source=str(p)) from None
    return parse_rules(text, str(p)), str(p)


__all__ = ["DEFAULT_RULES", "Any", "parse_rules", "read_rules"]
