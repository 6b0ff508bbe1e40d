"""Evidence spans: offsets into the original text, exact linear contributions, occlusion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emotiondesk.analyzer import Analyzer, load_analyzer
from emotiondesk.explain import (
    _locate_grams,
    explain,
    group_units,
    linear_char_scores,
    segment,
)
from emotiondesk.models.ensemble import EnsembleClassifier
from emotiondesk.models.ngram import NgramClassifier
from emotiondesk.text.normalize import prepare, prepare_with_offsets
from emotiondesk.usecases.analyze_messages import (
    STORED_ASPECTS,
    analyze_messages,
    evidence_for_storage,
    with_texts,
)

TEXTS = [
    "物流太慢了，气死我了",
    "  ＧＯＯＤ！！！！！ 質量很好 😀 http://x.cn/a  @bob thanks",
    "The parcel is so late, this is unacceptable, I am furious",
    "Thank you so much, I love it, great service",
    "",
]


@pytest.fixture(scope="module")
def analyzer(tiny_pack: Path) -> Analyzer:
    return load_analyzer(tiny_pack, signals=False)


@pytest.mark.parametrize(
    "text",
    [
        TEXTS[1],
        "a\u0301bc   d\n\n\te",
        "好好好好好好！！！！ ＠someone 質量",
        "see www.example.com/x?y=1 now!!!!!!",
        "\x00bad\ufffdbytes  ",
        "",
    ],
)
def test_offset_map_gives_the_normalised_text_and_valid_spans(text: str) -> None:
    mapped = prepare_with_offsets(text)
    assert mapped.text == prepare(text).text
    assert len(mapped.spans) == len(mapped.text)
    for (s, e), ch in zip(mapped.spans, mapped.text, strict=True):
        assert 0 <= s < e <= len(text)
        if ch not in " URL@user":
            # The character comes from its span (after NFKC, simplification, lower-casing).
            assert ch.lower() in prepare(text[s:e], max_chars=None).text.lower() or ch == " "


def test_offset_map_of_a_text_normalised_character_for_character() -> None:
    # Full-width punctuation, traditional characters, outer spaces: one to one.
    text = "  質量很好！ＯＫ "
    mapped = prepare_with_offsets(text)
    assert mapped.text == "质量很好!OK"
    assert mapped.spans == tuple((k, k + 1) for k in range(2, 9))


def test_located_ngrams_are_the_featurizers_ngrams(analyzer: Analyzer) -> None:
    texts = ["物流太慢了,气死我了", "the parcel is late!! so late", "a", "好 评"]
    for lang in ("zh", "en"):
        featurizer = analyzer.models[lang]["polarity"].featurizer_
        prepared = [featurizer.preprocess(t) for t in texts]
        located = _locate_grams(featurizer._settings_key(), prepared)
        for t, text in enumerate(prepared):
            mine = [
                (g, text[s - located.base[t] : e - located.base[t]])
                for g, o, s, e in zip(
                    located.grams, located.owner, located.start, located.end, strict=True
                )
                if o == t
            ]
            assert sorted(g for g, _ in mine) == sorted(featurizer.ngrams(text))
            # Offsets point at the n-gram (word n-grams: from the first word to the last).
            for gram, covered in mine:
                if gram.startswith("\x01"):
                    assert "".join(covered.split()) == "".join(gram[1:].split())
                else:
                    assert covered == gram


def test_offset_map_keeps_head_and_tail_of_truncated_texts() -> None:
    text = "开头很好。" + "中间" * 50 + "结尾太差了"
    mapped = prepare_with_offsets(text, max_chars=40)
    assert mapped.text == prepare(text, max_chars=40).text
    s, e = mapped.original_span(len(mapped.text) - 5, len(mapped.text))
    assert text[s:e] == "结尾太差了"


def test_linear_contributions_are_exact(analyzer: Analyzer) -> None:
    for lang, text in (
        ("zh", "物流太慢了，气死我了"),
        ("en", "I am so angry, the parcel is late!"),
    ):
        model = analyzer.models[lang]["emotion"]
        normed = prepare(text).text
        logits = model.decision_function([normed])[0]
        for c in range(len(model.labels_)):
            chars = linear_char_scores(model, normed, c)
            assert chars is not None and chars.shape == (len(normed),)
            centred_intercept = model.intercept_[c] - model.intercept_.mean()
            assert chars.sum() + centred_intercept == pytest.approx(
                logits[c] - logits.mean(), abs=1e-4
            )


def test_explanations_point_into_the_original_text_and_repeat(analyzer: Analyzer) -> None:
    results = analyzer.analyze(TEXTS)
    first = [e.to_dict() for e in explain(analyzer, results)]
    again = [e.to_dict() for e in explain(analyzer, analyzer.analyze(TEXTS))]
    assert first == again  # same input, same explanation
    # ... whatever else is in the batch.
    alone = [explain(analyzer, analyzer.analyze([t]))[0].to_dict() for t in TEXTS]
    assert alone == first
    for text, result, ev in zip(TEXTS, results, first, strict=True):
        assert ev["polarity"]["label"] == result.polarity
        assert ev["emotion"]["label"] == result.emotion
        for task in ("polarity", "emotion"):
            for span in ev[task]["spans"]:
                assert text[span["start"] : span["end"]] == span["text"]
    assert first[-1]["polarity"] == {"label": "neutral", "method": "none", "spans": []}
    angry = first[0]["emotion"]
    assert angry["method"] == "linear" and angry["label"] == "anger"
    top = angry["spans"][0]
    assert top["weight"] > 0 and "气" in top["text"]
    # The URL and the mention never reach the models; the full-width GOOD does.
    good = first[1]["polarity"]
    assert all("http" not in s["text"] or s["text"].startswith("http") for s in good["spans"])


def test_other_model_kinds_are_explained_by_batched_occlusion(
    analyzer: Analyzer, tiny_pack: Path
) -> None:
    # An ensemble (here of the real n-gram model) is not linear: grouped occlusion
    # (``method="occlusion"``: every word erased).
    models = {
        lang: {
            task: EnsembleClassifier([f"{lang}-{task}-ngram"], [1.0]).load_members(
                tiny_pack, [analyzer.models[lang][task]]
            )
            for task in ("polarity", "emotion")
        }
        for lang in ("zh", "en")
    }
    wrapped = Analyzer(models, version="ens")
    calls: list[int] = []
    original = NgramClassifier.predict_proba

    def counting(self: NgramClassifier, texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return original(self, texts)

    results = wrapped.analyze(TEXTS[:4])
    for method in ("grouped", "occlusion"):
        NgramClassifier.predict_proba = counting  # type: ignore[method-assign]
        try:
            calls.clear()
            evidence = explain(wrapped, results, method=method)
        finally:
            NgramClassifier.predict_proba = original  # type: ignore[method-assign]
        # One batch per model: zh and en x polarity and emotion.
        assert len(calls) == 4
        ev = evidence[0].to_dict()["emotion"]
        assert ev["method"] == method and ev["label"] == "anger"
        assert ev["spans"][0]["weight"] > 0 and "气" in ev["spans"][0]["text"]
        again = explain(wrapped, results, method=method)
        assert [e.to_dict() for e in again] == [e.to_dict() for e in evidence]
    assert explain(wrapped, results)[0].emotion.method == "grouped"  # the default
    # The cheap path explains the ensemble through its n-gram member, without a model call.
    NgramClassifier.predict_proba = counting  # type: ignore[method-assign]
    try:
        calls.clear()
        cheap = explain(wrapped, results, method="linear")
    finally:
        NgramClassifier.predict_proba = original  # type: ignore[method-assign]
    assert calls == []
    direct = explain(analyzer, analyzer.analyze(TEXTS[:4]))
    for mine, theirs in zip(cheap, direct, strict=True):
        assert mine.emotion.method == "ngram_member"
        assert mine.emotion.spans == theirs.emotion.spans


def test_stored_evidence_is_bounded_and_gets_its_words_back(analyzer: Analyzer) -> None:
    text = "物流太慢了，包装破了，客服态度差，价格太贵，质量不好，电池不行，屏幕有划痕，" * 40
    results = analyzer.analyze([text, "物流太慢了，气死我了"])
    stored = evidence_for_storage(analyzer)(results)
    assert len(stored[0]["aspects"]) <= STORED_ASPECTS
    assert len(json.dumps(stored[0])) < 4000 < len(text.encode())
    full = with_texts(stored[1], results[1].text)
    assert (
        full["emotion"]["spans"][0]["text"]
        == results[1].text[
            full["emotion"]["spans"][0]["start"] : full["emotion"]["spans"][0]["end"]
        ]
    )
    [aspect] = full["aspects"]
    assert aspect["aspect"] == "logistics" and aspect["opinions"][0]["text"] == "慢"


def test_segmenter_words_and_units() -> None:
    assert segment("The battery is great!", "en") == [(0, 3), (4, 11), (12, 14), (15, 20), (20, 21)]
    words = segment("包装很严实，没有破损。", "zh")
    assert words[0] == (0, 2) and words[-1][1] == 11
    assert group_units([(i, i + 1) for i in range(10)], 4) == [(0, 3), (3, 6), (6, 9), (9, 10)]


def test_usecase_adds_evidence_only_when_asked(analyzer: Analyzer) -> None:
    plain = analyze_messages(analyzer, ["物流太慢了"])
    assert "evidence" not in plain[0]
    rows = analyze_messages(analyzer, ["物流太慢了"], explain=True)
    assert set(rows[0]) == set(plain[0]) | {"evidence"}
    assert rows[0]["evidence"]["polarity"]["spans"]


def test_evidence_holds_the_aspects_and_says_when_they_disagree(analyzer: Analyzer) -> None:
    text = "包装很严实，没有破损。"
    [row] = analyze_messages(analyzer, [text], explain=True)
    [packaging] = row["evidence"]["aspects"]
    assert packaging["aspect"] == "packaging" and packaging["negated"] is True
    assert packaging["polarity"] != "negative"
    negated = [o for o in packaging["opinions"] if o["negated"]]
    assert text[negated[0]["start"] : negated[0]["end"]] == "没有破损"
    note = row["evidence"]["note"]
    # The note is set exactly when the message's polarity contradicts the aspects.
    assert (note is not None) == (row["polarity"] == "negative")
    [mixed] = analyze_messages(
        analyzer, ["The battery is great but delivery was a joke"], explain=True
    )
    polarities = {a["aspect"]: a["polarity"] for a in mixed["evidence"]["aspects"]}
    assert polarities == {"battery": "positive", "logistics": "negative"}
    if mixed["polarity"] != "neutral":
        assert mixed["evidence"]["note"].startswith("mixed")
