"""Weighted ensembles of saved classifiers (e.g. a USE head + an n-gram model).

An ensemble directory holds only a ``config.json``::

    {
      "model_type": "ensemble",
      "labels": ["negative", "neutral", "positive"],
      "members": [
        {"path": "zh-polarity-ngram", "weight": 0.6},
        {"path": "zh-polarity-use", "weight": 0.4}
      ],
      "temperature": 1.0
    }

A member may name the ``task`` it is read for (``{"path": "e5-multitask",
"weight": 0.5, "task": "polarity"}``): a multi-task model then serves that head.
Members are opened once per process and directory (:func:`shared_member`), so
a pack whose polarity and emotion ensembles both hold one multi-task model
keeps it once in memory, and the second task reuses the first one's forward
pass of the same batch.

Member paths are relative to the directory that holds the ensemble (in a pack:
the pack root), so an ensemble reuses the pack's own models instead of copying
them; they may not be absolute or climb out with ``..``. The prediction is the
weighted average of the members' calibrated probabilities over the ensemble's
labels (a member lacking a label contributes 0 to it), optionally sharpened or
softened by a temperature on the log of that average.

Example:
    >>> ens = EnsembleClassifier(["zh-polarity-ngram", "zh-polarity-use"], [0.6, 0.4])
    >>> ens.load_members(pack_root)                      # doctest: +SKIP
    >>> ens.predict_proba(["物流太慢了"])                  # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from emotiondesk._version import __version__
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.models.base import CONFIG_NAME, TextClassifier, load_model, read_config, register

MODEL_TYPE = "ensemble"
FORMAT_VERSION = 1
#: Ensemble directories being opened by this thread (to refuse a cycle of ensembles).
_OPENING = threading.local()


def _check_member_path(rel: str, where: str | Path) -> None:
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or ".." in p.parts or "\\" in rel:
        raise ModelError(
            f"{where}: ensemble member {rel!r} must be a relative path without '..' "
            "(a model directory next to the ensemble, inside the pack)"
        )


#: open members by (directory, config mtime); weak, so a model no ensemble holds is freed
_SHARED: weakref.WeakValueDictionary[tuple[Path, int], Any] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.RLock()  # re-entrant: a member may be an ensemble itself


def shared_member(directory: Path) -> TextClassifier:
    """The one open model of ``directory`` in this process (opened on first use).

    Keyed by the resolved path and the files' modification time, so a model
    directory rewritten in place (a new version) is opened again.
    """
    path = Path(directory)
    cfg = path / CONFIG_NAME
    key = (path.resolve(), cfg.stat().st_mtime_ns if cfg.is_file() else 0)
    with _SHARED_LOCK:
        model: TextClassifier | None = _SHARED.get(key)
        if model is None:
            model = load_model(path)
            _SHARED[key] = model
        return model


def _head(model: TextClassifier, task: str | None) -> TextClassifier:
    if task is None:
        return model
    for_task = getattr(model, "for_task", None)
    if not callable(for_task):
        raise ModelError(f"ensemble member {model!r} has one head; it takes no 'task'")
    return for_task(task)  # type: ignore[no-any-return]


def to_labels(proba: np.ndarray, model_labels: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Reorder columns onto ``labels`` (absent labels get 0)."""
    if list(model_labels) == list(labels):
        return np.asarray(proba, dtype=np.float64)
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((proba.shape[0], len(labels)), dtype=np.float64)
    for j, label in enumerate(model_labels):
        if label not in index:
            raise ModelError(f"member label {label!r} is not among the ensemble labels {labels}")
        out[:, index[label]] = proba[:, j]
    return out


def combine(
    probas: Sequence[np.ndarray], weights: Sequence[float], temperature: float = 1.0
) -> np.ndarray:
    """Weighted average of probability matrices (same columns), then a temperature."""
    w = np.asarray(weights, dtype=np.float64)
    avg = sum(wi * p for wi, p in zip(w / w.sum(), probas, strict=True))
    avg = np.asarray(avg, dtype=np.float64)
    if temperature != 1.0:
        z = np.log(np.clip(avg, 1e-12, 1.0)) / temperature
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        avg = z / z.sum(axis=1, keepdims=True)
    return avg


