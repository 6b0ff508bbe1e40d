"""The shipped default pack (repository models/) reads clear cases right."""

from __future__ import annotations

from pathlib import Path

import pytest

from emotiondesk.analyzer import load_analyzer

PACK = Path(__file__).resolve().parents[2] / "models"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def analyzer():
    if not (PACK / "pack.json").is_file():
        pytest.fail("the shipped pack is missing: run `make models`")
    return load_analyzer(PACK)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("物流太慢了，等了一个星期还没到，气死我了！", "zh"),
        ("快递太慢了，客服也不理人，太气人了", "zh"),
        (
            "The parcel is two weeks late and nobody answers. I am furious, this is unacceptable!",
            "en",
        ),
        ("Delivery is ridiculously slow, worst service ever, I'm so angry", "en"),
    ],
)
def test_angry_complaint_about_slow_delivery(analyzer, text: str, language: str) -> None:
    (r,) = analyzer.analyze([text])
    assert r.language == language
    assert r.polarity == "negative"
    assert r.emotion in ("anger", "disgust")
    assert r.score < 0.35


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("谢谢客服，非常满意，很开心！", "zh"),
        ("衣服质量很好，很喜欢，谢谢！", "zh"),
        ("Thank you so much, I love it!", "en"),
        ("Thanks a lot, the headphones are great and I'm really happy with them", "en"),
    ],
)
def test_thank_you_is_positive_joy(analyzer, text: str, language: str) -> None:
    (r,) = analyzer.analyze([text])
    assert r.language == language
    assert r.polarity == "positive"
    assert r.emotion == "joy"
    assert r.score > 0.65


def test_odd_inputs_get_results(analyzer) -> None:
    odd = ["", "   ", "😀😀😀", "?!?!", "好" * 1_000_000, "\x00\x01\ufffd\x7f"]
    results = analyzer.analyze(odd)
    assert len(results) == len(odd)
    assert results[4].truncated
    for r in results:
        assert abs(sum(r.polarity_scores.values()) - 1) < 1e-3
        assert abs(sum(r.emotion_scores.values()) - 1) < 1e-3
