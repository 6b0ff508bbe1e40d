"""Service policy: YAML rules that turn a turn's facts into decisions with reasons.

Example:
    >>> from emotiondesk.policy import PolicyEngine
    >>> engine = PolicyEngine.default()     # the shipped zh + en rules
    >>> len(engine.rules) > 5
    True
"""

from __future__ import annotations

from emotiondesk.policy.rules import (
    ACTIONS,
    Decision,
    PolicyEngine,
    PolicyError,
    PolicyResult,
    Rule,
    load_policy,
)

__all__ = [
    "ACTIONS",
    "Decision",
    "PolicyEngine",
    "PolicyError",
    "PolicyResult",
    "Rule",
    "load_policy",
]
