"""``emotiondesk learn --tier deep``: the transformer tier's heads retrained on the corrections.

The served transformer tier is an int8 ONNX model (``emotiondesk export``):
an encoder, a pooling step and one linear head (a ``Gemm``) per task. The
full network cannot be fine-tuned from that file, and fine-tuning the
encoder on a shared CPU would take hours; so the candidate keeps the
champion's quantised encoder exactly and retrains the heads, on features the
encoder computes once:

1. **features** (checkpointed per chunk of texts in ``features/``): the
   pooled encoder output of every training text, read from the champion's
   ONNX graph with the heads' input added as a graph output;
2. **train** (a checkpoint per epoch in ``checkpoints/``: heads, optimiser,
   history): the heads start from the champion's and minimise, per task, the
   cross-entropy on the corrected labels (and ``--data`` rows) plus a replay
   term: the cross-entropy to the champion's own probabilities on a seeded
   sample of stored messages nobody corrected (they keep the champion's
   reading where the corrections say nothing), plus an L2 pull towards the
   champion's heads. Each epoch's batch order comes from ``(seed, epoch)``,
   so a resumed job ends with the same weights as an uninterrupted one;
3. **candidate**: the champion's ``model.onnx`` with the head weights
   replaced (still servable by onnxruntime without torch; checked against
   the trained heads), the champion's pack around it, ``card.json`` and
   ``MODEL_CARD.md``; registered as the challenger.

The held-back slice of the feedback (``training.learn.is_held_back``) and
texts of the customer-service turn set are never trained on, as in the fast
tier. Runs as a background job (:mod:`emotiondesk.training.jobs`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.labels import SCHEMES
from emotiondesk.models.base import CONFIG_NAME, read_config
from emotiondesk.models.onnx import MODEL_FILE
from emotiondesk.models.onnx import MODEL_TYPE as ONNX_TYPE
from emotiondesk.pack import read_pack
from emotiondesk.registry import CARD_FILE, CARD_MARKDOWN, Registry, copy_pack, now, write_json
from emotiondesk.text.normalize import normalize
from emotiondesk.training.heldout import is_heldout
from emotiondesk.training.jobs import JobContext
from emotiondesk.training.learn import HOLDBACK_FRACTION, FeedbackRow, split_feedback

TIER = "deep: the transformer tier's heads retrained on its frozen int8 encoder (training/deep_learn.py)"
FEATURES_DIR = "features"
CHECKPOINTS_DIR = "checkpoints"
CHUNK = 256


@dataclass
class DeepParams:
    """Settings of a deep-tier learn job (saved in ``job.json``)."""

    epochs: int = 40
    lr: float = 3e-3
    batch_size: int = 32
    l2: float = 1e-2
    replay_weight: float = 1.0
    holdback: float = HOLDBACK_FRACTION
    seed: int = 0
    min_rows: int = 5
    feature_batch: int = 32
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.feature_batch < 1:
            raise InvalidInputError("epochs, batch size and feature batch must be at least 1")
        if self.lr <= 0 or self.l2 < 0 or self.replay_weight < 0:
            raise InvalidInputError("lr must be > 0, l2 and replay weight >= 0")
        if not 0.0 <= self.holdback < 1.0:
            raise InvalidInputError(f"holdback must be in [0, 1), got {self.holdback}")


# -- finding and reading the transformer tier ------------------------------------------------


def find_deep_model(pack_dir: str | Path) -> Path:
    """The ONNX transformer model the pack's routes use (directly or inside ensembles)."""
    spec = read_pack(pack_dir)
    found: dict[Path, None] = {}
    seen: set[Path] = set()

    def walk(path: Path) -> None:
        path = path.resolve()
        if path in seen:
            return
        seen.add(path)
        cfg = read_config(path)
        kind = cfg.get("model_type")
        if kind == ONNX_TYPE:
            found[path] = None
        elif kind == "ensemble":
            for member in cfg.get("members", []):
                walk(path.parent / str(member["path"]))
        elif kind == "corrected":
            walk(path.parent / str(cfg["base"]))

    for tasks in spec.routes.values():
        for rel in tasks.values():
            walk(spec.root / rel)
    if not found:
        raise InvalidInputError(
            f"the pack {spec.name}-{spec.version} routes no transformer (onnx) model: "
            "learn the fast tier instead (emotiondesk learn without --tier deep)"
        )
    if len(found) > 1:
        names = ", ".join(sorted(p.name for p in found))
        raise InvalidInputError(f"the pack routes several transformer models ({names})")
    return next(iter(found))


