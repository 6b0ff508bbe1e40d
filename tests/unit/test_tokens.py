"""The one tokeniser of FAQ retrieval and complaint topics (text/tokens.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from emotiondesk.text.tokens import RETRIEVAL, TOPICS, Tokenizer, stop_words


def test_retrieval_cuts_chinese_into_characters_and_bigrams() -> None:
    # 的 is a common stop word: dropped as a character, kept inside bigrams
    assert RETRIEVAL("退款的钱", "zh") == ["退", "款", "钱", "退款", "款的", "的钱"]


def test_retrieval_english_words_fold_plurals_and_drop_stop_words() -> None:
    assert RETRIEVAL("When will my refunds arrive? Order 8830051, glass", "en") == [
        "refund",
        "arrive",
        "order",
        "8830051",
        "glass",
    ]
    # both scripts in either language (a Chinese query may name a Latin product)
    assert RETRIEVAL("iPhone 屏幕", "zh") == ["屏", "幕", "屏幕", "iphone"]


def test_topics_keeps_jieba_words_of_the_text_script_only() -> None:
    assert TOPICS("物流太慢了，等了一周 iPhone", "zh") == ["物流", "太慢", "一周"]
    # theme-less words (order, item, really) and greetings are dropped; digits never form words
    assert TOPICS("Hello, the order item arrived really late 2x", "en") == ["arrived", "late"]
    # traditional characters are read as simplified; the language can be detected
    assert TOPICS("物流太慢，質量太差", "auto") == ["物流", "太慢", "质量"]


def test_the_two_stop_sets_differ_where_the_benchmark_says() -> None:
    sets = stop_words()
    assert {"common", "topics"} <= set(sets)
    # what a customer asks about is not a stop word for retrieval
    assert "order" in sets["topics"]["en"] and "order" not in sets["common"]["en"]
    assert "多" in sets["topics"]["zh"] and "多" not in sets["common"]["zh"]
    # YAML's booleans (no, on, off) were quoted: every entry is a string
    assert "no" in sets["common"]["en"] and "off" in sets["topics"]["en"]
    both = replace(RETRIEVAL, stop_sets=("common", "topics"))
    assert RETRIEVAL("cancel my order", "en") == ["cancel", "order"]
    assert both("cancel my order", "en") == ["cancel"]


def test_custom_stop_words_and_an_unknown_set() -> None:
    tok = Tokenizer(stop={"en": frozenset({"refund"})})
    assert tok("the refund", "en") == ["the"]
    with pytest.raises(ValueError, match="unknown stop-word set"):
        Tokenizer(stop_sets=("nope",))("text", "en")
