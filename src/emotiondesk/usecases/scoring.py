"""Batch scoring: one core for ``emotiondesk score``, the importer and the Ray engine.

:func:`score_batch` turns a batch of texts into columns (one list per
analysis column), the shape a table, a Ray Data batch and the importer's rows
all take. Every engine calls it, so local and distributed runs give the same
numbers.

Example:
    >>> from emotiondesk import load_analyzer
    >>> cols = score_batch(load_analyzer(), ["物流太慢了", "Great, thanks!"])  # doctest: +SKIP
    >>> cols["polarity"], cols["emotion"]                                      # doctest: +SKIP
    (['negative', 'positive'], ['anger', 'joy'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from emotiondesk.analyzer import AnalysisResult, Analyzer
from emotiondesk.errors import DataError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS

#: Analysis columns and their types (``str``, ``float``, ``bool``), in output order.
ANALYSIS_COLUMNS: dict[str, type] = {
    "language": str,
    "polarity": str,
    "score": float,
    "emotion": str,
    **{f"polarity_{label}": float for label in POLARITY_LABELS},
    **{f"emotion_{label}": float for label in EMOTION_LABELS},
    "truncated": bool,
    "model_version": str,
}

#: Column names taken for the text when ``--text-col`` is not given (first match wins).
TEXT_COLUMN_ALIASES: tuple[str, ...] = (
    "text",
    "review",
    "content",
    "message",
    "comment",
    "body",
    "文本",
    "内容",
    "评论",
    "评价",
    "评论内容",
    "评价内容",
    "消息",
    "留言",
)


def as_text(value: Any) -> str:
    """A cell as the text to analyse: missing is empty (scored neutral), others as ``str``."""
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    return value if isinstance(value, str) else str(value)


def columns_from_results(results: Sequence[AnalysisResult]) -> dict[str, list[Any]]:
    """The analysis columns of ``results`` (keys and order as :data:`ANALYSIS_COLUMNS`)."""
    cols: dict[str, list[Any]] = {name: [] for name in ANALYSIS_COLUMNS}
    for r in results:
        cols["language"].append(r.language)
        cols["polarity"].append(r.polarity)
        cols["score"].append(r.score)
        cols["emotion"].append(r.emotion)
        for label in POLARITY_LABELS:
            cols[f"polarity_{label}"].append(r.polarity_scores[label])
        for label in EMOTION_LABELS:
            cols[f"emotion_{label}"].append(r.emotion_scores[label])
        cols["truncated"].append(r.truncated)
        cols["model_version"].append(r.model)
    return cols


def score_batch(analyzer: Analyzer, texts: Sequence[Any]) -> dict[str, list[Any]]:
    """Analyse ``texts`` and return the analysis columns, one value per text, in order.

    Missing cells (``None``, NaN) are empty texts and score neutral; other
    non-string cells are analysed as their ``str``.
    """
    return columns_from_results(analyzer.analyze([as_text(t) for t in texts]))


class BatchScorer(Protocol):
    """Analyses batches of texts into columns, possibly several at once, results in order.

    ``submit`` starts a batch and returns a handle; ``result`` waits for it.
    ``depth``: how many batches a caller keeps in flight before it waits.
    """

    depth: int

    def submit(self, texts: list[str]) -> Any: ...

    def result(self, handle: Any) -> dict[str, list[Any]]: ...


class LocalScorer:
    """:func:`score_batch` in this process (one batch at a time)."""

    depth = 1

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer

    def submit(self, texts: list[str]) -> dict[str, list[Any]]:
        return score_batch(self.analyzer, texts)

    def result(self, handle: dict[str, list[Any]]) -> dict[str, list[Any]]:
        return handle


def analysis_record(cols: dict[str, list[Any]], i: int, text: str) -> dict[str, Any]:
    """Row ``i`` of ``cols`` as the analysis dict stored with a message (``/v1/analyze`` shape)."""
    return {
        "text": text,
        "language": cols["language"][i],
        "polarity": cols["polarity"][i],
        "polarity_scores": {label: cols[f"polarity_{label}"][i] for label in POLARITY_LABELS},
        "score": cols["score"][i],
        "emotion": cols["emotion"][i],
        "emotion_scores": {label: cols[f"emotion_{label}"][i] for label in EMOTION_LABELS},
        "truncated": cols["truncated"][i],
        "model": cols["model_version"][i],
    }


def output_columns(prefix: str = "") -> list[str]:
    """The analysis columns' names in an output file (with ``prefix``)."""
    return [prefix + name for name in ANALYSIS_COLUMNS]


def resolve_text_column(columns: Sequence[str], text_col: str | None, *, name: str) -> str:
    """The text column of a file with ``columns``: ``text_col`` if given, else the first alias."""
    if not columns:
        raise DataError(f"{name}: empty file (no columns)")
    if text_col is not None:
        if text_col not in columns:
            raise DataError(
                f"{name}: no column {text_col!r} (found: {', '.join(map(str, columns))})"
            )
        return text_col
    lower = {str(c).strip().lower(): c for c in columns}
    for alias in TEXT_COLUMN_ALIASES:
        if alias in lower:
            return str(lower[alias])
    raise DataError(
        f"{name}: which column holds the text? none is named {', '.join(TEXT_COLUMN_ALIASES[:6])}, ...; "
        f"pass --text-col (found: {', '.join(map(str, columns))})"
    )


def check_no_clash(columns: Sequence[str], prefix: str, *, name: str) -> None:
    """Refuse input columns that the analysis columns would overwrite."""
    clash = sorted(set(columns) & set(output_columns(prefix)))
    if clash:
        raise DataError(
            f"{name}: the input already has column(s) {', '.join(clash)}; "
            "pass --prefix (e.g. --prefix ed_) to name the analysis columns apart"
        )
