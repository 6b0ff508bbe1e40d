"""Fine-tuning a transformer encoder with one head per task.

One command for a laptop CPU and a GPU box: the loop runs through
``accelerate`` (mixed precision on CUDA, several GPUs with
``accelerate launch -m emotiondesk train ...``), with

* full fine-tuning or LoRA (peft) on the encoder, linear heads trained fully;
* AdamW with weight decay (not on biases and LayerNorm), linear warm-up and
  decay, gradient clipping and accumulation, seeded runs;
* cross-entropy with label smoothing, or focal loss; balanced class weights;
* optional FGM adversarial training on the word embeddings;
* dynamic padding with length-grouped batches;
* evaluation on dev macro-F1, early stopping, checkpoints (``resume=True``
  continues from the latest), TensorBoard logs;
* temperature scaling fitted on dev, and a model card with dev figures.

The artifact is written to a temporary directory and moved into place.

The loop is a :class:`Trainer`; the pieces a new model kind changes (base
loading, the network with its pooling and heads, parameter groups, losses,
evaluation, the saved artifact) are methods to override, and logging,
TensorBoard and early stopping are :class:`TrainerCallback` objects, in the
manner of sentence-transformers and setfit. :func:`fine_tune` is the one-call
wrapper.

Example:
    >>> from emotiondesk.training import TrainingArgs, TaskData, fine_tune
    >>> args = TrainingArgs(base="path/to/bert", out="out/en-deep",
    ...     tasks=[TaskData("polarity", "train.csv", "dev.csv", dataset="sst2")])
    >>> fine_tune(args)                                   # doctest: +SKIP
    >>> Trainer(args, callbacks=[LogFunctionCallback(print)]).train()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from emotiondesk.errors import ConfigError, DataError
from emotiondesk.evaluation.metrics import classification_report
from emotiondesk.models.probability import expected_calibration_error, fit_temperature, softmax
from emotiondesk.models.transformer import (
    MultiTaskNet,
    TransformerClassifier,
    load_base,
    model_max_length,
)
from emotiondesk.training.args import TrainingArgs
from emotiondesk.training.card import ModelCard
from emotiondesk.training.data import (
    check_dev_labels,
    describe,
    label_set,
    prepare_data,
    read_labelled,
)
from emotiondesk.training.heldout import drop_heldout_pairs
from emotiondesk.training.losses import FGM, balanced_class_weights, make_loss

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
BEST_FILE = "best.safetensors"


@dataclass
class TaskSet:
    """One task's tokenised train and dev data."""

    task: str
    labels: list[str]
    train_ids: list[list[int]]
    train_tt: list[list[int]] | None
    train_y: np.ndarray
    dev_ids: list[list[int]]
    dev_tt: list[list[int]] | None
    dev_y: np.ndarray
    train_counts: dict[str, int]
    dev_counts: dict[str, int]


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def resolve_device(device: str) -> str:
    """``auto`` picks CUDA when present; ``cuda`` without a GPU is a clear error."""
    has_cuda = torch.cuda.is_available()
    if device == "cuda" and not has_cuda:
        raise ConfigError(
            "device 'cuda' was requested but no CUDA GPU is available on this machine "
            "(use --device cpu or --device auto)",
            code="cuda_unavailable",
        )
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    return device


def _mixed_precision(setting: str, device: str) -> str:
    if device != "cuda":
        return "no"
    if setting == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return setting


# -- data ------------------------------------------------------------------------------


def _tokenize(
    tokenizer: Any, texts: Sequence[str], max_len: int
) -> tuple[list[list[int]], list[list[int]] | None]:
    enc = tokenizer(list(texts), truncation=True, max_length=max_len, padding=False)
    tt = enc.get("token_type_ids")
    return list(enc["input_ids"]), (list(tt) if tt is not None else None)


