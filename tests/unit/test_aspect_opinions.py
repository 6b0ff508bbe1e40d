"""Aspect-opinion pairs: opinion spans with offsets, polarity and negation."""

from __future__ import annotations

from pathlib import Path

import pytest

from emotiondesk.analytics.aspects import extract_aspects, load_lexicon
from emotiondesk.errors import ConfigError


def test_packaging_with_a_negated_negative_opinion() -> None:
    text = "包装很严实，没有破损。"
    [mentions] = extract_aspects([text])
    assert [m.aspect for m in mentions] == ["packaging"]
    m = mentions[0]
    assert m.polarity != "negative" and m.negated
    assert text[m.start : m.end] == "包装"
    negated = [o for o in m.opinion_spans if o.negated]
    assert [(o.text, o.polarity) for o in negated] == [("没有破损", "positive")]
    assert text[negated[0].start : negated[0].end] == "没有破损"
    assert m.to_dict()["opinion_spans"][1]["negated"] is True


def test_two_aspects_of_opposite_polarity_with_spans() -> None:
    text = "The battery is great but delivery was a joke"
    [mentions] = extract_aspects([text])
    by_aspect = {m.aspect: m for m in mentions}
    assert set(by_aspect) == {"battery", "logistics"}
    battery, delivery = by_aspect["battery"], by_aspect["logistics"]
    assert (battery.polarity, delivery.polarity) == ("positive", "negative")
    assert text[battery.start : battery.end] == "battery"
    assert text[delivery.start : delivery.end] == "delivery"
    assert [(o.text, o.negated) for o in battery.opinion_spans] == [("great", False)]
    assert [o.text for o in delivery.opinion_spans] == ["a joke"]
    for m in mentions:
        for o in m.opinion_spans:
            assert text[o.start : o.end] == o.text


def test_negators_are_part_of_the_opinion_span() -> None:
    cases = {
        "价格不贵，质量也不太好": {
            "price": ("不贵", "positive"),
            "quality": ("不太好", "negative"),
        },
        "Honestly the quality is not bad at all": {"quality": ("not bad", "positive")},
    }
    for text, expected in cases.items():
        [mentions] = extract_aspects([text])
        got = {m.aspect: m for m in mentions}
        for aspect, (words, polarity) in expected.items():
            [opinion] = got[aspect].opinion_spans
            assert (opinion.text, opinion.polarity, opinion.negated) == (words, polarity, True)
            assert text[opinion.start : opinion.end] == words


def test_a_positive_follow_on_clause_is_not_given_to_an_unrelated_aspect() -> None:
    # Only opinions that belong to the aspect pass on (衣服太丑 is not about packaging).
    [mentions] = extract_aspects(["包装很好，衣服太丑了"])
    [packaging] = [m for m in mentions if m.aspect == "packaging"]
    assert packaging.polarity == "positive"
    assert [o.text for o in packaging.opinion_spans] == ["很好"]


def test_questions_are_not_opinions() -> None:
    [[battery], [price], [screen]] = extract_aspects(
        [
            "Does the smartwatch support wireless charging?",
            "有没有优惠？价格能便宜点吗？",
            "屏幕多大的？",
        ]
    )
    assert (battery.aspect, battery.polarity, battery.opinion_spans) == ("battery", "neutral", ())
    assert (price.aspect, price.polarity) == ("price", "neutral")
    assert (screen.aspect, screen.polarity) == ("screen", "neutral")
    # a rhetorical complaint still is one
    [[late]] = extract_aspects(["为什么物流这么慢？"])
    assert (late.aspect, late.polarity) == ("logistics", "negative")


def test_lexicalised_negations_and_characters_that_negate_nothing() -> None:
    [[service], [price], [packaging]] = extract_aspects(
        ["客服还不错", "你们家的价格比别家贵", "包装特别好"]
    )
    assert service.polarity == "positive" and service.negated  # 不错: "not bad"
    assert price.polarity == "negative" and not price.negated  # 别家 is "other shops"
    assert packaging.polarity == "positive" and not packaging.negated  # 特别 is "very"


def test_the_seller_doing_another_aspects_work_is_no_service_opinion() -> None:
    [mentions] = extract_aspects(["卖家发货速度很快"])
    assert [(m.aspect, m.polarity) for m in mentions] == [("logistics", "positive")]


def test_the_question_and_negation_sections_are_checked_and_extendable(tmp_path: Path) -> None:
    good = tmp_path / "extra.yaml"
    good.write_text("negated_phrases: {zh: [不差]}\nquestions: {zh: [咋样]}\n", encoding="utf-8")
    lex = load_lexicon(good)
    assert "不差" in lex.negated_phrases["zh"] and "不错" in lex.negated_phrases["zh"]
    [[quality]] = extract_aspects(["质量咋样"], lexicon=lex)
    assert quality.polarity == "neutral"
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions: {fr: [quoi]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="questions"):
        load_lexicon(bad)


def test_a_question_sentence_is_no_opinion_in_any_clause() -> None:
    # the Products page listed this pre-sales question as praise of battery and service
    always_positive = lambda clauses: ["positive"] * len(clauses)  # noqa: E731
    [asked, broken] = extract_aspects(
        [
            "Hi customer service, does the smartwatch support wireless charging?",
            "My headphones stopped charging",
        ],
        polarity_fn=always_positive,
    )
    assert [(m.aspect, m.polarity) for m in asked] == [
        ("service", "neutral"),
        ("battery", "neutral"),
    ]
    assert [(m.aspect, m.polarity) for m in broken] == [("battery", "negative")]
