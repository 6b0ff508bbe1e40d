"""Evaluation metrics agree with scikit-learn's definitions."""

from __future__ import annotations

import random

import pytest

from emotiondesk.errors import InvalidInputError
from emotiondesk.evaluation.metrics import classification_report, confusion_matrix


def test_against_sklearn() -> None:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    rng = random.Random(0)
    y_true = [rng.choice("abcd") for _ in range(300)]
    y_pred = [rng.choice("abce") for _ in range(300)]
    r = classification_report(y_true, y_pred)
    assert r.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert r.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    p, rec, f, s = precision_recall_fscore_support(y_true, y_pred, labels=r.labels, zero_division=0)
    for i, label in enumerate(r.labels):
        assert r.per_class[label]["precision"] == pytest.approx(p[i], abs=1e-6)
        assert r.per_class[label]["recall"] == pytest.approx(rec[i], abs=1e-6)
        assert r.per_class[label]["f1"] == pytest.approx(f[i], abs=1e-6)
        assert r.per_class[label]["support"] == s[i]


def test_confusion_matrix() -> None:
    m = confusion_matrix(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    assert m.tolist() == [[1, 1], [0, 1]]


def test_empty_or_mismatched() -> None:
    with pytest.raises(InvalidInputError):
        classification_report([], [])
    with pytest.raises(InvalidInputError):
        classification_report(["a"], ["a", "b"])