def _collate(
    ids: Sequence[list[int]], tt: Sequence[list[int]] | None, pad_id: int
) -> dict[str, torch.Tensor]:
    """Dynamic padding: pad to the longest sequence of the batch."""
    width = max(len(x) for x in ids)
    n = len(ids)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    out: dict[str, torch.Tensor] = {}
    token_types = torch.zeros((n, width), dtype=torch.long) if tt is not None else None
    for i, seq in enumerate(ids):
        input_ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[i, : len(seq)] = 1
        if token_types is not None and tt is not None:
            token_types[i, : len(seq)] = torch.tensor(tt[i], dtype=torch.long)
    out["input_ids"] = input_ids
    out["attention_mask"] = mask
    if token_types is not None:
        out["token_type_ids"] = token_types
    return out


def _length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random
) -> list[list[int]]:
    """Shuffled batches of similar lengths (little padding), in random order."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    mega = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(idx), mega):
        chunk = sorted(idx[start : start + mega], key=lambda i: lengths[i])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _epoch_schedule(
    tasks: Sequence[TaskSet], batch_size: int, seed: int, epoch: int
) -> list[tuple[int, list[int]]]:
    """(task index, example indices) for every batch of one epoch, tasks interleaved."""
    rng = random.Random(seed * 1000 + epoch)
    per_task = [
        [(k, b) for b in _length_grouped_batches([len(x) for x in t.train_ids], batch_size, rng)]
        for k, t in enumerate(tasks)
    ]
    schedule = [item for batches in per_task for item in batches]
    rng.shuffle(schedule)
    return schedule


def _load_task(
    args: TrainingArgs, tokenizer: Any, max_len: int, spec: Any, given: Any = None
) -> TaskSet:
    if given is not None:  # in-memory LabelledData (train, dev), e.g. from the CLI
        train_x, train_l = prepare_data(
            given[0].texts,
            given[0].labels,
            max_samples=args.max_train_samples,
            seed=args.seed,
            source=spec.train,
        )
        dev_x, dev_l = prepare_data(
            given[1].texts,
            given[1].labels,
            max_samples=args.max_dev_samples,
            seed=args.seed,
            source=spec.dev,
        )
    else:
        train_x, train_l = read_labelled(
            spec.train,
            task=spec.task,
            dataset=spec.dataset,
            binary=spec.binary,
            text_column=spec.text_column,
            label_column=spec.label_column,
            max_samples=args.max_train_samples,
            seed=args.seed,
        )
        dev_x, dev_l = read_labelled(
            spec.dev,
            task=spec.task,
            dataset=spec.dataset,
            binary=spec.binary,
            text_column=spec.text_column,
            label_column=spec.label_column,
            max_samples=args.max_dev_samples,
            seed=args.seed,
            drop_duplicates=False,
        )
    # The customer-service turn set is for evaluation only: never train on its rows.
    train_x, train_l = drop_heldout_pairs(train_x, train_l, source=str(spec.train))
    labels = label_set(train_l, spec.task)
    check_dev_labels(labels, dev_l, task=spec.task, dev_path=spec.dev)
    index = {label: i for i, label in enumerate(labels)}
    tr_ids, tr_tt = _tokenize(tokenizer, train_x, max_len)
    dv_ids, dv_tt = _tokenize(tokenizer, dev_x, max_len)
    return TaskSet(
        task=spec.task,
        labels=labels,
        train_ids=tr_ids,
        train_tt=tr_tt,
        train_y=np.array([index[x] for x in train_l], dtype=np.int64),
        dev_ids=dv_ids,
        dev_tt=dv_tt,
        dev_y=np.array([index[x] for x in dev_l], dtype=np.int64),
        train_counts=describe(train_l),
        dev_counts=describe(dev_l),
    )


# -- model -----------------------------------------------------------------------------


def _apply_lora(net: MultiTaskNet, args: TrainingArgs) -> None:
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=args.lora_targets,
        bias="none",
    )
    try:
        net.encoder = get_peft_model(net.encoder, cfg)
    except ValueError as exc:
        raise ConfigError(
            f"LoRA cannot wrap this base model: {exc}; set lora_targets to its attention "
            "projection names (e.g. ['query', 'value'])"
        ) from exc


def _merge_lora(net: MultiTaskNet) -> None:
    enc = net.encoder
    if hasattr(enc, "merge_and_unload"):
        net.encoder = enc.merge_and_unload()


def _param_groups(net: nn.Module, args: TrainingArgs) -> list[dict[str, Any]]:
    decay, no_decay, head = [], [], []
    for name, p in net.named_parameters():
        if (args.freeze_embeddings and "word_embeddings" in name) or _in_frozen_layers(
            name, args.freeze_layers
        ):
            p.requires_grad_(False)
        if not p.requires_grad:
            continue
        if name.startswith("heads."):
            head.append(p)
        elif p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name or name.endswith(".bias"):
            no_decay.append(p)
        else:
            decay.append(p)
    head_lr = args.head_lr if args.head_lr is not None else args.lr * 10
    return [
        {"params": decay, "weight_decay": args.weight_decay, "lr": args.lr},
        {"params": no_decay, "weight_decay": 0.0, "lr": args.lr},
        {"params": head, "weight_decay": args.weight_decay, "lr": head_lr},
    ]


def _in_frozen_layers(name: str, n_layers: int) -> bool:
    """Embeddings and encoder layers below ``n_layers`` (BERT-style parameter names)."""
    if n_layers <= 0:
        return False
    if ".embeddings." in name or name.startswith("embeddings."):
        return True
    m = re.search(r"\.layer\.(\d+)\.", name)
    return m is not None and int(m.group(1)) < n_layers


def _trainable_state(net: nn.Module) -> dict[str, torch.Tensor]:
    names = {n for n, p in net.named_parameters() if p.requires_grad}
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items() if k in names}


# -- evaluation ------------------------------------------------------------------------


def _dev_logits(
    net: nn.Module, ts: TaskSet, task_pos: int, pad_id: int, device: torch.device, batch_size: int
) -> np.ndarray:
    net.eval()
    order = np.argsort([len(x) for x in ts.dev_ids], kind="stable")
    out = np.zeros((len(ts.dev_ids), len(ts.labels)), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = _collate(
                [ts.dev_ids[i] for i in idx],
                [ts.dev_tt[i] for i in idx] if ts.dev_tt is not None else None,
                pad_id,
            )
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = net(**batch)[ts.task]
            out[idx] = logits.float().cpu().numpy()
    net.train()
    return out


def classification_metrics(
    y: np.ndarray, pred: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix
    of label ids ``y`` vs ``pred`` (:func:`emotiondesk.evaluation.metrics.classification_report`)."""
    report = classification_report(
        [labels[i] for i in y], [labels[i] for i in pred], labels=list(labels)
    )
    return {
        "n": report.n,
        "accuracy": report.accuracy,
        "macro_f1": report.macro_f1,
        "per_class": report.per_class,
        "confusion_matrix": report.confusion,
    }