@dataclass
class Heads:
    """The heads of an exported multi-task graph: ``Gemm(features, W, b)`` per task."""

    feature: str
    weights: dict[str, np.ndarray]  # task -> (k, hidden)
    biases: dict[str, np.ndarray]
    names: dict[str, tuple[str, str]]  # task -> (weight initializer, bias initializer)
    transposed: dict[str, bool]  # whether the initializer is stored (k, hidden)


def read_heads(model: Any, config: dict[str, Any]) -> Heads:
    """Find each task's head in an ONNX ``ModelProto`` (the node writing ``logits_<task>``)."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    feature = None
    weights, biases, names, transposed = {}, {}, {}, {}
    for task, out in zip(config["tasks"], config["output_names"], strict=True):
        node = producers.get(out)
        if node is None or node.op_type != "Gemm" or len(node.input) < 3:
            raise ModelError(
                f"the {task} head of this ONNX model is not one linear layer (Gemm): "
                "the deep tier retrains heads exported by `emotiondesk export`"
            )
        x, w, b = node.input[:3]
        if w not in inits or b not in inits:
            raise ModelError(f"the {task} head's weights are not constants of the graph")
        attrs = {a.name: a for a in node.attribute}
        trans_b = bool(attrs["transB"].i) if "transB" in attrs else False
        if "transA" in attrs and attrs["transA"].i:
            raise ModelError(f"the {task} head transposes its input: not supported")
        for scale in ("alpha", "beta"):
            if scale in attrs and abs(attrs[scale].f - 1.0) > 1e-6:
                raise ModelError(f"the {task} head scales by {scale}: not supported")
        if feature is None:
            feature = x
        elif feature != x:
            raise ModelError("the heads read different inputs; expected one pooled feature")
        wv = numpy_helper.to_array(inits[w]).astype(np.float32)
        weights[task] = wv if trans_b else wv.T
        biases[task] = numpy_helper.to_array(inits[b]).astype(np.float32).reshape(-1)
        names[task] = (w, b)
        transposed[task] = trans_b
    assert feature is not None
    return Heads(feature, weights, biases, names, transposed)


class FeatureReader:
    """The pooled encoder output of an exported transformer (onnxruntime, no torch)."""

    def __init__(self, model_dir: Path, *, batch_size: int = 32) -> None:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper

        from emotiondesk.models.onnx import OnnxClassifier

        self.config = read_config(model_dir)
        self.model = onnx.load(str(model_dir / MODEL_FILE))
        self.heads = read_heads(self.model, self.config)
        self.clf = OnnxClassifier.from_pretrained(model_dir, num_threads=1)
        probe = onnx.ModelProto()
        if self.config.get("quantization") == "weight-only":
            # as the service runs it: the int8 blocks dequantised once into fp32 MatMuls
            # (the same numbers, several times faster on CPU; models/onnx.py)
            from emotiondesk.models.onnx import unpack_weight_only

            probe.ParseFromString(unpack_weight_only(model_dir / MODEL_FILE)[0])
        else:
            probe.CopyFrom(self.model)
        probe.graph.output.append(
            helper.make_tensor_value_info(self.heads.feature, TensorProto.FLOAT, None)
        )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(
            probe.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.batch_size = batch_size

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = [normalize(t) for t in texts]  # as MultiTaskClassifier.predict_logits does
        hidden = self.heads.weights[next(iter(self.heads.weights))].shape[1]
        out = np.zeros((len(texts), hidden), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            feeds = self.clf.preprocess([texts[i] for i in idx])
            (feats,) = self.session.run([self.heads.feature], feeds)
            out[idx] = feats
        return out


# -- the job ---------------------------------------------------------------------------------


def replay_sample(
    anchors: Sequence[tuple[str, str | None]], n: int, *, exclude: set[str], seed: int = 0
) -> list[tuple[str, str | None]]:
    """A seeded sample of ``n`` uncorrected messages (by a hash of the text; no turn-set texts)."""
    pool = {t: lang for t, lang in anchors if t not in exclude and not is_heldout(t)}

    def key(text: str) -> bytes:
        return hashlib.sha256(f"replay\x00{seed}\x00{text}".encode()).digest()

    return [(t, pool[t]) for t in sorted(pool, key=key)[: max(0, n)]]


def _chunks(job: Path, texts: list[str], reader: FeatureReader, ctx: JobContext) -> np.ndarray:
    """Features of ``texts``, a chunk file each ``CHUNK`` texts (existing chunks are reused).

    Chunks are reused only for the same texts in the same order (a fingerprint in
    ``manifest.json``): were the list to differ on a resume, features and labels
    would be silently misaligned, so the folder is cleared instead.
    """
    folder = job / FEATURES_DIR
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256()
    for t in texts:
        digest.update(t.encode("utf-8") + b"\x00")
    manifest = {"texts": len(texts), "sha256": digest.hexdigest(), "chunk": CHUNK}
    stamp = folder / "manifest.json"
    if not stamp.is_file() or json.loads(stamp.read_text(encoding="utf-8")) != manifest:
        stale = sorted(folder.glob("chunk-*.npy"))
        for old in stale:
            old.unlink()
        if stale:
            ctx.log(f"features: {len(stale)} chunks of other texts removed")
        stamp.write_text(json.dumps(manifest), encoding="utf-8")
    n_chunks = (len(texts) + CHUNK - 1) // CHUNK
    ctx.stage("features", n_chunks)
    parts, reused = [], 0
    for i in range(n_chunks):
        path = folder / f"chunk-{i:05d}.npy"
        if path.is_file():
            parts.append(np.load(path))
            reused += 1
        else:
            feats = reader(texts[i * CHUNK : (i + 1) * CHUNK])
            tmp = folder / f".chunk-{i:05d}.tmp.npy"
            np.save(tmp, feats)
            tmp.replace(path)
            parts.append(feats)
        ctx.advance(i + 1, n_chunks, texts=min(len(texts), (i + 1) * CHUNK))
    if reused:
        ctx.log(f"features: {reused} of {n_chunks} chunks read from checkpoints")
    hidden = reader.heads.weights[next(iter(reader.heads.weights))].shape[1]
    return np.concatenate(parts) if parts else np.zeros((0, hidden), dtype=np.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class TaskData:
    """One head's training rows: feature index, target distribution, weight."""

    index: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    hard: int
    replay: int


