"""Conversation intelligence: turns read in context, trajectory, escalation risk.

Example:
    >>> from emotiondesk import load_analyzer                    # doctest: +SKIP
    >>> from emotiondesk.dialogue import ConversationEngine      # doctest: +SKIP
    >>> engine = ConversationEngine(load_analyzer())             # doctest: +SKIP
    >>> state = engine.new_state("c-1")                          # doctest: +SKIP
    >>> out = engine.process(state, "我要投诉，马上转人工")         # doctest: +SKIP
    >>> [d.action for d in out.decisions][:1]                    # doctest: +SKIP
    ['escalate_to_senior']
"""

from __future__ import annotations

from emotiondesk.dialogue.context import ContextParams, ContextualReading, read_in_context
from emotiondesk.dialogue.engine import ConversationEngine, TurnOutcome, update_trajectory
from emotiondesk.dialogue.risk import EscalationModel, Risk, RiskReason, assess_risk
from emotiondesk.dialogue.state import AGENT, CUSTOMER, ConversationState, Trajectory, TurnRecord

__all__ = [
    "AGENT",
    "CUSTOMER",
    "ContextParams",
    "ContextualReading",
    "ConversationEngine",
    "ConversationState",
    "EscalationModel",
    "Risk",
    "RiskReason",
    "Trajectory",
    "TurnOutcome",
    "TurnRecord",
    "assess_risk",
    "read_in_context",
    "update_trajectory",
]
