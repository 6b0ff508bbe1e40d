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

from emotiondesk.analyzer import AnalysisResult, Analyzer
from emotiondesk.explain import Evidence, explain


def explain_results(analyzer: Analyzer, results: Sequence[AnalysisResult]) -> list[Evidence]:
    """Evidence for already analysed messages (one batch per model)."""
    return explain(analyzer, results)


def to_rows(
    results: Sequence[AnalysisResult], evidence: Sequence[Evidence] | None = None
) -> list[dict[str, Any]]:
    """The results' JSON (the ``analyze --json`` fields), with ``evidence`` when given."""
    rows = [r.to_dict() for r in results]
    if evidence is not None:
        for row, ev in zip(rows, evidence, strict=True):
            row["evidence"] = ev.to_dict()
    return rows


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
