"""``learn --tier deep``: the transformer tier's heads retrained in a job, with checkpoints.

A tiny random BERT exported to int8 ONNX (weight-only, as the shipped e5
model) stands in for the e5 tier; the job's stages run in process here (the
background process, kill and resume through the CLI are in
tests/integration/test_deep_learn_job.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnx_ir")

from emotiondesk.analyzer import load_analyzer
from emotiondesk.errors import InvalidInputError
from emotiondesk.registry import Registry
from emotiondesk.training.deep_learn import (
    DeepParams,
    FeatureReader,
    find_deep_model,
    replay_sample,
    run_deep_learn,
)
from emotiondesk.training.jobs import (
    JobCancelled,
    JobContext,
    create_job,
    read_job,
)
from emotiondesk.training.learn import is_held_back
from tests.learning_data import anchor_texts, domain_messages
from tests.unit.deep_tier_helpers import make_deep_pack


@pytest.fixture(scope="module")
def deep_pack(tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_deep_pack(tmp_path_factory.mktemp("deep"), tiny_pack)


def _inputs(parent: str = "v1") -> dict:
    rows = [
        {"id": i, "message_id": str(i), "text": t, "language": "zh", "polarity": "negative",
         "emotion": "anger", "ids": [i]}
        for i, t in enumerate(domain_messages(), start=1)
    ]  # fmt: skip
    replay = replay_sample([(t, None) for t in anchor_texts()], 30, exclude=set(domain_messages()))
    return {"parent": parent, "by": "tester", "feedback": rows, "replay": replay, "data": []}


def _job(reg: Registry, name: str = "j", **params) -> Path:
    deep = DeepParams(epochs=6, **params)
    return create_job(
        reg.root / "jobs", kind="learn-deep", params={"deep": deep.__dict__}, inputs=_inputs()
    )


class StopAt(JobContext):
    """Stops the job (as a cancel does) once the train stage reaches ``epoch``."""

    def __init__(self, job: Path, epoch: int) -> None:
        super().__init__(job)
        self.epoch = epoch

    def advance(self, done: int, total: int, **extra) -> None:
        super().advance(done, total, **extra)
        if read_job(self.job)["stage"] == "train" and done >= self.epoch:
            raise JobCancelled("stop")


def _heads(model_dir: Path) -> dict[str, np.ndarray]:
    reader = FeatureReader(model_dir)
    return {t: np.concatenate([w, reader.heads.biases[t][:, None]], 1)
            for t, w in reader.heads.weights.items()}  # fmt: skip


def test_the_job_retrains_the_heads_and_registers_a_servable_candidate(
    deep_pack: Path, tmp_path: Path
) -> None:
    reg = Registry.init(tmp_path / "registry", source=deep_pack, by="t")
    assert find_deep_model(reg.version_dir("v1")).name == "deep"
    job = _job(reg)
    result = run_deep_learn(job, reg, _inputs(), DeepParams(epochs=6), JobContext(job))
    version = result["version"]
    assert version == "v2" and reg.aliases()["challenger"] == "v2"
    held = [i for i, t in enumerate(domain_messages(), start=1) if is_held_back(t)]
    assert result["held_back_ids"] == held and not set(held) & set(result["trained_ids"])
    card = reg.card("v2")
    assert card["parent"] == "v1" and card["tier"].startswith("deep")
    assert card["feedback"]["train_ids"] == result["trained_ids"] and card["job"] == job.name
    assert card["replay"]["rows"] == len(_inputs()["replay"]) == 30 and len(card["history"]) == 6
    assert "v1" in (reg.version_dir("v2") / "MODEL_CARD.md").read_text()
    # the heads moved; the encoder did not (same graph, only head initialisers differ)
    old, new = _heads(reg.version_dir("v1") / "deep"), _heads(reg.version_dir("v2") / "deep")
    assert all(not np.allclose(old[t], new[t]) for t in old)
    figures = card["models"]["deep"]["tasks"]
    assert figures["emotion"]["train_accuracy"] > figures["emotion"]["train_accuracy_before"]
    assert card["models"]["deep"]["parity_max_logit_diff"] < 1e-2
    # a plain pack served by onnxruntime: the blend still reads the new model's head
    analyzer = load_analyzer(reg.version_dir("v2"))
    domain = [t for t in domain_messages() if not is_held_back(t)]
    before = load_analyzer(reg.version_dir("v1")).analyze(domain)
    after = analyzer.analyze(domain)
    assert after[0].model.endswith("v2")
    assert sum(r.emotion == "anger" for r in after) > sum(r.emotion == "anger" for r in before)
    # the job dir holds its checkpoints and feature chunks
    assert sorted(p.name for p in (job / "checkpoints").iterdir()) == [
        "epoch-0005.pt",
        "epoch-0006.pt",
    ]
    assert list((job / "features").glob("chunk-*.npy"))


def test_a_stopped_job_resumes_from_its_checkpoint_to_the_same_weights(
    deep_pack: Path, tmp_path: Path
) -> None:
    whole = Registry.init(tmp_path / "a", source=deep_pack, by="t")
    job_a = _job(whole)
    run_deep_learn(job_a, whole, _inputs(), DeepParams(epochs=6), JobContext(job_a))

    split = Registry.init(tmp_path / "b", source=deep_pack, by="t")
    job_b = _job(split)
    with pytest.raises(JobCancelled):
        run_deep_learn(job_b, split, _inputs(), DeepParams(epochs=6), StopAt(job_b, 3))
    assert max(p.name for p in (job_b / "checkpoints").glob("epoch-*.pt")) == "epoch-0003.pt"
    assert split.version_names() == ["v1"]  # nothing registered by a stopped job
    run_deep_learn(job_b, split, _inputs(), DeepParams(epochs=6), JobContext(job_b))
    card = split.card("v2")
    assert card["models"]["deep"]["epochs_resumed_from"] == 3
    assert [h["loss"] for h in card["history"]] == [h["loss"] for h in whole.card("v2")["history"]]
    a, b = _heads(whole.version_dir("v2") / "deep"), _heads(split.version_dir("v2") / "deep")
    for task in a:
        np.testing.assert_allclose(a[task], b[task], rtol=1e-5, atol=1e-6)


def test_clear_errors(deep_pack: Path, tiny_pack: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no transformer"):
        find_deep_model(tiny_pack)
    reg = Registry.init(tmp_path / "r", source=deep_pack, by="t")
    few = _inputs()
    few["feedback"] = few["feedback"][:2]
    job = _job(reg)
    with pytest.raises(InvalidInputError, match="nothing to learn from"):
        run_deep_learn(job, reg, few, DeepParams(epochs=1), JobContext(job))
    with pytest.raises(InvalidInputError, match="at least 1"):
        DeepParams(epochs=0)
    json.dumps(read_job(job))  # job.json stays readable


def test_feature_chunks_are_reused_only_for_the_same_texts(tmp_path: Path) -> None:
    """A resume reads its encoded chunks back; a different text list never gets them."""
    import json as _json

    from emotiondesk.training import deep_learn
    from emotiondesk.training.jobs import JOB_FILE, JobContext

    job = tmp_path / "job"
    job.mkdir()
    (job / JOB_FILE).write_text(_json.dumps({"state": "running"}))
    calls: list[int] = []

    class Reader:  # a deterministic encoder: one feature, the text's length
        heads = type("Heads", (), {"weights": {"polarity": np.zeros((3, 1))}})()

        def __call__(self, texts: list[str]) -> np.ndarray:
            calls.append(len(texts))
            return np.array([[float(len(t))] for t in texts], dtype=np.float32)

    texts = [f"message {i}" * (1 + i % 3) for i in range(deep_learn.CHUNK + 5)]
    first = deep_learn._chunks(job, texts, Reader(), JobContext(job))  # type: ignore[arg-type]
    assert len(calls) == 2
    again = deep_learn._chunks(job, texts, Reader(), JobContext(job))  # type: ignore[arg-type]
    assert len(calls) == 2 and np.array_equal(first, again)  # read back, not encoded
    other = texts[1:] + texts[:1]  # the same texts in another order
    moved = deep_learn._chunks(job, other, Reader(), JobContext(job))  # type: ignore[arg-type]
    assert len(calls) == 4  # encoded anew
    assert moved[:, 0].tolist() == [float(len(t)) for t in other]
