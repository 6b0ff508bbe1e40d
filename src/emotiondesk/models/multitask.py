"""What the transformer and ONNX classifiers share: task heads, batching, calibration.

A deep model here is one encoder with one head per task (``polarity``,
``emotion``). One forward pass computes every head's logits; the pack can
route both tasks of a language to the same model directory and the analyzer
asks :meth:`MultiTaskClassifier.for_task` for a per-task view. The last
batch's outputs are cached, so the polarity call and the emotion call on the
same batch share a single forward pass.

Probabilities are temperature-scaled (the temperature of each head is fitted
on dev data at training time and saved in ``config.json``).

This module imports numpy only: the ONNX kind runs without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk.errors import InvalidInputError
from emotiondesk.models.probability import softmax
from emotiondesk.text.normalize import normalize

DEFAULT_BATCH_SIZE = 64


class TaskView:
    """One head of a multi-task model, with the plain classifier interface.

    Example:
        >>> polarity = model.for_task("polarity")   # doctest: +SKIP
        >>> polarity.labels_, polarity.predict_proba(["great"]).shape  # doctest: +SKIP
    """

    def __init__(self, model: MultiTaskClassifier, task: str) -> None:
        self.model = model
        self.task = task
        self.labels_ = list(model.tasks_[task])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.predict_proba(texts, task=self.task)

    def predict(self, texts: Sequence[str]) -> list[str]:
        return self.model.predict(texts, task=self.task)

    def save_pretrained(self, directory: str | Path) -> Path:
        return self.model.save_pretrained(directory)

    def __repr__(self) -> str:
        return f"TaskView({self.model!r}, task={self.task!r})"


class MultiTaskClassifier:
    """Base of the multi-head kinds: subclasses implement ``_forward_batch``.

    Learned state (set by ``from_pretrained`` or the trainer):

    * ``tasks_``: ``{task: [labels]}`` in head order;
    * ``temperatures_``: ``{task: T}`` (1.0 means uncalibrated);
    * ``task_``: the default task (``labels_`` and ``predict_proba`` without
      ``task=`` use it).
    """

    tasks_: dict[str, list[str]]
    temperatures_: dict[str, float]
    task_: str
    batch_size: int = DEFAULT_BATCH_SIZE

    #: the last batch's texts and logits, as one tuple (replaced whole: thread-safe to read)
    _last: tuple[tuple[str, ...], dict[str, np.ndarray]] | None = None

    @property
    def labels_(self) -> list[str]:
        return list(self.tasks_[self.task_])

    def for_task(self, task: str) -> TaskView:
        """A view of one head (what a pack route to this model gets)."""
        self._check_task(task)
        return TaskView(self, task)

    def _check_task(self, task: str) -> None:
        if task not in self.tasks_:
            raise InvalidInputError(
                f"this model has no {task!r} head; it serves: {', '.join(self.tasks_)}"
            )

    # -- preprocess -> forward -> postprocess: subclasses give _forward_batch -------

    def _forward_batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Raw logits of every head for one batch (``{task: (n, k)}``)."""
        raise NotImplementedError

    def predict_logits(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Uncalibrated logits of every head; batching lives here and only here.

        Texts are sorted by length so each batch pads little, then put back in order.
        """
        texts = [t if isinstance(t, str) else _not_str(i, t) for i, t in enumerate(texts)]
        # Training normalises every text (training/data.py); so must inference, or a
        # direct caller (evaluate --model DIR) scores text the model never saw in that
        # form (full-width punctuation, traditional forms...). Idempotent for the analyzer.
        texts = [normalize(t) for t in texts]
        key = tuple(texts)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        n = len(texts)
        out = {t: np.zeros((n, len(labels)), dtype=np.float32) for t, labels in self.tasks_.items()}
        if n:
            order = np.argsort([len(t) for t in texts], kind="stable")
            bs = max(1, int(self.batch_size))
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                logits = self._forward_batch([texts[i] for i in idx])
                for task in out:
                    out[task][idx] = logits[task]
        self._last = (key, out)
        return out

    def predict_proba_all(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Calibrated probabilities of every head from one forward pass."""
        logits = self.predict_logits(texts)
        return {t: softmax(z, self.temperatures_.get(t, 1.0)) for t, z in logits.items()}

    def predict_proba(self, texts: Sequence[str], *, task: str | None = None) -> np.ndarray:
        """Calibrated probabilities; columns follow ``tasks_[task]`` (default task: ``labels_``)."""
        task = task or self.task_
        self._check_task(task)
        if isinstance(texts, str):
            texts = [texts]
        z = self.predict_logits(texts)[task]
        return softmax(z, self.temperatures_.get(task, 1.0))

    def predict(self, texts: Sequence[str], *, task: str | None = None) -> list[str]:
        task = task or self.task_
        proba = self.predict_proba(texts, task=task)
        labels = self.tasks_[task]
        return [labels[i] for i in proba.argmax(axis=1)]

    def clear_cache(self) -> None:
        self._last = None

    def save_pretrained(self, directory: str | Path) -> Path:  # pragma: no cover - abstract
        raise NotImplementedError


def _not_str(i: int, value: Any) -> str:
    raise InvalidInputError(f"text #{i} is a {type(value).__name__}, not a string")
