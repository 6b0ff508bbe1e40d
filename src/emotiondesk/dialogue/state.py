"""Conversation state: a bounded window of recent turns and running trajectory figures.

A conversation can run to thousands of turns; the state keeps only what the
next turn needs: the last ``window`` turns (both parties) and a handful of
running figures (start, exponential moving average, counters, anger peaks).
Work per turn is therefore bounded by the window, not the conversation.

The state round-trips through plain JSON (:meth:`ConversationState.to_dict`,
:meth:`ConversationState.from_dict`) so a service can store it per
conversation.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from emotiondesk.config import DIALOGUE_WINDOW
from emotiondesk.errors import InvalidInputError

CUSTOMER = "customer"
AGENT = "agent"
_ROLE_ALIASES = {
    "customer": CUSTOMER,
    "user": CUSTOMER,
    "client": CUSTOMER,
    "agent": AGENT,
    "system": AGENT,
    "bot": AGENT,
    "assistant": AGENT,
    "staff": AGENT,
}
#: Longest text kept per turn in the window (repetition and FAQ queries need no more).
KEPT_CHARS = 400
#: Anger peaks remembered (the strongest recent ones).
MAX_PEAKS = 5
#: Template ids remembered to avoid repeating a reply word for word.
MAX_USED_TEMPLATES = 24


def normalize_role(role: str) -> str:
    """Map a role name (customer/user, agent/system/bot) onto ``customer`` or ``agent``."""
    key = str(role).strip().lower()
    if key not in _ROLE_ALIASES:
        raise InvalidInputError(
            f"unknown role {role!r}: use 'customer' (or user) or 'agent' (or system, bot)"
        )
    return _ROLE_ALIASES[key]


@dataclass
class TurnRecord:
    """One turn as the window keeps it (text trimmed, probabilities kept)."""

    index: int
    role: str
    text: str
    language: str
    polarity_scores: dict[str, float]
    emotion_scores: dict[str, float]
    score: float
    emotion: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass
class Trajectory:
    """Where the customer's feeling started, where it is, and where it is going."""

    start_emotion: str | None = None
    start_score: float | None = None
    current_emotion: str | None = None
    current_score: float | None = None
    smoothed_score: float | None = None
    slope: float = 0.0
    trend: str = "stable"
    consecutive_negative: int = 0
    negative_turns: int = 0
    customer_turns: int = 0
    max_anger: float = 0.0
    anger_peaks: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ConversationState:
    """Everything the engine remembers about one conversation.

    Mutated in place by :meth:`emotiondesk.usecases.conversation.ConversationEngine.process`.
    """

    conversation_id: str | None = None
    language: str | None = None
    channel: str | None = None
    tier: str | None = None
    window_size: int = DIALOGUE_WINDOW
    turn_count: int = 0
    window: deque[TurnRecord] = field(default_factory=deque)
    trajectory: Trajectory = field(default_factory=Trajectory)
    recent_scores: deque[float] = field(default_factory=deque)
    requests: dict[str, int] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    fired: dict[str, int] = field(default_factory=dict)
    used_templates: deque[str] = field(default_factory=deque)
    risk: float = 0.0
    max_risk: float = 0.0
    satisfaction: float | None = None
    escalated: bool = False

    def __post_init__(self) -> None:
        if self.window_size < 2:
            raise InvalidInputError("the dialogue window must keep at least 2 turns")
        self.window = deque(self.window, maxlen=self.window_size)
        self.recent_scores = deque(self.recent_scores, maxlen=max(3, self.window_size))
        self.used_templates = deque(self.used_templates, maxlen=MAX_USED_TEMPLATES)

    # -- the window ----------------------------------------------------------------------

    def previous(self, role: str | None = None) -> list[TurnRecord]:
        """Turns in the window, oldest first (only ``role``'s if given)."""
        return [t for t in self.window if role is None or t.role == role]

    def last(self, role: str) -> TurnRecord | None:
        for turn in reversed(self.window):
            if turn.role == role:
                return turn
        return None

    # -- persistence ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what the service stores per conversation)."""
        return {
            "conversation_id": self.conversation_id,
            "language": self.language,
            "channel": self.channel,
            "tier": self.tier,
            "window_size": self.window_size,
            "turn_count": self.turn_count,
            "window": [asdict(t) for t in self.window],
            "trajectory": self.trajectory.to_dict(),
            "recent_scores": list(self.recent_scores),
            "requests": dict(self.requests),
            "tags": list(self.tags),
            "fired": dict(self.fired),
            "used_templates": list(self.used_templates),
            "risk": self.risk,
            "max_risk": self.max_risk,
            "satisfaction": self.satisfaction,
            "escalated": self.escalated,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ConversationState:
        """Rebuild a state stored with :meth:`to_dict` (``None`` or ``{}`` gives a new one)."""
        if not data:
            return cls()
        try:
            traj = Trajectory(**data.get("trajectory", {}))
            return cls(
                conversation_id=data.get("conversation_id"),
                language=data.get("language"),
                channel=data.get("channel"),
                tier=data.get("tier"),
                window_size=int(data.get("window_size", 8)),
                turn_count=int(data.get("turn_count", 0)),
                window=deque(TurnRecord.from_dict(t) for t in data.get("window", [])),
                trajectory=traj,
                recent_scores=deque(float(s) for s in data.get("recent_scores", [])),
                requests={str(k): int(v) for k, v in data.get("requests", {}).items()},
                tags=[str(t) for t in data.get("tags", [])],
                fired={str(k): int(v) for k, v in data.get("fired", {}).items()},
                used_templates=deque(str(t) for t in data.get("used_templates", [])),
                risk=float(data.get("risk", 0.0)),
                max_risk=float(data.get("max_risk", 0.0)),
                satisfaction=data.get("satisfaction"),
                escalated=bool(data.get("escalated", False)),
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise InvalidInputError(f"stored conversation state is malformed: {exc}") from None
