"""The conversation engine: one call per turn, from a message to decisions and replies.

Example:
    >>> from emotiondesk import load_analyzer                  # doctest: +SKIP
    >>> engine = ConversationEngine(load_analyzer())           # doctest: +SKIP
    >>> state = engine.new_state("c-1")                        # doctest: +SKIP
    >>> out = engine.process(state, "where is my parcel?!")    # doctest: +SKIP
    >>> out = engine.process(state, "still nothing, I want a refund")  # doctest: +SKIP
    >>> out.risk.value, [d.action for d in out.decisions]      # doctest: +SKIP
    (0.52, ['reassure', 'tag'])

Per customer turn: the message is analysed (or an analysis is passed in), read
in the context of the window (:mod:`~emotiondesk.dialogue.context`), the
trajectory is updated, the escalation risk assessed
(:mod:`~emotiondesk.dialogue.risk`), the policy evaluated
(:mod:`emotiondesk.policy`) and replies suggested
(:mod:`emotiondesk.replies`). Agent turns are analysed and kept as context
only. The state is mutated in place; work per turn is bounded by the window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emotiondesk.analyzer import AnalysisResult
from emotiondesk.dialogue.context import (
    ContextParams,
    ContextTurn,
    ContextualReading,
    read_in_context,
    shipped_context_params,
)
from emotiondesk.dialogue.cues import (
    explicit_requests,
    is_closing,
    is_frustrated,
    is_negation,
    is_plain_question,
    is_unhelpful,
    shingles,
    similarity,
)
from emotiondesk.dialogue.risk import EscalationModel, Risk, assess_risk
from emotiondesk.dialogue.state import (
    AGENT,
    CUSTOMER,
    KEPT_CHARS,
    MAX_PEAKS,
    ConversationState,
    Trajectory,
    TurnRecord,
    normalize_role,
)
from emotiondesk.errors import InvalidInputError

if TYPE_CHECKING:
    from emotiondesk.analyzer import Analyzer
    from emotiondesk.policy.rules import Decision, PolicyEngine
    from emotiondesk.replies.suggest import ReplySuggester, SuggestionSet

#: Smoothing of the customer's score (exponential moving average weight of the new turn).
EMA_WEIGHT = 0.5
#: Scores kept for the slope (customer turns).
SLOPE_TURNS = 5
#: Slope per turn beyond which the trend is worsening / improving.
TREND_THRESHOLD = 0.04
#: A customer turn is negative below this score (or with negative polarity).
NEGATIVE_SCORE = 0.4
#: Anger probability from which a turn counts as an anger peak.
PEAK_ANGER = 0.5
#: Longest message accepted (characters); the analyzer reads head and tail anyway.
MAX_MESSAGE_CHARS = 20_000


@dataclass
class TurnOutcome:
    """Everything a turn produced (what the API returns)."""

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


def _slope(values: list[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    mx = (n - 1) / 2
    my = sum(values) / n
    den = sum((i - mx) ** 2 for i in range(n))
    return sum((i - mx) * (v - my) for i, v in enumerate(values)) / den


def update_trajectory(
    state: ConversationState, reading: ContextualReading, turn: int
) -> Trajectory:
    """Fold one customer reading into the state's trajectory (bounded work)."""
    t = state.trajectory
    t.customer_turns += 1
    if t.start_emotion is None:
        t.start_emotion, t.start_score = reading.emotion, reading.score
    t.current_emotion, t.current_score = reading.emotion, reading.score
    t.smoothed_score = (
        reading.score
        if t.smoothed_score is None
        else round(t.smoothed_score + EMA_WEIGHT * (reading.score - t.smoothed_score), 6)
    )
    state.recent_scores.append(reading.score)
    recent = list(state.recent_scores)[-SLOPE_TURNS:]
    t.slope = round(_slope(recent), 6)
    t.trend = (
        "worsening"
        if t.slope <= -TREND_THRESHOLD
        else "improving"
        if t.slope >= TREND_THRESHOLD
        else "stable"
    )
    if reading.polarity == "negative" or reading.score < NEGATIVE_SCORE:
        t.consecutive_negative += 1
        t.negative_turns += 1
    else:
        t.consecutive_negative = 0
    anger = reading.emotion_scores.get("anger", 0.0)
    t.max_anger = round(max(t.max_anger, anger), 6)
    if anger >= PEAK_ANGER:
        peaks = [*t.anger_peaks, {"turn": turn, "anger": round(anger, 4)}]
        peaks.sort(key=lambda p: (-p["anger"], -p["turn"]))
        t.anger_peaks = sorted(peaks[:MAX_PEAKS], key=lambda p: p["turn"])
    return t


