"""``emotiondesk train --base <hub id or dir>``: the dispatch entry of the transformer trainer.

:mod:`emotiondesk.training.dispatch` calls :func:`train_transformer` with the
command's data already loaded; the run's settings come from ``options``:
``config`` (a YAML file of :class:`~emotiondesk.training.args.TrainingArgs`
fields) and any field given as a flag (flags win over the file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emotiondesk.data import LabelledData
from emotiondesk.training.args import TrainingArgs

#: options the CLI passes for every trainer that mean nothing here.
_IGNORED = ("language",)


def build_args(
    *,
    task: str,
    train_source: str,
    dev_source: str,
    out: str | Path,
    base: str,
    dataset: str,
    options: Mapping[str, Any] | None = None,
) -> TrainingArgs:
    """TrainingArgs from a YAML file (``options["config"]``) overridden by the other options."""
    opts = {k: v for k, v in dict(options or {}).items() if k not in _IGNORED and v is not None}
    config = opts.pop("config", None)
    overrides = {"base": base, "out": str(out), **opts}
    tasks = [{"task": task, "train": train_source, "dev": dev_source, "dataset": dataset}]
    if config is not None:
        import yaml

        from emotiondesk.errors import ConfigError

        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"training config {str(path)!r} does not exist")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of settings")
        # The command's task comes first; other tasks of the file join as extra heads.
        extra = [t for t in data.pop("tasks", []) or [] if t.get("task") != task]
        data["tasks"] = tasks + extra
        return TrainingArgs.from_dict(data, overrides)
    return TrainingArgs.from_dict({"tasks": tasks}, overrides)


def train_transformer(
    *,
    task: str,
    train: LabelledData,
    dev: LabelledData | None,
    out: str | Path,
    base: str,
    dataset: str = "canonical",
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fine-tune ``base`` on the loaded data; return the CLI's JSON summary."""
    from emotiondesk.errors import DataError
    from emotiondesk.training.trainer import fine_tune

    if dev is None:
        raise DataError("transformer training needs a dev set (early stopping and calibration)")
    args = build_args(
        task=task,
        train_source=train.source or "train",
        dev_source=dev.source or "dev",
        out=out,
        base=base,
        dataset=dataset,
        options=options,
    )
    path = fine_tune(args, data={task: (train, dev)})
    report = json.loads((path / "dev_report.json").read_text(encoding="utf-8"))
    figures = report[task]
    return {
        "model_dir": str(path),
        "model_type": "transformer",
        "task": task,
        "tasks": list(report),
        "base": base,
        # The rows actually trained on (after max_train_samples), as the model card says.
        "n_train": sum(figures["train_counts"].values()),
        "train_labels": dict(sorted(figures["train_counts"].items())),
        "dev": {k: figures[k] for k in ("n", "accuracy", "macro_f1", "per_class")},
        "calibration": {
            t: {k: f[k] for k in ("temperature", "ece_before", "ece_after")}
            for t, f in report.items()
        },
    }
