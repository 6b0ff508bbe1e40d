"""Aggregate queries for analytics (SQL ``GROUP BY`` on SQLite and PostgreSQL).

Time is a message's ``created_at`` (UTC; ``emotiondesk import`` sets it to the
archived timestamp). Slices come from the message's conversation (channel,
category, product, agent) or the message itself (language). The sums returned
here are finished into figures by :func:`emotiondesk.analytics.finish_groups`,
so the in-memory and the SQL paths share one definition of every number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from emotiondesk.errors import InvalidInputError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS
from emotiondesk.storage.repository import to_utc
from emotiondesk.storage.tables import Alert, Conversation, Message, utcnow

SLICE_COLUMNS = {
    "channel": Conversation.channel,
    "category": Conversation.category,
    "product_id": Conversation.product_id,
    "agent_id": Conversation.agent_id,
    "language": Message.language,
}


@dataclass(frozen=True)
class Filters:
    """Which messages to count: one workspace's (required), the rest optional."""

    workspace: str
    since: datetime | None = None
    until: datetime | None = None
    channel: str | None = None
    category: str | None = None
    product_id: str | None = None
    agent_id: str | None = None
    customer_only: bool = True

    def where(self, stmt: Any) -> Any:
        conds = [Message.workspace == self.workspace]
        if self.since is not None:
            conds.append(Message.created_at >= to_utc(self.since))
        if self.until is not None:
            conds.append(Message.created_at < to_utc(self.until))
        if self.customer_only:
            conds.append(Message.role == "customer")
        for name in ("channel", "category", "product_id", "agent_id"):
            value = getattr(self, name)
            if value is not None:
                conds.append(SLICE_COLUMNS[name] == value)
        return stmt.where(and_(*conds))


def _bucket_expr(session: Session, granularity: str) -> Any:
    dialect = session.get_bind().dialect.name
    col = Message.created_at
    if dialect == "sqlite":
        if granularity == "hour":
            return func.strftime("%Y-%m-%d %H:00:00", col)
        if granularity == "day":
            return func.strftime("%Y-%m-%d 00:00:00", col)
        if granularity == "week":
            return func.strftime("%Y-%m-%d 00:00:00", col, "weekday 0", "-6 days")
    elif dialect == "postgresql":
        if granularity in ("hour", "day", "week"):
            return func.date_trunc(granularity, func.timezone("UTC", col))
    else:
        raise InvalidInputError(f"analytics queries do not support the {dialect} database")
    raise InvalidInputError(f"unknown granularity {granularity!r}; use hour, day or week")


