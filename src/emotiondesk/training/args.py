"""``TrainingArgs``: every setting of a fine-tuning run, validated, YAML-loadable, saved.

Example:
    >>> args = TrainingArgs.from_yaml("run.yaml", overrides={"epochs": 2})  # doctest: +SKIP
    >>> TrainingArgs(base="bert-base-chinese", out="out/m",
    ...              tasks=[TaskData("polarity", "train.csv", "dev.csv")]).lr
    2e-05
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emotiondesk.errors import ConfigError
from emotiondesk.labels import SCHEMES

ARGS_FILE = "training_args.json"


@dataclass
class TaskData:
    """One task head and its data.

    Args:
        task: ``polarity`` or ``emotion``.
        train: CSV with ``text,label`` columns.
        dev: CSV with ``text,label`` columns (early stopping and calibration).
        dataset: the label map to apply (a key of ``labels.DATASET_LABEL_MAPS``),
            or ``canonical`` when labels are already canonical names.
        binary: labels are ``0/1`` (0 = negative, 1 = positive).
        text_column / label_column: CSV column names.
    """

    task: str
    train: str
    dev: str
    dataset: str = "canonical"
    binary: bool = False
    text_column: str = "text"
    label_column: str = "label"

    def __post_init__(self) -> None:
        if self.task not in SCHEMES:
            raise ConfigError(f"unknown task {self.task!r}; use one of {', '.join(SCHEMES)}")
        if self.binary and self.task != "polarity":
            raise ConfigError("--binary applies to the polarity task only")
        if not self.train or not self.dev:
            raise ConfigError(f"task {self.task!r} needs both a train and a dev file")


@dataclass
class TrainingArgs:
    """Settings of one fine-tuning run (see ``docs`` and ``emotiondesk train --help``)."""

    base: str
    out: str
    tasks: list[TaskData] = field(default_factory=list)
    # what to tune
    method: str = "full"  # full | lora
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    lora_targets: list[str] | None = None  # None: the attention projections of the base
    pooling: str = "mean"  # mean | cls | mean_norm (L2-normalised, scaled: E5 bases)
    freeze_embeddings: bool = False  # keep the word-embedding table fixed (large vocabularies)
    freeze_layers: int = 0  # also keep the embeddings and the lowest N encoder layers fixed
    max_length: int | None = None  # None: the model's own limit
    # optimisation
    epochs: float = 3.0
    max_steps: int | None = None  # overrides epochs when set
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 2e-5
    head_lr: float | None = None  # None: 10x lr (heads start from scratch)
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    dropout: float | None = None  # None: keep the base config's dropout
    label_smoothing: float = 0.0
    loss: str = "ce"  # ce | focal
    focal_gamma: float = 2.0
    class_weights: str = "none"  # none | balanced
    fgm_epsilon: float = 0.0  # > 0 enables FGM adversarial training on the embeddings
    # evaluation, early stopping, calibration
    eval_every: int | None = None  # steps; None: once per epoch
    patience: int = 2  # evaluations without dev macro-F1 gain before stopping
    calibrate: bool = True
    max_train_samples: int | None = None
    max_dev_samples: int | None = None
    # runtime
    seed: int = 42
    device: str = "auto"  # auto | cpu | cuda
    mixed_precision: str = "auto"  # auto | no | fp16 | bf16
    num_threads: int | None = None
    checkpoint_dir: str | None = None  # None: <out>.checkpoints
    checkpoint_every: int | None = None  # steps; None: at every evaluation
    keep_checkpoints: int = 1
    resume: bool = False
    logging_dir: str | None = None  # None: <checkpoint_dir>/runs (TensorBoard)
    log_every: int = 20
    version: str = "0.1.0"
    command: str | None = None  # the command line that started the run (for the model card)

    def __post_init__(self) -> None:
        self.tasks = [t if isinstance(t, TaskData) else _task_from(t) for t in self.tasks]
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            numeric = ("int" in str(f.type) or "float" in str(f.type)) and "str" not in str(f.type)
            if numeric and isinstance(value, str):  # YAML 1.1 reads 1e-5 as a string
                try:
                    value = float(value) if "float" in str(f.type) else int(value)
                    setattr(self, f.name, value)
                except ValueError:
                    pass
            if (
                numeric
                and value is not None
                and (isinstance(value, bool) or not isinstance(value, int | float))
            ):
                raise ConfigError(f"{f.name} must be a number, got {value!r}")
            if "bool" in str(f.type) and not isinstance(value, bool):
                raise ConfigError(f"{f.name} must be true or false, got {value!r}")
        if not self.base:
            raise ConfigError("--base is required (a hub id or a local model directory)")
        if not self.out:
            raise ConfigError("--out is required")
        if not self.tasks:
            raise ConfigError("give at least one task with its train and dev files")
        names = [t.task for t in self.tasks]
        if len(set(names)) != len(names):
            raise ConfigError(f"each task may appear once; got {names}")
        _choice("method", self.method, ("full", "lora"))
        _choice("pooling", self.pooling, ("mean", "cls", "mean_norm"))
        _choice("loss", self.loss, ("ce", "focal"))
        _choice("class_weights", self.class_weights, ("none", "balanced"))
        _choice("device", self.device, ("auto", "cpu", "cuda"))
        _choice("mixed_precision", self.mixed_precision, ("auto", "no", "fp16", "bf16"))
        _positive("batch_size", self.batch_size)
        _positive("grad_accum", self.grad_accum)
        _positive("lr", self.lr)
        _positive("lora_r", self.lora_r)
        _positive("log_every", self.log_every)
        _positive("keep_checkpoints", self.keep_checkpoints)
        if self.max_steps is None:
            _positive("epochs", self.epochs)
        else:
            _positive("max_steps", self.max_steps)
        for name in (
            "max_length",
            "eval_every",
            "checkpoint_every",
            "num_threads",
            "max_train_samples",
            "max_dev_samples",
        ):
            value = getattr(self, name)
            if value is not None:
                _positive(name, value)
        if self.head_lr is not None:
            _positive("head_lr", self.head_lr)
        for name in ("weight_decay", "max_grad_norm", "fgm_epsilon", "focal_gamma"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("warmup_ratio", "label_smoothing", "lora_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.freeze_layers < 0:
            raise ConfigError(f"freeze_layers must be >= 0, got {self.freeze_layers}")
        if self.patience < 0:
            raise ConfigError("patience must be >= 0 (0 disables early stopping)")

    # -- paths ---------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return Path(self.checkpoint_dir or f"{self.out}.checkpoints")

    @property
    def logging_path(self) -> Path:
        return Path(self.logging_dir) if self.logging_dir else self.checkpoint_path / "runs"

    # -- (de)serialisation --------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / ARGS_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
    ) -> TrainingArgs:
        """Build from a mapping; ``overrides`` (CLI flags) win; ``None`` overrides are ignored."""
        merged = dict(data)
        for key, value in (overrides or {}).items():
            if value is not None:
                merged[key] = value
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(unknown)}")
        try:
            return cls(**merged)
        except TypeError as exc:
            raise ConfigError(f"invalid training settings: {exc}") from exc

    @classmethod
    def from_yaml(
        cls, path: str | Path, overrides: Mapping[str, Any] | None = None
    ) -> TrainingArgs:
        """Read a YAML file of settings (same names as the fields), then apply ``overrides``."""
        import yaml

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"training config {str(p)!r} does not exist")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot parse {p}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{p} must hold a mapping of settings")
        return cls.from_dict(data, overrides)

    @classmethod
    def load(cls, directory: str | Path) -> TrainingArgs:
        """Read the ``training_args.json`` saved with an artifact or checkpoint."""
        path = Path(directory) / ARGS_FILE
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc


def _task_from(value: Any) -> TaskData:
    if not isinstance(value, Mapping):
        raise ConfigError(f"each task must be a mapping with task/train/dev; got {value!r}")
    try:
        return TaskData(**value)
    except TypeError as exc:
        raise ConfigError(f"invalid task entry {dict(value)!r}: {exc}") from exc


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, got {value}")
