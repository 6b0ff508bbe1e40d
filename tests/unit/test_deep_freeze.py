"""Frozen embeddings / lower layers and the mean_norm pooling (the E5 recipe) on a tiny BERT."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from emotiondesk.errors import ConfigError, ModelError  # noqa: E402
from emotiondesk.models.base import load_model  # noqa: E402
from emotiondesk.models.transformer import NORM_SCALE, MultiTaskNet  # noqa: E402
from emotiondesk.training import TaskData, TrainingArgs, fine_tune  # noqa: E402
from tests.unit.deep_helpers import make_tiny_bert, task_rows, write_csv  # noqa: E402


def _state(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_frozen_layers_stay_and_the_rest_learns(tmp_path: Path):
    base = make_tiny_bert(tmp_path / "base")
    pol = write_csv(tmp_path / "pol.csv", task_rows("polarity"))
    emo = write_csv(tmp_path / "emo.csv", task_rows("emotion"))
    args = TrainingArgs(
        base=str(base),
        out=str(tmp_path / "out"),
        tasks=[TaskData("polarity", str(pol), str(pol)), TaskData("emotion", str(emo), str(emo))],
        pooling="mean_norm",
        freeze_embeddings=True,
        freeze_layers=1,
        epochs=2,
        batch_size=8,
        lr=1e-3,
        seed=0,
        num_threads=1,
    )
    out = fine_tune(args)
    before, after = _state(base), _state(out / "encoder")

    def same(key: str) -> bool:
        return torch.equal(before[key], after[key])

    emb = next(k for k in before if k.endswith("word_embeddings.weight"))
    layer0 = next(k for k in before if ".layer.0.attention.self.query.weight" in k)
    layer1 = next(k for k in before if ".layer.1.attention.self.query.weight" in k)
    assert same(emb) and same(layer0)
    assert not same(layer1)

    model = load_model(out)
    assert model.net_.pooling == "mean_norm"
    enc = model.tokenizer_(["物流太慢了", "thanks a lot"], padding=True, return_tensors="pt")
    with torch.no_grad():
        pooled = model.net_.embed(enc["input_ids"], enc["attention_mask"])
    assert torch.allclose(pooled.norm(dim=-1), torch.full((2,), NORM_SCALE), atol=1e-4)

    # evaluate --model DIR scores the head of the asked task of a multi-task model
    from emotiondesk.evaluation.evaluate import predict_scheme_proba

    for task, k in (("polarity", 3), ("emotion", 7)):
        proba, _ = predict_scheme_proba(out, ["物流太慢了"], task=task)
        assert proba.shape == (1, k)
        assert abs(proba.sum() - 1) < 1e-6


def test_bad_settings():
    with pytest.raises(ConfigError, match="freeze_layers"):
        TrainingArgs(base="b", out="o", tasks=[TaskData("polarity", "a", "b")], freeze_layers=-1)
    with pytest.raises(ConfigError, match="pooling"):
        TrainingArgs(base="b", out="o", tasks=[TaskData("polarity", "a", "b")], pooling="max")
    with pytest.raises(ModelError, match="pooling"):
        MultiTaskNet(torch.nn.Module(), {"polarity": 3}, pooling="max")
