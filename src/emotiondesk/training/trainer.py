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

Example:
    >>> from emotiondesk.training import TrainingArgs, TaskData, fine_tune
    >>> args = TrainingArgs(base="path/to/bert", out="out/en-deep",
    ...     tasks=[TaskData("polarity", "train.csv", "dev.csv", dataset="sst2")])
    >>> fine_tune(args)                                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from emotiondesk.errors import ConfigError, DataError
from emotiondesk.models.transformer import (
    MultiTaskNet,
    TransformerClassifier,
    load_base,
    model_max_length,
)
from emotiondesk.training.args import TrainingArgs
from emotiondesk.training.calibration import expected_calibration_error, fit_temperature
from emotiondesk.training.data import (
    check_dev_labels,
    describe,
    label_set,
    prepare_data,
    read_labelled,
)
from emotiondesk.training.losses import FGM, balanced_class_weights, make_loss

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
BEST_FILE = "best.safetensors"


@dataclass
class _TaskSet:
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
    tasks: Sequence[_TaskSet], batch_size: int, seed: int, epoch: int
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
) -> _TaskSet:
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
    labels = label_set(train_l, spec.task)
    check_dev_labels(labels, dev_l, task=spec.task, dev_path=spec.dev)
    index = {label: i for i, label in enumerate(labels)}
    tr_ids, tr_tt = _tokenize(tokenizer, train_x, max_len)
    dv_ids, dv_tt = _tokenize(tokenizer, dev_x, max_len)
    return _TaskSet(
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
    net: nn.Module, ts: _TaskSet, task_pos: int, pad_id: int, device: torch.device, batch_size: int
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
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    k = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=k, zero_division=0)
    return {
        "n": len(y),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, labels=k, average="macro", zero_division=0)),
        "per_class": {
            labels[i]: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i in k
        },
        "confusion_matrix": confusion_matrix(y, pred, labels=k).tolist(),
    }


# -- the run ---------------------------------------------------------------------------


