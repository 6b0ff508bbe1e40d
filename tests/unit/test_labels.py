from __future__ import annotations

import pytest

from emotiondesk.errors import LabelError
from emotiondesk.labels import (
    DATASET_LABEL_MAPS,
    EMOTION_LABELS,
    GOEMOTIONS_EKMAN,
    POLARITY_LABELS,
    map_label,
    map_labels,
    scheme,
)


def test_schemes() -> None:
    assert POLARITY_LABELS == ("negative", "neutral", "positive")
    assert set(EMOTION_LABELS) == {
        "anger",
        "disgust",
        "fear",
        "joy",
        "sadness",
        "surprise",
        "neutral",
    }
    assert scheme("emotion") == EMOTION_LABELS


@pytest.mark.parametrize(
    ("dataset", "task", "raw", "canonical"),
    [
        ("smp2020_ewect", "emotion", "happy", "joy"),
        ("smp2020_ewect", "emotion", "angry", "anger"),
        ("smp2020_ewect", "emotion", "sad", "sadness"),
        ("nlpcc_weibo_emotion", "emotion", "like", "joy"),
        ("nlpcc_weibo_emotion", "emotion", "happiness", "joy"),
        ("dair_ai_emotion", "emotion", "love", "joy"),
        ("tweeteval_emotion", "emotion", "optimism", "joy"),
        ("dailydialog", "emotion", "no emotion", "neutral"),
        ("dailydialog", "emotion", "happiness", "joy"),
        ("online_shopping_10_cats", "polarity", "0", "negative"),
        ("online_shopping_10_cats", "polarity", 1, "positive"),
        ("sst2", "polarity", "1.0", "positive"),
        ("cped", "emotion", "worried", "fear"),
        ("cped", "emotion", "negative-other", None),
    ],
)
def test_dataset_maps(dataset: str, task: str, raw: object, canonical: str | None) -> None:
    assert map_label(raw, task=task, dataset=dataset) == canonical


def test_every_map_targets_the_scheme() -> None:
    for dataset, tasks in DATASET_LABEL_MAPS.items():
        for task, mapping in tasks.items():
            allowed = set(scheme(task))
            for raw, canonical in mapping.items():
                assert canonical is None or canonical in allowed, (dataset, task, raw)
    assert set(GOEMOTIONS_EKMAN.values()) <= set(EMOTION_LABELS)
    assert len(GOEMOTIONS_EKMAN) == 28


def test_unknown_label_names_the_row() -> None:
    with pytest.raises(LabelError, match="row 4") as info:
        map_labels(["joy", "anger", "bliss"], task="emotion")
    assert "bliss" in str(info.value)
    assert "expected one of" in str(info.value)


def test_unknown_dataset_and_task() -> None:
    with pytest.raises(LabelError, match="no label map"):
        map_label("x", task="emotion", dataset="nope")
    with pytest.raises(LabelError, match="unknown task"):
        map_label("x", task="sarcasm")
    with pytest.raises(LabelError, match="has no emotion"):
        map_label("0", task="emotion", dataset="sst2")


def test_canonical_labels_are_case_insensitive() -> None:
    assert map_label("Anger", task="emotion") == "anger"
