"""The seam where conversation intelligence plugs into message ingestion.

On every ingested message the service calls the configured *conversation
engine* with the conversation, its previous turns and the new turn, and stores
the dict it returns as the conversation's ``state`` (and as the message's
state at that turn); the ingestion response returns it. The dialogue layer
(trajectory, escalation risk, policy decisions, reply suggestions) is such an
engine: it lives in ``emotiondesk.dialogue`` and needs nothing from the service.

An engine is any callable::

    def engine(*, conversation: Mapping, history: Sequence[Mapping], turn: Mapping) -> dict

- ``conversation``: ``id, channel, customer_id, product_id, category,
  agent_id, metadata, state`` (the state after the previous turn);
- ``history``: the previous turns, oldest first (at most ``HISTORY_TURNS``);
- ``turn`` and each history item: ``seq, role, text`` (PII-masked),
  ``analysis`` (the ``/v1/analyze`` result dict), ``sent_at`` (datetime or None).

It returns a JSON-serialisable dict. An ``alerts`` list in it (items with
``kind, severity, title, details``) becomes alert rows for the conversation,
stored in the same transaction as the message. The setting ``EMOTIONDESK_CONVERSATION_ENGINE``
names it as ``"module:attribute"``; an attribute with a ``from_settings``
classmethod is built with the settings first (so an engine can load its rules
once). The default is the dialogue layer,
``emotiondesk.dialogue.hook:DialogueHook``; :func:`basic_engine` keeps simple
running figures only.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from emotiondesk.errors import ConfigError

HISTORY_TURNS = 20

ConversationEngine = Callable[..., dict[str, Any]]


def basic_engine(
    *,
    conversation: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    turn: Mapping[str, Any],
) -> dict[str, Any]:
    """Running figures over the customer's turns: first, last and mean score, last emotion.

    Incremental: it reads its previous figures from the conversation's state,
    so it is exact however long the conversation (``history`` is bounded).
    """
    prev = conversation.get("state") or {}
    if prev.get("engine") != "basic":  # first turn, or the conversation began elsewhere
        customer_hist = [t for t in history if t.get("role") == "customer"]
        prev = {"turns": len(history), "customer_turns": 0, "score_sum": 0.0}
        for t in customer_hist:
            prev = _basic_step(prev, t)
    state = dict(prev)
    state["engine"] = "basic"
    state["turns"] = int(prev.get("turns", 0))
    if turn.get("role") == "customer":
        state = _basic_step(state, turn)
    state["turns"] += 1
    return state


def _basic_step(prev: Mapping[str, Any], turn: Mapping[str, Any]) -> dict[str, Any]:
    analysis = turn.get("analysis") or {}
    state = dict(prev)
    state["customer_turns"] = int(prev.get("customer_turns", 0)) + 1
    state["last_polarity"] = analysis.get("polarity")
    state["last_emotion"] = analysis.get("emotion")
    if "score" in analysis:
        score = float(analysis["score"])
        state["score_sum"] = float(prev.get("score_sum", 0.0)) + score
        if prev.get("score_first") is None:
            state["score_first"] = round(score, 4)
        state["score_last"] = round(score, 4)
        state["score_mean"] = round(state["score_sum"] / state["customer_turns"], 4)
    return state


def resolve_engine(spec: str, settings: Any = None) -> ConversationEngine:
    """Import ``"module:attribute"`` and return the engine it names."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"conversation engine {spec!r} must look like 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load conversation engine {spec!r}: {exc}") from None
    if hasattr(obj, "from_settings"):
        obj = obj.from_settings(settings)
    if not callable(obj):
        raise ConfigError(f"conversation engine {spec!r} is not callable")
    return obj  # type: ignore[no-any-return]


def serialized(engine: ConversationEngine) -> ConversationEngine:
    """``engine`` behind a lock: ingestion calls it from worker threads, and an engine
    need not be thread-safe (its work is CPU-bound, so the lock costs little)."""
    lock = threading.Lock()

    def call(**kwargs: Any) -> dict[str, Any]:
        with lock:
            return engine(**kwargs)

    call.__wrapped__ = engine  # type: ignore[attr-defined]
    return call
