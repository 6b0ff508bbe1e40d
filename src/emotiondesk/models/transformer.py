"""A pretrained transformer encoder with one classification head per task.

Artifact layout (``save_pretrained``)::

    config.json         model_type "transformer", tasks and labels, temperatures,
                        pooling, max_length, version, training summary
    encoder/            the Hugging Face encoder + its tokenizer (save_pretrained)
    heads.safetensors   "<task>.weight" / "<task>.bias" of each linear head
    README.md           the model card (written by the trainer)

The encoder is any ``AutoModel`` checkpoint (BERT, RoBERTa, MiniLM, ...), read
from a local directory or a hub id; the maximum length comes from the
model's own config (``max_position_embeddings``) unless training chose a
shorter one, which is then saved in ``config.json``.

Example:
    >>> from emotiondesk.models import load_model
    >>> model = load_model("models/en-deep")                     # doctest: +SKIP
    >>> model.for_task("polarity").predict_proba(["great"])       # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from emotiondesk.errors import ModelError
from emotiondesk.models._io import atomic_directory
from emotiondesk.models.base import CONFIG_NAME, read_config, register
from emotiondesk.models.multitask import DEFAULT_BATCH_SIZE, MultiTaskClassifier

logger = logging.getLogger(__name__)

MODEL_TYPE = "transformer"
ENCODER_DIR = "encoder"
HEADS_FILE = "heads.safetensors"
FORMAT_VERSION = 1
POOLINGS = ("mean", "cls", "mean_norm")
#: ``mean_norm`` pooling: the mean-pooled vector, L2-normalised, times this (E5-style
#: encoders are trained on normalised mean-pooled vectors; the scale gives the heads
#: logits of a useful range from the start).
NORM_SCALE = 20.0

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.json",
)


# -- loading a base checkpoint with clear errors ---------------------------------------


def check_base_dir(path: Path) -> None:
    """Raise :class:`ModelError` naming what a local checkpoint directory lacks."""
    if not path.is_dir():
        raise ModelError(f"base model directory {str(path)!r} does not exist")
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not any((path / f).is_file() for f in _WEIGHT_FILES):
        missing.append("weights (model.safetensors or pytorch_model.bin)")
    if not any((path / f).is_file() for f in _TOKENIZER_FILES):
        missing.append("a tokenizer (tokenizer.json or vocab.txt)")
    if missing:
        raise ModelError(
            f"base model directory {str(path)!r} is missing {', '.join(missing)}; "
            "pass a directory written by save_pretrained (model and tokenizer) or a hub id"
        )


def _looks_local(base: str) -> bool:
    return base.startswith((".", "/", "~")) or Path(base).exists() or base.count("/") > 1


def load_tokenizer(base: str | Path) -> Any:
    """``AutoTokenizer.from_pretrained`` with a domain error instead of a stack trace."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(base))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load a tokenizer from {str(base)!r}: {exc}") from exc


def load_base(base: str | Path, *, dropout: float | None = None) -> tuple[Any, nn.Module]:
    """Load a tokenizer and an encoder (``AutoModel``) from a directory or a hub id.

    Raises :class:`ModelError` for a directory missing files, a checkpoint that
    cannot be loaded (for a hub id: no network or no such model), or a
    tokenizer whose vocabulary does not fit the model's embeddings.
    """
    from transformers import AutoConfig, AutoModel

    base_s = str(base)
    if _looks_local(base_s):
        check_base_dir(Path(base_s).expanduser())
        base_s = str(Path(base_s).expanduser())
    try:
        config = AutoConfig.from_pretrained(base_s)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load base model {base_s!r}: {exc}. Pass a local directory, or a hub id "
            "on a machine that can reach the hub"
        ) from exc
    if dropout is not None:
        for attr in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout"):
            if hasattr(config, attr):
                setattr(config, attr, float(dropout))
    tokenizer = load_tokenizer(base_s)
    try:
        encoder = AutoModel.from_pretrained(base_s, config=config)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot load model weights from {base_s!r}: {exc}") from exc
    check_compatible(tokenizer, encoder, where=base_s)
    return tokenizer, encoder


def check_compatible(tokenizer: Any, encoder: Any, *, where: str = "") -> None:
    """A tokenizer producing ids beyond the model's embedding table is a mismatch."""
    emb = encoder.get_input_embeddings()
    n_emb = int(emb.num_embeddings) if emb is not None else None
    if n_emb is not None and len(tokenizer) > n_emb:
        raise ModelError(
            f"tokenizer/model mismatch{' in ' + where if where else ''}: the tokenizer has "
            f"{len(tokenizer)} tokens but the model embeds only {n_emb}; use the tokenizer "
            "saved with this model"
        )


