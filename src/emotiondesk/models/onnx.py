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
    ) -> OnnxClassifier:
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
        try:
            self.session_ = ort.InferenceSession(
                str(path / MODEL_FILE), sess_options=opts, providers=["CPUExecutionProvider"]
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
