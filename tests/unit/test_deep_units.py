"""Deep-model building blocks without a model: TrainingArgs, losses, FGM, calibration, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emotiondesk.errors import ConfigError  # noqa: E402
from emotiondesk.models._io import atomic_directory  # noqa: E402
from emotiondesk.models.multitask import softmax  # noqa: E402
from emotiondesk.models.probability import (  # noqa: E402
    expected_calibration_error,
    fit_temperature,
    nll,
)
from emotiondesk.training.args import TaskData, TrainingArgs  # noqa: E402
from emotiondesk.training.losses import FGM, FocalLoss, balanced_class_weights  # noqa: E402


def _args(**kw):
    base = {"base": "b", "out": "o", "tasks": [TaskData("polarity", "t.csv", "d.csv")]}
    base.update(kw)
    return TrainingArgs(**base)


# -- TrainingArgs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"method": "qlora"},
        {"lr": 0},
        {"batch_size": -1},
        {"warmup_ratio": 1.5},
        {"label_smoothing": -0.1},
        {"loss": "hinge"},
        {"device": "tpu"},
        {"tasks": []},
        {"tasks": [TaskData("polarity", "a", "b"), TaskData("polarity", "c", "d")]},
        {"patience": -1},
    ],
)
def test_training_args_reject_bad_values(bad):
    with pytest.raises(ConfigError):
        _args(**bad)


def test_task_data_validates():
    with pytest.raises(ConfigError, match="unknown task"):
        TaskData("sentiment", "a", "b")
    with pytest.raises(ConfigError, match="binary"):
        TaskData("emotion", "a", "b", binary=True)


def test_training_args_yaml_overrides_and_round_trip(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "base: some/model\nout: out/m\nlr: 3.0e-5\nmethod: lora\n"
        "tasks:\n  - {task: polarity, train: t.csv, dev: d.csv, dataset: sst2}\n",
        encoding="utf-8",
    )
    args = TrainingArgs.from_yaml(cfg, overrides={"lr": 1e-4, "epochs": None, "batch_size": 8})
    assert args.lr == 1e-4 and args.method == "lora" and args.batch_size == 8
    assert args.epochs == 3.0  # a None override leaves the default
    assert args.tasks[0].dataset == "sst2"
    args.save(tmp_path)
    again = TrainingArgs.load(tmp_path)
    assert again == args


def test_training_args_unknown_key(tmp_path):
    with pytest.raises(ConfigError, match="unknown training setting"):
        TrainingArgs.from_dict({"base": "b", "out": "o", "learning_rate": 1})
    with pytest.raises(ConfigError, match="does not exist"):
        TrainingArgs.from_yaml(tmp_path / "missing.yaml")


# -- losses and FGM ------------------------------------------------------------------------


def test_focal_loss_gamma_zero_is_cross_entropy():
    logits = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 4, (16,), generator=torch.Generator().manual_seed(1))
    ce = torch.nn.functional.cross_entropy(logits, y)
    assert torch.allclose(FocalLoss(gamma=0.0)(logits, y), ce, atol=1e-6)
    smooth = torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.1)
    assert torch.allclose(FocalLoss(gamma=0.0, label_smoothing=0.1)(logits, y), smooth, atol=1e-6)
    w = torch.tensor([1.0, 2.0, 0.5, 1.0])
    wce = torch.nn.functional.cross_entropy(logits, y, weight=w)
    assert torch.allclose(FocalLoss(gamma=0.0, weight=w)(logits, y), wce, atol=1e-6)


def test_focal_loss_down_weights_easy_examples():
    easy = torch.tensor([[6.0, 0.0]])
    hard = torch.tensor([[0.2, 0.0]])
    y = torch.tensor([0])
    ce_ratio = torch.nn.functional.cross_entropy(hard, y) / torch.nn.functional.cross_entropy(
        easy, y
    )
    focal_ratio = FocalLoss(gamma=2.0)(hard, y) / FocalLoss(gamma=2.0)(easy, y)
    assert focal_ratio > ce_ratio * 10
    logits = torch.randn(8, 3, requires_grad=True)
    FocalLoss(gamma=2.0)(logits, torch.zeros(8, dtype=torch.long)).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_balanced_class_weights():
    w = balanced_class_weights([0, 0, 0, 1], 2)
    assert w.tolist() == pytest.approx([4 / 6, 2.0])


def test_fgm_perturbs_and_restores_embeddings():
    emb = torch.nn.Embedding(10, 4)
    model = torch.nn.Module()
    model.word_embeddings = emb
    before = emb.weight.detach().clone()
    emb.weight.sum().backward()
    fgm = FGM(model, epsilon=0.5)
    assert fgm.attack()
    delta = emb.weight.detach() - before
    assert float(delta.norm()) == pytest.approx(0.5, rel=1e-4)  # epsilon * g / ||g||
    fgm.restore()
    assert torch.equal(emb.weight.detach(), before)


def test_fgm_without_gradients_does_nothing():
    model = torch.nn.Module()
    model.word_embeddings = torch.nn.Embedding(5, 2)
    assert FGM(model).attack() is False


# -- calibration -------------------------------------------------------------------------


def _synthetic(scale: float, n: int = 4000, k: int = 3, seed: int = 0):
    """Labels drawn from softmax(z) (so z is calibrated); the model reports z * scale."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, k))
    p = softmax(z)
    y = np.array([rng.choice(k, p=row) for row in p])
    return z * scale, y


def test_temperature_scaling_fixes_overconfidence():
    logits, y = _synthetic(scale=4.0)
    t = fit_temperature(logits, y)
    assert t == pytest.approx(4.0, rel=0.15)
    before = expected_calibration_error(softmax(logits), y)
    after = expected_calibration_error(softmax(logits, t), y)
    assert after < before / 2
    assert nll(logits, y, t) < nll(logits, y)
    # The argmax (accuracy) does not change.
    assert (softmax(logits, t).argmax(1) == logits.argmax(1)).all()


def test_temperature_scaling_fixes_underconfidence():
    logits, y = _synthetic(scale=0.3)
    assert fit_temperature(logits, y) < 0.5


def test_ece_of_a_perfectly_calibrated_predictor_is_small():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.0, 20000)
    y = (rng.uniform(0, 1, 20000) > p).astype(int)  # class 0 with probability p
    proba = np.stack([p, 1 - p], axis=1)
    assert expected_calibration_error(proba, y) < 0.02


# -- atomic writes -------------------------------------------------------------------------


def test_atomic_directory_keeps_the_old_artifact_on_failure(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as tmp:
        (tmp / "config.json").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "config.json").write_text("half", encoding="utf-8")
        raise RuntimeError("crash mid-write")
    assert (target / "config.json").read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary left behind


def test_training_args_types():
    args = _args(lr="1e-5", epochs="2")  # YAML 1.1 reads 1e-5 as a string
    assert args.lr == 1e-5 and args.epochs == 2.0
    with pytest.raises(ConfigError, match="head_lr must be a number"):
        _args(head_lr="fast")
    with pytest.raises(ConfigError, match="resume must be true or false"):
        _args(resume="maybe")


def test_cli_set_values_are_typed():
    from emotiondesk.cli.deep import parse_settings

    assert parse_settings(["head_lr=1e-3", "method=lora", "lora_targets=[query, value]"]) == {
        "head_lr": 1e-3,
        "method": "lora",
        "lora_targets": ["query", "value"],
    }
