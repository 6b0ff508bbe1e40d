"""The ``charnn`` model kind (char-CNN / BiGRU from scratch) and ``train --base charcnn|bigru``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from typer.testing import CliRunner

from emotiondesk.cli.main import app
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.models.base import load_model
from emotiondesk.models.charnn import CharNNClassifier
from tests.unit.deep_helpers import write_csv

POS = ["很好很满意", "质量不错好评", "物流很快满意", "非常喜欢", "好评推荐", "包装很好"]
NEG = ["太差了退货", "物流太慢了", "质量很差", "差评不推荐", "客服态度差", "坏了要退"]
TEXTS = (POS + NEG) * 3
LABELS = (["positive"] * len(POS) + ["negative"] * len(NEG)) * 3
SMALL = {"embed_dim": 16, "hidden": 16, "batch_size": 8, "lr": 1e-2}


@pytest.mark.parametrize("arch", ["cnn", "bigru"])
def test_fit_predict_save_load(arch: str, tmp_path: Path) -> None:
    clf = CharNNClassifier(arch=arch, epochs=15, **SMALL).fit(
        TEXTS, LABELS, dev_texts=POS[:2] + NEG[:2], dev_labels=["positive"] * 2 + ["negative"] * 2
    )
    assert clf.labels_ == ["negative", "positive"]
    proba = clf.predict_proba(["非常满意", "太慢了", ""])
    assert proba.shape == (3, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.predict(TEXTS[:12]).count("positive") >= 4  # it learnt something
    assert clf.temperature_ > 0
    assert len(clf.training_info_["history"]) == 15
    path = clf.save_pretrained(tmp_path / "m")
    cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert cfg["model_type"] == "charnn" and cfg["network"]["arch"] == arch
    loaded = load_model(path)
    assert isinstance(loaded, CharNNClassifier)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-6)
    assert loaded.predict_proba([]).shape == (0, 2)


def test_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="arch"):
        CharNNClassifier(arch="lstm").fit(TEXTS, LABELS)
    with pytest.raises(InvalidInputError, match="two distinct labels"):
        CharNNClassifier(**SMALL).fit(POS, ["positive"] * len(POS))
    with pytest.raises(InvalidInputError, match="never occur"):
        CharNNClassifier(epochs=1, **SMALL).fit(
            TEXTS, LABELS, dev_texts=["一般"], dev_labels=["neutral"]
        )
    with pytest.raises(ModelError, match="not fitted"):
        CharNNClassifier().predict_proba(["好"])


def test_load_corrupt_artifact(tmp_path: Path) -> None:
    path = CharNNClassifier(epochs=1, **SMALL).fit(TEXTS, LABELS).save_pretrained(tmp_path / "m")
    (path / "weights.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot load the charnn model"):
        load_model(path)


def test_train_command_with_charcnn(tmp_path: Path) -> None:
    rows = list(zip(TEXTS, LABELS, strict=True))
    train = write_csv(tmp_path / "train.csv", rows)
    dev = write_csv(tmp_path / "dev.csv", rows[:12])
    out = tmp_path / "cnn"
    runner = CliRunner()
    args = ["train", "--task", "polarity", "--base", "charcnn", "--train", str(train)]
    args += ["--dev", str(dev), "--out", str(out), "--epochs", "3", "--batch-size", "8"]
    res = runner.invoke(app, [*args, "--set", "hidden=8", "--set", "embed_dim=8", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout[res.stdout.index("{") :])
    assert summary["model_type"] == "charnn" and summary["dev"]["n"] == 12
    assert load_model(out).predict(["物流太慢了"])[0] in ("negative", "positive")
    res = runner.invoke(app, [*args, "--set", "nonsense=1"])
    assert res.exit_code == 2 and "unknown charcnn options" in " ".join(res.output.split())
    res = runner.invoke(app, [*args, "--method", "lora"])
    assert res.exit_code == 2 and "transformers only" in " ".join(res.output.split())
