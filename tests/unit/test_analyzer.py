from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emotiondesk import EMOTION_LABELS, POLARITY_LABELS, AnalysisResult, load_analyzer
from emotiondesk.analyzer import Analyzer
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.models.base import load_model

FIELDS = {
    "text",
    "language",
    "polarity",
    "polarity_scores",
    "score",
    "emotion",
    "emotion_scores",
    "truncated",
    "model",
    "decided_by",
    "signals",
    "read_as",
}


@pytest.fixture(scope="module")
def analyzer(tiny_pack: Path) -> Analyzer:
    return load_analyzer(tiny_pack)


def test_results_follow_the_contract(analyzer: Analyzer) -> None:
    results = analyzer.analyze(["物流太慢了，气死我了", "Thank you so much, I love it"])
    assert [r.language for r in results] == ["zh", "en"]
    for r in results:
        assert isinstance(r, AnalysisResult)
        d = r.to_dict()
        assert set(d) == FIELDS
        assert list(d["polarity_scores"]) == list(POLARITY_LABELS)
        assert list(d["emotion_scores"]) == list(EMOTION_LABELS)
        assert sum(d["polarity_scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert sum(d["emotion_scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert 0.0 <= r.score <= 1.0
        assert r.polarity == max(r.polarity_scores, key=r.polarity_scores.__getitem__)
        assert r.model == "tiny-0.0.test"
        json.dumps(d, ensure_ascii=False)  # JSON-ready
    assert results[0].polarity == "negative"
    assert results[1].polarity == "positive"
    assert results[0].score < 0.5 < results[1].score


def test_score_is_expected_polarity(analyzer: Analyzer) -> None:
    (r,) = analyzer.analyze(["订单什么时候发货"])
    p = r.polarity_scores
    assert r.score == pytest.approx(p["neutral"] * 0.5 + p["positive"], abs=1e-5)


def test_order_and_routing_in_a_mixed_batch(analyzer: Analyzer) -> None:
    texts = ["When will my order ship", "质量很好，很喜欢，谢谢", "Терпеть не могу", "这个size偏小"]
    results = analyzer.analyze(texts)
    assert [r.text for r in results] == texts
    assert [r.language for r in results] == ["en", "zh", "other", "zh"]
    # Same text alone or in a batch: same numbers.
    alone = analyzer.analyze([texts[1]])[0]
    assert alone.polarity_scores == results[1].polarity_scores


def test_forced_language(analyzer: Analyzer) -> None:
    (r,) = analyzer.analyze(["ok"], language="zh")
    assert r.language == "zh"
    with pytest.raises(InvalidInputError, match="not served"):
        analyzer.analyze(["ok"], language="fr")


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01", "\n\t"])
def test_nothing_to_read_is_neutral(analyzer: Analyzer, text: str) -> None:
    (r,) = analyzer.analyze([text])
    assert (r.polarity, r.emotion, r.score) == ("neutral", "neutral", 0.5)


@pytest.mark.parametrize("text", ["😡😡😡", "!!!???", "a" * 1_000_000, "\udcff\ufffd垃圾"])
def test_odd_inputs_get_results(analyzer: Analyzer, text: str) -> None:
    (r,) = analyzer.analyze([text])
    assert r.polarity in POLARITY_LABELS
    assert r.truncated == (len(text) > analyzer.max_chars)


def test_bad_inputs(analyzer: Analyzer) -> None:
    assert analyzer.analyze([]) == []
    assert len(analyzer.analyze("a single string is a batch of one")) == 1
    with pytest.raises(InvalidInputError, match="#1"):
        analyzer.analyze(["fine", 3])  # type: ignore[list-item]


def test_models_shared_between_routes(tiny_pack: Path, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(tiny_pack, pack)
    spec = json.loads((pack / "pack.json").read_text())
    # zh is served by the en models too: one load, one object.
    spec["routes"]["zh"] = dict(spec["routes"]["en"])
    (pack / "pack.json").write_text(json.dumps(spec))
    a = load_analyzer(pack)
    assert a.models["zh"]["polarity"] is a.models["en"]["polarity"]


def test_analyzer_checks_its_models(tiny_pack: Path) -> None:
    clf = load_model(tiny_pack / "en-polarity-ngram")
    with pytest.raises(ModelError, match="lacks"):
        Analyzer({"en": {"polarity": clf}})
    with pytest.raises(ModelError, match="fallback"):
        Analyzer({"en": {"polarity": clf, "emotion": clf}}, fallback_language="zh")


def test_default_pack_from_settings(tiny_pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from emotiondesk.config import get_settings

    monkeypatch.setenv("EMOTIONDESK_MODEL_DIR", str(tiny_pack))
    get_settings.cache_clear()
    try:
        assert load_analyzer().version == "tiny-0.0.test"
    finally:
        get_settings.cache_clear()
