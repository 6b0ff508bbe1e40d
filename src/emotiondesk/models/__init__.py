"""Classifiers behind one interface (n-gram now; transformer, ONNX and ensembles plug in)."""

from __future__ import annotations

from emotiondesk.models.base import TextClassifier, load_model, read_config, register

__all__ = ["TextClassifier", "load_model", "read_config", "register"]
