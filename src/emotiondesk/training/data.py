"""Reading labelled CSV files for training, with the canonical label maps applied.

Example:
    >>> texts, labels = read_labelled("dev.csv", task="polarity", dataset="sst2")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from emotiondesk.errors import DataError, LabelError
from emotiondesk.labels import map_label, scheme
from emotiondesk.text import normalize

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


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
) -> tuple[list[str], list[str]]:
    """Read ``text,label`` rows; map labels onto ``task``'s canonical scheme.

    Rows whose label the dataset map deliberately drops are skipped; empty
    texts are skipped. ``binary`` reads ``0/1`` as negative/positive.
    ``max_samples`` keeps a seeded random subset.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"data file {str(p)!r} does not exist")
    if binary:
        dataset = "sst2"  # the 0/1 -> negative/positive map
    scheme(task)
    texts: list[str] = []
    labels: list[str] = []
    try:
        with p.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or text_column not in reader.fieldnames:
                raise DataError(f"{p}: no {text_column!r} column (columns: {reader.fieldnames})")
            if label_column not in reader.fieldnames:
                raise DataError(f"{p}: no {label_column!r} column (columns: {reader.fieldnames})")
            for row_no, row in enumerate(reader, start=2):
                text = normalize(row[text_column] or "")
                if not text:
                    continue
                try:
                    label = map_label(row[label_column], task=task, dataset=dataset, row=row_no)
                except LabelError as exc:
                    raise LabelError(f"{p}: {exc.message}") from None
                if label is None:
                    continue
                texts.append(text)
                labels.append(label)
    except UnicodeDecodeError as exc:
        raise DataError(f"{p} is not UTF-8 text: {exc}") from exc
    if not texts:
        raise DataError(f"{p} has no usable rows")
    if max_samples is not None and len(texts) > max_samples:
        idx = sorted(random.Random(seed).sample(range(len(texts)), max_samples))
        texts = [texts[i] for i in idx]
        labels = [labels[i] for i in idx]
    return texts, labels


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
