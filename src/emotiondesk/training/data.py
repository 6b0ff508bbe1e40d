"""Reading labelled CSV files for training, with the canonical label maps applied.

Example:
    >>> texts, labels = read_labelled("dev.csv", task="polarity", dataset="sst2")  # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from emotiondesk.data import load_dataset
from emotiondesk.errors import DataError, LabelError
from emotiondesk.labels import scheme
from emotiondesk.text import normalize


def read_labelled(
    path: str | Path,
    *,
    task: str,
    dataset: str = "canonical",
    binary: bool = False,
    text_column: str = "text",
    label_column: str = "label",
    max_samples: int | None = None,
    seed: int = 42,
    drop_duplicates: bool = True,
) -> tuple[list[str], list[str]]:
    """Read a labelled file (CSV/JSONL/Parquet) with canonical labels and normalised texts.

    ``binary`` reads ``0/1`` as negative/positive. ``max_samples`` keeps a
    seeded random subset.
    """
    data = load_dataset(
        path,
        task=task,
        dataset="sst2" if binary else dataset,
        text_column=text_column,
        label_column=label_column,
        drop_duplicates=drop_duplicates,
    )
    return prepare_data(
        data.texts, data.labels, max_samples=max_samples, seed=seed, source=str(path)
    )


def prepare_data(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    max_samples: int | None = None,
    seed: int = 42,
    source: str = "data",
) -> tuple[list[str], list[str]]:
    """Normalise texts (as the analyzer does), drop empty ones, subsample if asked."""
    pairs = [(normalize(t), y) for t, y in zip(texts, labels, strict=True)]
    pairs = [(t, y) for t, y in pairs if t]
    if not pairs:
        raise DataError(f"{source} has no usable rows")
    if max_samples is not None and len(pairs) > max_samples:
        idx = sorted(random.Random(seed).sample(range(len(pairs)), max_samples))
        pairs = [pairs[i] for i in idx]
    return [t for t, _ in pairs], [y for _, y in pairs]


def label_set(train_labels: Sequence[str], task: str) -> list[str]:
    """The labels seen in training, in canonical order."""
    seen = set(train_labels)
    return [label for label in scheme(task) if label in seen]


def check_dev_labels(
    labels: list[str], dev_labels: Sequence[str], *, task: str, dev_path: str
) -> None:
    """A dev label the model never saw, or a dev set of one class, is an error."""
    unseen = sorted(set(dev_labels) - set(labels))
    if unseen:
        raise LabelError(
            f"{dev_path}: dev label(s) {unseen} for {task} never occur in the training data "
            f"(training labels: {labels}); add training examples or drop those rows",
            code="label_unseen_in_training",
        )
    if len(set(dev_labels)) < 2:
        only = next(iter(set(dev_labels)), None)
        raise DataError(
            f"{dev_path}: the dev set has a single class ({only!r}); macro-F1, early stopping "
            "and calibration need at least two classes",
            code="single_class_dev",
        )
    if len(labels) < 2:
        raise DataError(f"the training data for {task} has a single class ({labels})")


def describe(labels: Sequence[str]) -> dict[str, int]:
    return dict(Counter(labels).most_common())
