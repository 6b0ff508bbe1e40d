"""Training a char-CNN / BiGRU for ``emotiondesk train --base charcnn|bigru``.

The command's ``--epochs``, ``--lr``, ``--batch-size``, ``--max-length``
(characters) and ``--seed`` apply; any other :class:`CharNNClassifier`
parameter goes through ``--set KEY=VALUE`` (``hidden``, ``embed_dim``,
``dropout``, ``class_weight``, ``max_train_samples``, ``num_threads``, ...).

Example:
    emotiondesk train --task emotion --base bigru --train train.csv --dev dev.csv \\
        --dataset smp2020_ewect --out out/zh-emotion-bigru --epochs 4
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

from emotiondesk.data import LabelledData
from emotiondesk.errors import InvalidInputError
from emotiondesk.training.report import record_dev_figures

logger = logging.getLogger(__name__)

#: ``options`` keys passed straight to :class:`CharNNClassifier`.
PARAMS = (
    "embed_dim",
    "hidden",
    "kernel_sizes",
    "max_chars",
    "max_vocab",
    "max_bigrams",
    "min_count",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "dropout",
    "class_weight",
    "num_threads",
)
#: options of the shared ``train`` command that mean nothing here when left unset.
IGNORED = ("language", "command", "config", "method", "resume", "device")


def train_charnn(
    *,
    task: str,
    train: LabelledData,
    dev: LabelledData | None,
    out: str | Path,
    base: str = "charcnn",
    dataset: str = "canonical",
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit a :class:`~emotiondesk.models.charnn.CharNNClassifier`, save it, evaluate on dev."""
    from emotiondesk.models.charnn import CharNNClassifier

    opts = {k: v for k, v in (options or {}).items() if v is not None}
    for key in ("config", "method", "resume"):
        if key in opts and opts[key] not in (False, "full"):
            raise InvalidInputError(f"--base {base} does not take --{key} (transformers only)")
    if opts.get("device") == "cuda":
        raise InvalidInputError(f"--base {base} trains on the CPU only; drop --device cuda")
    if "max_length" in opts:
        opts["max_chars"] = opts.pop("max_length")
    seed = int(opts.pop("seed", 42))
    max_train = opts.pop("max_train_samples", None)
    for key in IGNORED:
        opts.pop(key, None)
    unknown = sorted(set(opts) - set(PARAMS))
    if unknown:
        raise InvalidInputError(
            f"unknown {base} options: {unknown}; known: {', '.join(PARAMS)}, max_train_samples"
        )
    if max_train is not None and len(train) > int(max_train):
        idx = sorted(random.Random(seed).sample(range(len(train)), int(max_train)))
        train = train.subset(idx)
    arch = "cnn" if base == "charcnn" else "bigru"
    clf = CharNNClassifier(arch=arch, random_state=seed, **opts)
    clf.fit(
        train.texts,
        train.labels,
        dev_texts=dev.texts if dev is not None else None,
        dev_labels=dev.labels if dev is not None else None,
    )
    clf.training_info_.update({"task": task, "dataset": dataset, "source": train.source})
    summary: dict[str, Any] = {
        "model_dir": str(out),
        "model_type": "charnn",
        "arch": arch,
        "task": task,
        "n_train": len(train),
        "train_labels": train.label_counts(),
        "parameters": clf.n_parameters(),
        "history": clf.training_info_["history"],
        "dev": None,
    }
    clf.save_pretrained(out)
    if dev is not None:
        record_dev_figures(clf, dev, task=task, out=out, summary=summary)
    return summary
