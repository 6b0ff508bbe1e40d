"""The ``onnx`` model kind: an exported multi-task transformer run by onnxruntime.

No torch at inference: the tokenizer is the ``tokenizers`` library reading
``tokenizer.json``, the network is ``model.onnx`` (usually int8), and the
heads' temperatures come from ``config.json``. Written by
``emotiondesk export`` (:func:`emotiondesk.training.export.export_onnx`).

Example:
    >>> from emotiondesk.models import load_model
    >>> model = load_model("models/en-deep-onnx")                 # doctest: +SKIP
    >>> model.for_task("polarity").predict(["thanks, great!"])    # doctest: +SKIP
    ['positive']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk.errors import ModelError
from emotiondesk.models.base import read_config, register
from emotiondesk.models.multitask import DEFAULT_BATCH_SIZE, MultiTaskClassifier

MODEL_TYPE = "onnx"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


@register(MODEL_TYPE)
class OnnxClassifier(MultiTaskClassifier):
    """A calibrated multi-task classifier on onnxruntime.

    Args:
        batch_size: texts per session run.
        num_threads: onnxruntime intra-op threads (default: ``EMOTIONDESK_ONNX_THREADS``
            or onnxruntime's own choice).
    """

    # learned state, set by from_pretrained
    max_length_: int
    input_names_: list[str]
    unpacked_: int
    output_names_: list[str]
    config_: dict[str, Any]
    path_: Path
    tokenizer_: Any
    session_: Any

    def __init__(
        self, *, batch_size: int = DEFAULT_BATCH_SIZE, num_threads: int | None = None
    ) -> None:
        self.batch_size = batch_size
        self.num_threads = num_threads

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        num_threads: int | None = None,
        unpack_weights: bool | None = None,
    ) -> OnnxClassifier:
        """Open an exported model directory.

        ``unpack_weights`` (default: on, unless ``EMOTIONDESK_ONNX_UNPACK=0``): a
        weight-only model's int8 blocks are dequantised once, at load, into plain fp32
        MatMul weights (:func:`unpack_weight_only`). The numbers are the ones the
        ``MatMulNBits`` kernels compute with, but onnxruntime's fp32 GEMM runs them
        several times faster on CPU than its 8-bit block kernels (docs/BENCHMARKS.md);
        the cost is memory (about four bytes per weight instead of one).
        """
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - both are dependencies
            raise ModelError(
                f"the onnx model kind needs onnxruntime and tokenizers ({exc}); "
                "pip install onnxruntime tokenizers"
            ) from exc
        path = Path(directory)
        cfg = read_config(path)
        if cfg.get("model_type") != MODEL_TYPE:
            raise ModelError(f"{path} holds a {cfg.get('model_type')!r} model, not {MODEL_TYPE!r}")
        for name in (MODEL_FILE, TOKENIZER_FILE):
            if not (path / name).is_file():
                raise ModelError(f"{path} is incomplete: {name} is missing")
        self = cls(batch_size=batch_size, num_threads=num_threads)
        self.tasks_ = {t: list(v) for t, v in cfg["tasks"].items()}
        self.temperatures_ = {
            t: float(cfg.get("temperatures", {}).get(t, 1.0)) for t in self.tasks_
        }
        self.task_ = str(cfg.get("default_task") or next(iter(self.tasks_)))
        self.max_length_ = int(cfg["max_length"])
        self.input_names_ = list(cfg["input_names"])
        self.output_names_ = list(cfg["output_names"])
        self.config_ = cfg
        self.path_ = path
        tok = Tokenizer.from_file(str(path / TOKENIZER_FILE))
        tok.enable_truncation(max_length=self.max_length_)
        tok.enable_padding(
            pad_id=int(cfg.get("pad_token_id", 0)), pad_token=str(cfg.get("pad_token", "[PAD]"))
        )
        self.tokenizer_ = tok
        opts = ort.SessionOptions()
        threads = num_threads or int(os.environ.get("EMOTIONDESK_ONNX_THREADS", "0") or 0)
        if threads:
            opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if unpack_weights is None:
            flag = os.environ.get("EMOTIONDESK_ONNX_UNPACK", "1").strip().lower()
            unpack_weights = flag not in ("0", "false", "no", "off")
        source: str | bytes = str(path / MODEL_FILE)
        self.unpacked_ = 0
        if unpack_weights and cfg.get("quantization") == "weight-only":
            source, self.unpacked_ = unpack_weight_only(path / MODEL_FILE)
        try:
            self.session_ = ort.InferenceSession(
                source, sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot open {path / MODEL_FILE}: {exc}") from exc
        return self

    # -- preprocess -> forward -> postprocess (batching in MultiTaskClassifier) ----------

    def preprocess(self, texts: list[str]) -> dict[str, np.ndarray]:
        encs = self.tokenizer_.encode_batch(texts)
        feeds: dict[str, np.ndarray] = {
            "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
        }
        if "token_type_ids" in self.input_names_:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encs], dtype=np.int64)
        return {k: v for k, v in feeds.items() if k in self.input_names_}

    def forward(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outs = self.session_.run(self.output_names_, feeds)
        return {t: np.asarray(o, dtype=np.float32) for t, o in zip(self.tasks_, outs, strict=True)}

    def _forward_batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        return self.forward(self.preprocess(texts))

    def save_pretrained(self, directory: str | Path) -> Path:
        """Copy the artifact (it is already a directory of plain files)."""
        import shutil

        from emotiondesk.models._io import atomic_directory

        target = Path(directory)
        if target.resolve() == self.path_.resolve():
            return target
        with atomic_directory(target) as tmp:
            for item in self.path_.iterdir():
                if item.is_file():
                    shutil.copy2(item, tmp / item.name)
        return target

    def __repr__(self) -> str:
        tasks = ", ".join(f"{t}:{len(v)}" for t, v in getattr(self, "tasks_", {}).items())
        return f"OnnxClassifier({tasks})"


def unpack_weight_only(model_file: Path) -> tuple[bytes, int]:
    """A weight-only model with its ``MatMulNBits`` nodes turned into fp32 ``MatMul``.

    Each block-quantised weight ``B`` (``bits`` 4 or 8, one scale per block of
    ``block_size`` inputs, zero point ``2**(bits-1)`` unless the node gives its own) is
    dequantised exactly as the operator defines it, ``(q - zero_point) * scale``, and
    transposed to the ``[K, N]`` weight of a ``MatMul`` (plus an ``Add`` where the node
    has a bias). The word table (``GatherBlockQuantized``) is left as it is: a lookup
    reads a few rows, so its 4-bit form costs nothing at run time. Returns the
    serialised model and the number of nodes unpacked.
    """
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ModelError(
            f"unpacking a weight-only model needs onnx ({exc}); pip install onnx"
        ) from exc
    model = onnx.load(str(model_file))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes: list[Any] = []
    used: set[str] = set()
    unpacked: set[str] = set()
    count = 0
    for node in graph.node:
        if node.op_type != "MatMulNBits":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs = list(node.input) + [""] * (6 - len(node.input))
        if inputs[4] or any(name and name not in inits for name in inputs[1:4]):
            nodes.append(node)  # g_idx or weights computed at run time: keep the kernel
            continue
        bits, block = int(attrs["bits"]), int(attrs["block_size"])
        k, n = int(attrs["K"]), int(attrs["N"])
        packed = numpy_helper.to_array(inits[inputs[1]]).astype(np.int32)
        blocks = -(-k // block)
        packed = packed.reshape(n, blocks, -1)
        if bits == 8:
            q = packed
        elif bits == 4:
            q = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(n, blocks, -1)
        else:
            nodes.append(node)
            continue
        scales = numpy_helper.to_array(inits[inputs[2]]).astype(np.float32).reshape(n, blocks)
        if inputs[3]:
            zp = numpy_helper.to_array(inits[inputs[3]]).astype(np.int32).reshape(n, -1)
            if bits == 4:
                zp = np.stack([zp & 0x0F, zp >> 4], axis=-1).reshape(n, -1)
            zero = zp[:, :blocks, None].astype(np.float32)
        else:
            zero = np.float32(2 ** (bits - 1))
        weight = ((q[:, :, :block].astype(np.float32) - zero) * scales[:, :, None]).reshape(n, -1)
        weight = np.ascontiguousarray(weight[:, :k].T)
        name = f"{inputs[1]}__fp32"
        if name not in unpacked:  # two nodes may share one weight
            graph.initializer.append(numpy_helper.from_array(weight, name))
            unpacked.add(name)
        used.update(x for x in inputs[1:4] if x)
        if inputs[5]:
            mid = f"{node.output[0]}__nobias"
            nodes.append(helper.make_node("MatMul", [inputs[0], name], [mid], name=node.name))
            nodes.append(helper.make_node("Add", [mid, inputs[5]], list(node.output)))
        else:
            nodes.append(
                helper.make_node("MatMul", [inputs[0], name], list(node.output), name=node.name)
            )
        count += 1
    if not count:
        return model.SerializeToString(), 0
    del graph.node[:]
    graph.node.extend(nodes)
    still = {x for nd in graph.node for x in nd.input}
    keep = [t for t in graph.initializer if t.name not in used or t.name in still]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return model.SerializeToString(), count