# -- state, control and callbacks ------------------------------------------------------


@dataclass
class TrainerState:
    """How far a run has got; saved with every checkpoint as ``trainer_state.json``."""

    update: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best: float = -1.0
    best_update: int = 0
    bad_evals: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainerState:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass
class TrainerControl:
    """Flags a callback sets to steer the loop (checked after each optimiser update)."""

    should_stop: bool = False


class TrainerCallback:
    """Hooks into a :class:`Trainer` run; subclass and override the events you need.

    Every hook receives the trainer, whose ``args``, ``state`` (a
    :class:`TrainerState`), ``control``, ``tasks`` and ``is_main`` it may read;
    setting ``trainer.control.should_stop`` ends the run after the current update.

    Example:
        >>> class PrintLoss(TrainerCallback):
        ...     def on_log(self, trainer, record):
        ...         if "loss" in record:
        ...             print(record["update"], record["loss"])
        >>> Trainer(args, callbacks=[PrintLoss()]).train()          # doctest: +SKIP
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first update (after the model, data and any resume are ready)."""

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """A logged record: training loss and learning rate, or a dev figure."""

    def on_evaluate(
        self, trainer: Trainer, record: dict[str, Any], figures: dict[str, Any]
    ) -> None:
        """After each dev evaluation; ``record`` is the history entry, ``figures`` per task."""

    def on_epoch_end(self, trainer: Trainer) -> None:
        """After the last batch of an epoch."""

    def on_train_end(self, trainer: Trainer) -> None:
        """After the last update, before the best weights are restored and saved."""


