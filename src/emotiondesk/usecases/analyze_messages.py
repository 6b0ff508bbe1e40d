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

from collections.abc import Callable, Sequence
from typing import Any

from emotiondesk.analytics.aspects import AspectMention, aspect_lexicon, extract_aspects
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
    results: Sequence[AnalysisResult],
    evidence: Sequence[Evidence] | None = None,
    analyzer: Analyzer | None = None,
) -> list[dict[str, Any]]:
    """The results' JSON (the ``analyze --json`` fields), with ``evidence`` when given.

    The evidence also holds the message's ``aspects`` (each with its opinion
    spans, polarity and negation; :func:`extract_aspects`) and a ``note`` when
    the message's polarity and its aspects disagree.
    """
    rows = [r.to_dict() for r in results]
    if evidence is not None:
        for row, full in zip(rows, evidence_dicts(results, evidence, analyzer), strict=True):
            row["evidence"] = full
    return rows


def evidence_dicts(
    results: Sequence[AnalysisResult],
    evidence: Sequence[Evidence],
    analyzer: Analyzer | None = None,
) -> list[dict[str, Any]]:
    """Each result's evidence as JSON: the tasks' spans, the ``aspects`` and the ``note``.

    With ``analyzer``, an aspect whose clause holds no opinion word gets the
    analyzer's polarity of that clause (as the analytics do; one batch for all
    such clauses); without it, it stays neutral.
    """
    polarity_fn = None
    if analyzer is not None:
        polarity_fn = lambda clauses: [r.polarity for r in analyzer.analyze(list(clauses))]  # noqa: E731
    mentions = extract_aspects([r.text for r in results], polarity_fn=polarity_fn)
    return [
        {
            **ev.to_dict(),
            "aspects": [_aspect(m) for m in found],
            "note": agreement(r.polarity, found),
        }
        for ev, found, r in zip(evidence, mentions, results, strict=True)
    ]


#: What is stored with an ingested message: at most this many aspects, each with at
#: most this many opinions (the spans are at most ``explain.TOP_SPANS`` per task).
STORED_ASPECTS = 8
STORED_OPINIONS = 4


def stored_evidence(full: dict[str, Any]) -> dict[str, Any]:
    """The bounded form of :func:`evidence_dicts`' item kept with a stored message.

    Offsets, weights, labels, flags and each aspect's term (a lexicon entry):
    the words of the spans are the stored text's (:func:`with_texts` puts them
    back when the message is read), so the size does not grow with the
    message's length.
    """

    def spans(task: dict[str, Any]) -> dict[str, Any]:
        return {
            "label": task["label"],
            "method": task["method"],
            "spans": [
                {"start": s["start"], "end": s["end"], "weight": s["weight"]} for s in task["spans"]
            ],
        }

    return {
        "polarity": spans(full["polarity"]),
        "emotion": spans(full["emotion"]),
        "aspects": [
            {
                "aspect": a["aspect"],
                "term": a["term"][:32],
                "start": a["start"],
                "end": a["end"],
                "polarity": a["polarity"],
                "negated": a["negated"],
                "opinions": [
                    {k: o[k] for k in ("start", "end", "polarity", "negated")}
                    for o in a["opinions"][:STORED_OPINIONS]
                ],
            }
            for a in full["aspects"][:STORED_ASPECTS]
        ],
        "note": full["note"],
    }


def with_texts(stored: dict[str, Any], text: str) -> dict[str, Any]:
    """Stored evidence with each span's and opinion's words taken from ``text``.

    Each aspect also gets its display ``name`` (``en`` and ``zh``).
    """

    def words(item: dict[str, Any]) -> dict[str, Any]:
        s, e = int(item["start"]), int(item["end"])
        return {**item, "text": text[s:e] if 0 <= s <= e <= len(text) else ""}

    out = dict(stored)
    for task in ("polarity", "emotion"):
        if isinstance(stored.get(task), dict):
            out[task] = {**stored[task], "spans": [words(s) for s in stored[task].get("spans", [])]}
    names = aspect_lexicon().aspect_names
    out["aspects"] = [
        {
            **a,
            "name": names.get(a["aspect"], {"en": a["aspect"], "zh": a["aspect"]}),
            "opinions": [words(o) for o in a.get("opinions", [])],
        }
        for a in stored.get("aspects", [])
    ]
    return out


def evidence_for_storage(
    analyzer: Analyzer,
) -> Callable[[Sequence[AnalysisResult]], list[dict[str, Any]]]:
    """What ingestion stores with each analysed message: the cheap n-gram evidence, bounded.

    The polarity and emotion spans come from :func:`explain`'s ``linear``
    method (exact n-gram contributions; an ensemble through its n-gram member;
    no spans for a model without one), so storing them costs about as much as
    the n-gram analysis itself; then the aspects and the note, bounded by
    :func:`stored_evidence`.
    """

    def run(results: Sequence[AnalysisResult]) -> list[dict[str, Any]]:
        evidence = explain(analyzer, results, method="linear")
        return [stored_evidence(full) for full in evidence_dicts(results, evidence, analyzer)]

    return run


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
    return to_rows(results, explain_results(analyzer, results) if explain else None, analyzer)
