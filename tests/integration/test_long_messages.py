"""Long messages are read whole: an angry part anywhere in 500-20,000 characters decides.

Uses the shipped default pack (the behaviour a customer-service team sees).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from emotiondesk.analyzer import load_analyzer

PACK = Path(__file__).resolve().parents[2] / "models"

pytestmark = pytest.mark.integration

FILLER = {
    "zh": [
        "我在三月五号下单买了一个电饭煲，订单号是20231105887261。",
        "收货地址是公司前台，平时工作日都有人签收。",
        "商品页面上写的是三到五天送达，我选的是普通快递。",
        "之前也在你们店里买过几次东西，一般都是按时到的。",
        "这次是给家里老人买的，他们平时做饭用。",
    ],
    "en": [
        "I ordered a rice cooker on March 5th, order number 4409127733. ",
        "It was to be delivered to the front desk of my office, which is staffed on weekdays. ",
        "The product page said delivery in three to five days and I chose standard shipping. ",
        "I have bought from your shop a few times before and orders usually came on time. ",
        "This one was a present for my parents, who cook at home every day. ",
    ],
}
ANGRY = {
    "zh": "你们这是什么破服务，等了一个月还没到，客服也不回复，气死我了，我要投诉！",
    "en": "This is outrageous: I have waited a month, nothing arrived and nobody answers. "
    "I am furious and I want my money back now! ",
}


def long_message(lang: str, length: int, where: str | None) -> tuple[str, int]:
    """Filler of about ``length`` characters with the angry part at ``where``; its offset."""
    parts: list[str] = []
    i = 0
    budget = length - (len(ANGRY[lang]) if where else 0)
    total = 0
    while total + len(FILLER[lang][i % len(FILLER[lang])]) <= budget:
        parts.append(FILLER[lang][i % len(FILLER[lang])])
        total += len(parts[-1])
        i += 1
    if where is None:
        return "".join(parts), -1
    k = {"start": 0, "middle": len(parts) // 2, "end": len(parts)}[where]
    parts.insert(k, ANGRY[lang])
    return "".join(parts), sum(map(len, parts[:k]))


@pytest.fixture(scope="module")
def analyzer():
    return load_analyzer(PACK)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("length", [500, 3_000, 20_000])
def test_anger_at_any_position_reads_negative(analyzer, lang: str, length: int) -> None:
    cases = [long_message(lang, length, where) for where in ("start", "middle", "end")]
    control, _ = long_message(lang, length, None)
    results = analyzer.analyze([text for text, _ in cases] + [control])
    for (text, offset), r in zip(cases, results[:3], strict=True):
        assert length - 100 <= len(text) <= length
        assert not r.truncated
        assert r.polarity == "negative", (length, offset, r.score)
        d = r.decided_by
        assert d is not None and d["chunk"] is not None and d["chunks"] > 1
        # the deciding chunk holds (part of) the angry passage
        assert d["start"] < offset + len(ANGRY[lang]) and d["end"] > offset
    # the same filler without the angry part is not read negative
    assert results[3].polarity != "negative"


def test_text_beyond_the_bound_keeps_head_and_tail(analyzer) -> None:
    text, _ = long_message("en", analyzer.max_chars + 5_000, "end")
    (r,) = analyzer.analyze([text])
    assert r.truncated
    assert r.polarity == "negative"  # the tail, where the anger is, is still read