def model_max_length(tokenizer: Any, encoder: nn.Module, requested: int | None = None) -> int:
    """The longest input the model takes: its own config, optionally shortened by ``requested``."""
    limits = []
    mpe = getattr(encoder.config, "max_position_embeddings", None)
    if isinstance(mpe, int) and mpe > 0:
        # RoBERTa-style position ids start after the padding index.
        offset = 2 if getattr(encoder.config, "model_type", "") in ("roberta", "xlm-roberta") else 0
        limits.append(mpe - offset)
    tml = getattr(tokenizer, "model_max_length", None)
    if isinstance(tml, int) and 0 < tml < 100_000:
        limits.append(tml)
    limit = min(limits) if limits else 512
    if requested is not None:
        return max(8, min(int(requested), limit))
    return limit


# -- the network -------------------------------------------------------------------------


class MultiTaskNet(nn.Module):
    """Encoder -> pooling -> dropout -> one linear head per task."""

    encoder: Any  # a transformers PreTrainedModel (config, save_pretrained, embeddings)

    def __init__(
        self,
        encoder: Any,
        head_sizes: Mapping[str, int],
        *,
        dropout: float = 0.1,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ModelError(f"unknown pooling {pooling!r}; use one of {POOLINGS}")
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        hidden = int(encoder.config.hidden_size)
        self.task_names = list(head_sizes)
        self.heads = nn.ModuleDict({t: nn.Linear(hidden, int(k)) for t, k in head_sizes.items()})

    def embed(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        kwargs: dict[str, torch.Tensor] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)
        if self.pooling == "mean_norm":
            return NORM_SCALE * nn.functional.normalize(pooled, dim=-1)
        return pooled

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        pooled = self.dropout(self.embed(input_ids, attention_mask, token_type_ids))
        return {t: head(pooled) for t, head in self.heads.items()}


class _ExportWrapper(nn.Module):
    """The net with tuple outputs in task order (what ONNX export traces)."""

    def __init__(self, net: MultiTaskNet, with_token_types: bool) -> None:
        super().__init__()
        self.net = net
        self.with_token_types = with_token_types

    def forward(self, input_ids, attention_mask, token_type_ids=None):  # type: ignore[no-untyped-def]
        out = self.net(input_ids, attention_mask, token_type_ids if self.with_token_types else None)
        return tuple(out[t] for t in self.net.task_names)


# -- the estimator -----------------------------------------------------------------------


@register(MODEL_TYPE)
class TransformerClassifier(MultiTaskClassifier):
    """A fine-tuned transformer with calibrated multi-task heads.

    Build one with the trainer (``emotiondesk.training.train_transformer``) or
    open a saved one with :meth:`from_pretrained`.

    Args:
        batch_size: texts per forward pass at inference.
        device: ``"cpu"`` or ``"cuda"``.
    """

    # learned state, set by from_pretrained or the trainer
    net_: MultiTaskNet
    tokenizer_: Any
    max_length_: int
    meta_: dict[str, Any]

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device

    # -- construction --------------------------------------------------------------------

    @classmethod
    def from_parts(
        cls,
        net: MultiTaskNet,
        tokenizer: Any,
        *,
        tasks: Mapping[str, list[str]],
        max_length: int,
        temperatures: Mapping[str, float] | None = None,
        default_task: str | None = None,
        meta: Mapping[str, Any] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = "cpu",
    ) -> TransformerClassifier:
        """Assemble a classifier from a trained net (used by the trainer and loader)."""
        if list(tasks) != net.task_names:
            raise ModelError(f"tasks {list(tasks)} do not match the net's heads {net.task_names}")
        self = cls(batch_size=batch_size, device=device)
        self.net_ = net.to(device).eval()
        self.tokenizer_ = tokenizer
        self.tasks_ = {t: list(v) for t, v in tasks.items()}
        self.temperatures_ = {t: float((temperatures or {}).get(t, 1.0)) for t in tasks}
        self.task_ = default_task or next(iter(tasks))
        self.max_length_ = int(max_length)
        self.meta_ = dict(meta or {})
        return self

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, *, batch_size: int = DEFAULT_BATCH_SIZE, device: str = "cpu"
    ) -> TransformerClassifier:
        """Open a directory written by :meth:`save_pretrained`."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        path = Path(directory)
        cfg = read_config(path)
        if cfg.get("model_type") != MODEL_TYPE:
            raise ModelError(f"{path} holds a {cfg.get('model_type')!r} model, not {MODEL_TYPE!r}")
        enc_dir = path / str(cfg.get("encoder_dir", ENCODER_DIR))
        check_base_dir(enc_dir)
        heads_path = path / HEADS_FILE
        if not heads_path.is_file():
            raise ModelError(f"{path} is incomplete: {HEADS_FILE} is missing")
        tasks = {t: list(v) for t, v in cfg["tasks"].items()}
        tokenizer = load_tokenizer(enc_dir)
        try:
            encoder = AutoModel.from_pretrained(str(enc_dir))
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load the encoder in {enc_dir}: {exc}") from exc
        check_compatible(tokenizer, encoder, where=str(enc_dir))
        net = MultiTaskNet(
            encoder,
            {t: len(v) for t, v in tasks.items()},
            dropout=float(cfg.get("dropout", 0.1)),
            pooling=str(cfg.get("pooling", "mean")),
        )
        head_state = load_file(str(heads_path))
        try:
            net.heads.load_state_dict(head_state, strict=True)
        except RuntimeError as exc:
            raise ModelError(
                f"{heads_path} does not match the tasks in config.json: {exc}"
            ) from exc
        return cls.from_parts(
            net,
            tokenizer,
            tasks=tasks,
            max_length=int(cfg.get("max_length") or model_max_length(tokenizer, encoder)),
            temperatures=cfg.get("temperatures"),
            default_task=cfg.get("default_task"),
            meta={k: v for k, v in cfg.items() if k not in _OWN_KEYS},
            batch_size=batch_size,
            device=device,
        )

    # -- inference -----------------------------------------------------------------------

    def preprocess(self, texts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer_(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length_,
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in enc.items() if k in _NET_INPUTS}

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            return self.net_(**batch)

    def _forward_batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        out = self.forward(self.preprocess(texts))
        return {t: v.float().cpu().numpy() for t, v in out.items()}

    # -- persistence ---------------------------------------------------------------------

    def config_dict(self) -> dict[str, Any]:
        cfg = dict(self.meta_)
        cfg.update(
            {
                "model_type": MODEL_TYPE,
                "format_version": FORMAT_VERSION,
                "tasks": self.tasks_,
                "default_task": self.task_,
                "temperatures": self.temperatures_,
                "pooling": self.net_.pooling,
                "dropout": float(self.net_.dropout.p),
                "max_length": self.max_length_,
                "encoder_dir": ENCODER_DIR,
            }
        )
        return cfg

    def save_pretrained(self, directory: str | Path, *, card: str | None = None) -> Path:
        """Write the artifact atomically (a temporary directory moved into place)."""
        from safetensors.torch import save_file

        target = Path(directory)
        with atomic_directory(target) as tmp:
            enc_dir = tmp / ENCODER_DIR
            self.net_.encoder.save_pretrained(str(enc_dir), safe_serialization=True)
            self.tokenizer_.save_pretrained(str(enc_dir))
            heads = {
                k: v.detach().cpu().contiguous() for k, v in self.net_.heads.state_dict().items()
            }
            save_file(heads, str(tmp / HEADS_FILE))
            (tmp / CONFIG_NAME).write_text(
                json.dumps(self.config_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
            )
            if card is not None:
                (tmp / "README.md").write_text(card, encoding="utf-8")
            elif (target / "README.md").is_file():
                (tmp / "README.md").write_text(
                    (target / "README.md").read_text(encoding="utf-8"), encoding="utf-8"
                )
        return target

    def export_module(self) -> tuple[nn.Module, list[str]]:
        """The net as a tuple-output module and its input names (for ONNX export)."""
        names = ["input_ids", "attention_mask"]
        with_tt = "token_type_ids" in self.tokenizer_.model_input_names and hasattr(
            self.net_.encoder.config, "type_vocab_size"
        )
        if with_tt:
            names.append("token_type_ids")
        return _ExportWrapper(self.net_, with_tt).eval(), names

    def __repr__(self) -> str:
        tasks = ", ".join(f"{t}:{len(v)}" for t, v in getattr(self, "tasks_", {}).items())
        return f"TransformerClassifier({tasks})"


_NET_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_OWN_KEYS = {
    "model_type",
    "format_version",
    "tasks",
    "default_task",
    "temperatures",
    "pooling",
    "dropout",
    "max_length",
    "encoder_dir",
}
