"""Stateless analysis of a batch of messages, optionally with evidence.

The journey behind ``emotiondesk analyze`` and ``POST /v1/analyze``: analyse
(the caller's analyse function: the analyzer, or the service's micro-batcher),
then, when asked, explain each result (:mod:`emotiondesk.explain`) and add its
``evidence`` to the result's JSON.

Example:
    >>> rows = analyze_messages(analyzer, ["物流太慢了"], explain=True)  # doctest: +SKIP
    >>> rows[0]["evidence"]["polarity"]["spans"][0]["text"]             # doctest: +SKIP
    '太慢'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emotiondesk.analytics.aspects import AspectMention, extract_aspects
from emotiondesk.analyzer import AnalysisResult, Analyzer
from emotiondesk.explain import Evidence, explain


def explain_results(analyzer: Analyzer, results: Sequence[AnalysisResult]) -> list[Evidence]:
    """Evidence for already analysed messages (one batch per model)."""
    return explain(analyzer, results)


def agreement(polarity: str, aspects: Sequence[AspectMention]) -> str | None:
    """A note when the message's polarity and its aspects disagree (``None`` when they agree)."""
    positive = sorted({m.aspect for m in aspects if m.polarity == "positive"})
    negative = sorted({m.aspect for m in aspects if m.polarity == "negative"})
    if polarity == "negative" and positive and not negative:
        return f"the message reads negative, but its aspects read positive: {', '.join(positive)}"
    if polarity == "positive" and negative and not positive:
        return f"the message reads positive, but its aspects read negative: {', '.join(negative)}"
    if polarity != "neutral" and positive and negative:
        return f"mixed: positive about {', '.join(positive)}, negative about {', '.join(negative)}"
    return None


def to_rows(
    results: Sequence[AnalysisResult], evidence: Sequence[Evidence] | None = None
) -> list[dict[str, Any]]:
    """The results' JSON (the ``analyze --json`` fields), with ``evidence`` when given.

    The evidence also holds the message's ``aspects`` (each with its opinion
    spans, polarity and negation; :func:`extract_aspects`) and a ``note`` when
    the message's polarity and its aspects disagree.
    """
    rows = [r.to_dict() for r in results]
    if evidence is not None:
        mentions = extract_aspects([r.text for r in results])
        for row, ev, found, r in zip(rows, evidence, mentions, results, strict=True):
            row["evidence"] = {
                **ev.to_dict(),
                "aspects": [_aspect(m) for m in found],
                "note": agreement(r.polarity, found),
            }
    return rows


def _aspect(m: AspectMention) -> dict[str, Any]:
    return {
        "aspect": m.aspect,
        "term": m.term,
        "start": m.start,
        "end": m.end,
        "polarity": m.polarity,
        "negated": m.negated,
        "opinions": [o.to_dict() for o in m.opinion_spans],
    }


def analyze_messages(
    analyzer: Analyzer,
    texts: Sequence[str],
    *,
    language: str | None = None,
    explain: bool = False,
) -> list[dict[str, Any]]:
    """Analyse ``texts`` and return their JSON rows (``evidence`` added when ``explain``)."""
    results = analyzer.analyze(list(texts), language=language)
    return to_rows(results, explain_results(analyzer, results) if explain else None)
