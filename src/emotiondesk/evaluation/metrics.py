"""Classification metrics: accuracy, macro-F1, per-class P/R/F1/support, confusion matrix.

Plain numpy, matching scikit-learn's definitions (a class with no prediction
has precision 0; macro averages run over the classes in ``labels``).

Example:
    >>> r = classification_report(["a", "b", "b"], ["a", "b", "a"])
    >>> round(r.accuracy, 3), round(r.macro_f1, 3)
    (0.667, 0.667)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emotiondesk.errors import InvalidInputError


def confusion_matrix(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> np.ndarray:
    """``m[i, j]`` = how many of true ``labels[i]`` were predicted ``labels[j]``."""
    index = {label: i for i, label in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t in index and p in index:
            m[index[t], index[p]] += 1
    return m


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


@dataclass(frozen=True)
class ClassificationReport:
    """Every figure of one evaluation."""

    labels: list[str]
    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 6),
            "macro_f1": round(self.macro_f1, 6),
            "weighted_f1": round(self.weighted_f1, 6),
            "labels": list(self.labels),
            "per_class": self.per_class,
            "confusion_matrix": self.confusion,
            **self.extra,
        }


def classification_report(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str] | None = None,
) -> ClassificationReport:
    """Compute the report. ``labels`` default: every label in ``y_true`` or ``y_pred``, sorted."""
    y_true = [str(y) for y in y_true]
    y_pred = [str(y) for y in y_pred]
    if len(y_true) != len(y_pred):
        raise InvalidInputError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    if not y_true:
        raise InvalidInputError("nothing to evaluate: no rows")
    if labels is None:
        labels = sorted(set(y_true) | set(y_pred))
    labels = list(labels)
    m = confusion_matrix(y_true, y_pred, labels)
    tp = np.diag(m).astype(np.float64)
    support = m.sum(axis=1).astype(np.float64)
    predicted = m.sum(axis=0).astype(np.float64)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    n = len(y_true)
    accuracy = float(sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / n)
    weighted = float((f1 * support).sum() / support.sum()) if support.sum() else 0.0
    per_class = {
        label: {
            "precision": round(float(precision[i]), 6),
            "recall": round(float(recall[i]), 6),
            "f1": round(float(f1[i]), 6),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    return ClassificationReport(
        labels=labels,
        n=n,
        accuracy=accuracy,
        macro_f1=float(f1.mean()) if len(labels) else 0.0,
        weighted_f1=weighted,
        per_class=per_class,
        confusion=m.tolist(),
    )
