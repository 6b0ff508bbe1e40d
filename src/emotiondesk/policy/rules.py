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

Where things are: the vocabulary (facts, actions, severities, rule keys) is
data, ``vocabulary.yaml`` (:mod:`emotiondesk.policy.vocabulary`); the one
reader of rule files is :mod:`emotiondesk.policy.loader`; conditions, rules
and decisions are :mod:`emotiondesk.policy.model`; this module evaluates a
rule set. The rule file in use is the setting ``policy_file``
(``EMOTIONDESK_POLICY_FILE``), else the shipped ``default_rules.yaml``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emotiondesk.policy.loader import parse_rules, read_rules
from emotiondesk.policy.model import (
    Action,
    Condition,
    Decision,
    PolicyError,
    PolicyResult,
    Rule,
    _Formatter,
    keyword_in,
)
from emotiondesk.policy.vocabulary import ACTIONS, SAMPLE_FACTS

logger = logging.getLogger(__name__)

__all__ = [
    "ACTIONS",
    "SAMPLE_FACTS",
    "Action",
    "Condition",
    "Decision",
    "PolicyEngine",
    "PolicyError",
    "PolicyResult",
    "Rule",
    "keyword_in",
    "load_policy",
]


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
        return cls(parse_rules(text, source), source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> PolicyEngine:
        rules, source = read_rules(path)
        return cls(rules, source=source)

    @classmethod
    def default(cls) -> PolicyEngine:
        """The shipped default rule set (zh and en)."""
        rules, source = read_rules(None)
        return cls(rules, source=source)

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


def load_policy(path: str | Path | None = None) -> PolicyEngine:
    """The rule set at ``path`` or, with ``None``, the shipped default rules."""
    return PolicyEngine.default() if path is None else PolicyEngine.from_file(path)