def _task_data(
    task: str,
    labels: list[str],
    text_index: dict[str, int],
    feats: np.ndarray,
    heads: Heads,
    train: list[FeedbackRow],
    extra: list[tuple[str, str]],
    replay: list[str],
    replay_weight: float,
) -> TaskData:
    pos = {y: i for i, y in enumerate(labels)}
    idx, targets, weights = [], [], []
    for text, label in [(r.text, r.label(task)) for r in train] + extra:
        if not label:
            continue
        if label not in pos:
            raise InvalidInputError(f"unknown {task} label {label!r}; expected one of {labels}")
        t = np.zeros(len(labels), dtype=np.float32)
        t[pos[label]] = 1.0
        idx.append(text_index[text])
        targets.append(t)
        weights.append(1.0)
    hard = len(idx)
    if replay and replay_weight > 0:
        r_idx = np.array([text_index[t] for t in replay])
        teacher = _softmax(feats[r_idx] @ heads.weights[task].T + heads.biases[task])
        idx.extend(r_idx.tolist())
        targets.extend(teacher)
        weights.extend([replay_weight] * len(r_idx))
    k = len(labels)
    return TaskData(
        index=np.asarray(idx, dtype=np.int64),
        target=np.asarray(targets, dtype=np.float32).reshape(-1, k),
        weight=np.asarray(weights, dtype=np.float32),
        hard=hard,
        replay=len(idx) - hard,
    )


