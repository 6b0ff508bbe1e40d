"""Analytics: trends, aspect sentiment, complaint topics and negative-surge alerts.

Pure functions over analysed records; they use inference results only (never
``training``) and know nothing of the database or the service, which call them.

Example:
    >>> from emotiondesk.analytics import extract_aspects
    >>> [(m.aspect, m.polarity) for m in extract_aspects(["物流很快，包装很好"])[0]]
    [('logistics', 'positive'), ('packaging', 'positive')]
"""

from __future__ import annotations

from typing import Any

from emotiondesk.analytics.aspects import (
    AspectMention,
    AspectSummary,
    Lexicon,
    aspect_lexicon,
    extract_aspects,
    load_lexicon,
    split_clauses,
    summarize_aspects,
)
from emotiondesk.analytics.surge import (
    SENSITIVITY,
    SurgeAlert,
    SurgeDetector,
    detect_surges,
    fill_buckets,
)
from emotiondesk.analytics.topics import Topic, complaint_topics
from emotiondesk.analytics.trends import (
    GRANULARITIES,
    GROUP_FIELDS,
    GroupStats,
    Kpis,
    MessageRecord,
    breakdown,
    bucket_start,
    emotion_mix,
    finish_groups,
    kpis,
    sentiment_trend,
)

__all__ = [
    "ASPECT_NAMES",
    "ASPECT_TERMS",
    "CATEGORY_ASPECTS",
    "GRANULARITIES",
    "GROUP_FIELDS",
    "SENSITIVITY",
    "AspectMention",
    "AspectSummary",
    "GroupStats",
    "Kpis",
    "Lexicon",
    "MessageRecord",
    "SurgeAlert",
    "SurgeDetector",
    "Topic",
    "aspect_lexicon",
    "breakdown",
    "bucket_start",
    "complaint_topics",
    "detect_surges",
    "emotion_mix",
    "extract_aspects",
    "fill_buckets",
    "finish_groups",
    "kpis",
    "load_lexicon",
    "sentiment_trend",
    "split_clauses",
    "summarize_aspects",
]


def __getattr__(name: str) -> Any:
    """``ASPECT_TERMS``, ``ASPECT_NAMES``, ``CATEGORY_ASPECTS`` of the lexicon in use (on demand)."""
    if name in ("ASPECT_TERMS", "ASPECT_NAMES", "CATEGORY_ASPECTS"):
        from emotiondesk.analytics import aspects

        return getattr(aspects, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