@register(MODEL_TYPE)
class EnsembleClassifier:
    """Weighted average of member classifiers' calibrated probabilities.

    Args:
        members: member model directories, relative to the ensemble's parent.
        weights: one non-negative weight per member (normalised to sum 1).
        labels: the ensemble's label order (default: the union of the
            members' labels, in the first member's order, then new ones).
        temperature: applied to the log of the averaged probabilities.
        tasks: per member, the head of a multi-task member to read (``None``: its default).
    """

    def __init__(
        self,
        members: Sequence[str] = (),
        weights: Sequence[float] = (),
        *,
        labels: Sequence[str] | None = None,
        temperature: float = 1.0,
        tasks: Sequence[str | None] | None = None,
    ) -> None:
        self.members = list(members)
        self.tasks = list(tasks) if tasks is not None else [None] * len(self.members)
        self.weights = list(weights)
        self.labels = list(labels) if labels is not None else None
        self.temperature = temperature

    def _validate(self, where: str | Path = "ensemble") -> None:
        if not self.members:
            raise InvalidInputError(f"{where}: an ensemble needs at least one member")
        if len(self.weights) != len(self.members):
            raise InvalidInputError(
                f"{where}: {len(self.members)} members but {len(self.weights)} weights"
            )
        if len(self.tasks) != len(self.members):
            raise InvalidInputError(
                f"{where}: {len(self.members)} members but {len(self.tasks)} tasks"
            )
        if any(not np.isfinite(w) or w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise InvalidInputError(
                f"{where}: weights must be non-negative and not all zero, got {self.weights}"
            )
        if not self.temperature > 0:
            raise InvalidInputError(f"{where}: temperature must be > 0, got {self.temperature}")
        for rel in self.members:
            _check_member_path(rel, where)

    def load_members(
        self, root: str | Path, models: Sequence[TextClassifier] | None = None
    ) -> EnsembleClassifier:
        """Open the members from ``root`` (or take already-open ``models``); returns ``self``."""
        self._validate(root)
        if models is None:
            models = [
                _head(shared_member(Path(root) / rel), task)
                for rel, task in zip(self.members, self.tasks, strict=True)
            ]
        if len(models) != len(self.members):
            raise InvalidInputError(f"{len(self.members)} members but {len(models)} models")
        labels = list(self.labels) if self.labels else []
        if not labels:
            for m in models:
                labels += [label for label in m.labels_ if label not in labels]
        self.labels_ = labels
        self.models_ = list(models)
        return self

    @property
    def classes_(self) -> list[str]:
        return self.labels_

    def member_probas(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each member's probabilities over the ensemble's labels."""
        if not hasattr(self, "models_"):
            raise ModelError("this ensemble has no members loaded: call load_members()")
        if isinstance(texts, str):
            texts = [texts]
        return [
            to_labels(m.predict_proba(texts), m.labels_, self.labels_)
            for m, w in zip(self.models_, self.weights, strict=True)
            if w > 0 or len(self.models_) == 1
        ]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Weighted average of the members' probabilities; columns follow ``labels_``."""
        active = [w for w in self.weights if w > 0] or self.weights
        return combine(self.member_probas(texts), active, self.temperature)

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.labels_[i] for i in proba.argmax(axis=1)]

    # -- artifact -----------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        self._validate()
        return {
            "model_type": MODEL_TYPE,
            "format_version": FORMAT_VERSION,
            "version": __version__,
            "labels": list(getattr(self, "labels_", None) or self.labels or []),
            "members": [
                {"path": rel, "weight": float(w), **({"task": task} if task else {})}
                for rel, w, task in zip(self.members, self.weights, self.tasks, strict=True)
            ],
            "temperature": float(self.temperature),
            "training": dict(getattr(self, "training_info_", {})),
        }

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` (members are referenced, not copied)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_NAME).write_text(
            json.dumps(self.config(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return path

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> EnsembleClassifier:
        """Open an ensemble directory and its members (relative to its parent directory)."""
        path = Path(directory)
        cfg = read_config(path)
        if cfg.get("model_type") != MODEL_TYPE:
            raise ModelError(f"{path} holds a {cfg.get('model_type')!r} model, not {MODEL_TYPE!r}")
        members = cfg.get("members")
        if not isinstance(members, list) or not members:
            raise ModelError(f"{path}/{CONFIG_NAME}: 'members' must be a non-empty list")
        try:
            rels = [str(m["path"]) for m in members]
            weights = [float(m["weight"]) for m in members]
            tasks = [str(m["task"]) if m.get("task") else None for m in members]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"{path}/{CONFIG_NAME}: each member needs a 'path' and a numeric 'weight'"
            ) from exc
        model = cls(
            rels,
            weights,
            labels=cfg.get("labels") or None,
            temperature=float(cfg.get("temperature", 1.0)),
            tasks=tasks,
        )
        try:
            model._validate(path)
        except InvalidInputError as exc:
            raise ModelError(str(exc)) from None
        opening: set[Path] = getattr(_OPENING, "dirs", set())
        key = path.resolve()
        if key in opening:
            raise ModelError(f"{path}: an ensemble cannot contain itself (a cycle of ensembles)")
        _OPENING.dirs = opening | {key}
        try:
            model.load_members(path.parent)
        finally:
            _OPENING.dirs = opening
        model.training_info_ = dict(cfg.get("training", {}))
        return model

    def __repr__(self) -> str:
        return f"EnsembleClassifier(members={self.members}, weights={self.weights})"
