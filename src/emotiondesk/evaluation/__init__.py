"""Evaluation: metrics and reports (numpy only; no scikit-learn at run time)."""

from __future__ import annotations

from emotiondesk.evaluation.metrics import ClassificationReport, classification_report

__all__ = ["ClassificationReport", "classification_report"]
