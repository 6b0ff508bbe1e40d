"""Following newly stored messages (the live stream) across service processes.

A message's ``created_at`` is taken inside its transaction, before the
commit; with several workers (or threads) a message can become visible after
one with a later ``created_at`` was already read. A cursor on ``created_at``
alone skips such a message for good. :class:`LiveTail` reads forward from the
cursor and, on each poll, also looks ``lag_s`` seconds back: it counts the
rows there and, when that count differs from what it has sent, fetches the
ids it has not sent yet. Every committed message is sent once, as long as no
transaction takes longer than ``lag_s`` from storing the row to committing
(ingestion commits right after the insert).

Example:
    >>> tail = LiveTail(workspace="default")
    >>> with sessions() as s:                # doctest: +SKIP
    ...     first = tail.start(s, backlog=20)
    ...     more = tail.poll(s)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emotiondesk.storage.repository import to_utc
from emotiondesk.storage.tables import Message
from emotiondesk.usecases.analytics import recent_messages_feed

#: How far back each poll looks for messages committed out of order (seconds).
LAG_S = 10.0


def _when(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["created_at"])


class LiveTail:
    """A cursor over one workspace's newly stored messages that misses none committed
    out of order."""

    def __init__(self, *, workspace: str, lag_s: float = LAG_S) -> None:
        self.workspace = workspace
        self.lag = timedelta(seconds=lag_s)
        self.after: datetime | None = None
        #: ids sent (or seen at the start) within the look-back window -> created_at
        self.sent: dict[str, datetime] = {}

    def start(self, session: Session, *, backlog: int = 20) -> list[dict[str, Any]]:
        """The newest ``backlog`` messages (oldest first); the window before them counts as seen."""
        items = recent_messages_feed(session, workspace=self.workspace, after=None, limit=backlog)
        if items:
            self.after = _when(items[-1])
            lo = to_utc(self.after - self.lag)
            hi = to_utc(self.after)
            for mid, when in session.execute(
                select(Message.id, Message.created_at).where(
                    Message.workspace == self.workspace,
                    Message.created_at > lo,
                    Message.created_at <= hi,
                )
            ):
                self.sent[mid] = to_utc(when) or self.after
        self._remember(items)
        return items

    def poll(self, session: Session, *, limit: int = 200) -> list[dict[str, Any]]:
        """Messages not sent yet: late commits inside the look-back window, then newer ones."""
        late: list[dict[str, Any]] = []
        if self.after is not None:
            lo = to_utc(self.after - self.lag)
            hi = to_utc(self.after)
            window = (
                Message.workspace == self.workspace,
                Message.created_at > lo,
                Message.created_at <= hi,
            )
            stored = session.scalar(select(func.count()).select_from(Message).where(*window)) or 0
            if stored > sum(1 for when in self.sent.values() if when > self.after - self.lag):
                ids = [
                    mid
                    for mid in session.scalars(select(Message.id).where(*window))
                    if mid not in self.sent
                ]
                if ids:
                    late = recent_messages_feed(
                        session, workspace=self.workspace, ids=ids[:limit], limit=limit
                    )
        new = [
            item
            for item in recent_messages_feed(
                session, workspace=self.workspace, after=self.after, limit=limit
            )
            if item["id"] not in self.sent
        ]
        out = late + new
        self._remember(out)
        return out

    def _remember(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            when = _when(item)
            self.sent[item["id"]] = when
            if self.after is None or when > self.after:
                self.after = when
        if self.after is not None:
            horizon = self.after - self.lag
            self.sent = {k: v for k, v in self.sent.items() if v > horizon}
