"""A correction model stacked on a saved classifier: what ``emotiondesk learn`` builds.

The base model's calibrated probabilities are kept, and a sparse n-gram
correction is added to their logits::

    p(y | text) = softmax(log p_base(y | text) + x(text) · W[:, y])

``x`` is a TF-IDF vector over the n-grams of the correction rows (the
agents' feedback, plus optional base training rows), and ``W`` is fitted by
L2-penalised maximum likelihood (L-BFGS). The penalty pulls ``W`` to zero,
i.e. the model to the base: with no evidence in a text's n-grams the base
answers unchanged; there is no bias term, so corrections (a biased sample:
agents correct mistakes) cannot shift every prediction. The penalty is
chosen by cross-validation on the rows when there are enough of them.

A directory holds ``config.json`` (``model_type: corrected``, ``base``: the
base model directory relative to the directory that holds this one, as an
ensemble names its members), ``vocab.json`` and ``weights.safetensors``.
No pickle; the base is any registered model kind.

Example:
    >>> clf = CorrectedClassifier("zh-polarity-ngram", language="zh")
    >>> clf.set_base(load_model("pack/zh-polarity-ngram"))      # doctest: +SKIP
    >>> clf.fit(texts, labels).predict(["这次质量真不错"])        # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import scipy.sparse as sp

from emotiondesk._version import __version__
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.models.base import (
    CONFIG_NAME,
    EstimatorParams,
    TextClassifier,
    load_model,
    read_config,
    register,
)
from emotiondesk.models.ensemble import to_labels
from emotiondesk.models.ngram import NgramFeaturizer

MODEL_TYPE = "corrected"
FORMAT_VERSION = 1
VOCAB_NAME = "vocab.json"
WEIGHTS_NAME = "weights.safetensors"
#: Candidate inverse penalties, tried by cross-validation (larger: stronger corrections).
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
#: Below this many rows the penalty is not cross-validated (``C`` is used as given).
MIN_ROWS_FOR_CV = 30
_NGRAMS: dict[str, dict[str, tuple[int, int] | None]] = {
    "zh": {"char": (1, 3), "word": None},
    "en": {"char": (2, 4), "word": (1, 2)},
}


def _check_base_path(rel: str, where: str | Path) -> None:
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or ".." in p.parts or "\\" in rel:
        raise ModelError(
            f"{where}: the base model {rel!r} must be a relative path without '..' "
            "(a model directory next to the correction model)"
        )


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    return z / z.sum(axis=1, keepdims=True)


def fit_correction(
    x: sp.csr_matrix,
    base_logp: np.ndarray,
    y: np.ndarray,
    *,
    C: float,
    anchors: tuple[sp.csr_matrix, np.ndarray] | None = None,
    anchor_weight: float = 0.5,
    max_iter: int = 300,
) -> np.ndarray:
    """``W`` minimising the rows' mean cross-entropy + the anchors' + ||W||^2 / (2 C n).

    ``anchors``: ``(x, base log-probabilities)`` of texts nobody corrected; their
    target is the base model's own reading (soft labels), so n-grams common in
    ordinary traffic cannot carry a correction to it. Weighted by ``anchor_weight``.
    """
    from scipy.optimize import minimize

    n, k = base_logp.shape
    v = x.shape[1]
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    penalty = 1.0 / (C * n)
    parts = [(x, base_logp, onehot, 1.0 / n)]
    if anchors is not None and anchors[0].shape[0]:
        xa, logpa = anchors
        parts.append((xa, logpa, np.exp(logpa), anchor_weight / xa.shape[0]))

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(v, k)
        loss = 0.5 * penalty * float((w * w).sum())
        grad = penalty * w
        for xs, logp, target, scale in parts:
            z = logp + xs @ w
            z = z - z.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(z).sum(axis=1))
            loss += scale * float((target * (log_norm[:, None] - z)).sum())
            p = np.exp(z - log_norm[:, None])
            grad = grad + scale * np.asarray(xs.T @ (p - target))
        return loss, grad.ravel()

    result = minimize(
        objective,
        np.zeros(v * k),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter},
    )
    return np.asarray(result.x, dtype=np.float32).reshape(v, k)


@register(MODEL_TYPE)
class CorrectedClassifier(EstimatorParams):
    """A base classifier's probabilities plus a penalised n-gram correction.

    Args:
        base: the base model directory, relative to this model's parent.
        language: ``zh`` or ``en`` (the n-gram settings).
        C: inverse penalty of the correction (larger: corrections count more);
            cross-validated over :data:`C_GRID` when ``cv`` and rows allow.
        cv: choose ``C`` by 3-fold cross-validation (log-likelihood).
        min_df: an n-gram enters the vocabulary when in this many rows.
        anchor_weight: weight of the anchors (uncorrected texts kept at the base's reading).
        labels: the label order (default: the base model's).
    """

    def __init__(
        self,
        base: str = "",
        *,
        language: str = "zh",
        C: float = 3.0,
        cv: bool = True,
        min_df: int = 1,
        anchor_weight: float = 2.0,
        labels: Sequence[str] | None = None,
    ) -> None:
        self.base = base
        self.anchor_weight = anchor_weight
        self.language = language
        self.C = C
        self.cv = cv
        self.min_df = min_df
        self.labels = list(labels) if labels is not None else None

    # -- fitting ----------------------------------------------------------------------------

    def set_base(self, model: TextClassifier) -> CorrectedClassifier:
        """Use an already opened base model; returns ``self``."""
        self.base_model_ = model
        self.models_ = [model]  # n-gram lookups are shared with the base (share_lookups)
        self.labels_ = list(self.labels) if self.labels else list(model.labels_)
        return self

    def _featurizer(self) -> NgramFeaturizer:
        if self.language not in _NGRAMS:
            raise InvalidInputError(f"language must be one of {sorted(_NGRAMS)}")
        grams = _NGRAMS[self.language]
        return NgramFeaturizer(char_ngram_range=grams["char"], word_ngram_range=grams["word"])

    def base_logp(self, texts: Sequence[str]) -> np.ndarray:
        if not hasattr(self, "base_model_"):
            raise ModelError("the correction model has no base model: call set_base()")
        proba = to_labels(
            self.base_model_.predict_proba(list(texts)), self.base_model_.labels_, self.labels_
        )
        return np.log(np.clip(proba, 1e-9, 1.0))

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        anchors: Sequence[str] = (),
        progress: Callable[[int], None] | None = None,
    ) -> CorrectedClassifier:
        """Fit the correction on ``texts`` / ``labels`` (the base must be set).

        ``anchors``: uncorrected texts (e.g. other stored messages) on which the
        model should keep reading what the base reads (weight ``anchor_weight``).
        """
        texts = list(texts)
        if len(texts) != len(labels):
            raise InvalidInputError(f"{len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise InvalidInputError("no rows to learn from")
        index = {
            label: i for i, label in enumerate(self.labels_ if hasattr(self, "labels_") else [])
        }
        unknown = sorted({str(y) for y in labels} - set(index))
        if unknown:
            raise InvalidInputError(f"labels {unknown} are not among {list(index)}")
        y = np.array([index[str(label)] for label in labels])
        featurizer = self._featurizer()
        grams = featurizer.build(
            [featurizer.preprocess(t) for t in texts], min_df=self.min_df, max_features=200_000
        )
        x = featurizer.weigh(featurizer.counts(grams)).astype(np.float64)
        logp = self.base_logp(texts)
        anchor_data = None
        if anchors:
            xa = featurizer.weigh(
                featurizer.counts([featurizer.ngrams(featurizer.preprocess(t)) for t in anchors])
            ).astype(np.float64)
            anchor_data = (xa, self.base_logp(anchors))
        c, scores = float(self.C), {}
        if self.cv and len(texts) >= MIN_ROWS_FOR_CV:
            c, scores = self._choose_c(x, logp, y, anchor_data)
        self.weights_ = fit_correction(
            x, logp, y, C=c, anchors=anchor_data, anchor_weight=self.anchor_weight
        )
        self.featurizer_ = featurizer
        self.C_ = c
        base_acc = float((logp.argmax(axis=1) == y).mean())
        fitted = (logp + x @ self.weights_).argmax(axis=1)
        self.training_info_ = {
            "n_train": len(texts),
            "n_anchors": len(anchors),
            "anchor_weight": self.anchor_weight,
            "label_counts": {lab: int((y == i).sum()) for lab, i in index.items()},
            "n_features": len(featurizer.vocabulary),
            "C": c,
            "cv_log_likelihood": scores,
            "train_accuracy_base": round(base_acc, 4),
            "train_accuracy": round(float((fitted == y).mean()), 4),
        }
        if progress:
            progress(len(texts))
        return self

    def _choose_c(
        self,
        x: sp.csr_matrix,
        logp: np.ndarray,
        y: np.ndarray,
        anchors: tuple[sp.csr_matrix, np.ndarray] | None,
    ) -> tuple[float, dict[str, float]]:
        """3-fold CV: held-out rows' log-likelihood minus the held-out anchors' drift (KL).

        Both halves count: a penalty that fits the corrections but moves the
        reading of ordinary traffic (the anchors) scores worse.
        """
        rng = np.random.default_rng(0)
        folds = np.arange(len(y)) % 3
        rng.shuffle(folds)
        a_folds = None
        if anchors is not None and anchors[0].shape[0] >= 3:
            a_folds = np.arange(anchors[0].shape[0]) % 3
            rng.shuffle(a_folds)
        scores: dict[str, float] = {}
        for c in C_GRID:
            total = 0.0
            for k in range(3):
                tr, te = folds != k, folds == k
                fold_anchors, held = anchors, None
                if anchors is not None and a_folds is not None:
                    fold_anchors = (anchors[0][a_folds != k], anchors[1][a_folds != k])
                    held = (anchors[0][a_folds == k], anchors[1][a_folds == k])
                w = fit_correction(
                    x[tr],
                    logp[tr],
                    y[tr],
                    C=c,
                    anchors=fold_anchors,
                    anchor_weight=self.anchor_weight,
                    max_iter=150,
                )
                p = _softmax(logp[te] + x[te] @ w)
                total += float(np.log(np.clip(p[np.arange(te.sum()), y[te]], 1e-12, 1)).sum())
                if held is not None:
                    q = np.log(np.clip(_softmax(held[1] + held[0] @ w), 1e-12, 1))
                    kl = float((np.exp(held[1]) * (held[1] - q)).sum(axis=1).mean())
                    total -= self.anchor_weight * kl * len(y) / 3
            scores[str(c)] = round(total / len(y), 5)
        best = max(C_GRID, key=lambda c: scores[str(c)])
        return float(best), scores

    # -- inference --------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise ModelError("this correction model is not fitted yet: call fit() first")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities over ``labels_``."""
        self._check_fitted()
        if isinstance(texts, str):
            texts = [texts]
        logp = self.base_logp(texts)
        x = self.featurizer_.transform(list(texts))
        return _softmax(logp + np.asarray(x @ self.weights_))

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.labels_[i] for i in proba.argmax(axis=1)]

    # -- artifact ---------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "model_type": MODEL_TYPE,
            "format_version": FORMAT_VERSION,
            "version": __version__,
            "language": self.language,
            "labels": list(self.labels_),
            "base": self.base,
            "preprocessing": self.featurizer_.settings(),
            "params": {"C": float(getattr(self, "C_", self.C)), "min_df": self.min_df},
            "training": dict(getattr(self, "training_info_", {})),
        }

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json``, ``vocab.json`` and ``weights.safetensors`` (not the base)."""
        from safetensors.numpy import save_file

        _check_base_path(self.base, directory)
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_NAME).write_text(
            json.dumps(self.config(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        vocab = sorted(self.featurizer_.vocabulary, key=self.featurizer_.vocabulary.__getitem__)
        (path / VOCAB_NAME).write_text(
            json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
        save_file(
            {"weight": np.ascontiguousarray(self.weights_), "idf": self.featurizer_.idf},
            str(path / WEIGHTS_NAME),
            metadata={"format": "emotiondesk-corrected", "format_version": str(FORMAT_VERSION)},
        )
        return path

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> CorrectedClassifier:
        """Open a correction model and its base (relative to the directory's parent)."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(directory)
        cfg = read_config(path)
        if cfg.get("model_type") != MODEL_TYPE:
            raise ModelError(f"{path} holds a {cfg.get('model_type')!r} model, not {MODEL_TYPE!r}")
        base = str(cfg.get("base") or "")
        _check_base_path(base, path)
        try:
            vocab = json.loads((path / VOCAB_NAME).read_text(encoding="utf-8"))
            arrays = load_file(str(path / WEIGHTS_NAME))
        except (OSError, json.JSONDecodeError, SafetensorError) as exc:
            raise ModelError(f"cannot read the correction model in {path}: {exc}") from exc
        labels = list(cfg.get("labels") or [])
        weights = arrays["weight"].astype(np.float32)
        if not isinstance(vocab, list) or weights.shape != (len(vocab), len(labels)):
            raise ModelError(f"{path}: vocabulary, labels and weights disagree in size")
        params = cfg.get("params", {})
        model = cls(
            base,
            language=str(cfg.get("language", "zh")),
            C=float(params.get("C", 3.0)),
            min_df=int(params.get("min_df", 1)),
            labels=labels,
        )
        model.set_base(load_model(path.parent / base))
        featurizer = model._featurizer()
        featurizer.vocabulary = {g: i for i, g in enumerate(vocab)}
        featurizer.idf = arrays["idf"].astype(np.float32)
        model.featurizer_ = featurizer
        model.weights_ = weights
        model.C_ = model.C
        model.training_info_ = dict(cfg.get("training", {}))
        return model

    def __repr__(self) -> str:
        return f"CorrectedClassifier(base={self.base!r}, language={self.language!r})"
