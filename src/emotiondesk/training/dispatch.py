"""One place that decides how ``emotiondesk train`` trains: by ``--base``.

* ``--base ngram`` (the default): a fast n-gram model
  (:func:`emotiondesk.training.ngram.train_ngram`).
* ``--base use`` (or ``use-head``): a head on the multilingual USE sentence
  embeddings (:func:`emotiondesk.training.use_head.train_use_head`).
* ``--base charcnn`` / ``--base bigru``: a char-CNN or BiGRU trained from
  scratch (:func:`emotiondesk.training.charnn.train_charnn`).
* anything else (a Hugging Face id or a local checkpoint directory): the
  transformer trainer, ``emotiondesk.training.transformer:train_transformer``,
  called with the same keyword arguments.

Every trainer takes ``(*, task, train, dev, out, base, dataset, options)``
where ``train``/``dev`` are :class:`emotiondesk.data.LabelledData` (dev may be
``None``) and ``options`` the command's extra settings, writes a model
directory (``config.json`` + arrays, no pickle) to ``out`` and returns a JSON
summary (at least ``model_dir``, ``n_train`` and ``dev`` with the evaluation).

Every trainer returned by :func:`get_trainer` first drops the training rows
whose text is in the customer-service turn set, an evaluation set that is
never trained on (:mod:`emotiondesk.training.heldout`).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from emotiondesk.errors import InvalidInputError

NGRAM_BASES = ("ngram",)
USE_BASES = ("use", "use-head")
#: ``--base`` names of the small from-scratch networks (``charnn`` model kind).
CHARNN_BASES = ("charcnn", "bigru")
#: base kind -> "module:function"
TRAINERS: dict[str, str] = {
    "ngram": "emotiondesk.training.ngram:train_ngram",
    "use": "emotiondesk.training.use_head:train_use_head",
    "transformer": "emotiondesk.training.transformer:train_transformer",
    "charnn": "emotiondesk.training.charnn:train_charnn",
}


def trainer_kind(base: str) -> str:
    """Which trainer serves ``--base base``."""
    if base in NGRAM_BASES:
        return "ngram"
    if base in USE_BASES:
        return "use"
    return "charnn" if base in CHARNN_BASES else "transformer"


def get_trainer(base: str) -> Callable[..., dict[str, Any]]:
    """The training function for ``base`` (imported lazily)."""
    kind = trainer_kind(base)
    module_name, func_name = TRAINERS[kind].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name and exc.name.startswith("emotiondesk"):
            raise InvalidInputError(
                f"--base {base!r}: this build has no {kind} trainer; use --base ngram"
            ) from None
        raise InvalidInputError(
            f"--base {base!r} needs the training extras: pip install 'emotiondesk[train]' "
            f"({exc.name} is missing)"
        ) from None
    return _refusing_heldout(getattr(module, func_name))


def _refusing_heldout(trainer: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``trainer`` with the held-out customer-service turns removed from ``train``."""

    @functools.wraps(trainer)
    def train(*args: Any, **kwargs: Any) -> dict[str, Any]:
        from emotiondesk.training.heldout import drop_heldout

        if kwargs.get("train") is not None:
            kwargs["train"] = drop_heldout(kwargs["train"])
        return trainer(*args, **kwargs)

    return train
