"""The n-gram classifier: estimator contract, save/load round-trip, artifact safety."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emotiondesk.analyzer import load_analyzer
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.models.base import load_model
from emotiondesk.models.ngram import NgramClassifier, NgramFeaturizer

from ..conftest import TINY_EN, TINY_ZH

EN_TEXTS = [t for t, _, _ in TINY_EN] * 3
EN_POL = [p for _, p, _ in TINY_EN] * 3


@pytest.fixture(scope="module")
def en_model() -> NgramClassifier:
    return NgramClassifier(language="en", min_df=1, keep_features=None, C=20.0).fit(
        EN_TEXTS, EN_POL
    )


def test_init_only_stores_params() -> None:
    clf = NgramClassifier(language="en", C=2.0, class_weight="balanced")
    assert clf.get_params()["C"] == 2.0
    assert clf.get_params()["class_weight"] == "balanced"
    assert not hasattr(clf, "labels_")
    with pytest.raises(ModelError):
        clf.predict_proba(["x"])


def test_fit_returns_self_and_learned_state(en_model: NgramClassifier) -> None:
    assert en_model.labels_ == ["negative", "neutral", "positive"]
    proba = en_model.predict_proba(["Thank you so much, great", "I am furious, terrible"])
    assert proba.shape == (2, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert en_model.predict(["Thank you, I love it", "terrible, I am angry"]) == [
        "positive",
        "negative",
    ]


def test_sklearn_clone_compatible() -> None:
    from sklearn.base import clone

    clf = NgramClassifier(language="zh", C=3.0)
    assert clone(clf).get_params() == clf.get_params()


def test_calibration_holds_out_and_fits_a_temperature() -> None:
    texts = [t for t, _, _ in TINY_ZH] * 5
    labels = [p for _, p, _ in TINY_ZH] * 5
    clf = NgramClassifier(language="zh", min_df=1, calibration_fraction=0.2).fit(texts, labels)
    assert clf.training_info_["calibration_rows"] > 0
    assert clf.temperature_ > 0


def test_sample_weight_moves_the_fit_and_soft_targets_match_their_weights() -> None:
    texts = EN_TEXTS + ["meh, it arrived"] * 2
    base = [*EN_POL, "negative", "positive"]
    kwargs = {"language": "en", "min_df": 1, "keep_features": None, "C": 20.0}
    # weight 1 everywhere is the unweighted fit
    plain = NgramClassifier(calibration_fraction=0, **kwargs).fit(texts, base)
    ones = NgramClassifier(calibration_fraction=0, **kwargs).fit(
        texts, base, sample_weight=np.ones(len(texts))
    )
    assert np.allclose(plain.coef_, ones.coef_, atol=1e-4)
    # a soft target (0.9 positive, 0.1 negative) written as two weighted rows
    w = np.ones(len(texts))
    w[-2], w[-1] = 0.1, 0.9
    soft = NgramClassifier(calibration_fraction=0, **kwargs).fit(texts, base, sample_weight=w)
    p_plain = plain.predict_proba(["meh, it arrived"])[0]
    p_soft = soft.predict_proba(["meh, it arrived"])[0]
    pos = soft.labels_.index("positive")
    assert p_soft[pos] > p_plain[pos] + 0.05
    assert soft.training_info_["label_weights"]["positive"] == pytest.approx(
        sum(wi for wi, y in zip(w, base, strict=True) if y == "positive"), abs=0.1
    )
    # calibration with weights still fits a temperature
    cal = NgramClassifier(language="en", min_df=1, calibration_fraction=0.3).fit(
        texts * 3, base * 3, sample_weight=np.tile(w, 3)
    )
    assert cal.training_info_["calibration_rows"] > 0 and cal.temperature_ > 0


def test_bad_sample_weight() -> None:
    texts, labels = ["good", "bad", "fine"], ["positive", "negative", "positive"]
    with pytest.raises(InvalidInputError, match="one weight per text"):
        NgramClassifier(min_df=1).fit(texts, labels, sample_weight=[1.0, 1.0])
    with pytest.raises(InvalidInputError, match=">= 0"):
        NgramClassifier(min_df=1).fit(texts, labels, sample_weight=[1.0, -1.0, 1.0])
    with pytest.raises(InvalidInputError, match="not all zero"):
        NgramClassifier(min_df=1).fit(texts, labels, sample_weight=[0.0, 0.0, 0.0])


def test_bad_fit_input() -> None:
    with pytest.raises(InvalidInputError):
        NgramClassifier().fit(["a", "b"], ["x"])
    with pytest.raises(InvalidInputError):
        NgramClassifier().fit(["a", "b"], ["x", "x"])
    with pytest.raises(InvalidInputError):
        NgramClassifier(language="fr").fit(["a", "b"], ["x", "y"])


def test_odd_inputs_predict(en_model: NgramClassifier) -> None:
    odd = ["", "   ", "😀😀", "!!!", "x" * 1_000_000, "\x00\x01\ufffd"]
    proba = en_model.predict_proba(odd)
    assert proba.shape == (len(odd), 3)
    assert np.isfinite(proba).all()


@pytest.mark.parametrize("dtype", ["int8", "float16", "float32"])
def test_round_trip_identical(tmp_path: Path, dtype: str) -> None:
    clf = NgramClassifier(language="en", min_df=1, weight_dtype=dtype).fit(EN_TEXTS, EN_POL)
    clf.save_pretrained(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, NgramClassifier)
    assert loaded.labels_ == clf.labels_
    probe = ["Thank you!", "furious about the delay", "When will it ship?", ""]
    np.testing.assert_array_equal(loaded.predict_proba(probe), clf.predict_proba(probe))
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["model_type"] == "ngram"
    assert cfg["labels"] == clf.labels_
    assert cfg["preprocessing"]["word_ngram_range"] == [1, 2]
    assert "version" in cfg


def test_artifact_has_no_pickle(tmp_path: Path, en_model: NgramClassifier) -> None:
    en_model.save_pretrained(tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["config.json", "vocab.json", "weights.safetensors"]
    for p in (tmp_path / "m").iterdir():
        head = p.read_bytes()[:2]
        assert head != b"\x80\x04" and head != b"\x80\x05"  # pickle protocol marks
        assert not p.read_bytes().startswith(b"PK")  # npz/zip of pickles


def test_broken_artifact_is_a_model_error(tmp_path: Path, en_model: NgramClassifier) -> None:
    en_model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelError):
        load_model(tmp_path / "m")


def test_inference_does_not_import_sklearn(tiny_pack: Path) -> None:
    code = (
        "import sys; from emotiondesk import load_analyzer; "
        f"a = load_analyzer({str(tiny_pack)!r}); a.analyze(['物流太慢了', 'thanks']); "
        "print('sklearn' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )
    assert out.stdout.strip() == "False"


def test_featurizer_ngrams() -> None:
    zh = NgramFeaturizer(char_ngram_range=(1, 2))
    assert zh.ngrams("好评") == ["好", "评", "好评"]
    en = NgramFeaturizer(char_ngram_range=None, word_ngram_range=(1, 2))
    grams = en.ngrams(en.preprocess("Not GOOD :("))
    assert "\x01not good" in grams and "\x01:(" in grams


def test_tiny_pack_serves_the_analyzer(tiny_pack: Path) -> None:
    analyzer = load_analyzer(tiny_pack)
    zh, en = analyzer.analyze(["物流太慢了，气死我了", "Thank you so much, I love it"])
    assert (zh.language, zh.polarity, zh.emotion) == ("zh", "negative", "anger")
    assert (en.language, en.polarity, en.emotion) == ("en", "positive", "joy")