class ConversationEngine:
    """Analysis in context, trajectory, risk, policy and replies for each turn.

    Args:
        analyzer: the message analyzer (``None`` if every call passes ``analysis=``).
        policy: the rule engine (default: the shipped rules).
        suggester: the reply suggester (default: templates + shipped FAQ and catalog).
        risk_model: the learned escalation model (default: shipped).
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
        context_params: Mapping[str, ContextParams] | None = None,
        window: int = 8,
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
    ) -> TurnOutcome:
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
            return TurnOutcome(index, role, analysis, reading, state.trajectory)

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
        features = self.features(text, reading, traj, prev_agent, repetition, requests)
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
        facts = self.facts(state, text, reading, traj, risk, requests)
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
        return TurnOutcome(
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

    @staticmethod
    def features(
        text: str,
        reading: ContextualReading,
        traj: Trajectory,
        prev_agent: TurnRecord | None,
        repetition: float,
        requests: list[str],
    ) -> dict[str, float]:
        """The learned model's features of a customer turn (see ``risk.FEATURES``)."""
        e, p = reading.emotion_scores, reading.polarity_scores
        words = (
            len(text.split()) if not any("\u4e00" <= c <= "\u9fff" for c in text) else len(text) / 2
        )
        return {
            "neg": p.get("negative", 0.0),
            "pos": p.get("positive", 0.0),
            "anger": e.get("anger", 0.0) + e.get("disgust", 0.0),
            "sad_fear": e.get("sadness", 0.0) + e.get("fear", 0.0),
            "smoothed_neg": 1.0 - (traj.smoothed_score if traj.smoothed_score is not None else 0.5),
            "slope": traj.slope,
            "consecutive_negative": min(traj.consecutive_negative, 5) / 5,
            "turn": math.log1p(traj.customer_turns),
            "request": 1.0 if set(requests) & {"human", "manager", "complaint", "refund"} else 0.0,
            "repetition": repetition,
            "frustrated": 1.0 if is_frustrated(text) else 0.0,
            "closing": 1.0 if is_closing(text) else 0.0,
            "agent_unhelpful": 1.0
            if prev_agent is not None and is_unhelpful(prev_agent.text)
            else 0.0,
            "agent_neg": prev_agent.polarity_scores.get("negative", 0.0)
            if prev_agent is not None
            else 0.0,
            "question": 1.0 if ("?" in text or "？" in text) else 0.0,
            "length": math.log1p(words) / 5,
            "negation": 1.0 if is_negation(text) else 0.0,
            "agent_question": 1.0
            if prev_agent is not None and ("?" in prev_agent.text or "？" in prev_agent.text)
            else 0.0,
        }

    @staticmethod
    def facts(
        state: ConversationState,
        text: str,
        reading: ContextualReading,
        traj: Trajectory,
        risk: Risk,
        requests: list[str],
    ) -> dict[str, Any]:
        """What the policy rules can test (see :mod:`emotiondesk.policy.rules`)."""
        return {
            "emotion": reading.emotion,
            "intensity": reading.emotion_scores.get(reading.emotion, 0.0),
            "anger": reading.emotion_scores.get("anger", 0.0),
            "polarity": reading.polarity,
            "score": reading.score,
            "smoothed_score": traj.smoothed_score,
            "slope": traj.slope,
            "trend": traj.trend,
            "risk": risk.value,
            "model_probability": risk.model_probability,
            "risk_reason": [r.code for r in risk.reasons],
            "satisfaction": risk.satisfaction,
            "language": state.language or "en",
            "channel": state.channel,
            "tier": state.tier,
            "turn": traj.customer_turns,
            "turns": state.turn_count,
            "consecutive_negative": traj.consecutive_negative,
            "request": list(requests),
            "tag": list(state.tags),
            "closing": is_closing(text),
            "question": is_plain_question(text),
            "escalated": state.escalated,
            "text": text,
        }