def _train_heads(
    job: Path,
    feats: np.ndarray,
    data: dict[str, TaskData],
    heads: Heads,
    params: DeepParams,
    ctx: JobContext,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[dict[str, Any]], int]:
    """Train the heads with checkpoints; returns weights, biases, history, the epoch resumed from."""
    import torch
    from torch import nn

    torch.manual_seed(params.seed)
    x_all = torch.from_numpy(feats)
    module = nn.ModuleDict()
    anchor: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for task in data:
        w0, b0 = heads.weights[task], heads.biases[task]
        lin = nn.Linear(w0.shape[1], w0.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w0))
            lin.bias.copy_(torch.from_numpy(b0))
        module[task] = lin
        anchor[task] = (torch.from_numpy(w0.copy()), torch.from_numpy(b0.copy()))
    optim = torch.optim.Adam(module.parameters(), lr=params.lr)
    folder = job / CHECKPOINTS_DIR
    folder.mkdir(exist_ok=True)
    history: list[dict[str, Any]] = []
    first = 1
    saved = sorted(folder.glob("epoch-*.pt"))
    if saved:
        state = torch.load(saved[-1], weights_only=False)
        module.load_state_dict(state["heads"])
        optim.load_state_dict(state["optim"])
        history = list(state["history"])
        first = int(state["epoch"]) + 1
        ctx.log(f"train: resumed from checkpoint {saved[-1].name} (epoch {state['epoch']})")
    resumed_from = first - 1
    ctx.stage("train", params.epochs)
    ctx.advance(first - 1, params.epochs)
    tensors = {
        t: (torch.from_numpy(d.index), torch.from_numpy(d.target), torch.from_numpy(d.weight))
        for t, d in data.items()
    }
    for epoch in range(first, params.epochs + 1):
        gen = torch.Generator().manual_seed(params.seed * 100_003 + epoch)
        module.train()
        total, seen = 0.0, 0
        for task, (index, target, weight) in tensors.items():
            order = torch.randperm(len(index), generator=gen)
            for start in range(0, len(order), params.batch_size):
                sel = order[start : start + params.batch_size]
                logits = module[task](x_all[index[sel]])
                ce = -(target[sel] * torch.log_softmax(logits, dim=1)).sum(1)
                loss = (ce * weight[sel]).sum() / weight[sel].sum()
                w0, b0 = anchor[task]
                drift = ((module[task].weight - w0) ** 2).sum() + (
                    (module[task].bias - b0) ** 2
                ).sum()
                loss = loss + params.l2 * drift
                optim.zero_grad()
                loss.backward()
                optim.step()
                total += float(loss.detach()) * len(sel)
                seen += len(sel)
        history.append({"epoch": epoch, "loss": round(total / max(seen, 1), 6)})
        ckpt = folder / f"epoch-{epoch:04d}.pt"
        tmp = folder / f".epoch-{epoch:04d}.tmp"
        torch.save(
            {
                "epoch": epoch,
                "heads": module.state_dict(),
                "optim": optim.state_dict(),
                "history": history,
                "params": asdict(params),
            },
            tmp,
        )
        tmp.replace(ckpt)
        for old in sorted(folder.glob("epoch-*.pt"))[: -params.keep_checkpoints]:
            old.unlink(missing_ok=True)
        ctx.log(f"train: epoch {epoch}/{params.epochs} loss {history[-1]['loss']}")
        ctx.advance(epoch, params.epochs, loss=history[-1]["loss"])
    weights = {t: module[t].weight.detach().numpy().copy() for t in data}
    biases = {t: module[t].bias.detach().numpy().copy() for t in data}
    return weights, biases, history, resumed_from


def _write_model(
    src: Path,
    dest: Path,
    reader: FeatureReader,
    weights: dict[str, np.ndarray],
    biases: dict[str, np.ndarray],
    info: dict[str, Any],
) -> None:
    """The champion's ONNX model with new head weights (and a config recording how)."""
    import onnx
    from onnx import numpy_helper

    dest.mkdir(parents=True)
    model = onnx.ModelProto()
    model.CopyFrom(reader.model)
    heads = reader.heads
    replace: dict[str, np.ndarray] = {}
    for task, w in weights.items():
        w_name, b_name = heads.names[task]
        replace[w_name] = w if heads.transposed[task] else w.T
        replace[b_name] = biases[task]
    for i, init in enumerate(model.graph.initializer):
        if init.name in replace:
            new = numpy_helper.from_array(
                np.ascontiguousarray(replace[init.name], dtype=np.float32), init.name
            )
            model.graph.initializer[i].CopyFrom(new)
    onnx.save(model, str(dest / MODEL_FILE))
    for item in src.iterdir():
        if item.is_file() and item.name not in (MODEL_FILE, CONFIG_NAME, "README.md"):
            shutil.copy2(item, dest / item.name)
    cfg = dict(reader.config)
    cfg["learned"] = info
    (dest / CONFIG_NAME).write_text(json.dumps(cfg, ensure_ascii=False, indent=2), "utf-8")


