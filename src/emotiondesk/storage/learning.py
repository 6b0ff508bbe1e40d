"""What the learning loop reads besides the corrections (those are ``storage.feedback``).

Example:
    >>> anchors = anchor_messages(session, limit=2000)   # doctest: +SKIP
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from emotiondesk.storage.tables import Feedback, Message


def anchor_messages(
    session: Session, *, workspace: str | None, limit: int = 2000
) -> list[tuple[str, str | None]]:
    """``(text, language)`` of the latest customer messages nobody corrected (up to ``limit``).

    ``workspace``: that workspace's messages; ``None``: every workspace's (the
    operator retraining the shared model).
    """
    corrected = select(Feedback.message_id)
    stmt = select(Message.text, Message.language).where(
        Message.role == "customer", Message.id.not_in(corrected)
    )
    if workspace is not None:
        stmt = stmt.where(Message.workspace == workspace)
    stmt = stmt.order_by(Message.created_at.desc()).limit(limit)
    return [(str(text), language) for text, language in session.execute(stmt)]
