"""Conversation intelligence: turns read in context, trajectory, escalation risk.

A domain layer: it uses the analyzer's results and imports neither the
policy nor the replies. The pipeline that joins them for each turn is
:class:`emotiondesk.usecases.conversation.ConversationEngine`.

Example:
    >>> from emotiondesk import load_analyzer                    # doctest: +SKIP
    >>> from emotiondesk.usecases import ConversationEngine      # doctest: +SKIP
    >>> engine = ConversationEngine(load_analyzer())             # doctest: +SKIP
    >>> state = engine.new_state("c-1")                          # doctest: +SKIP
    >>> out = engine.process(state, "我要投诉，马上转人工")         # doctest: +SKIP
    >>> [d.action for d in out.decisions][:1]                    # doctest: +SKIP
    ['escalate_to_senior']
"""

from __future__ import annotations

from emotiondesk.dialogue.context import ContextParams, ContextualReading, read_in_context
from emotiondesk.dialogue.risk import EscalationModel, Risk, RiskReason, assess_risk
from emotiondesk.dialogue.state import AGENT, CUSTOMER, ConversationState, Trajectory, TurnRecord
from emotiondesk.dialogue.trajectory import update_trajectory

__all__ = [
    "AGENT",
    "CUSTOMER",
    "ContextParams",
    "ContextualReading",
    "ConversationState",
    "EscalationModel",
    "Risk",
    "RiskReason",
    "Trajectory",
    "TurnRecord",
    "assess_risk",
    "read_in_context",
    "update_trajectory",
]