def run_deep_learn(
    job: Path, registry: Registry, inputs: dict[str, Any], params: DeepParams, ctx: JobContext
) -> dict[str, Any]:
    """The job's stages (features, train, candidate); returns the candidate's summary."""
    parent = str(inputs["parent"])
    parent_dir = registry.version_dir(parent)
    spec = read_pack(parent_dir)
    deep_dir = find_deep_model(parent_dir)
    feedback = [FeedbackRow(**{**r, "ids": tuple(r.get("ids", ()))}) for r in inputs["feedback"]]
    train, held = split_feedback(feedback, params.holdback)
    in_turn_set = [r for r in train if is_heldout(r.text)]
    train = [r for r in train if not is_heldout(r.text)]
    extra: dict[str, list[tuple[str, str]]] = {"polarity": [], "emotion": []}
    for d in inputs.get("data", []):
        extra[d["task"]].extend((t, y) for t, y in d["rows"] if not is_heldout(t))
    trained_texts = {r.text for r in feedback}
    replay = [t for t, _ in inputs.get("replay", []) if t not in trained_texts]
    reader = FeatureReader(deep_dir, batch_size=params.feature_batch)
    tasks = list(reader.config["tasks"])
    usable = {
        task: sum(1 for r in train if r.label(task)) + len(extra.get(task, [])) for task in tasks
    }
    if max(usable.values(), default=0) < params.min_rows:
        raise InvalidInputError(
            f"nothing to learn from: {usable} training rows per task (< {params.min_rows}; "
            f"{len(held)} held back for the gate)"
        )
    texts = list(
        dict.fromkeys([r.text for r in train] + replay + [t for v in extra.values() for t, _ in v])
    )
    ctx.log(
        f"deep tier of {parent} ({deep_dir.name}): {len(train)} corrected messages to train on, "
        f"{len(held)} held back, {len(replay)} replay messages, "
        f"{sum(len(v) for v in extra.values())} extra rows; {len(texts)} texts to encode"
    )
    feats = _chunks(job, texts, reader, ctx)
    text_index = {t: i for i, t in enumerate(texts)}
    data = {
        task: _task_data(
            task,
            list(reader.config["tasks"][task]),
            text_index,
            feats,
            reader.heads,
            train,
            extra.get(task, []),
            replay,
            params.replay_weight,
        )
        for task in tasks
        if usable[task] >= params.min_rows
    }
    unchanged = {f"*/{t}": f"{usable[t]} rows < {params.min_rows}" for t in tasks if t not in data}
    for task in data:
        if list(reader.config["tasks"][task]) != list(SCHEMES[task]) and task in SCHEMES:
            ctx.log(f"note: the {task} head's labels are {reader.config['tasks'][task]}")
    weights, biases, history, resumed_from = _train_heads(
        job, feats, data, reader.heads, params, ctx
    )

    ctx.stage("candidate", 1)
    figures: dict[str, Any] = {}
    for task, d in data.items():
        hard = d.index[: d.hard]
        y = d.target[: d.hard].argmax(1)
        before = (feats[hard] @ reader.heads.weights[task].T + reader.heads.biases[task]).argmax(1)
        after = (feats[hard] @ weights[task].T + biases[task]).argmax(1)
        figures[task] = {
            "rows": d.hard,
            "replay_rows": d.replay,
            "train_accuracy_before": round(float((before == y).mean()), 4) if d.hard else None,
            "train_accuracy": round(float((after == y).mean()), 4) if d.hard else None,
        }
    trained_ids = sorted(
        {i for r in train for i in r.feedback_ids if any(r.label(t) for t in data)}
    )
    info = {
        "parent": parent,
        "parent_model": deep_dir.name,
        "method": "heads retrained on the frozen encoder's pooled features",
        "params": asdict(params),
        "epochs_resumed_from": resumed_from,
        "final_loss": history[-1]["loss"] if history else None,
        "tasks": figures,
        "temperatures": "the parent's (not refitted)",
    }
    with registry.new_version() as (version, staging):
        _write_model(deep_dir, staging / deep_dir.name, reader, weights, biases, info)
        parity = _check_parity(staging / deep_dir.name, texts[:64], feats[:64], weights, biases)
        info["parity_max_logit_diff"] = parity
        copy_pack(parent_dir, staging, version=version, name=spec.name, extra={"parent": parent})
        card = {
            "version": version,
            "parent": parent,
            "parent_model": f"{spec.name}-{spec.version}",
            "created": now(),
            "by": inputs.get("by", ""),
            "tier": TIER,
            "job": job.name,
            "models": {deep_dir.name: {"model": deep_dir.name, **info}},
            "unchanged": unchanged,
            "feedback": {
                "rows": len(feedback),
                "train_ids": trained_ids,
                "held_back_ids": sorted(i for r in held for i in r.feedback_ids),
                "holdback_fraction": params.holdback,
                "holdback_rule": "sha256 of the normalised text < fraction (never trained on)",
                "dropped_in_turn_set": sorted(i for r in in_turn_set for i in r.feedback_ids),
            },
            "replay": {"rows": len(replay), "rule": "seeded sha256 sample of uncorrected messages"},
            "data": [
                {"task": d["task"], "source": d["source"], "rows": len(d["rows"])}
                for d in inputs.get("data", [])
            ],
            "history": history,
        }
        write_json(staging / CARD_FILE, card)
        (staging / CARD_MARKDOWN).write_text(card_markdown(card), encoding="utf-8")
    ctx.advance(1, 1)  # a cancel lands here, before the version is registered, never after
    registry.set_challenger(version, by=card["by"], reason=f"learned (deep tier) from {parent}")
    ctx.log(f"candidate {version}: {registry.version_dir(version)}")
    return {
        "version": version,
        "parent": parent,
        "path": str(registry.version_dir(version)),
        "trained_ids": trained_ids,
        "held_back_ids": card["feedback"]["held_back_ids"],
        "tasks": figures,
        "parity_max_logit_diff": parity,
    }