def fine_tune(
    args: TrainingArgs,
    *,
    data: Mapping[str, Any] | None = None,
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Fine-tune ``args.base`` on ``args.tasks``; return the artifact directory ``args.out``.

    Args:
        args: the run's settings.
        data: optional ``{task: (train LabelledData, dev LabelledData)}`` already in
            memory; tasks not in it are read from their files.
        on_log: called with each logged record (loss, dev figures).
    """
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    device = resolve_device(args.device)
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    set_seed(args.seed)
    from accelerate.utils import DistributedDataParallelKwargs

    accelerator = Accelerator(
        cpu=device == "cpu",
        mixed_precision=_mixed_precision(args.mixed_precision, device),
        gradient_accumulation_steps=args.grad_accum,
        # A batch feeds one task's head; under DDP the other heads get no gradient.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=len(args.tasks) > 1)],
    )
    is_main = accelerator.is_main_process

    tokenizer, encoder = load_base(args.base, dropout=args.dropout)
    max_len = model_max_length(tokenizer, encoder, args.max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    tasks = [
        _load_task(args, tokenizer, max_len, spec, (data or {}).get(spec.task))
        for spec in args.tasks
    ]
    for ts in tasks:
        logger.info("%s: train %s, dev %s", ts.task, ts.train_counts, ts.dev_counts)

    net = MultiTaskNet(
        encoder,
        {ts.task: len(ts.labels) for ts in tasks},
        dropout=args.dropout if args.dropout is not None else 0.1,
        pooling=args.pooling,
    )
    if args.method == "lora":
        _apply_lora(net, args)
    if args.fgm_epsilon > 0 and args.method == "lora":
        logger.warning(
            "FGM perturbs trainable word embeddings; with LoRA they are frozen, so FGM is off"
        )

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

    world, rank = accelerator.num_processes, accelerator.process_index
    batches_per_epoch = sum(math.ceil(len(ts.train_ids) / args.batch_size) for ts in tasks) // world
    if batches_per_epoch == 0:
        raise DataError("not enough training data for one batch per process")
    updates_per_epoch = max(1, batches_per_epoch // args.grad_accum)
    total_updates = args.max_steps or max(1, math.ceil(updates_per_epoch * args.epochs))
    n_epochs = math.ceil(total_updates / updates_per_epoch)

    optimizer = torch.optim.AdamW(_param_groups(net, args), lr=args.lr)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(args.warmup_ratio * total_updates), total_updates
    )
    net, optimizer, scheduler = accelerator.prepare(net, optimizer, scheduler)
    losses = [loss.to(accelerator.device) for loss in losses]
    raw_net: MultiTaskNet = accelerator.unwrap_model(net)
    fgm = FGM(net, args.fgm_epsilon) if args.fgm_epsilon > 0 and args.method == "full" else None
    eval_every = args.eval_every or updates_per_epoch
    ckpt_every = args.checkpoint_every or eval_every

    state: dict[str, Any] = {
        "update": 0,
        "epoch": 0,
        "batch_in_epoch": 0,
        "best": -1.0,
        "best_update": 0,
        "bad_evals": 0,
        "history": [],
        "epoch_seconds": [],
    }
    ckpt_root = args.checkpoint_path
    best_state: dict[str, torch.Tensor] | None = None
    if args.resume:
        latest = _latest_checkpoint(ckpt_root)
        if latest is None:
            logger.warning("resume requested but %s holds no checkpoint; starting fresh", ckpt_root)
        else:
            accelerator.load_state(str(latest))
            state = json.loads((latest / STATE_FILE).read_text(encoding="utf-8"))
            if (ckpt_root / BEST_FILE).is_file():
                from safetensors.torch import load_file

                best_state = load_file(str(ckpt_root / BEST_FILE))
            logger.info("resumed from %s (update %d)", latest, state["update"])

    writer = None
    if is_main:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(log_dir=str(args.logging_path))
        except ImportError:  # pragma: no cover - tensorboard is in the train extra
            logger.warning("tensorboard is not installed; no TensorBoard logs")

    def evaluate() -> tuple[float, dict[str, Any]]:
        raw = accelerator.unwrap_model(net)
        figures = {}
        for k, ts in enumerate(tasks):
            logits = _dev_logits(raw, ts, k, pad_id, accelerator.device, args.batch_size * 2)
            figures[ts.task] = classification_metrics(ts.dev_y, logits.argmax(1), ts.labels)
        score = float(np.mean([figures[t]["macro_f1"] for t in figures]))
        return score, figures

    def checkpoint() -> None:
        accelerator.wait_for_everyone()
        if not is_main:
            return
        target = ckpt_root / f"update-{state['update']:07d}"
        accelerator.save_state(str(target))
        (target / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
        args.save(target)
        for old in sorted(ckpt_root.glob("update-*"))[: -args.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)

    net.train()
    stop = False
    running, n_running = 0.0, 0
    t_start = time.perf_counter()
    while state["epoch"] < n_epochs and not stop:
        epoch = state["epoch"]
        schedule = _epoch_schedule(tasks, args.batch_size, args.seed, epoch)
        schedule = schedule[: len(schedule) - len(schedule) % world][rank::world]
        t_epoch = time.perf_counter()
        for b in range(state["batch_in_epoch"], len(schedule)):
            k, idx = schedule[b]
            ts = tasks[k]
            batch = _collate(
                [ts.train_ids[i] for i in idx],
                [ts.train_tt[i] for i in idx] if ts.train_tt is not None else None,
                pad_id,
            )
            batch = {key: v.to(accelerator.device) for key, v in batch.items()}
            y = torch.as_tensor(ts.train_y[idx], device=accelerator.device)
            with accelerator.accumulate(net):
                loss = losses[k](net(**batch)[ts.task], y)
                accelerator.backward(loss)
                if fgm is not None and fgm.attack():
                    adv = losses[k](net(**batch)[ts.task], y)
                    accelerator.backward(adv)
                    fgm.restore()
                if accelerator.sync_gradients and args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(net.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            running += float(loss.detach())
            n_running += 1
            state["batch_in_epoch"] = b + 1
            if not accelerator.sync_gradients:
                continue
            state["update"] += 1
            u = state["update"]
            if u % args.log_every == 0 and n_running:
                rec = {
                    "update": u,
                    "loss": running / n_running,
                    "lr": scheduler.get_last_lr()[0],
                    "elapsed": time.perf_counter() - t_start,
                }
                logger.info("update %d loss %.4f lr %.2e", u, rec["loss"], rec["lr"])
                if writer is not None:
                    writer.add_scalar("train/loss", rec["loss"], u)
                    writer.add_scalar("train/lr", rec["lr"], u)
                if on_log is not None:
                    on_log(rec)
                running, n_running = 0.0, 0
            end_of_epoch = b + 1 == len(schedule)
            if u % eval_every == 0 or u >= total_updates or end_of_epoch:
                score, figures = evaluate()
                state["history"].append(
                    {
                        "update": u,
                        "epoch": epoch + (b + 1) / len(schedule),
                        "dev_macro_f1": score,
                        **{f"{t}_accuracy": f["accuracy"] for t, f in figures.items()},
                    }
                )
                logger.info("update %d dev macro-F1 %.4f", u, score)
                if writer is not None:
                    writer.add_scalar("dev/macro_f1", score, u)
                    for t, f in figures.items():
                        writer.add_scalar(f"dev/{t}_accuracy", f["accuracy"], u)
                if on_log is not None:
                    on_log({"update": u, "dev_macro_f1": score})
                if score > state["best"]:
                    state.update(best=score, best_update=u, bad_evals=0)
                    best_state = _trainable_state(accelerator.unwrap_model(net))
                    if is_main:
                        from safetensors.torch import save_file

                        ckpt_root.mkdir(parents=True, exist_ok=True)
                        save_file(
                            {k2: v.contiguous() for k2, v in best_state.items()},
                            str(ckpt_root / BEST_FILE),
                        )
                else:
                    state["bad_evals"] += 1
                if args.patience and state["bad_evals"] >= args.patience:
                    logger.info("early stopping: no dev gain in %d evaluations", args.patience)
                    stop = True
            if u % ckpt_every == 0 or stop or u >= total_updates or end_of_epoch:
                if end_of_epoch:
                    state["epoch_seconds"].append(time.perf_counter() - t_epoch)
                    state["epoch"], state["batch_in_epoch"] = epoch + 1, 0
                checkpoint()
            if stop or u >= total_updates:
                stop = True
                break
        else:
            if state["batch_in_epoch"] >= len(schedule) and state["epoch"] == epoch:
                state["epoch_seconds"].append(time.perf_counter() - t_epoch)
                state["epoch"], state["batch_in_epoch"] = epoch + 1, 0
    train_seconds = time.perf_counter() - t_start
    if writer is not None:
        writer.close()
    accelerator.wait_for_everyone()
    if not is_main:
        return Path(args.out)

    raw_net = accelerator.unwrap_model(net)
    if best_state is not None:
        raw_net.load_state_dict(best_state, strict=False)
    raw_net.eval()
    _merge_lora(raw_net)
    raw_net = raw_net.cpu()
    return _finish(args, raw_net, tokenizer, tasks, max_len, pad_id, state, train_seconds)


def _finish(
    args: TrainingArgs,
    net: MultiTaskNet,
    tokenizer: Any,
    tasks: Sequence[_TaskSet],
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
        from emotiondesk.models.multitask import softmax

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
    card = model_card(args, report, meta)
    out = clf.save_pretrained(args.out, card=card)
    args.save(out)
    (out / "dev_report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return out


def _latest_checkpoint(root: Path) -> Path | None:
    found = sorted(p for p in root.glob("update-*") if (p / STATE_FILE).is_file())
    return found[-1] if found else None


def model_card(args: TrainingArgs, report: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    """A Markdown model card: data, settings, dev figures, calibration, training cost."""
    lines = [
        f"# emotiondesk transformer model ({', '.join(report)})",
        "",
        f"- base: `{args.base}` ({args.method} fine-tuning, {args.pooling} pooling, max length "
        f"{meta.get('max_length', args.max_length or 'model default')})",
        f"- version: {args.version}",
        f"- training time: {meta['training']['train_seconds']} s "
        f"(per epoch: {meta['training']['epoch_seconds']} s), best at update "
        f"{meta['training']['best_update']} of {meta['training']['updates']}",
        "",
        "## Data",
        "",
    ]
    if args.command:
        lines[-3:-3] = ["", "Trained with:", "", "```", args.command, "```"]
    for spec in args.tasks:
        f = report[spec.task]
        lines.append(
            f"- {spec.task}: train `{Path(spec.train).name}` ({sum(f['train_counts'].values())} rows: "
            f"{f['train_counts']}), dev `{Path(spec.dev).name}` ({f['n']} rows), label map `{spec.dataset}`"
            + (" (0/1 binary)" if spec.binary else "")
        )
    lines += [
        "",
        "## Dev figures",
        "",
        "| task | accuracy | macro-F1 | T | ECE before | ECE after |",
        "|---|---|---|---|---|---|",
    ]
    for task, f in report.items():
        lines.append(
            f"| {task} | {f['accuracy']:.4f} | {f['macro_f1']:.4f} | {f['temperature']:.3f} | "
            f"{f['ece_before']:.4f} | {f['ece_after']:.4f} |"
        )
    for task, f in report.items():
        lines += [
            "",
            f"### {task} per class",
            "",
            "| label | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for label, c in f["per_class"].items():
            lines.append(
                f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |"
            )
    lines += [
        "",
        "Probabilities are temperature-scaled (T fitted on dev, minimising NLL); ECE uses 15 bins.",
        "",
        "## Settings",
        "",
        "```json",
        json.dumps({k: v for k, v in args.to_dict().items() if k not in ("tasks",)}, indent=1),
        "```",
        "",
    ]
    return "\n".join(lines)
