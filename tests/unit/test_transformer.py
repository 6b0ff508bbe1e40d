"""Fine-tuning, saving, loading, exporting and serving a tiny random BERT (offline, seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from emotiondesk.analyzer import load_analyzer  # noqa: E402
from emotiondesk.errors import (  # noqa: E402
    ConfigError,
    DataError,
    InvalidInputError,
    LabelError,
    ModelError,
)
from emotiondesk.models.base import load_model  # noqa: E402
from emotiondesk.models.transformer import TransformerClassifier  # noqa: E402
from emotiondesk.training import TaskData, TrainingArgs, fine_tune  # noqa: E402
from tests.unit.deep_helpers import make_tiny_bert, task_rows, write_csv  # noqa: E402

TEXTS = ["Thank you so much, I love it", "物流太慢了，气死我了", "When will my order ship", "ok"]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "base")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("data")
    return {
        "pol": write_csv(root / "pol.csv", task_rows("polarity")),
        "emo": write_csv(root / "emo.csv", task_rows("emotion")),
    }


def _args(base: Path, out: Path, data: dict[str, Path], **kw) -> TrainingArgs:
    settings = {
        "base": str(base),
        "out": str(out),
        "tasks": [
            TaskData("polarity", str(data["pol"]), str(data["pol"])),
            TaskData("emotion", str(data["emo"]), str(data["emo"])),
        ],
        "epochs": 2,
        "batch_size": 8,
        "lr": 1e-3,
        "log_every": 5,
        "seed": 0,
        "num_threads": 1,
    }
    settings.update(kw)
    return TrainingArgs(**settings)


@pytest.fixture(scope="module")
def trained(
    tiny_base: Path, data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A multi-task (polarity + emotion) model, full fine-tuning with FGM, focal loss, smoothing."""
    out = tmp_path_factory.mktemp("trained") / "deep"
    args = _args(
        tiny_base,
        out,
        data,
        fgm_epsilon=0.5,
        loss="focal",
        class_weights="balanced",
        epochs=6,
        label_smoothing=0.1,
        dropout=0.1,
    )
    return fine_tune(args)


def test_full_fine_tuning_writes_a_complete_artifact(trained: Path):
    for name in (
        "config.json",
        "heads.safetensors",
        "README.md",
        "training_args.json",
        "dev_report.json",
        "encoder/config.json",
        "encoder/model.safetensors",
        "encoder/tokenizer.json",
    ):
        assert (trained / name).is_file(), name
    cfg = json.loads((trained / "config.json").read_text(encoding="utf-8"))
    assert cfg["model_type"] == "transformer"
    assert cfg["tasks"] == {
        "polarity": ["negative", "neutral", "positive"],
        "emotion": ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"],
    }
    assert cfg["max_length"] == 64  # the tiny model's own max_position_embeddings
    assert set(cfg["temperatures"]) == {"polarity", "emotion"}
    card = (trained / "README.md").read_text(encoding="utf-8")
    assert "ECE before" in card and "macro-F1" in card and "polarity" in card
    assert TrainingArgs.load(trained).fgm_epsilon == 0.5
    # No temporary directory left beside the artifact.
    assert not [p for p in trained.parent.iterdir() if p.name.startswith(".")]


def test_training_learns_something(trained: Path):
    report = json.loads((trained / "dev_report.json").read_text(encoding="utf-8"))
    # 40 training texts, each seen 12 times: well above the majority rate (0.5) on them.
    assert report["polarity"]["accuracy"] > 0.6
    assert report["polarity"]["ece_after"] <= report["polarity"]["ece_before"] + 1e-9


