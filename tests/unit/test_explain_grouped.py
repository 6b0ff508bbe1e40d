"""Grouped occlusion (the transformer tier's evidence) on a real tiny multi-task transformer.

Each language's polarity and emotion routes are blends of the tiny pack's
n-gram model and one tiny fine-tuned BERT (both heads), the way the default
pack blends its routes with the e5 model.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from emotiondesk.analyzer import Analyzer, load_analyzer  # noqa: E402
from emotiondesk.explain import MAX_GROUPS, explain, segment, word_groups  # noqa: E402
from emotiondesk.models.base import load_model  # noqa: E402
from emotiondesk.models.ensemble import EnsembleClassifier  # noqa: E402
from emotiondesk.models.multitask import MultiTaskClassifier  # noqa: E402
from emotiondesk.text.normalize import prepare  # noqa: E402
from emotiondesk.training import TaskData, TrainingArgs, fine_tune  # noqa: E402
from tests.unit.deep_helpers import make_tiny_bert, task_rows, write_csv  # noqa: E402

TEXTS = [
    "物流太慢了，气死我了，客服也不回消息，再也不买了",
    "  ＧＯＯＤ！！ 質量很好 😀 http://x.cn/a  thanks",
    "The parcel is so late, this is unacceptable, I am furious!",
    "ok",
    "Thank you so much, I love it, great service and fast delivery",
]


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> MultiTaskClassifier:
    root = tmp_path_factory.mktemp("grouped")
    base = make_tiny_bert(root / "base")
    pol = write_csv(root / "pol.csv", task_rows("polarity"))
    emo = write_csv(root / "emo.csv", task_rows("emotion"))
    out = fine_tune(
        TrainingArgs(
            base=str(base),
            out=str(root / "deep"),
            tasks=[
                TaskData("polarity", str(pol), str(pol)),
                TaskData("emotion", str(emo), str(emo)),
            ],
            epochs=1,
            batch_size=16,
            lr=1e-3,
            seed=0,
            num_threads=1,
        )
    )
    model = load_model(out)
    assert isinstance(model, MultiTaskClassifier)
    return model


@pytest.fixture(scope="module")
def blended(tiny_pack: Path, deep: MultiTaskClassifier) -> Analyzer:
    plain = load_analyzer(tiny_pack, signals=False)
    models = {
        lang: {
            task: EnsembleClassifier(
                [f"{lang}-{task}-ngram", "deep"], [0.4, 0.6], tasks=[None, task]
            ).load_members(tiny_pack, [plain.models[lang][task], deep.for_task(task)])
            for task in ("polarity", "emotion")
        }
        for lang in ("zh", "en")
    }
    return Analyzer(models, version="blend", signals=None)


def test_groups_are_clauses_then_halves_and_cover_every_word() -> None:
    text = "the box was fine, but delivery was a joke"
    words = segment(text, "en")
    for limit in range(1, len(words) + 3):
        groups = word_groups(text, words, limit)
        assert 1 <= len(groups) <= min(limit, len(words))
        # Consecutive runs that cover every word once.
        assert groups[0][0] == 0 and groups[-1][1] == len(words)
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in pairwise(groups))
    assert [text[words[i][0] : words[j - 1][1]] for i, j in word_groups(text, words, 2)] == [
        "the box was fine,",
        "but delivery was a joke",
    ]
    # As many groups as words: one word each, punctuation kept with the word before.
    assert [
        text[words[i][0] : words[j - 1][1]] for i, j in word_groups(text, words, len(words))
    ] == ["the", "box", "was", "fine,", "but", "delivery", "was", "a", "joke"]
    zh = "物流太慢了，包装破了，客服态度差，价格太贵"
    clauses = word_groups(zh, segment(zh, "zh"), 4)
    assert ["".join(zh[s:e] for s, e in segment(zh, "zh")[i:j]) for i, j in clauses] == [
        "物流太慢了，",
        "包装破了，",
        "客服态度差，",
        "价格太贵",
    ]
    assert word_groups("", [], 3) == []
    with pytest.raises(ValueError):
        word_groups(text, words, 0)


def test_grouped_evidence_points_into_the_original_text_and_repeats(blended: Analyzer) -> None:
    results = blended.analyze(TEXTS)
    first = [e.to_dict() for e in explain(blended, results)]
    assert [e.to_dict() for e in explain(blended, blended.analyze(TEXTS))] == first
    # The same message alone gets the same explanation as in a batch.
    alone = [explain(blended, blended.analyze([t]))[0].to_dict() for t in TEXTS]
    assert alone == first
    for text, result, ev in zip(TEXTS, results, first, strict=True):
        for task in ("polarity", "emotion"):
            assert ev[task]["method"] == "grouped"
            assert ev[task]["label"] == getattr(result, task)
            for span in ev[task]["spans"]:
                assert 0 <= span["start"] < span["end"] <= len(text)
                assert text[span["start"] : span["end"]] == span["text"]
    # The angry clause carries the anger, down to its words (the n-gram shares).
    angry = first[0]["emotion"]
    if angry["label"] == "anger":
        assert angry["spans"][0]["weight"] > 0 and "气" in angry["spans"][0]["text"]


def test_grouped_weights_add_up_to_the_groups_drops(blended: Analyzer) -> None:
    [result] = blended.analyze([TEXTS[2]])
    [ev] = explain(blended, [result], max_groups=2)
    model = blended.models["en"]["polarity"]
    text = prepare(result.text).text
    words = segment(text, "en")
    groups = word_groups(text, words, 2)
    variants = [text] + [
        " ".join((text[: words[i][0]] + " " + text[words[j - 1][1] :]).split()) for i, j in groups
    ]
    p = model.predict_proba(variants)[:, model.labels_.index(result.polarity)]
    # Every word of a group gets a share of the group's drop; the spans are the
    # largest of them (merged runs), so together they never exceed the drops.
    total = sum(abs(p[0] - q) for q in p[1:])
    assert sum(abs(s.weight) for s in ev.polarity.spans) <= total + 1e-3


def test_cost_is_bounded_by_construction_and_one_forward_serves_both_tasks(
    blended: Analyzer, deep: MultiTaskClassifier
) -> None:
    results = blended.analyze(TEXTS)
    rows: list[int] = []
    forward = deep._forward_batch

    def counting(texts: list[str]) -> dict[str, np.ndarray]:
        rows.append(len(texts))
        return forward(texts)

    deep._forward_batch = counting  # type: ignore[method-assign]
    deep.clear_cache()
    try:
        for k in (1, 2, MAX_GROUPS):
            rows.clear()
            deep.clear_cache()
            explain(blended, results, max_groups=k)
            # At most k + 1 copies of each message, polarity and emotion together.
            assert 0 < sum(rows) <= (k + 1) * len(TEXTS)
        rows.clear()
        deep.clear_cache()
        explain(blended, results, method="occlusion")  # every word: many more copies
        assert sum(rows) > (MAX_GROUPS + 1) * len(TEXTS)
    finally:
        del deep._forward_batch
    with pytest.raises(ValueError):
        explain(blended, results, max_groups=0)
