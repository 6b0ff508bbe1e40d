"""Canonical label schemes and the label maps of public datasets.

emotiondesk speaks two schemes everywhere (models, API, database):

* polarity: ``negative, neutral, positive``
* emotion: ``anger, disgust, fear, joy, sadness, surprise, neutral``

Datasets come with their own names; :data:`DATASET_LABEL_MAPS` maps each onto
the canonical scheme, and :func:`map_label` applies a map with a clear error
naming the offending row.

Example:
    >>> map_label("happy", task="emotion", dataset="smp2020_ewect")
    'joy'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from emotiondesk.errors import LabelError

Task = Literal["polarity", "emotion"]

POLARITY_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
EMOTION_LABELS: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "joy",
    "sadness",
    "surprise",
    "neutral",
)
SCHEMES: dict[str, tuple[str, ...]] = {"polarity": POLARITY_LABELS, "emotion": EMOTION_LABELS}

#: Where each polarity sits on the 0..1 sentiment score.
POLARITY_VALUES: dict[str, float] = {"negative": 0.0, "neutral": 0.5, "positive": 1.0}

#: The polarity an emotion usually carries (used to derive polarity training
#: data from emotion corpora and for consistency checks). ``surprise`` is
#: ambiguous and deliberately absent.
EMOTION_TO_POLARITY: dict[str, str] = {
    "anger": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sadness": "negative",
    "joy": "positive",
    "neutral": "neutral",
}

_IDENTITY_POLARITY = {label: label for label in POLARITY_LABELS}
_IDENTITY_EMOTION = {label: label for label in EMOTION_LABELS}

#: dataset -> task -> {dataset label: canonical label}. A dataset label mapped
#: to ``None`` is known but deliberately dropped (no canonical counterpart).
DATASET_LABEL_MAPS: dict[str, dict[str, dict[str, str | None]]] = {
    # zh
    "online_shopping_10_cats": {"polarity": {"0": "negative", "1": "positive"}},
    "smp2020_ewect": {
        "emotion": {
            "happy": "joy",
            "angry": "anger",
            "sad": "sadness",
            "fear": "fear",
            "surprise": "surprise",
            "neutral": "neutral",
        },
        "polarity": {
            "happy": "positive",
            "angry": "negative",
            "sad": "negative",
            "fear": "negative",
            "surprise": None,
            "neutral": "neutral",
        },
    },
    "nlpcc_weibo_emotion": {
        "emotion": {
            "like": "joy",
            "happiness": "joy",
            "disgust": "disgust",
            "sadness": "sadness",
            "anger": "anger",
            "surprise": "surprise",
            "fear": "fear",
        },
        "polarity": {
            "like": "positive",
            "happiness": "positive",
            "disgust": "negative",
            "sadness": "negative",
            "anger": "negative",
            "surprise": None,
            "fear": "negative",
        },
    },
    "cped": {
        "emotion": {
            "neutral": "neutral",
            "anger": "anger",
            "depress": "sadness",
            "happy": "joy",
            "negative-other": None,
            "relaxed": "joy",
            "positive-other": None,
            "worried": "fear",
            "astonished": "surprise",
            "disgust": "disgust",
            "fear": "fear",
            "sadness": "sadness",
            "grateful": "joy",
        },
        "polarity": dict(_IDENTITY_POLARITY),
    },
    # en
    "sst2": {"polarity": {"0": "negative", "1": "positive"}},
    "tweeteval_sentiment": {"polarity": dict(_IDENTITY_POLARITY)},
    "tweeteval_emotion": {
        "emotion": {"anger": "anger", "joy": "joy", "optimism": "joy", "sadness": "sadness"},
        "polarity": {
            "anger": "negative",
            "joy": "positive",
            "optimism": "positive",
            "sadness": "negative",
        },
    },
    "dair_ai_emotion": {
        "emotion": {
            "sadness": "sadness",
            "joy": "joy",
            "love": "joy",
            "anger": "anger",
            "fear": "fear",
            "surprise": "surprise",
        },
    },
    # GoEmotions: the ``ekman`` column already holds the Ekman grouping
    # (anger, disgust, fear, joy, sadness, surprise) plus neutral.
    "goemotions": {
        "emotion": dict(_IDENTITY_EMOTION),
        "polarity": {
            "positive": "positive",
            "negative": "negative",
            "neutral": "neutral",
            "ambiguous": None,
        },
    },
    "dailydialog": {
        "emotion": {
            "no emotion": "neutral",
            "happiness": "joy",
            "surprise": "surprise",
            "sadness": "sadness",
            "anger": "anger",
            "disgust": "disgust",
            "fear": "fear",
        },
    },
    "meld": {
        "emotion": dict(_IDENTITY_EMOTION),
        "polarity": dict(_IDENTITY_POLARITY),
    },
    # `evaluate --binary` files: 0 = negative, 1 = positive (names accepted too).
    "binary": {
        "polarity": {
            "0": "negative",
            "1": "positive",
            "negative": "negative",
            "positive": "positive",
        }
    },
    # Canonical names in, canonical names out (the format of `evaluate` files).
    "canonical": {"polarity": dict(_IDENTITY_POLARITY), "emotion": dict(_IDENTITY_EMOTION)},
}

#: The GoEmotions fine-grained -> Ekman grouping (as published with the
#: dataset), for files that carry only the 28 fine-grained names.
GOEMOTIONS_EKMAN: dict[str, str] = {
    "admiration": "joy",
    "amusement": "joy",
    "anger": "anger",
    "annoyance": "anger",
    "approval": "joy",
    "caring": "joy",
    "confusion": "surprise",
    "curiosity": "surprise",
    "desire": "joy",
    "disappointment": "sadness",
    "disapproval": "anger",
    "disgust": "disgust",
    "embarrassment": "sadness",
    "excitement": "joy",
    "fear": "fear",
    "gratitude": "joy",
    "grief": "sadness",
    "joy": "joy",
    "love": "joy",
    "nervousness": "fear",
    "optimism": "joy",
    "pride": "joy",
    "realization": "surprise",
    "relief": "joy",
    "remorse": "sadness",
    "sadness": "sadness",
    "surprise": "surprise",
    "neutral": "neutral",
}


def scheme(task: str) -> tuple[str, ...]:
    """Return the canonical labels of ``task`` (``polarity`` or ``emotion``)."""
    try:
        return SCHEMES[task]
    except KeyError:
        raise LabelError(
            f"unknown task {task!r}: use one of {', '.join(SCHEMES)}", code="unknown_task"
        ) from None


def label_map(dataset: str, task: str) -> Mapping[str, str | None]:
    """Return the map from ``dataset``'s labels to canonical ``task`` labels."""
    scheme(task)
    try:
        maps = DATASET_LABEL_MAPS[dataset]
    except KeyError:
        known = ", ".join(sorted(DATASET_LABEL_MAPS))
        raise LabelError(f"no label map for dataset {dataset!r}; known: {known}") from None
    try:
        return maps[task]
    except KeyError:
        raise LabelError(f"dataset {dataset!r} has no {task} labels") from None


def map_label(
    label: object,
    *,
    task: str,
    dataset: str = "canonical",
    row: int | None = None,
) -> str | None:
    """Map one dataset label onto the canonical scheme.

    Returns ``None`` for a label the map knows but deliberately drops. Raises
    :class:`LabelError` naming the row for a label the map does not know.

    Example:
        >>> map_label("love", task="emotion", dataset="dair_ai_emotion")
        'joy'
    """
    mapping = label_map(dataset, task)
    key = str(label).strip()
    if key.endswith(".0") and key[:-2].isdigit():  # 1.0 from a float column
        key = key[:-2]
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    if lowered in mapping:
        return mapping[lowered]
    where = f" in row {row}" if row is not None else ""
    allowed = ", ".join(k for k in mapping)
    raise LabelError(
        f"unknown {task} label {label!r}{where} for dataset {dataset!r}; expected one of: {allowed}"
    )


def map_labels(
    labels: Iterable[object], *, task: str, dataset: str = "canonical", first_row: int = 2
) -> list[str | None]:
    """Map a column of labels; row numbers in errors count the CSV header as row 1."""
    return [
        map_label(label, task=task, dataset=dataset, row=first_row + i)
        for i, label in enumerate(labels)
    ]
