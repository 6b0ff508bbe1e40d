"""Sentiment and satisfaction over time and by slice, share negative, emotion mix.

Pure functions over :class:`MessageRecord` sequences (what the storage layer
returns, or anything built in memory). The service computes the same figures
with SQL ``GROUP BY`` on large stores and finishes them with
:func:`finish_groups`, so both paths share one definition of every number:

* ``satisfaction`` = mean sentiment ``score`` (0..1) of the customer's messages;
* ``share_negative`` = negative messages / messages;
* ``emotion_mix`` = share of each canonical emotion.

Example:
    >>> from datetime import datetime, UTC
    >>> recs = [MessageRecord(timestamp=datetime(2026, 11, 24, 9, tzinfo=UTC), polarity="negative",
    ...                       score=0.1, emotion="anger", channel="web")]
    >>> sentiment_trend(recs, granularity="day")[0].share_negative
    1.0
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from emotiondesk.errors import InvalidInputError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS

Granularity = Literal["hour", "day", "week"]
GRANULARITIES: tuple[str, ...] = ("hour", "day", "week")
#: Slices analytics can group by (fields of :class:`MessageRecord`).
GROUP_FIELDS: tuple[str, ...] = ("channel", "category", "product_id", "agent_id", "language")


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One analysed message, as analytics sees it."""

    timestamp: datetime
    polarity: str
    score: float
    emotion: str
    text: str = ""
    role: str = "customer"
    channel: str | None = None
    category: str | None = None
    product_id: str | None = None
    agent_id: str | None = None
    language: str | None = None
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Aggregates of one group (a time bucket, a slice, or both)."""

    key: str | None
    bucket: datetime | None
    n: int
    satisfaction: float | None
    share_negative: float
    share_positive: float
    polarity_counts: dict[str, int] = field(default_factory=dict)
    emotion_mix: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "bucket": self.bucket.isoformat() if self.bucket else None,
            "n": self.n,
            "satisfaction": self.satisfaction,
            "share_negative": self.share_negative,
            "share_positive": self.share_positive,
            "polarity_counts": dict(self.polarity_counts),
            "emotion_mix": dict(self.emotion_mix),
        }


def check_granularity(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise InvalidInputError(
            f"unknown granularity {granularity!r}; use one of {', '.join(GRANULARITIES)}"
        )
    return granularity


def check_group_field(by: str | None) -> str | None:
    if by is not None and by not in GROUP_FIELDS:
        raise InvalidInputError(f"cannot group by {by!r}; use one of {', '.join(GROUP_FIELDS)}")
    return by


def bucket_start(ts: datetime, granularity: str) -> datetime:
    """The start (UTC) of the hour, day or ISO week (Monday) holding ``ts``."""
    check_granularity(granularity)
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if granularity == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "day":
        return day
    return day - timedelta(days=day.weekday())


@dataclass
class _Acc:
    n: int = 0
    n_scored: int = 0
    score_sum: float = 0.0
    polarity: Counter[str] = field(default_factory=Counter)
    emotion: Counter[str] = field(default_factory=Counter)

    def add(self, rec: MessageRecord) -> None:
        self.n += 1
        if rec.score is not None:
            self.n_scored += 1
            self.score_sum += float(rec.score)
        self.polarity[rec.polarity] += 1
        self.emotion[rec.emotion] += 1


def finish_groups(
    rows: Iterable[
        tuple[str | None, datetime | None, int, float, int, dict[str, int], dict[str, int]]
    ],
) -> list[GroupStats]:
    """GroupStats from raw sums ``(key, bucket, n, score_sum, n_scored, polarity_counts, emotion_counts)``."""
    out = []
    for key, bucket, n, score_sum, n_scored, pol, emo in rows:
        total_emo = sum(emo.values()) or 1
        out.append(
            GroupStats(
                key=key,
                bucket=bucket,
                n=int(n),
                satisfaction=(score_sum / n_scored) if n_scored else None,
                share_negative=pol.get("negative", 0) / n if n else 0.0,
                share_positive=pol.get("positive", 0) / n if n else 0.0,
                polarity_counts={p: int(pol.get(p, 0)) for p in POLARITY_LABELS},
                emotion_mix={e: emo.get(e, 0) / total_emo for e in EMOTION_LABELS},
            )
        )
    out.sort(key=lambda g: (g.bucket or datetime.min.replace(tzinfo=UTC), str(g.key)))
    return out


def _customer(records: Iterable[MessageRecord], customer_only: bool) -> Iterable[MessageRecord]:
    return (r for r in records if not customer_only or r.role == "customer")


def _aggregate(
    records: Iterable[MessageRecord], *, granularity: str | None, by: str | None
) -> list[GroupStats]:
    accs: dict[tuple[str | None, datetime | None], _Acc] = defaultdict(_Acc)
    for rec in records:
        bucket = bucket_start(rec.timestamp, granularity) if granularity else None
        key = getattr(rec, by) if by else None
        accs[(key, bucket)].add(rec)
    return finish_groups(
        (k, b, a.n, a.score_sum, a.n_scored, dict(a.polarity), dict(a.emotion))
        for (k, b), a in accs.items()
    )


def sentiment_trend(
    records: Iterable[MessageRecord],
    *,
    granularity: str = "day",
    by: str | None = None,
    customer_only: bool = True,
) -> list[GroupStats]:
    """Satisfaction, share negative/positive and emotion mix per time bucket (and slice).

    Args:
        records: analysed messages.
        granularity: ``hour``, ``day`` or ``week`` (UTC buckets; weeks start on Monday).
        by: also split by this field (``channel``, ``category``, ``product_id``,
            ``agent_id``, ``language``); None for one series.
        customer_only: count only the customer's messages (agents' turns are not opinions).
    """
    check_granularity(granularity)
    check_group_field(by)
    return _aggregate(_customer(records, customer_only), granularity=granularity, by=by)


def breakdown(
    records: Iterable[MessageRecord], *, by: str, customer_only: bool = True
) -> list[GroupStats]:
    """The same aggregates per slice over the whole period, largest slice first."""
    check_group_field(by)
    groups = _aggregate(_customer(records, customer_only), granularity=None, by=by)
    return sorted(groups, key=lambda g: (-g.n, str(g.key)))


def emotion_mix(
    records: Iterable[MessageRecord], *, customer_only: bool = True
) -> dict[str, float]:
    """Share of each canonical emotion among the messages."""
    counts = Counter(r.emotion for r in _customer(records, customer_only))
    total = sum(counts.values())
    return {e: (counts.get(e, 0) / total if total else 0.0) for e in EMOTION_LABELS}


@dataclass(frozen=True, slots=True)
class Kpis:
    messages: int
    conversations: int
    satisfaction: float | None
    share_negative: float
    share_positive: float
    top_emotion: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "conversations": self.conversations,
            "satisfaction": self.satisfaction,
            "share_negative": self.share_negative,
            "share_positive": self.share_positive,
            "top_emotion": self.top_emotion,
        }


def kpis(records: Sequence[MessageRecord], *, customer_only: bool = True) -> Kpis:
    """Headline figures: volume, satisfaction, share negative/positive, most frequent emotion."""
    recs = list(_customer(records, customer_only))
    (stats,) = _aggregate(recs, granularity=None, by=None) or [None]  # type: ignore[list-item]
    convs = {r.conversation_id for r in recs if r.conversation_id is not None}
    if stats is None:
        return Kpis(0, 0, None, 0.0, 0.0, None)
    mix = stats.emotion_mix
    top = max(mix, key=lambda e: mix[e]) if stats.n else None
    return Kpis(
        messages=stats.n,
        conversations=len(convs),
        satisfaction=stats.satisfaction,
        share_negative=stats.share_negative,
        share_positive=stats.share_positive,
        top_emotion=top,
    )