def _check_parity(
    model_dir: Path,
    texts: list[str],
    feats: np.ndarray,
    weights: dict[str, np.ndarray],
    biases: dict[str, np.ndarray],
) -> float:
    """The written ONNX model gives the trained heads' logits (onnxruntime, as served)."""
    from emotiondesk.models.onnx import OnnxClassifier

    if not texts:
        return 0.0
    got = OnnxClassifier.from_pretrained(model_dir, num_threads=1).predict_logits(texts)
    worst = 0.0
    for task, w in weights.items():
        want = feats[: len(texts)] @ w.T + biases[task]
        worst = max(worst, float(np.abs(got[task] - want).max()))
    if worst > 1e-2:
        raise ModelError(f"the written ONNX model's logits are {worst:.4f} off the trained heads")
    return round(worst, 6)


def card_markdown(card: dict[str, Any]) -> str:
    fb = card["feedback"]
    lines = [
        f"# Model version {card['version']}",
        "",
        f"- parent: {card['parent']} ({card['parent_model']})",
        f"- created: {card['created']} by {card['by'] or 'unknown'} (job {card['job']})",
        f"- tier: {card['tier']}",
        f"- feedback rows: {fb['rows']} read, {len(fb['train_ids'])} trained on, "
        f"{len(fb['held_back_ids'])} held back for the gate ({fb['holdback_rule']}), "
        f"{len(fb['dropped_in_turn_set'])} dropped (customer-service turn set texts)",
        f"- replay: {card['replay']['rows']} uncorrected messages ({card['replay']['rule']}), "
        "trained towards the parent's probabilities",
        "- extra data: "
        + (
            ", ".join(f"{d['source']} ({d['task']}, {d['rows']} rows)" for d in card["data"])
            or "none"
        ),
        "",
        "| model | task | rows | replay rows | train acc. before -> after |",
        "|---|---|---:|---:|---|",
    ]
    for name, m in card["models"].items():
        for task, f in m["tasks"].items():
            lines.append(
                f"| {name} | {task} | {f['rows']} | {f['replay_rows']} | "
                f"{f['train_accuracy_before']} -> {f['train_accuracy']} |"
            )
        p = m["params"]
        lines += [
            "",
            f"Training: {p['epochs']} epochs, Adam lr {p['lr']}, batch {p['batch_size']}, "
            f"L2 to the parent heads {p['l2']}, replay weight {p['replay_weight']}, seed {p['seed']}; "
            f"final loss {m['final_loss']}; written ONNX vs trained heads: max logit "
            f"difference {m.get('parity_max_logit_diff')}.",
        ]
    if card["unchanged"]:
        lines += ["", "Unchanged heads: "] + [f"- {k}: {v}" for k, v in card["unchanged"].items()]
    lines += ["", f"Feedback ids trained on: {fb['train_ids']}", ""]
    return "\n".join(lines)
