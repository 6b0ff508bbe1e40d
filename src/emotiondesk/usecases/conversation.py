"""A conversation turn: the one pipeline from a message to decisions and replies.

Example:
    >>> from emotiondesk import load_analyzer                  # doctest: +SKIP
    >>> engine = ConversationEngine(load_analyzer())           # doctest: +SKIP
    >>> state = engine.new_state("c-1")                        # doctest: +SKIP
    >>> out = engine.process(state, "where is my parcel?!")    # doctest: +SKIP
    >>> out = engine.process(state, "still nothing, I want a refund")  # doctest: +SKIP
    >>> out.risk.value, [d.action for d in out.decisions]      # doctest: +SKIP
    (0.52, ['reassure', 'tag'])

Per customer turn: the message is analysed (or an analysis is passed in), read
in the context of the window (:mod:`emotiondesk.dialogue.context`), the
trajectory is updated (:mod:`emotiondesk.dialogue.trajectory`), the escalation
risk assessed (:mod:`emotiondesk.dialogue.risk`), the policy evaluated
(:mod:`emotiondesk.policy`) and replies suggested (:mod:`emotiondesk.replies`);
the outcome is one typed :class:`TurnResult`. Agent turns are analysed and
kept as context only. The state is mutated in place; work per turn is bounded
by the window.

For stored conversations (the service, on every ingested message) the same
pipeline runs behind a :class:`ConversationHook`: a callable taking the
conversation (its stored ``state`` among it), the previous turns and the new
turn, each a mapping::

    conversation    id, channel, customer_id, product_id, category, agent_id,
                    metadata, state (what the previous turn stored)
    history, turn   seq, role, text (PII-masked), analysis (AnalysisResult.to_dict()),
                    sent_at (datetime or None); history oldest first, at most
                    HISTORY_TURNS

and returning the JSON-serialisable state to store. :class:`DialogueHook` is
the default; the setting ``EMOTIONDESK_CONVERSATION_ENGINE`` names another as
``"module:attribute"`` (an attribute with a ``from_settings`` classmethod is
built from the settings first). The state :class:`DialogueHook` stores::

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
    alerts          [{kind, severity, title, details}]: stored as one alert row each
    tags, escalated
    dialogue        the engine's own state (bounded window; read back on the next turn)

:class:`StoredTurnState` reads the figures other layers need (risk,
escalation) back from a stored state, in one place.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from emotiondesk.analyzer import AnalysisResult
from emotiondesk.config import DIALOGUE_WINDOW, MAX_TEXT_CHARS
from emotiondesk.dialogue.context import (
    ContextParams,
    ContextTurn,
    ContextualReading,
    read_in_context,
    shipped_context_params,
)
from emotiondesk.dialogue.cues import explicit_requests, is_plain_question, shingles, similarity
from emotiondesk.dialogue.risk import EscalationModel, Risk, RiskRules, assess_risk
from emotiondesk.dialogue.state import (
    AGENT,
    CUSTOMER,
    KEPT_CHARS,
    ConversationState,
    Trajectory,
    TurnRecord,
    normalize_role,
)
from emotiondesk.dialogue.trajectory import (
    EMA_WEIGHT,
    policy_facts,
    turn_features,
    update_trajectory,
)
from emotiondesk.errors import ConfigError, InvalidInputError

if TYPE_CHECKING:
    from emotiondesk.analyzer import Analyzer
    from emotiondesk.policy.rules import Decision, PolicyEngine
    from emotiondesk.replies.suggest import ReplySuggester, SuggestionSet

logger = logging.getLogger(__name__)

#: Longest message accepted (characters); the analyzer reads head and tail anyway.
MAX_MESSAGE_CHARS = MAX_TEXT_CHARS
#: Previous turns a hook is given (the dialogue state carries the rest).
HISTORY_TURNS = 20


@dataclass
class TurnResult:
    """Everything one turn produced (what the API returns).

    New per-turn outputs (agent scores, evidence behind a decision) belong
    here as fields, so every caller gets them typed.
    """

    turn: int
    role: str
    analysis: AnalysisResult
    reading: ContextualReading
    trajectory: Trajectory
    risk: Risk | None = None
    decisions: list[Decision] = field(default_factory=list)
    suggestions: SuggestionSet | None = None
    requests: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "role": self.role,
            "analysis": self.analysis.to_dict(),
            "in_context": self.reading.to_dict(),
            "trajectory": self.trajectory.to_dict(),
            "risk": self.risk.to_dict() if self.risk is not None else None,
            "requests": list(self.requests),
            "decisions": [d.to_dict() for d in self.decisions],
            "suggestions": (
                self.suggestions.to_dict()["suggestions"] if self.suggestions is not None else []
            ),
            "recommended": self.suggestions.recommended if self.suggestions is not None else [],
            "llm_error": self.suggestions.llm_error if self.suggestions is not None else None,
        }


#: The earlier name of :class:`TurnResult`.
TurnOutcome = TurnResult


class ConversationEngine:
    """Analysis in context, trajectory, risk, policy and replies for each turn.

    Args:
        analyzer: the message analyzer (``None`` if every call passes ``analysis=``).
        policy: the rule engine (default: the shipped rules).
        suggester: the reply suggester (default: templates + shipped FAQ and catalog).
        risk_model: the learned escalation model (default: shipped).
        risk_rules: the numbers of the risk rules (default: shipped ``risk_rules.yaml``).
        context_params: per-language context blending (default: shipped, measured).
        window: turns kept per conversation.
    """

    def __init__(
        self,
        analyzer: Analyzer | None = None,
        *,
        policy: PolicyEngine | None = None,
        suggester: ReplySuggester | None = None,
        risk_model: EscalationModel | None = None,
        risk_rules: RiskRules | None = None,
        context_params: Mapping[str, ContextParams] | None = None,
        window: int = DIALOGUE_WINDOW,
        suggest: bool = True,
    ) -> None:
        from emotiondesk.policy.rules import PolicyEngine
        from emotiondesk.replies.suggest import ReplySuggester

        self.analyzer = analyzer
        self.policy = policy if policy is not None else PolicyEngine.default()
        self.suggester = (
            (suggester if suggester is not None else ReplySuggester()) if suggest else None
        )
        self.risk_model = risk_model if risk_model is not None else EscalationModel.load()
        self.risk_rules = risk_rules if risk_rules is not None else RiskRules.load()
        self.context_params = dict(
            context_params if context_params is not None else shipped_context_params()
        )
        self.window = window

    @classmethod
    def from_settings(cls, analyzer: Analyzer | None, settings: Any = None) -> ConversationEngine:
        """An engine configured by :class:`emotiondesk.config.Settings` (rules, FAQ, catalog, LLM)."""
        from emotiondesk.config import get_settings
        from emotiondesk.policy.rules import load_policy
        from emotiondesk.replies.knowledge import Catalog, FaqIndex
        from emotiondesk.replies.llm import LLMBackend
        from emotiondesk.replies.suggest import ReplySuggester

        s = settings if settings is not None else get_settings()
        suggester = ReplySuggester(
            faq=FaqIndex.load(s.faq_file),
            catalog=Catalog.load(s.catalog_file),
            llm=LLMBackend.from_settings(s),
        )
        return cls(
            analyzer,
            policy=load_policy(s.policy_file),
            suggester=suggester,
            risk_rules=RiskRules.load(s.risk_file),
            window=s.dialogue_window,
        )

    def new_state(
        self,
        conversation_id: str | None = None,
        *,
        channel: str | None = None,
        tier: str | None = None,
    ) -> ConversationState:
        return ConversationState(
            conversation_id=conversation_id, channel=channel, tier=tier, window_size=self.window
        )

    def _params(self, language: str) -> ContextParams:
        return self.context_params.get(language) or self.context_params.get("en") or ContextParams()

    def process(
        self,
        state: ConversationState,
        text: str,
        *,
        role: str = CUSTOMER,
        analysis: AnalysisResult | None = None,
        language: str | None = None,
    ) -> TurnResult:
        """Process one turn and update ``state`` in place.

        Args:
            state: the conversation's state (from :meth:`new_state` or stored).
            text: the message.
            role: ``customer`` (or user) or ``agent`` (or system, bot).
            analysis: the message's analysis when the caller already has it.
            language: ``zh`` / ``en`` to skip detection (when analysing here).

        Raises:
            InvalidInputError: an empty or over-long message, an unknown role.
        """
        role = normalize_role(role)
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("the message is empty: send some text")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInputError(
                f"the message has {len(text)} characters; the limit is {MAX_MESSAGE_CHARS}"
            )
        if analysis is None:
            if self.analyzer is None:
                raise InvalidInputError("this engine has no analyzer: pass analysis=")
            analysis = self.analyzer.analyze([text], language=language)[0]
        history = [ContextTurn(t.role, t.emotion_scores, t.polarity_scores) for t in state.window]
        reading = read_in_context(
            analysis, history, role=role, params=self._params(analysis.language)
        )
        index = state.turn_count
        state.turn_count += 1
        if analysis.language in ("zh", "en") and (role == CUSTOMER or state.language is None):
            state.language = analysis.language
        record = TurnRecord(
            index=index,
            role=role,
            text=text[:KEPT_CHARS],
            language=analysis.language,
            polarity_scores=dict(analysis.polarity_scores),
            emotion_scores=dict(analysis.emotion_scores),
            score=analysis.score,
            emotion=analysis.emotion,
        )
        if role == AGENT:
            state.window.append(record)
            return TurnResult(index, role, analysis, reading, state.trajectory)

        # -- customer turn ------------------------------------------------------------------
        mine = shingles(text[:KEPT_CHARS])
        previous_customer = state.previous(CUSTOMER)
        repetition = max(
            (similarity(mine, shingles(t.text)) for t in previous_customer), default=0.0
        )
        requests = sorted(explicit_requests(text))
        for kind in requests:
            state.requests[kind] = state.requests.get(kind, 0) + 1
        traj = update_trajectory(state, reading, index)
        prev_agent = state.last(AGENT)
        features = turn_features(text, reading, traj, prev_agent, repetition, requests)
        anger = reading.emotion_scores.get("anger", 0.0) + reading.emotion_scores.get(
            "disgust", 0.0
        )
        risk = assess_risk(
            features,
            anger=anger,
            trend=traj.trend,
            slope=traj.slope,
            smoothed_score=traj.smoothed_score if traj.smoothed_score is not None else 0.5,
            consecutive_negative=traj.consecutive_negative,
            requests=requests,
            repetition=repetition,
            customer_turns=traj.customer_turns,
            model=self.risk_model,
            rules=self.risk_rules,
            plain_question=is_plain_question(text),
        )
        state.risk = risk.value
        state.max_risk = max(state.max_risk, risk.value)
        state.satisfaction = (
            risk.satisfaction
            if state.satisfaction is None
            else round(
                state.satisfaction + EMA_WEIGHT * (risk.satisfaction - state.satisfaction), 4
            )
        )
        facts = policy_facts(state, text, reading, traj, risk, requests)
        result = self.policy.evaluate(facts, fired=state.fired, turn=traj.customer_turns)
        state.fired = result.fired
        for d in result.decisions:
            if d.action == "tag" and d.params.get("value") not in state.tags:
                state.tags.append(str(d.params["value"]))
            if d.action == "escalate_to_senior":
                state.escalated = True
        suggestions = None
        if self.suggester is not None:
            from emotiondesk.replies.suggest import SuggestionRequest

            suggestions = self.suggester.suggest(
                SuggestionRequest(
                    text=text,
                    language=analysis.language,
                    emotion=reading.emotion,
                    intensity=reading.emotion_scores.get(reading.emotion, 0.0),
                    polarity=reading.polarity,
                    risk=risk.value,
                    decisions=[d.action for d in result.decisions],
                    reasons=[d.reason for d in result.decisions],
                    history=[(t.role, t.text) for t in state.window],
                    used_templates=list(state.used_templates),
                    first_turn=traj.customer_turns == 1,
                )
            )
            state.used_templates.extend(suggestions.used_templates)
        state.window.append(record)
        return TurnResult(
            turn=index,
            role=role,
            analysis=analysis,
            reading=reading,
            trajectory=traj,
            risk=risk,
            decisions=result.decisions,
            suggestions=suggestions,
            requests=requests,
            features=features,
        )


# -- stored conversations (the service) -------------------------------------------------


class ConversationHook(Protocol):
    """What the service runs on every ingested message (see the module docstring)."""

    def __call__(
        self,
        *,
        conversation: Mapping[str, Any],
        history: Sequence[Mapping[str, Any]],
        turn: Mapping[str, Any],
    ) -> dict[str, Any]: ...


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
    """The service's :class:`ConversationHook`: the pipeline run on stored conversations.

    Restores the conversation's state from what the last turn stored (or
    rebuilds it from the history), runs :meth:`ConversationEngine.process` and
    returns the state to store (its keys are listed in the module docstring).

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


