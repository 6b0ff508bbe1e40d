from __future__ import annotations

import pytest

from emotiondesk.text import detect_language, normalize, prepare, to_simplified


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＧＯＯＤ！", "GOOD!"),  # full width -> half width
        ("質量很差", "质量很差"),  # traditional -> simplified
        ("太棒了!!!!!!!", "太棒了!!!"),  # repeats capped at three
        ("好好好好好好", "好好好"),
        ("  many   spaces\n\there ", "many spaces here"),
        ("see http://shop.example.com/item?id=3 now", "see URL now"),
        ("@alice the box was crushed", "@user the box was crushed"),
        ("bad\x00\x07 bytes\ufffd", "bad bytes"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_normalize_keeps_emoji_and_emoticons() -> None:
    out = normalize("收到了😡😡 [怒] :( T_T 👍🏻")
    for token in ("😡", "[怒]", ":(", "T_T", "👍"):
        assert token in out


def test_normalize_is_idempotent() -> None:
    raw = "ＧＯＯＤ！！！！ 這個 http://x.cn 😀😀😀😀😀 @bob"
    once = normalize(raw)
    assert normalize(once) == once


def test_truncation_keeps_head_and_tail_and_says_so() -> None:
    text = "开头很好。" + "中间" * 600_000 + "结尾太差了"
    prepared = prepare(text, max_chars=200)
    assert prepared.truncated
    assert prepared.original_length == len(text)
    assert len(prepared.text) <= 200
    assert prepared.text.startswith("开头很好")
    assert prepared.text.endswith("结尾太差了")


def test_short_text_not_truncated() -> None:
    assert not prepare("fine").truncated


def test_prepare_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        prepare(b"bytes")  # type: ignore[arg-type]


def test_to_simplified() -> None:
    assert to_simplified("這個質量還不錯，發貨很快") == "这个质量还不错，发货很快"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("物流太慢了", "zh"),
        ("The parcel never arrived", "en"),
        ("这个size偏小，退货refund要多久", "zh"),  # mixed zh/en is Chinese
        ("ok 好", "zh"),
        ("I love the 好 products very much", "en"),
        ("こんにちは世界", "other"),
        ("안녕하세요", "other"),
        ("Привет мир", "other"),
        ("😀😀", "other"),
        ("!!!", "other"),
        ("", "other"),
        ("12345", "other"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang
