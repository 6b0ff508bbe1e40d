"""The conversation engine as the service runs it on every ingested message.

The service (``emotiondesk.service.engine``) calls an engine with the
conversation (its stored ``state`` among it), the previous turns and the new
turn (each with its ``analysis`` dict), and stores the dict returned as the
conversation's and the message's ``state``. :class:`DialogueHook` is that
engine for the dialogue layer; it needs nothing from the service.

The returned dict::

    engine          "dialogue"
    turns, customer_turns, last_emotion, last_polarity
    in_context      the turn read in context (emotion, polarity, score, weight)
    trajectory      start / now / smoothed score, slope, trend, streaks, anger peaks
    risk            {value, reasons: [{code, detail, contribution}], model_probability, satisfaction}
    satisfaction    predicted satisfaction (1-5), smoothed over the conversation
    requests        explicit requests in this turn (human, complaint, refund, ...)
    decisions       [{action, rule, priority, reason, params}] (customer turns)
    suggestions     [{kind, text, source, score}] (up to three, customer turns)
    recommended     catalog ids behind a recommendation
    alerts          [{kind, severity, title, details}]: the service stores one alert row each
    tags, escalated
    dialogue        the engine's own state (bounded window; read back on the next turn)

Timestamps do not reorder turns: turns are read in the order the service
stores them. A conversation whose stored state has no ``dialogue`` part (it
began under another engine) is rebuilt from the last turns of the history.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from emotiondesk.analyzer import AnalysisResult
from emotiondesk.dialogue.engine import ConversationEngine
from emotiondesk.dialogue.state import CUSTOMER, ConversationState
from emotiondesk.errors import InvalidInputError

logger = logging.getLogger(__name__)

_RESULT_FIELDS = tuple(AnalysisResult.__dataclass_fields__)


def analysis_from_dict(data: Mapping[str, Any], text: str) -> AnalysisResult:
    """An :class:`AnalysisResult` from its ``to_dict()`` form."""
    try:
        values = {k: data[k] for k in _RESULT_FIELDS if k in data}
        values.setdefault("text", text)
        return AnalysisResult(**values)
    except TypeError as exc:
        raise InvalidInputError(f"the turn's analysis is incomplete: {exc}") from None


class DialogueHook:
    """Callable conversation engine for the service (see the module docstring).

    Args:
        engine: the conversation engine (its analyzer is not used: the service
            passes each turn's analysis).
    """

    def __init__(self, engine: ConversationEngine) -> None:
        self.engine = engine

    @classmethod
    def from_settings(cls, settings: Any = None) -> DialogueHook:
        """Rules, FAQ, catalog, LLM backend and window from the settings."""
        return cls(ConversationEngine.from_settings(None, settings))

    def _replay(self, state: ConversationState, turns: Sequence[Mapping[str, Any]]) -> None:
        """Fold stored turns into ``state`` without suggestions (context only)."""
        suggester, self.engine.suggester = self.engine.suggester, None
        try:
            for t in turns:
                if not str(t.get("text") or "").strip() or not t.get("analysis"):
                    state.turn_count += 1
                    continue
                self.engine.process(
                    state,
                    t["text"],
                    role=t["role"],
                    analysis=analysis_from_dict(t["analysis"], t["text"]),
                )
        finally:
            self.engine.suggester = suggester

    def _restore(
        self, conversation: Mapping[str, Any], history: Sequence[Mapping[str, Any]]
    ) -> ConversationState:
        """The state after the last stored turn.

        The stored state is checked against the history's sequence numbers:
        turns it has not seen (stored concurrently, or under another engine)
        are folded in from the history; if it is missing or too far behind,
        the state is rebuilt from the last turns of the history (bounded).
        """
        stored = (conversation.get("state") or {}).get("dialogue")
        last_seq = int(history[-1].get("seq") or len(history)) if history else 0
        state: ConversationState | None = None
        if stored:
            try:
                state = ConversationState.from_dict(stored)
            except InvalidInputError:
                logger.warning(
                    "conversation %s: stored dialogue state unreadable; rebuilding",
                    conversation.get("id"),
                )
        if state is not None and state.turn_count == last_seq:
            return state
        if state is not None and state.turn_count < last_seq:
            missing = [t for t in history if int(t.get("seq") or 0) > state.turn_count]
            first = int(missing[0].get("seq") or 0) if missing else 0
            if missing and first == state.turn_count + 1:
                self._replay(state, missing)
                return state
        state = self.engine.new_state(str(conversation.get("id") or ""))
        tail = list(history)[-self.engine.window :]
        state.turn_count = max(0, last_seq - len(tail))
        self._replay(state, tail)
        return state

    def __call__(
        self,
        *,
        conversation: Mapping[str, Any],
        history: Sequence[Mapping[str, Any]],
        turn: Mapping[str, Any],
    ) -> dict[str, Any]:
        state = self._restore(conversation, history)
        meta = conversation.get("metadata") or {}
        state.conversation_id = str(conversation.get("id") or state.conversation_id or "")
        state.channel = conversation.get("channel") or state.channel
        tier = meta.get("tier") or meta.get("customer_tier")
        state.tier = str(tier) if tier else state.tier
        text = str(turn.get("text") or "")
        out = self.engine.process(
            state,
            text,
            role=turn.get("role", CUSTOMER),
            analysis=analysis_from_dict(turn.get("analysis") or {}, text),
        )
        turn_view = out.to_dict()
        alerts = [
            {
                "kind": "policy",
                "severity": d.params.get("severity", "medium"),
                "title": d.params.get("message") or d.reason,
                "details": {
                    "rule": d.rule,
                    "reason": d.reason,
                    "turn": out.turn,
                    "risk": state.risk,
                },
            }
            for d in out.decisions
            if d.action == "alert"
        ]
        traj = state.trajectory
        return {
            "engine": "dialogue",
            "turns": state.turn_count,
            "customer_turns": traj.customer_turns,
            "last_emotion": traj.current_emotion,
            "last_polarity": _last_polarity(state),
            "in_context": turn_view["in_context"],
            "trajectory": turn_view["trajectory"],
            "risk": turn_view["risk"] or {"value": state.risk, "reasons": [], "carried_over": True},
            "satisfaction": state.satisfaction,
            "requests": turn_view["requests"],
            "decisions": turn_view["decisions"],
            "suggestions": turn_view["suggestions"],
            "recommended": turn_view["recommended"],
            "llm_error": turn_view["llm_error"],
            "alerts": alerts,
            "tags": list(state.tags),
            "escalated": state.escalated,
            "dialogue": state.to_dict(),
        }


def _last_polarity(state: ConversationState) -> str | None:
    last = state.last(CUSTOMER)
    if last is None:
        return None
    return max(last.polarity_scores, key=last.polarity_scores.__getitem__)
