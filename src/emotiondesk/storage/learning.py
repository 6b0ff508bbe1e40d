"""What the learning loop reads from and writes to the feedback table.

One row per corrected message: the latest correction of each task wins (a
message whose polarity was corrected twice counts with the later label; a
correction that leaves a task empty does not erase an earlier one). The
``used_for_training`` flag is set on the feedback rows a model version was
trained on (never on the held-back ones).

Example:
    >>> rows = feedback_for_training(session)     # doctest: +SKIP
    >>> mark_feedback_used(session, [1, 2, 3])    # doctest: +SKIP
    3
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from emotiondesk.storage.tables import Feedback, Message


def feedback_for_training(session: Session) -> list[dict[str, Any]]:
    """``{id, ids, message_id, text, language, polarity, emotion}`` per corrected message."""
    stmt = (
        select(
            Feedback.id,
            Feedback.message_id,
            Feedback.polarity,
            Feedback.emotion,
            Message.text,
            Message.language,
        )
        .join(Message, Message.id == Feedback.message_id)
        .order_by(Feedback.id)
    )
    by_message: dict[str, dict[str, Any]] = {}
    for fid, message_id, polarity, emotion, text, language in session.execute(stmt):
        row = by_message.setdefault(
            message_id,
            {
                "message_id": message_id,
                "text": text,
                "language": language,
                "polarity": None,
                "emotion": None,
                "ids": [],
            },
        )
        row["ids"].append(int(fid))
        row["id"] = int(fid)
        if polarity:
            row["polarity"] = polarity
        if emotion:
            row["emotion"] = emotion
    return list(by_message.values())


def mark_feedback_used(session: Session, ids: Sequence[int]) -> int:
    """Set ``used_for_training`` on the feedback rows ``ids``; how many rows changed."""
    if not ids:
        return 0
    result = session.execute(
        update(Feedback).where(Feedback.id.in_(list(ids))).values(used_for_training=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def anchor_messages(session: Session, *, limit: int = 2000) -> list[tuple[str, str | None]]:
    """``(text, language)`` of the latest customer messages nobody corrected (up to ``limit``)."""
    corrected = select(Feedback.message_id)
    stmt = (
        select(Message.text, Message.language)
        .where(Message.role == "customer", Message.id.not_in(corrected))
        .order_by(Message.created_at.desc())
        .limit(limit)
    )
    return [(str(text), language) for text, language in session.execute(stmt)]