class TensorBoardCallback(TrainerCallback):
    """Training loss, learning rate and dev figures as TensorBoard scalars (main process)."""

    def __init__(self) -> None:
        self.writer: Any = None

    def on_train_begin(self, trainer: Trainer) -> None:
        if not trainer.is_main:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(trainer.args.logging_path))
        except ImportError:  # pragma: no cover - tensorboard is in the train extra
            logger.warning("tensorboard is not installed; no TensorBoard logs")

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.writer is not None and "loss" in record:
            self.writer.add_scalar("train/loss", record["loss"], record["update"])
            self.writer.add_scalar("train/lr", record["lr"], record["update"])

    def on_evaluate(
        self, trainer: Trainer, record: dict[str, Any], figures: dict[str, Any]
    ) -> None:
        if self.writer is None:
            return
        u = record["update"]
        self.writer.add_scalar("dev/macro_f1", record["dev_macro_f1"], u)
        for t, f in figures.items():
            self.writer.add_scalar(f"dev/{t}_accuracy", f["accuracy"], u)

    def on_train_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class EarlyStoppingCallback(TrainerCallback):
    """Stop when dev macro-F1 has not improved in ``patience`` evaluations (0: never)."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_evaluate(
        self, trainer: Trainer, record: dict[str, Any], figures: dict[str, Any]
    ) -> None:
        if self.patience and trainer.state.bad_evals >= self.patience:
            logger.info("early stopping: no dev gain in %d evaluations", self.patience)
            trainer.control.should_stop = True


class LogFunctionCallback(TrainerCallback):
    """Calls ``fn(record)`` with every logged record (what ``fine_tune(on_log=...)`` uses)."""

    def __init__(self, fn: Callable[[dict[str, Any]], None]) -> None:
        self.fn = fn

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.fn(record)


# -- the trainer -----------------------------------------------------------------------


class Trainer:
    """Fine-tunes ``args.base`` on ``args.tasks`` and writes the artifact to ``args.out``.

    The loop (accelerate, accumulation, clipping, FGM, evaluation, best-weights
    tracking, checkpoints and resume) lives in :meth:`train`; the pieces a new
    model kind changes are methods to override:

    * :meth:`load_base` - the tokenizer and encoder;
    * :meth:`build_model` - the network (pooling, heads, LoRA); its ``forward(**batch)``
      returns ``{task: logits}``;
    * :meth:`param_groups`, :meth:`create_optimizer`, :meth:`create_scheduler`;
    * :meth:`make_losses` and :meth:`compute_loss`;
    * :meth:`evaluate` and :meth:`save_artifact`.

    Logging, TensorBoard and early stopping are :class:`TrainerCallback` objects
    (``callbacks`` are added after the defaults).

    Args:
        args: the run's settings.
        data: optional ``{task: (train LabelledData, dev LabelledData)}`` already in
            memory; tasks not in it are read from their files.
        callbacks: extra callbacks, run after TensorBoard and early stopping.

    Example:
        >>> trainer = Trainer(args, callbacks=[LogFunctionCallback(print)])  # doctest: +SKIP
        >>> trainer.train()                                                   # doctest: +SKIP
    """

    def __init__(
        self,
        args: TrainingArgs,
        *,
        data: Mapping[str, Any] | None = None,
        callbacks: Sequence[TrainerCallback] | None = None,
    ) -> None:
        self.args = args
        self.data = dict(data or {})
        self.callbacks: list[TrainerCallback] = [
            TensorBoardCallback(),
            EarlyStoppingCallback(args.patience),
            *(callbacks or []),
        ]
        self.state = TrainerState()
        self.control = TrainerControl()
        self.tasks: list[TaskSet] = []
        self.tokenizer: Any = None
        self.max_len = 0
        self.pad_id = 0
        self.is_main = True
        self.accelerator: Any = None
        self.net: Any = None
        self.losses: list[nn.Module] = []
        self.best_state: dict[str, torch.Tensor] | None = None

    # -- callbacks ---------------------------------------------------------------------

    def add_callback(self, callback: TrainerCallback) -> None:
        self.callbacks.append(callback)

    def remove_callback(self, kind: type[TrainerCallback]) -> None:
        """Drop every callback of class ``kind`` (e.g. ``TensorBoardCallback``)."""
        self.callbacks = [c for c in self.callbacks if not isinstance(c, kind)]

    def _fire(self, event: str, *payload: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, event)(self, *payload)

    def log(self, record: dict[str, Any]) -> None:
        """Send ``record`` to every callback's ``on_log``."""
        self._fire("on_log", record)

    # -- the pieces to override ----------------------------------------------------------

    def load_base(self) -> tuple[Any, nn.Module]:
        """The tokenizer and the pretrained encoder named by ``args.base``."""
        return load_base(self.args.base, dropout=self.args.dropout)

    def load_task(self, spec: Any) -> TaskSet:
        """Read, check and tokenise one task's train and dev data."""
        return _load_task(self.args, self.tokenizer, self.max_len, spec, self.data.get(spec.task))

    def build_model(self, encoder: nn.Module, tasks: Sequence[TaskSet]) -> nn.Module:
        """Encoder, pooling and one linear head per task (wrapped by LoRA if asked)."""
        args = self.args
        net = MultiTaskNet(
            encoder,
            {ts.task: len(ts.labels) for ts in tasks},
            dropout=args.dropout if args.dropout is not None else 0.1,
            pooling=args.pooling,
        )
        if args.method == "lora":
            _apply_lora(net, args)
        return net

    def param_groups(self, net: nn.Module) -> list[dict[str, Any]]:
        """AdamW groups: decayed weights, no decay on biases/LayerNorm, the heads' own lr."""
        return _param_groups(net, self.args)

    def create_optimizer(self, net: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.param_groups(net), lr=self.args.lr)

    def create_scheduler(self, optimizer: torch.optim.Optimizer, total_updates: int) -> Any:
        from transformers import get_linear_schedule_with_warmup

        return get_linear_schedule_with_warmup(
            optimizer, int(self.args.warmup_ratio * total_updates), total_updates
        )

    def make_losses(self, tasks: Sequence[TaskSet]) -> list[nn.Module]:
        """One loss per task: cross-entropy or focal, smoothing, optional balanced weights."""
        args = self.args
        losses = []
        for ts in tasks:
            weight = (
                balanced_class_weights(ts.train_y, len(ts.labels))
                if args.class_weights == "balanced"
                else None
            )
            losses.append(
                make_loss(
                    args.loss,
                    weight=weight,
                    label_smoothing=args.label_smoothing,
                    gamma=args.focal_gamma,
                )
            )
        return losses

    def compute_loss(
        self, net: nn.Module, batch: Mapping[str, torch.Tensor], y: torch.Tensor, k: int
    ) -> torch.Tensor:
        """The loss of task ``k`` on one batch."""
        return self.losses[k](net(**batch)[self.tasks[k].task], y)

    def evaluate(self) -> tuple[float, dict[str, Any]]:
        """Mean dev macro-F1 over the tasks, and each task's classification figures."""
        raw = self.accelerator.unwrap_model(self.net)
        figures = {}
        for k, ts in enumerate(self.tasks):
            logits = _dev_logits(
                raw, ts, k, self.pad_id, self.accelerator.device, self.args.batch_size * 2
            )
            figures[ts.task] = classification_metrics(ts.dev_y, logits.argmax(1), ts.labels)
        score = float(np.mean([figures[t]["macro_f1"] for t in figures]))
        return score, figures

    def save_artifact(self, net: nn.Module, train_seconds: float) -> Path:
        """Calibrate on dev, evaluate, and write the artifact with its model card."""
        return _finish(
            self.args,
            net,  # type: ignore[arg-type]
            self.tokenizer,
            self.tasks,
            self.max_len,
            self.pad_id,
            self.state.to_dict(),
            train_seconds,
        )

    # -- the run -----------------------------------------------------------------------

    def train(self) -> Path:
        """Run the whole fine-tuning; return the artifact directory ``args.out``."""
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        args = self.args
        device = resolve_device(args.device)
        if args.num_threads:
            torch.set_num_threads(args.num_threads)
        set_seed(args.seed)
        accelerator = Accelerator(
            cpu=device == "cpu",
            mixed_precision=_mixed_precision(args.mixed_precision, device),
            gradient_accumulation_steps=args.grad_accum,
            # A batch feeds one task's head; under DDP the other heads get no gradient.
            kwargs_handlers=[
                DistributedDataParallelKwargs(find_unused_parameters=len(args.tasks) > 1)
            ],
        )
        self.accelerator = accelerator
        self.is_main = accelerator.is_main_process

        tokenizer, encoder = self.load_base()
        self.tokenizer = tokenizer
        self.max_len = model_max_length(tokenizer, encoder, args.max_length)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.tasks = tasks = [self.load_task(spec) for spec in args.tasks]
        for ts in tasks:
            logger.info("%s: train %s, dev %s", ts.task, ts.train_counts, ts.dev_counts)

        net = self.build_model(encoder, tasks)
        if args.fgm_epsilon > 0 and args.method == "lora":
            logger.warning(
                "FGM perturbs trainable word embeddings; with LoRA they are frozen, so FGM is off"
            )
        losses = self.make_losses(tasks)

        world, rank = accelerator.num_processes, accelerator.process_index
        batches_per_epoch = (
            sum(math.ceil(len(ts.train_ids) / args.batch_size) for ts in tasks) // world
        )
        if batches_per_epoch == 0:
            raise DataError("not enough training data for one batch per process")
        updates_per_epoch = max(1, batches_per_epoch // args.grad_accum)
        total_updates = args.max_steps or max(1, math.ceil(updates_per_epoch * args.epochs))
        n_epochs = math.ceil(total_updates / updates_per_epoch)

        optimizer = self.create_optimizer(net)
        scheduler = self.create_scheduler(optimizer, total_updates)
        net, optimizer, scheduler = accelerator.prepare(net, optimizer, scheduler)
        self.net = net
        self.losses = [loss.to(accelerator.device) for loss in losses]
        fgm = FGM(net, args.fgm_epsilon) if args.fgm_epsilon > 0 and args.method == "full" else None
        eval_every = args.eval_every or updates_per_epoch
        ckpt_every = args.checkpoint_every or eval_every
        if args.resume:
            self._resume()
        self._fire("on_train_begin")

        state = self.state
        net.train()
        running, n_running = 0.0, 0
        t_start = time.perf_counter()
        while state.epoch < n_epochs and not self.control.should_stop:
            epoch = state.epoch
            schedule = _epoch_schedule(tasks, args.batch_size, args.seed, epoch)
            schedule = schedule[: len(schedule) - len(schedule) % world][rank::world]
            t_epoch = time.perf_counter()
            for b in range(state.batch_in_epoch, len(schedule)):
                k, idx = schedule[b]
                ts = tasks[k]
                batch = _collate(
                    [ts.train_ids[i] for i in idx],
                    [ts.train_tt[i] for i in idx] if ts.train_tt is not None else None,
                    self.pad_id,
                )
                batch = {key: v.to(accelerator.device) for key, v in batch.items()}
                y = torch.as_tensor(ts.train_y[idx], device=accelerator.device)
                with accelerator.accumulate(net):
                    loss = self.compute_loss(net, batch, y, k)
                    accelerator.backward(loss)
                    if fgm is not None and fgm.attack():
                        adv = self.compute_loss(net, batch, y, k)
                        accelerator.backward(adv)
                        fgm.restore()
                    if accelerator.sync_gradients and args.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(net.parameters(), args.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                running += float(loss.detach())
                n_running += 1
                state.batch_in_epoch = b + 1
                if not accelerator.sync_gradients:
                    continue
                state.update += 1
                u = state.update
                if u % args.log_every == 0 and n_running:
                    rec = {
                        "update": u,
                        "loss": running / n_running,
                        "lr": scheduler.get_last_lr()[0],
                        "elapsed": time.perf_counter() - t_start,
                    }
                    logger.info("update %d loss %.4f lr %.2e", u, rec["loss"], rec["lr"])
                    self.log(rec)
                    running, n_running = 0.0, 0
                end_of_epoch = b + 1 == len(schedule)
                if u % eval_every == 0 or u >= total_updates or end_of_epoch:
                    self._evaluate_and_track(epoch + (b + 1) / len(schedule))
                stop = self.control.should_stop
                if u % ckpt_every == 0 or stop or u >= total_updates or end_of_epoch:
                    if end_of_epoch:
                        self._end_epoch(epoch, t_epoch)
                    self._checkpoint()
                if stop or u >= total_updates:
                    self.control.should_stop = True
                    break
            else:
                if state.batch_in_epoch >= len(schedule) and state.epoch == epoch:
                    self._end_epoch(epoch, t_epoch)
        train_seconds = time.perf_counter() - t_start
        self._fire("on_train_end")
        accelerator.wait_for_everyone()
        if not self.is_main:
            return Path(args.out)

        raw_net = accelerator.unwrap_model(net)
        if self.best_state is not None:
            raw_net.load_state_dict(self.best_state, strict=False)
        raw_net.eval()
        _merge_lora(raw_net)
        raw_net = raw_net.cpu()
        return self.save_artifact(raw_net, train_seconds)

    # -- steps of the loop -------------------------------------------------------------

    def _end_epoch(self, epoch: int, t_epoch: float) -> None:
        self.state.epoch_seconds.append(time.perf_counter() - t_epoch)
        self.state.epoch, self.state.batch_in_epoch = epoch + 1, 0
        self._fire("on_epoch_end")

    def _evaluate_and_track(self, epoch_position: float) -> None:
        """Evaluate on dev, record the figures, keep the best trainable weights."""
        state = self.state
        u = state.update
        score, figures = self.evaluate()
        record = {
            "update": u,
            "epoch": epoch_position,
            "dev_macro_f1": score,
            **{f"{t}_accuracy": f["accuracy"] for t, f in figures.items()},
        }
        state.history.append(record)
        logger.info("update %d dev macro-F1 %.4f", u, score)
        if score > state.best:
            state.best, state.best_update, state.bad_evals = score, u, 0
            self.best_state = _trainable_state(self.accelerator.unwrap_model(self.net))
            if self.is_main:
                from safetensors.torch import save_file

                root = self.args.checkpoint_path
                root.mkdir(parents=True, exist_ok=True)
                save_file(
                    {k: v.contiguous() for k, v in self.best_state.items()},
                    str(root / BEST_FILE),
                )
        else:
            state.bad_evals += 1
        self._fire("on_evaluate", record, figures)
        self.log({"update": u, "dev_macro_f1": score})

    def _checkpoint(self) -> None:
        accelerator = self.accelerator
        accelerator.wait_for_everyone()
        if not self.is_main:
            return
        root = self.args.checkpoint_path
        target = root / f"update-{self.state.update:07d}"
        accelerator.save_state(str(target))
        (target / STATE_FILE).write_text(json.dumps(self.state.to_dict()), encoding="utf-8")
        self.args.save(target)
        for old in sorted(root.glob("update-*"))[: -self.args.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)

    def _resume(self) -> None:
        root = self.args.checkpoint_path
        latest = _latest_checkpoint(root)
        if latest is None:
            logger.warning("resume requested but %s holds no checkpoint; starting fresh", root)
            return
        self.accelerator.load_state(str(latest))
        self.state = TrainerState.from_dict(
            json.loads((latest / STATE_FILE).read_text(encoding="utf-8"))
        )
        if (root / BEST_FILE).is_file():
            from safetensors.torch import load_file

            self.best_state = load_file(str(root / BEST_FILE))
        logger.info("resumed from %s (update %d)", latest, self.state.update)


def fine_tune(
    args: TrainingArgs,
    *,
    data: Mapping[str, Any] | None = None,
    on_log: Callable[[dict[str, Any]], None] | None = None,
    callbacks: Sequence[TrainerCallback] | None = None,
) -> Path:
    """Fine-tune ``args.base`` on ``args.tasks``; return the artifact directory ``args.out``.

    A thin wrapper over :class:`Trainer`.

    Args:
        args: the run's settings.
        data: optional ``{task: (train LabelledData, dev LabelledData)}`` already in
            memory; tasks not in it are read from their files.
        on_log: called with each logged record (loss, dev figures).
        callbacks: extra :class:`TrainerCallback` objects.
    """
    extra = list(callbacks or [])
    if on_log is not None:
        extra.append(LogFunctionCallback(on_log))
    return Trainer(args, data=data, callbacks=extra).train()


def _finish(
    args: TrainingArgs,
    net: MultiTaskNet,
    tokenizer: Any,
    tasks: Sequence[TaskSet],
    max_len: int,
    pad_id: int,
    state: Mapping[str, Any],
    train_seconds: float,
) -> Path:
    """Calibrate on dev, evaluate, write the artifact (atomically) with its model card."""
    temperatures: dict[str, float] = {}
    report: dict[str, Any] = {}
    for k, ts in enumerate(tasks):
        logits = _dev_logits(net, ts, k, pad_id, torch.device("cpu"), args.batch_size * 2)
        before = expected_calibration_error(softmax(logits), ts.dev_y)
        t = fit_temperature(logits, ts.dev_y) if args.calibrate else 1.0
        after = expected_calibration_error(softmax(logits, t), ts.dev_y)
        temperatures[ts.task] = t
        figures = classification_metrics(ts.dev_y, logits.argmax(1), ts.labels)
        figures.update(
            {
                "temperature": t,
                "ece_before": before,
                "ece_after": after,
                "train_counts": ts.train_counts,
                "dev_counts": ts.dev_counts,
            }
        )
        report[ts.task] = figures
    epoch_seconds = list(state.get("epoch_seconds", []))
    meta = {
        "version": args.version,
        "base": args.base,
        "training": {
            "method": args.method,
            "best_update": state.get("best_update"),
            "updates": state.get("update"),
            "train_seconds": round(train_seconds, 1),
            "epoch_seconds": [round(s, 1) for s in epoch_seconds],
            "history": state.get("history", []),
        },
        "dev": {
            t: {
                k: v
                for k, v in f.items()
                if k in ("n", "accuracy", "macro_f1", "temperature", "ece_before", "ece_after")
            }
            for t, f in report.items()
        },
        "preprocessing": {"normalize": True},
        "max_length": max_len,
    }
    clf = TransformerClassifier.from_parts(
        net,
        tokenizer,
        tasks={ts.task: ts.labels for ts in tasks},
        max_length=max_len,
        temperatures=temperatures,
        meta=meta,
    )
    card = ModelCard.for_transformer(args, report, meta)
    out = clf.save_pretrained(args.out, card=card.render())
    args.save(out)
    (out / "dev_report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return out


def _latest_checkpoint(root: Path) -> Path | None:
    found = sorted(p for p in root.glob("update-*") if (p / STATE_FILE).is_file())
    return found[-1] if found else None