def _parse_bucket(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def message_stats(
    session: Session,
    *,
    filters: Filters,
    granularity: str | None = None,
    by: str | None = None,
    limit_groups: int | None = None,
) -> list[tuple[str | None, datetime | None, int, float, int, dict[str, int], dict[str, int]]]:
    """Sums per (slice, time bucket): ``(key, bucket, n, score_sum, n_scored, polarity, emotion)``."""
    if by is not None and by not in SLICE_COLUMNS:
        raise InvalidInputError(f"cannot group by {by!r}; use one of {', '.join(SLICE_COLUMNS)}")
    return _stats(
        session,
        filters=filters,
        granularity=granularity,
        keys=[by] if by else [],
        limit_groups=limit_groups,
    )


def message_stats_2way(
    session: Session, *, filters: Filters, by: tuple[str, str]
) -> list[tuple[Any, ...]]:
    """Sums per pair of slices (one scan for two breakdowns); the key is a 2-tuple."""
    for b in by:
        if b not in SLICE_COLUMNS:
            raise InvalidInputError(f"cannot group by {b!r}; use one of {', '.join(SLICE_COLUMNS)}")
    return _stats(session, filters=filters, granularity=None, keys=list(by))


def _stats(
    session: Session,
    *,
    filters: Filters,
    granularity: str | None,
    keys: list[str],
    limit_groups: int | None = None,
) -> list[tuple[Any, ...]]:
    by = keys[0] if len(keys) == 1 else None
    key = SLICE_COLUMNS[by] if by else literal(None)
    bucket = _bucket_expr(session, granularity) if granularity else literal(None)
    cols = [
        key.label("key"),
        bucket.label("bucket"),
        func.count().label("n"),
        func.coalesce(func.sum(Message.score), 0.0).label("score_sum"),
        func.count(Message.score).label("n_scored"),
    ]
    cols += [
        func.sum(case((Message.polarity == p, 1), else_=0)).label(f"p_{p}") for p in POLARITY_LABELS
    ]
    cols += [
        func.sum(case((Message.emotion == e, 1), else_=0)).label(f"e_{e}") for e in EMOTION_LABELS
    ]
    extra = [SLICE_COLUMNS[k].label(f"k{i}") for i, k in enumerate(keys)] if len(keys) > 1 else []
    stmt = select(*cols, *extra).select_from(Message)
    if any(k in ("channel", "category", "product_id", "agent_id") for k in keys) or any(
        getattr(filters, f) is not None for f in ("channel", "category", "product_id", "agent_id")
    ):
        stmt = stmt.join(Conversation, Conversation.id == Message.conversation_id)
    stmt = filters.where(stmt)
    groups = [c for c, on in ((key, by), (bucket, granularity)) if on]
    groups += [SLICE_COLUMNS[k] for k in keys] if len(keys) > 1 else []
    if groups:
        stmt = stmt.group_by(*groups)
    if limit_groups is not None and by and not granularity:
        stmt = stmt.order_by(func.count().desc()).limit(limit_groups)
    out = []
    for row in session.execute(stmt):
        m = row._mapping
        if not m["n"]:
            continue
        out.append(
            (
                tuple(m[f"k{i}"] for i in range(len(keys))) if len(keys) > 1 else m["key"],
                _parse_bucket(m["bucket"]),
                int(m["n"]),
                float(m["score_sum"] or 0.0),
                int(m["n_scored"] or 0),
                {p: int(m[f"p_{p}"] or 0) for p in POLARITY_LABELS},
                {e: int(m[f"e_{e}"] or 0) for e in EMOTION_LABELS},
            )
        )
    return out


def count_conversations(session: Session, *, filters: Filters) -> int:
    # SELECT count(*) FROM (SELECT DISTINCT ...): a hash aggregate on PostgreSQL,
    # faster than count(DISTINCT ...), which sorts
    inner = select(Message.conversation_id).select_from(Message)
    if any(
        getattr(filters, f) is not None for f in ("channel", "category", "product_id", "agent_id")
    ):
        inner = inner.join(Conversation, Conversation.id == Message.conversation_id)
    sub = filters.where(inner).distinct().subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def message_texts(
    session: Session,
    *,
    filters: Filters,
    polarity: str | None = None,
    limit: int = 2000,
) -> list[tuple[str, str | None, str | None]]:
    """``(text, category, product_id)`` of the newest matching messages."""
    stmt = (
        select(Message.text, Conversation.category, Conversation.product_id)
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
    )
    if polarity is not None:
        stmt = stmt.where(Message.polarity == polarity)
    stmt = filters.where(stmt).order_by(Message.created_at.desc()).limit(limit)
    return [(r[0], r[1], r[2]) for r in session.execute(stmt)]


def recent_messages(
    session: Session,
    *,
    workspace: str,
    after: datetime | None = None,
    limit: int = 50,
    ids: Sequence[str] | None = None,
) -> list[tuple[Message, Conversation]]:
    """``(message, conversation)`` rows stored after ``after``, oldest first.

    Without ``after``: the newest ``limit`` rows. With it: the oldest ``limit``
    rows after it, so that a burst larger than ``limit`` is not skipped.
    ``ids``: those messages only, oldest first (:class:`~emotiondesk.usecases.live.LiveTail`).
    """
    stmt = (
        select(Message, Conversation)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.workspace == workspace)
    )
    if ids is not None:
        stmt = stmt.where(Message.id.in_(list(ids)))
        rows = list(session.execute(stmt.order_by(Message.created_at, Message.id).limit(limit)))
    elif after is not None:
        stmt = stmt.where(Message.created_at > to_utc(after))
        rows = list(session.execute(stmt.order_by(Message.created_at, Message.id).limit(limit)))
    else:
        stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
        rows = list(session.execute(stmt))
        rows.reverse()
    return [(msg, conv) for msg, conv in rows]


def find_surge_alert(session: Session, *, workspace: str, episode: str) -> Alert | None:
    """The workspace's stored surge alert for an episode id, if any (alerts are raised once)."""
    for alert in session.scalars(
        select(Alert)
        .where(Alert.kind == "negative_surge", Alert.workspace == workspace)
        .order_by(Alert.id.desc())
        .limit(500)
    ):
        if (alert.details or {}).get("episode") == episode:
            return alert
    return None


def acknowledge_alert(session: Session, *, workspace: str, alert_id: int) -> Alert:
    from emotiondesk.errors import NotFoundError

    alert = session.get(Alert, alert_id)
    if alert is None or alert.workspace != workspace:
        raise NotFoundError(f"alert #{alert_id} does not exist")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = utcnow()
    session.flush()
    return alert