def test_save_load_round_trip_and_heads(trained: Path, tmp_path: Path):
    model = load_model(trained)
    assert isinstance(model, TransformerClassifier)
    assert model.labels_ == ["negative", "neutral", "positive"]
    both = model.predict_proba_all(TEXTS)
    assert both["polarity"].shape == (4, 3) and both["emotion"].shape == (4, 7)
    for p in both.values():
        assert np.allclose(p.sum(axis=1), 1.0)
    emo = model.for_task("emotion")
    assert emo.labels_[0] == "anger"
    assert np.allclose(emo.predict_proba(TEXTS), both["emotion"])
    model.save_pretrained(tmp_path / "copy")
    again = load_model(tmp_path / "copy")
    assert np.allclose(again.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=1e-6)
    # Order of texts and batch size do not change a text's probabilities.
    again.batch_size = 1
    rev = again.predict_proba(TEXTS[::-1])[::-1]
    assert np.allclose(rev, model.predict_proba(TEXTS), atol=1e-5)
    with pytest.raises(Exception, match="no 'satisfaction' head"):
        model.for_task("satisfaction")


def test_temperature_is_applied(trained: Path):
    model = load_model(trained)
    logits = model.predict_logits(TEXTS)["polarity"]
    t = model.temperatures_["polarity"]
    z = logits / t
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    assert np.allclose(model.predict_proba(TEXTS), expected, atol=1e-6)


def test_inference_normalises_like_training(trained: Path):
    from emotiondesk.text import normalize

    model = load_model(trained)
    raw = ["物流太慢了！！！ＯＫ？", "Ｇｒｅａｔ，ｔｈａｎｋｓ！", "質量很好"]
    assert [normalize(t) for t in raw] != raw
    np.testing.assert_allclose(
        model.predict_proba(raw), model.predict_proba([normalize(t) for t in raw]), atol=1e-6
    )


def test_lora_fine_tuning(tiny_base: Path, data: dict[str, Path], tmp_path: Path):
    args = _args(tiny_base, tmp_path / "lora", data, method="lora", lora_r=4, epochs=1)
    out = fine_tune(args)
    model = load_model(out)
    assert model.predict_proba(TEXTS).shape == (4, 3)
    # The adapter is merged: the saved encoder is a plain BERT.
    cfg = json.loads((out / "encoder" / "config.json").read_text(encoding="utf-8"))
    assert cfg["model_type"] == "bert"
    assert "lora" not in (out / "encoder" / "model.safetensors").read_bytes()[:20000].decode(
        "latin-1"
    )


def test_resume_continues_from_the_checkpoint(
    tiny_base: Path, data: dict[str, Path], tmp_path: Path
):
    ckpt = tmp_path / "ckpt"
    first = _args(
        tiny_base,
        tmp_path / "m",
        data,
        tasks=[TaskData("polarity", str(data["pol"]), str(data["pol"]))],
        max_steps=4,
        eval_every=2,
        checkpoint_dir=str(ckpt),
        patience=0,
    )
    fine_tune(first)
    assert sorted(p.name for p in ckpt.glob("update-*")) == ["update-0000004"]
    logs: list[dict] = []
    second = _args(
        tiny_base,
        tmp_path / "m",
        data,
        tasks=[TaskData("polarity", str(data["pol"]), str(data["pol"]))],
        max_steps=6,
        eval_every=2,
        checkpoint_dir=str(ckpt),
        patience=0,
        resume=True,
        log_every=1,
    )
    fine_tune(second, on_log=logs.append)
    updates = [r["update"] for r in logs if "loss" in r]
    assert updates and updates[0] == 5  # went on from update 4, did not start over


def test_pipeline_from_pretraining_to_fine_tuning(data: dict[str, Path], tmp_path: Path):
    from emotiondesk.training.pretrain import PretrainArgs, pretrain_mlm

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(t for t, _ in task_rows("polarity", repeat=1)), encoding="utf-8")
    args = PretrainArgs(
        corpus=[str(corpus)],
        out=str(tmp_path / "zh-bert"),
        vocab_size=400,
        min_char_freq=1,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        max_length=64,
        max_steps=4,
        batch_size=8,
        checkpoint_every=2,
        log_every=2,
    )
    out = pretrain_mlm(args)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(out))
    pieces = tok.tokenize("物流太慢了")
    assert "物流" in pieces, pieces  # a frequent bigram is one token
    assert tok.convert_tokens_to_ids(pieces).count(tok.unk_token_id) == 0
    # Continue pretraining from that checkpoint, then fine-tune on top of it.
    more = pretrain_mlm(
        PretrainArgs(
            corpus=[str(corpus)],
            out=str(tmp_path / "zh-bert-2"),
            base=str(out),
            max_steps=2,
            batch_size=8,
        )
    )
    ft = fine_tune(_args(more, tmp_path / "ft", data, epochs=1))
    assert load_model(ft).predict(["物流太慢了"])[0] in ("negative", "neutral", "positive")