@dataclass(frozen=True)
class StoredTurnState:
    """The figures read back from a stored turn state (the one reader of its keys).

    ``risk`` is ``state["risk"]["value"]`` (:class:`DialogueHook`) or a number
    stored at ``state["risk"]`` (a simpler hook); ``escalate`` is true when a
    decision's action escalates or the state says ``escalated``.
    """

    risk: float | None = None
    escalate: bool = False

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any] | None, *, role: str = "customer"
    ) -> StoredTurnState:
        """The turn's figures; an agent turn has none of its own.

        An agent message's stored state carries the conversation's state over
        (the customer's risk, the escalated flag), but the risk is the
        customer's: the agent's message is never shown as at risk or escalating.
        """
        if role != "customer":
            return cls()
        state = state or {}
        value = state.get("risk")
        if isinstance(value, Mapping):
            value = value.get("value")
        risk = float(value) if isinstance(value, int | float) else None
        escalate = bool(state.get("escalated"))
        decisions = state.get("decisions")
        if isinstance(decisions, list):
            for d in decisions:
                name = d.get("action") if isinstance(d, Mapping) else d
                if isinstance(name, str) and "escalate" in name:
                    escalate = True
        return cls(risk=risk, escalate=escalate)


#: Hook names of earlier releases -> where they live now.
_MOVED = {
    "emotiondesk.dialogue.hook:DialogueHook": "emotiondesk.usecases.conversation:DialogueHook"
}


def resolve_hook(spec: str, settings: Any = None) -> ConversationHook:
    """Import ``"module:attribute"`` and return the hook it names."""
    spec = _MOVED.get(spec, spec)
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


def serialized(hook: ConversationHook) -> ConversationHook:
    """``hook`` behind a lock: ingestion calls it from worker threads, and a hook
    need not be thread-safe (its work is CPU-bound, so the lock costs little)."""
    lock = threading.Lock()

    def call(**kwargs: Any) -> dict[str, Any]:
        with lock:
            return hook(**kwargs)

    call.__wrapped__ = hook  # type: ignore[attr-defined]
    return call  # type: ignore[return-value]
