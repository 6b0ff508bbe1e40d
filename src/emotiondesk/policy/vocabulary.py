"""The vocabulary of a rule file, as data: ``vocabulary.yaml`` beside this module.

The facts a rule may test (with their types and allowed values), the actions
it may take, the alert severities and the keys of a rule. Read once, when the
policy package is first imported; the rule files themselves are the user's
part (the shipped ``default_rules.yaml``, or ``EMOTIONDESK_POLICY_FILE``).

Example:
    >>> NUMERIC_FIELDS[:2], "escalate_to_senior" in ACTIONS
    (('score', 'smoothed_score'), True)
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from emotiondesk.errors import ConfigError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS

VOCABULARY_FILE = "vocabulary.yaml"
_LABEL_SETS: dict[str, tuple[str, ...]] = {"emotion": EMOTION_LABELS, "polarity": POLARITY_LABELS}
_TYPES = ("choice", "number", "set", "bool", "text")


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    """The parsed vocabulary, checked (a broken shipped file is a packaging error)."""
    text = resources.files("emotiondesk.policy").joinpath(VOCABULARY_FILE).read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    for name, spec in data["facts"].items():
        if spec.get("type") not in _TYPES:
            raise ConfigError(f"{VOCABULARY_FILE}: fact {name}: type must be one of {_TYPES}")
        if "labels" in spec and spec["labels"] not in _LABEL_SETS:
            raise ConfigError(f"{VOCABULARY_FILE}: fact {name}: unknown label set")
        if "sample" not in spec:
            raise ConfigError(f"{VOCABULARY_FILE}: fact {name}: needs a sample value")
    return data


def _facts(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(n, s) for n, s in vocabulary()["facts"].items() if s["type"] == kind]


#: Actions a rule may take.
ACTIONS: tuple[str, ...] = tuple(vocabulary()["actions"])
ALERT_SEVERITIES: tuple[str, ...] = tuple(vocabulary()["alert_severities"])
#: Choice facts -> their allowed values (None: any value).
STRING_FIELDS: dict[str, tuple[str, ...] | None] = {
    n: _LABEL_SETS[s["labels"]]
    if "labels" in s
    else (tuple(s["values"]) if "values" in s else None)
    for n, s in _facts("choice")
}
TRENDS: tuple[str, ...] = STRING_FIELDS["trend"] or ()
NUMERIC_FIELDS: tuple[str, ...] = tuple(n for n, _ in _facts("number"))
SET_FIELDS: tuple[str, ...] = tuple(n for n, _ in _facts("set"))
BOOL_FIELDS: tuple[str, ...] = tuple(n for n, _ in _facts("bool"))
RULE_KEYS: tuple[str, ...] = tuple(vocabulary()["rule_keys"])
#: Facts used to check reason templates at load time.
SAMPLE_FACTS: dict[str, Any] = {n: s["sample"] for n, s in vocabulary()["facts"].items()}
