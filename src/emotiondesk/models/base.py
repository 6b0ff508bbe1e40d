"""The one interface every classifier follows, and the registry that loads them.

A classifier is a scikit-learn-style estimator over raw texts:

* ``__init__`` only stores parameters; ``fit(texts, labels)`` returns ``self``;
  learned state ends in ``_`` (``labels_`` among it).
* ``predict_proba(texts)`` returns an ``(n, len(labels_))`` float array whose
  columns follow ``labels_``; ``predict(texts)`` returns label names.
* ``save_pretrained(dir)`` writes a directory with a ``config.json`` whose
  ``model_type`` names the class (see :func:`register`), the labels, the
  preprocessing settings and the version; ``from_pretrained(dir)`` reads it.
  Artifacts hold JSON and array files only (no pickle), so a model directory
  from elsewhere is safe to open.

:func:`load_model` opens any registered kind from its directory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

import numpy as np

from emotiondesk.errors import ModelError

CONFIG_NAME = "config.json"


@runtime_checkable
class TextClassifier(Protocol):
    """What the analyzer needs of a classifier."""

    labels_: list[str]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def save_pretrained(self, directory: str | Path) -> Path: ...


class EstimatorParams:
    """scikit-learn's ``get_params`` / ``set_params``: the constructor's arguments are the params."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> Self:
        known = self.get_params()
        for key, value in params.items():
            if key not in known:
                raise ValueError(f"unknown parameter {key!r}")
            setattr(self, key, value)
        return self


_Loader = Callable[[Path], TextClassifier]
_REGISTRY: dict[str, _Loader] = {}
# Modules that register model kinds; imported lazily so that loading an
# n-gram pack never imports torch or onnxruntime.
_KIND_MODULES: dict[str, str] = {
    "ngram": "emotiondesk.models.ngram",
    "transformer": "emotiondesk.models.transformer",
    "onnx": "emotiondesk.models.onnx",
    "use_head": "emotiondesk.models.use_head",
    "ensemble": "emotiondesk.models.ensemble",
    "charnn": "emotiondesk.models.charnn",
    "corrected": "emotiondesk.models.corrected",
}

C = TypeVar("C")


def register(model_type: str, *, module: str | None = None) -> Callable[[C], C]:
    """Class decorator: make ``load_model`` open ``model_type`` with ``cls.from_pretrained``."""

    def deco(cls: C) -> C:
        _REGISTRY[model_type] = cls.from_pretrained  # type: ignore[attr-defined]
        if module is not None:
            _KIND_MODULES.setdefault(model_type, module)
        return cls

    return deco


def register_kind_module(model_type: str, module: str) -> None:
    """Tell :func:`load_model` which module defines ``model_type`` (imported on demand)."""
    _KIND_MODULES[model_type] = module


def read_config(directory: str | Path) -> dict[str, Any]:
    """Read a model directory's ``config.json`` with clear errors."""
    path = Path(directory)
    if not path.is_dir():
        raise ModelError(f"model directory {str(path)!r} does not exist")
    cfg_path = path / CONFIG_NAME
    if not cfg_path.is_file():
        raise ModelError(f"{str(path)!r} is not an emotiondesk model directory (no {CONFIG_NAME})")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {cfg_path}: {exc}") from exc
    if not isinstance(cfg, dict) or "model_type" not in cfg:
        raise ModelError(f"{cfg_path} has no 'model_type'")
    return cfg


def load_model(directory: str | Path) -> TextClassifier:
    """Open a saved classifier of any registered kind.

    Example:
        >>> model = load_model("models/zh-polarity-ngram")  # doctest: +SKIP
        >>> model.predict_proba(["物流太慢了"]).shape       # doctest: +SKIP
        (1, 3)
    """
    cfg = read_config(directory)
    kind = str(cfg["model_type"])
    if kind not in _REGISTRY and kind in _KIND_MODULES:
        import importlib

        importlib.import_module(_KIND_MODULES[kind])
    try:
        loader = _REGISTRY[kind]
    except KeyError:
        known = ", ".join(sorted(set(_REGISTRY) | set(_KIND_MODULES)))
        raise ModelError(f"unknown model_type {kind!r} in {directory}; known: {known}") from None
    return loader(Path(directory))