# -- bad input -----------------------------------------------------------------------------


def test_base_dir_missing_files(tmp_path: Path, data: dict[str, Path]):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="missing weights"):
        fine_tune(_args(empty, tmp_path / "o", data))
    with pytest.raises(ModelError, match="does not exist"):
        fine_tune(_args(tmp_path / "nowhere", tmp_path / "o", data))
    assert not (tmp_path / "o").exists()


def test_tokenizer_model_mismatch(tmp_path: Path, data: dict[str, Path]):
    base = make_tiny_bert(tmp_path / "small-vocab", vocab_size=100)  # tokenizer has 232 tokens
    with pytest.raises(ModelError, match="tokenizer/model mismatch"):
        fine_tune(_args(base, tmp_path / "o", data))


def test_dev_label_unseen_in_training(tiny_base: Path, tmp_path: Path):
    train = write_csv(tmp_path / "t.csv", [("good", "positive"), ("bad", "negative")] * 4)
    dev = write_csv(tmp_path / "d.csv", [("good", "positive"), ("meh", "neutral")])
    args = TrainingArgs(
        base=str(tiny_base),
        out=str(tmp_path / "o"),
        tasks=[TaskData("polarity", str(train), str(dev))],
    )
    with pytest.raises(LabelError, match="never occur in the training data") as info:
        fine_tune(args)
    assert info.value.code == "label_unseen_in_training"


def test_single_class_dev_set(tiny_base: Path, tmp_path: Path):
    train = write_csv(tmp_path / "t.csv", [("good", "positive"), ("bad", "negative")] * 4)
    dev = write_csv(tmp_path / "d.csv", [("good", "positive"), ("great", "positive")])
    args = TrainingArgs(
        base=str(tiny_base),
        out=str(tmp_path / "o"),
        tasks=[TaskData("polarity", str(train), str(dev))],
    )
    with pytest.raises(DataError, match="single class"):
        fine_tune(args)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_requested_without_a_gpu(tiny_base: Path, data: dict[str, Path], tmp_path: Path):
    with pytest.raises(ConfigError, match="no CUDA GPU") as info:
        fine_tune(_args(tiny_base, tmp_path / "o", data, device="cuda"))
    assert info.value.code == "cuda_unavailable"


def test_incomplete_artifact_is_refused(trained: Path, tmp_path: Path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained, broken)
    (broken / "heads.safetensors").unlink()
    with pytest.raises(ModelError, match=r"heads\.safetensors is missing"):
        load_model(broken)


# -- ONNX ----------------------------------------------------------------------------------


def test_onnx_export_parity_fp32(trained: Path, tmp_path: Path):
    pytest.importorskip("onnxruntime")
    from emotiondesk.models.onnx import OnnxClassifier
    from emotiondesk.training.export import export_onnx

    texts = [t for t, _ in task_rows("polarity", repeat=1)] + ["a", "ok " * 40]
    report = export_onnx(trained, tmp_path / "onnx", quantize=False, parity_texts=texts)
    assert report.agreement == {"polarity": 1.0, "emotion": 1.0}
    assert max(report.max_prob_diff.values()) < 1e-4
    onnx_model = load_model(tmp_path / "onnx")
    assert isinstance(onnx_model, OnnxClassifier)
    torch_model = load_model(trained)
    assert np.allclose(onnx_model.predict_proba(texts), torch_model.predict_proba(texts), atol=1e-4)
    assert onnx_model.tasks_ == torch_model.tasks_
    assert json.loads((tmp_path / "onnx" / "export_report.json").read_text())["n_texts"] == len(
        texts
    )
    # The export's card is the trained model's card with the export's section added.
    source_card = (trained / "README.md").read_text(encoding="utf-8")
    card = (tmp_path / "onnx" / "README.md").read_text(encoding="utf-8")
    assert card.startswith(source_card.rstrip())
    assert "## ONNX export" in card and "fp32, opset 17" in card
    assert f"parity on {len(texts)} texts: label agreement polarity 1.0000" in card


