"""Training an n-gram model for ``emotiondesk train --base ngram``."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from emotiondesk.data import LabelledData
from emotiondesk.errors import InvalidInputError
from emotiondesk.text import detect_language
from emotiondesk.training.report import record_dev_figures

logger = logging.getLogger(__name__)

#: ``options`` keys this trainer understands -> NgramClassifier parameters.
PARAMS = (
    "C",
    "class_weight",
    "char_ngram_range",
    "word_ngram_range",
    "min_df",
    "max_features",
    "keep_features",
    "calibration_fraction",
    "weight_dtype",
    "random_state",
)


def guess_language(texts: list[str], sample: int = 2000) -> str:
    """``zh`` or ``en``: the language most of ``texts`` are in."""
    counts = Counter(detect_language(t) for t in texts[:sample])
    return "zh" if counts["zh"] >= counts["en"] else "en"


def train_ngram(
    *,
    task: str,
    train: LabelledData,
    dev: LabelledData | None,
    out: str | Path,
    base: str = "ngram",
    dataset: str = "canonical",
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit an :class:`~emotiondesk.models.ngram.NgramClassifier`, save it, evaluate on dev."""
    from emotiondesk.models.ngram import NgramClassifier

    options = dict(options or {})
    language = options.pop("language", None) or "auto"
    if language == "auto":
        language = guess_language(train.texts)
    if language not in ("zh", "en"):
        raise InvalidInputError(f"--lang must be auto, zh or en, not {language!r}")
    unknown = set(options) - set(PARAMS)
    if unknown:
        raise InvalidInputError(f"unknown n-gram options: {sorted(unknown)}")
    params = {k: v for k, v in options.items() if v is not None}
    clf = NgramClassifier(language=language, **params).fit(train.texts, train.labels)
    clf.training_info_.update({"task": task, "dataset": dataset, "source": train.source})
    summary: dict[str, Any] = {
        "model_dir": str(out),
        "model_type": "ngram",
        "task": task,
        "language": language,
        "n_train": len(train),
        "train_labels": train.label_counts(),
        "dev": None,
    }
    clf.save_pretrained(out)
    if dev is not None:
        record_dev_figures(clf, dev, task=task, out=out, summary=summary)
    return summary
