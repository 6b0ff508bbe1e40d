"""Analytics over the stored messages: what ``/v1/analytics/...`` and the dashboard show.

Plain functions taking a session, each scoped to one workspace (``Filters.workspace``
or a ``workspace`` keyword): SQL aggregates from
:mod:`emotiondesk.storage.stats`, finished by :mod:`emotiondesk.analytics`.
The service's routes, its surge monitor and ``emotiondesk import`` call them.

Example:
    >>> with sessions() as session:                                    # doctest: +SKIP
    ...     overview(session, filters=stats.Filters(workspace="default"))["kpis"]["messages"]
    1200
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emotiondesk.analytics import (
    SurgeDetector,
    complaint_topics,
    extract_aspects,
    finish_groups,
    summarize_aspects,
)
from emotiondesk.analytics.trends import check_granularity
from emotiondesk.labels import EMOTION_LABELS
from emotiondesk.storage import repository as repo
from emotiondesk.storage import stats
from emotiondesk.storage.tables import Alert, Conversation, Message
from emotiondesk.usecases.analyze_messages import with_texts
from emotiondesk.usecases.conversation import StoredTurnState

logger = logging.getLogger(__name__)

#: How many of the newest texts aspects and topics read per request.
TEXT_SAMPLE = 2000


def window(
    session: Session,
    *,
    workspace: str,
    days: int | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[datetime | None, datetime | None]:
    """The period to report: explicit bounds, else the last ``days`` up to the workspace's
    newest message."""
    if since is not None or until is not None or not days:
        return since, until
    newest = session.scalar(
        select(func.max(Message.created_at)).where(Message.workspace == workspace)
    )
    end = repo.to_utc(newest) if newest is not None else datetime.now(UTC)
    assert end is not None
    return end - timedelta(days=days), None


def _sum_groups(groups: list[Any]) -> dict[str, Any]:
    n = sum(g[2] for g in groups)
    score_sum = sum(g[3] for g in groups)
    n_scored = sum(g[4] for g in groups)
    pol: dict[str, int] = {}
    emo: dict[str, int] = {}
    for g in groups:
        for k, v in g[5].items():
            pol[k] = pol.get(k, 0) + v
        for k, v in g[6].items():
            emo[k] = emo.get(k, 0) + v
    (total,) = finish_groups([(None, None, n, score_sum, n_scored, pol, emo)]) if n else [None]
    return {
        "messages": n,
        "satisfaction": total.satisfaction if total else None,
        "share_negative": total.share_negative if total else 0.0,
        "share_positive": total.share_positive if total else 0.0,
        "emotion_mix": total.emotion_mix if total else {e: 0.0 for e in EMOTION_LABELS},
        "top_emotion": max(emo, key=lambda e: emo[e]) if emo and n else None,
    }


def overview(
    session: Session, *, filters: stats.Filters, granularity: str = "day"
) -> dict[str, Any]:
    """KPIs, the trend, the emotion mix, and the split by channel and by category."""
    check_granularity(granularity)
    trend_rows = stats.message_stats(session, filters=filters, granularity=granularity)
    totals = _sum_groups(trend_rows)
    open_alerts = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.workspace == filters.workspace, Alert.acknowledged_at.is_(None))
    )
    return {
        "period": {
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
            "granularity": granularity,
        },
        "kpis": {
            "messages": totals["messages"],
            "conversations": stats.count_conversations(session, filters=filters),
            "satisfaction": totals["satisfaction"],
            "share_negative": totals["share_negative"],
            "share_positive": totals["share_positive"],
            "top_emotion": totals["top_emotion"],
            "open_alerts": int(open_alerts or 0),
        },
        "trend": [g.to_dict() for g in finish_groups(trend_rows)],
        "emotion_mix": totals["emotion_mix"],
        **_channel_and_category(session, filters=filters, limit=10),
    }


def _channel_and_category(
    session: Session, *, filters: stats.Filters, limit: int
) -> dict[str, list[dict[str, Any]]]:
    """Both breakdowns from one scan grouped by (channel, category)."""
    rows = stats.message_stats_2way(session, filters=filters, by=("channel", "category"))
    out = {}
    for name, pos in (("by_channel", 0), ("by_category", 1)):
        acc: dict[Any, list[Any]] = {}
        for key, _b, n, score_sum, n_scored, pol, emo in rows:
            k = key[pos]
            a = acc.setdefault(k, [0, 0.0, 0, {}, {}])
            a[0] += n
            a[1] += score_sum
            a[2] += n_scored
            for d, src in ((a[3], pol), (a[4], emo)):
                for lab, v in src.items():
                    d[lab] = d.get(lab, 0) + v
        groups = finish_groups((k, None, *v) for k, v in acc.items())
        groups.sort(key=lambda g: (-g.n, str(g.key)))
        out[name] = [g.to_dict() for g in groups[:limit]]
    return out


def trend(
    session: Session, *, filters: stats.Filters, granularity: str, by: str | None
) -> list[dict[str, Any]]:
    check_granularity(granularity)
    rows = stats.message_stats(session, filters=filters, granularity=granularity, by=by)
    return [g.to_dict() for g in finish_groups(rows)]


def breakdown(
    session: Session, *, filters: stats.Filters, by: str, limit: int = 50
) -> list[dict[str, Any]]:
    rows = stats.message_stats(session, filters=filters, by=by, limit_groups=limit)
    groups = sorted(finish_groups(rows), key=lambda g: (-g.n, str(g.key)))
    return [g.to_dict() for g in groups]


def aspects(
    session: Session,
    *,
    filters: stats.Filters,
    sample: int = TEXT_SAMPLE,
    examples: int = 3,
    analyzer: Any = None,
) -> dict[str, Any]:
    """Aspect sentiment over the newest ``sample`` customer messages matching ``filters``.

    With an ``analyzer``, clauses that name an aspect without an opinion word
    get the analyzer's polarity (the more accurate setting in docs/BENCHMARKS.md).
    """
    rows = stats.message_texts(session, filters=filters, limit=sample)
    polarity_fn = None
    if analyzer is not None:

        def polarity_fn(clauses: list[str]) -> list[str]:
            return [r.polarity for r in analyzer.analyze(clauses)]

    mentions = extract_aspects(
        [r[0] for r in rows], category=filters.category, polarity_fn=polarity_fn
    )
    summary = summarize_aspects(mentions, examples=examples)
    return {"texts": len(rows), "aspects": [s.to_dict() for s in summary]}


def topics(
    session: Session, *, filters: stats.Filters, k: int | None = None, sample: int = TEXT_SAMPLE
) -> dict[str, Any]:
    """Complaint topics among the newest ``sample`` negative customer messages."""
    rows = stats.message_texts(session, filters=filters, polarity="negative", limit=sample)
    exclude = [v for v in (filters.category, filters.product_id) if v]
    found = complaint_topics([r[0] for r in rows], k=k, exclude=exclude)
    return {"texts": len(rows), "topics": [t.to_dict() for t in found]}


def scan_surges(
    session: Session,
    *,
    workspace: str,
    by: str = "category",
    days: int = 8,
    until: datetime | None = None,
    sensitivity: str = "medium",
    method: str = "binomial",
    store: bool = True,
) -> list[dict[str, Any]]:
    """Run the surge detector over hourly counts per ``by`` and store new alerts (once each).

    The period is the ``days`` before ``until`` (default: the newest message).
    An alert whose key already has a surge alert within a day of its hour is
    the same episode and is not stored again. Only ``workspace``'s messages are
    counted and its alerts compared; new alerts are stored in it.
    """
    if until is None:
        newest = session.scalar(
            select(func.max(Message.created_at)).where(Message.workspace == workspace)
        )
        if newest is None:
            return []
        until = (repo.to_utc(newest) or datetime.now(UTC)) + timedelta(hours=1)
    since = until - timedelta(days=days)
    filters = stats.Filters(workspace=workspace, since=since, until=until)
    rows = stats.message_stats(session, filters=filters, granularity="hour", by=by)
    counts = {(r[0], r[1]): (r[2], r[5].get("negative", 0)) for r in rows if r[0] is not None}
    start = since.replace(minute=0, second=0, microsecond=0)
    hours = [start + timedelta(hours=h) for h in range(days * 24 + 1)]
    detector = SurgeDetector(
        baseline_buckets=min(168, days * 24), min_history=24, sensitivity=sensitivity, method=method
    )
    keys = sorted({k for k, _b in counts}, key=str)
    found = []
    for hour in hours:
        for key in keys:
            n, k = counts.get((key, hour), (0, 0))
            for alert in detector.update(key, hour, n=n, k=k):
                found.append(alert)
    out = []
    if store and found:
        # one scan at a time stores (several service workers scan the same database)
        repo.serialize(session, f"emotiondesk:surge-scan:{workspace}")
    for alert in found:
        ex = stats.message_texts(
            session,
            filters=stats.Filters(
                workspace=workspace,
                since=alert.bucket,
                until=alert.bucket + timedelta(hours=1),
                **{by: str(alert.key)},  # type: ignore[arg-type]
            )
            if by in ("channel", "category", "product_id", "agent_id")
            else stats.Filters(
                workspace=workspace, since=alert.bucket, until=alert.bucket + timedelta(hours=1)
            ),
            polarity="negative",
            limit=5,
        )
        details = alert.to_dict() | {
            "scope": by,
            "examples": [e[0] for e in ex],
            "episode": f"{by}:{alert.key}:{alert.bucket.isoformat()}",
            "sensitivity": sensitivity,
            "workspace": workspace,
        }
        stored, new = None, False
        if store:
            stored, new = _store_surge(
                session,
                workspace=workspace,
                details=details,
                by=by,
                key=str(alert.key),
                hour=alert.bucket,
            )
        out.append(details | {"alert_id": stored.id if stored else None, "new": new})
    if store:
        session.commit()
    return out


def _categories_of(session: Session, workspace: str, product: str) -> set[str]:
    rows = session.scalars(
        select(Conversation.category)
        .where(
            Conversation.workspace == workspace,
            Conversation.product_id == product,
            Conversation.category.is_not(None),
        )
        .distinct()
        .limit(20)
    )
    return {str(c) for c in rows}


def _explains(narrow: dict[str, Any], wide: dict[str, Any]) -> bool:
    """A narrower surge explains a wider one when it holds at least half of the wider
    one's excess negatives (count above the baseline's expectation)."""
    excess = float(wide.get("count", 0)) - float(wide.get("expected", 0))
    return float(narrow.get("count", 0)) >= 0.5 * max(excess, 1.0)


def _same_time(d: dict[str, Any], hour: datetime) -> bool:
    try:
        when = datetime.fromisoformat(str(d.get("bucket")))
    except ValueError:
        return False
    return abs((when - hour).total_seconds()) <= 24 * 3600


def _store_surge(
    session: Session,
    *,
    workspace: str,
    details: dict[str, Any],
    by: str,
    key: str,
    hour: datetime,
) -> tuple[Alert, bool]:
    """Store the surge as an alert unless its episode has one; (alert, newly stored).

    One alert per episode: the same slice within a day is the same episode; a
    category surge explained by a product surge of that category (within a day)
    is that product's episode: the product alert stands for both, and a category
    alert stored before it is narrowed to the product.
    """
    title = _surge_title(details, by, key)
    for existing in session.scalars(
        select(Alert)
        .where(Alert.kind == "negative_surge", Alert.workspace == workspace)
        .order_by(Alert.id.desc())
        .limit(1000)
    ):
        d = existing.details or {}
        if not _same_time(d, hour):
            continue
        scope, other = d.get("scope"), str(d.get("key"))
        if scope == by and other == key:
            return existing, False
        wider = by == "category" and scope == "product_id"
        if wider and key in _categories_of(session, workspace, other) and _explains(d, details):
            return existing, False
        narrower = by == "product_id" and scope == "category"
        if narrower and other in _categories_of(session, workspace, key) and _explains(details, d):
            existing.details = details | {"narrowed_from": {"scope": scope, "key": other}}
            existing.title = title[:256]
            session.flush()
            return existing, False
    return (
        repo.create_alert(
            session,
            workspace=workspace,
            kind="negative_surge",
            title=title[:256],
            severity="high" if details["p_value"] < 1e-6 else "warning",
            details=details,
        ),
        True,
    )


def surge_alert(surge: dict[str, Any]) -> dict[str, Any]:
    """The notification of a surge returned by :func:`scan_surges` (an alert's fields)."""
    by, key = str(surge.get("scope")), str(surge.get("key"))
    return {
        "id": surge.get("alert_id"),
        "kind": "negative_surge",
        "severity": "high" if float(surge.get("p_value", 1.0)) < 1e-6 else "warning",
        "title": _surge_title(surge, by, key),
        "conversation_id": None,
        "workspace": surge.get("workspace"),
        "details": surge,
    }


def _surge_title(details: dict[str, Any], by: str, key: str) -> str:
    share, base = details["share"], details["baseline_share"]
    return (
        f"Negative surge in {by} {key}: {details['count']}/{details['total']} negative "
        f"({share:.0%} vs baseline {base:.0%})"
    )


def recent_messages_feed(
    session: Session,
    *,
    workspace: str,
    after: datetime | None = None,
    limit: int = 50,
    ids: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Messages stored after ``after`` (oldest first), with their conversation's flags.

    The live feed of the dashboard: each message with its slices, the risk
    and escalation its turn stored (read by :class:`StoredTurnState`) and its
    stored evidence.
    ``ids``: those messages only (:class:`~emotiondesk.usecases.live.LiveTail`).
    """
    out = []
    for msg, conv in stats.recent_messages(
        session, workspace=workspace, after=after, limit=limit, ids=ids
    ):
        flags = StoredTurnState.from_state(msg.state, role=msg.role)
        out.append(
            {
                "id": msg.id,
                "conversation_id": conv.id,
                "seq": msg.seq,
                "role": msg.role,
                "text": msg.text,
                "language": msg.language,
                "polarity": msg.polarity,
                "score": msg.score,
                "emotion": msg.emotion,
                "created_at": msg.created_at.replace(tzinfo=UTC).isoformat()
                if msg.created_at.tzinfo is None
                else msg.created_at.astimezone(UTC).isoformat(),
                "channel": conv.channel,
                "category": conv.category,
                "product_id": conv.product_id,
                "agent_id": conv.agent_id,
                "risk": flags.risk,
                "escalate": flags.escalate,
                # a live conversation, or a row of an imported archive (a review)
                "kind": "review" if (conv.meta or {}).get("imported") else "conversation",
                # why it reads so (a customer message's stored evidence; else null)
                "evidence": with_texts(msg.evidence, msg.text) if msg.evidence else None,
            }
        )
    return out