def test_onnx_int8_export_and_failed_parity_leaves_nothing(trained: Path, tmp_path: Path):
    pytest.importorskip("onnxruntime")
    from emotiondesk.training.export import export_onnx

    report = export_onnx(trained, tmp_path / "int8", quantize=True, min_agreement=0.0)
    assert report.quantized and (tmp_path / "int8" / "model.onnx").is_file()
    assert 0.0 <= report.min_agreement <= 1.0
    with pytest.raises(ModelError, match="parity check failed"):
        export_onnx(trained, tmp_path / "never", quantize=True, min_agreement=1.01)
    assert not (tmp_path / "never").exists()


def test_onnx_weight_only_export_quantises_weights_and_keeps_close_to_fp32(
    trained: Path, tmp_path: Path
):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx_ir")
    import onnx

    from emotiondesk.training.export import export_onnx

    texts = [t for t, _ in task_rows("polarity", repeat=1)] + ["a", "ok " * 40]
    report = export_onnx(
        trained,
        tmp_path / "wo",
        quantize=True,
        method="weight-only",
        parity_texts=texts,
        min_agreement=0.0,
    )
    graph = onnx.load(str(tmp_path / "wo" / "model.onnx")).graph
    assert {"MatMulNBits", "GatherBlockQuantized"} <= {n.op_type for n in graph.node}
    weights = {t.name for t in graph.initializer}
    # every MatMul with a weight was quantised (attention's activation MatMuls remain)
    assert not [n for n in graph.node if n.op_type == "MatMul" and set(n.input) & weights]
    # a broken graph would be far off; on this tiny random-initialised model the 4-bit
    # embedding tables cost more than on the e5 base, whose tables come 4-bit
    # (the e5 figures are in docs/BENCHMARKS.md)
    assert report.agreement["polarity"] >= 0.9 and max(report.max_prob_diff.values()) < 0.15
    cfg = json.loads((tmp_path / "wo" / "config.json").read_text())
    assert cfg["quantization"] == "weight-only"
    assert "weight-only" in (tmp_path / "wo" / "README.md").read_text()
    kept = export_onnx(
        trained,
        tmp_path / "wo1",
        method="weight-only",
        fp32_layers=1,
        parity_texts=texts,
        min_agreement=0.0,
    )
    graph1 = onnx.load(str(tmp_path / "wo1" / "model.onnx")).graph
    weights1 = {t.name for t in graph1.initializer}
    fp32_matmuls = [
        n.name for n in graph1.node if n.op_type == "MatMul" and set(n.input) & weights1
    ]
    assert fp32_matmuls and all("/layer." in n for n in fp32_matmuls)  # the last layer only
    assert len({n.split("/layer.")[1].split("/")[0] for n in fp32_matmuls}) == 1
    assert kept.size_bytes > report.size_bytes
    with pytest.raises(ModelError, match="unknown quantisation method"):
        export_onnx(trained, tmp_path / "never", method="int3")
    # Served with its int8 blocks unpacked into fp32 MatMuls (the default) or on the
    # MatMulNBits kernels: the same weights, so the same logits up to summation order.
    from emotiondesk.models.onnx import OnnxClassifier

    unpacked = OnnxClassifier.from_pretrained(tmp_path / "wo", unpack_weights=True)
    kernels = OnnxClassifier.from_pretrained(tmp_path / "wo", unpack_weights=False)
    assert unpacked.unpacked_ == sum(n.op_type == "MatMulNBits" for n in graph.node) > 0
    assert kernels.unpacked_ == 0
    za, zb = unpacked.predict_logits(texts), kernels.predict_logits(texts)
    for task in za:
        assert np.allclose(za[task], zb[task], atol=1e-4)


