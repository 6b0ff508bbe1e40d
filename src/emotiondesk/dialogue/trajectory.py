"""One customer turn folded into the conversation: trajectory, risk features, policy facts.

Pure functions over :mod:`~emotiondesk.dialogue.state`; the pipeline that
calls them per turn (analysis, context, risk, policy, replies) is
:class:`emotiondesk.usecases.conversation.ConversationEngine`.
"""

from __future__ import annotations

import math
from typing import Any

from emotiondesk.dialogue.context import ContextualReading
from emotiondesk.dialogue.cues import (
    is_closing,
    is_frustrated,
    is_negation,
    is_plain_question,
    is_unhelpful,
)
from emotiondesk.dialogue.risk import Risk
from emotiondesk.dialogue.state import MAX_PEAKS, ConversationState, Trajectory, TurnRecord

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


def turn_features(
    text: str,
    reading: ContextualReading,
    traj: Trajectory,
    prev_agent: TurnRecord | None,
    repetition: float,
    requests: list[str],
) -> dict[str, float]:
    """The learned model's features of a customer turn (see ``risk.FEATURES``)."""
    e, p = reading.emotion_scores, reading.polarity_scores
    words = len(text.split()) if not any("\u4e00" <= c <= "\u9fff" for c in text) else len(text) / 2
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
        "agent_unhelpful": 1.0 if prev_agent is not None and is_unhelpful(prev_agent.text) else 0.0,
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


def policy_facts(
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
