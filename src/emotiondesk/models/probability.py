"""Probability maths, in one place: softmax, temperature scaling (Guo et al. 2017),
negative log-likelihood, expected calibration error and reliability tables.

Every model and trainer uses these, so "calibrated" means one thing: the
temperature minimising the dev negative log-likelihood (a bounded 1-D search
on log T, never worse than no scaling), and ECE is top-label ECE with
equal-width confidence bins (15 unless told).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 500)
    >>> logits = 5.0 * np.eye(3)[y] + rng.normal(0, 3, (500, 3))
    >>> t = fit_temperature(logits, y)
    >>> t > 1.0                                                   # over-confident logits
    True
    >>> bool(expected_calibration_error(softmax(logits, t), y) < expected_calibration_error(softmax(logits), y))
    True
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

#: Confidence bins of the expected calibration error.
ECE_BINS = 15
#: The range searched for the temperature.
TEMPERATURE_BOUNDS = (0.05, 20.0)


def softmax(
    logits: np.ndarray, temperature: float = 1.0, *, dtype: DTypeLike | None = np.float64
) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (numerically stable).

    Args:
        logits: scores, classes on the last axis.
        temperature: divides the logits first (1.0: none).
        dtype: the computation's and result's dtype; ``None`` keeps the
            logits' own (the models' inference paths, in float32).
    """
    z = np.asarray(logits, dtype=dtype)
    if temperature != 1.0:
        z = z / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def nll(
    logits: np.ndarray,
    labels: np.ndarray,
    temperature: float = 1.0,
    sample_weight: np.ndarray | None = None,
) -> float:
    """Mean (weighted, when ``sample_weight`` is given) NLL of ``labels`` under ``softmax(logits / T)``."""
    proba = softmax(logits, temperature)
    picked = proba[np.arange(len(labels)), np.asarray(labels, dtype=int)]
    losses = -np.log(np.clip(picked, 1e-12, None))
    if sample_weight is None:
        return float(losses.mean())
    return float(np.average(losses, weights=np.asarray(sample_weight, dtype=np.float64)))


def fit_temperature(
    logits: np.ndarray,
    labels: np.ndarray,
    *,
    bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The temperature minimising dev NLL (bounded 1-D search on log T).

    ``sample_weight`` weighs the rows (soft targets written as one weighted row
    per class give the expected NLL under those targets).
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    if len(labels) == 0:
        return 1.0
    from scipy.optimize import minimize_scalar

    w = sample_weight
    res = minimize_scalar(
        lambda log_t: nll(logits, labels, float(np.exp(log_t)), w),
        bounds=(np.log(bounds[0]), np.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-4},
    )
    t = float(np.exp(res.x))
    # Never return something worse than no scaling.
    return t if nll(logits, labels, t, w) <= nll(logits, labels, 1.0, w) else 1.0


def expected_calibration_error(
    proba: np.ndarray, labels: np.ndarray, n_bins: int = ECE_BINS
) -> float:
    """ECE: mean |accuracy - confidence| over equal-width confidence bins, weighted by size."""
    proba = np.asarray(proba, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    if len(labels) == 0:
        return 0.0
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def reliability_table(
    proba: np.ndarray, labels: np.ndarray, n_bins: int = 10
) -> list[dict[str, Any]]:
    """Per-bin confidence, accuracy and count (the data of a reliability diagram)."""
    proba = np.asarray(proba, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    rows = []
    for lo, hi in itertools.pairwise(edges):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            rows.append(
                {
                    "bin": f"({lo:.1f}, {hi:.1f}]",
                    "confidence": float(conf[mask].mean()),
                    "accuracy": float(correct[mask].mean()),
                    "count": int(mask.sum()),
                }
            )
    return rows