def test_ensemble_members_read_one_head_of_a_shared_multitask_model(trained: Path, tmp_path: Path):
    import shutil

    from emotiondesk.models.ensemble import EnsembleClassifier

    shutil.copytree(trained, tmp_path / "mt")
    ens = {}
    for task in ("polarity", "emotion"):
        EnsembleClassifier(["mt"], [1.0], tasks=[task]).save_pretrained(tmp_path / task)
        ens[task] = load_model(tmp_path / task)
        member = json.loads((tmp_path / task / "config.json").read_text())["members"][0]
        assert member == {"path": "mt", "weight": 1.0, "task": task}
    # one open model serves both ensembles, each through its own head
    assert ens["polarity"].models_[0].model is ens["emotion"].models_[0].model
    mt = load_model(trained)
    texts = [t for t, _ in task_rows("polarity", repeat=1)][:6]
    for task in ("polarity", "emotion"):
        assert ens[task].labels_ == mt.tasks_[task]
        assert np.allclose(ens[task].predict_proba(texts), mt.predict_proba(texts, task=task))
    # an ensemble of an ensemble and a head of the shared model (the default pack's
    # blends): opening the nested member re-enters the shared-member cache
    EnsembleClassifier(["polarity", "mt"], [0.5, 0.5], tasks=[None, "polarity"]).save_pretrained(
        tmp_path / "blend"
    )
    blend = load_model(tmp_path / "blend")
    assert np.allclose(blend.predict_proba(texts), ens["polarity"].predict_proba(texts))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(
        json.dumps(
            {"model_type": "ensemble", "members": [{"path": "mt", "weight": 1, "task": "x"}]}
        )
    )
    with pytest.raises((ModelError, InvalidInputError), match="no 'x' head"):
        load_model(bad)


def test_analyzer_serves_both_tasks_from_one_model_and_prefers_onnx(
    trained: Path, tiny_pack: Path, tmp_path: Path
):
    import shutil

    pytest.importorskip("onnxruntime")
    from emotiondesk.training.export import export_onnx

    pack = tmp_path / "pack"
    shutil.copytree(tiny_pack, pack)
    shutil.copytree(trained, pack / "en-deep")
    spec = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
    spec["routes"]["en"] = {"polarity": "en-deep", "emotion": "en-deep"}
    (pack / "pack.json").write_text(json.dumps(spec), encoding="utf-8")

    analyzer = load_analyzer(pack)
    pol, emo = analyzer.models["en"]["polarity"], analyzer.models["en"]["emotion"]
    assert pol.model is emo.model  # one model, two heads
    calls = []
    original = pol.model._forward_batch
    pol.model._forward_batch = lambda texts: calls.append(len(texts)) or original(texts)
    results = analyzer.analyze(
        ["Thank you so much, I love it", "The parcel is so late", "物流太慢了"]
    )
    assert len(calls) == 1  # one forward pass served polarity and emotion
    assert results[0].model and set(results[0].emotion_scores) >= {"joy", "anger"}
    assert abs(sum(results[0].polarity_scores.values()) - 1) < 1e-5

    export_onnx(pack / "en-deep", quantize=False)
    onnx_analyzer = load_analyzer(pack)
    assert type(onnx_analyzer.models["en"]["polarity"].model).__name__ == "OnnxClassifier"
    a = [r.polarity_scores for r in analyzer.analyze(["great, thanks", "awful"])]
    b = [r.polarity_scores for r in onnx_analyzer.analyze(["great, thanks", "awful"])]
    for x, y in zip(a, b, strict=True):
        assert all(abs(x[k] - y[k]) < 1e-3 for k in x)


def test_onnx_model_runs_without_torch(trained: Path, tmp_path: Path):
    pytest.importorskip("onnxruntime")
    from emotiondesk.training.export import export_onnx

    export_onnx(trained, tmp_path / "onnx", quantize=False)
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # any import of torch fails\n"
        "from emotiondesk.models.base import load_model\n"
        f"m = load_model({str(tmp_path / 'onnx')!r})\n"
        "print(m.for_task('emotion').predict(['great, thanks'])[0])\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() in (
        "anger",
        "disgust",
        "fear",
        "joy",
        "sadness",
        "surprise",
        "neutral",
    )
