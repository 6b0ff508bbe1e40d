"""Agent quality: rubric scoring of agent replies, real-time coaching, practice customers.

Example:
    >>> from emotiondesk.agentqa import AgentScorer, CustomerTurn
    >>> card = AgentScorer().score_reply(
    ...     "I understand how frustrating this is. I'll chase the courier and update you within 24 hours.",
    ...     customer=CustomerTurn("Where is my parcel?! It's a week late!", emotion="anger"),
    ... )
    >>> card.result("empathy").verdict, card.result("next_step").verdict
    ('pass', 'pass')
"""

from __future__ import annotations

from emotiondesk.agentqa.coach import Coach, CoachResult
from emotiondesk.agentqa.practice import (
    PracticeSession,
    PracticeStep,
    Scenario,
    list_scenarios,
    load_scenario,
)
from emotiondesk.agentqa.rubric import Criterion, Rubric, load_rubric
from emotiondesk.agentqa.scorer import (
    FAIL,
    NA,
    PASS,
    AgentScorer,
    ConversationScore,
    CriterionResult,
    CustomerTurn,
    ReplyScore,
    Span,
    Turn,
    score_stored_turn,
)

__all__ = [
    "FAIL",
    "NA",
    "PASS",
    "AgentScorer",
    "Coach",
    "CoachResult",
    "ConversationScore",
    "Criterion",
    "CriterionResult",
    "CustomerTurn",
    "PracticeSession",
    "PracticeStep",
    "ReplyScore",
    "Rubric",
    "Scenario",
    "Span",
    "Turn",
    "list_scenarios",
    "load_rubric",
    "load_scenario",
    "score_stored_turn",
]
