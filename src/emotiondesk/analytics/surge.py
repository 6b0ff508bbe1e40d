"""Negative-surge detection (opinion monitoring) against a rolling baseline.

For each key (a product category, a product, or anything else) the stream is
cut into fixed time buckets (an hour by default) holding ``n`` messages of
which ``k`` are negative. Bucket ``t`` is tested against the baseline rate
``p0`` of the previous ``baseline_buckets`` buckets (smoothed with a weak
prior, so a quiet history does not make every negative message a surge):

* ``method="binomial"`` (default): ``P(X >= k | X ~ Binomial(n, p0))``; robust to
  traffic changes (a sale that doubles volume does not alert by itself);
* ``method="poisson"``: ``P(X >= k | X ~ Poisson(lambda0))`` with ``lambda0`` the
  baseline mean negative count per bucket; alerts on more negative messages
  whatever the share.

A bucket is *anomalous* when that p-value is below ``alpha``, ``k >= min_count``
and the share is at least ``min_lift`` times the baseline (the count, for ``poisson``). An alert is raised
on the first anomalous bucket of an *episode*; the episode stays open (no new
alert) until ``cooldown`` consecutive normal buckets have passed. Anomalous
buckets are left out of the baseline, so a long surge does not become the
new normal. ``sensitivity`` names preset ``alpha`` values.

Example:
    >>> det = SurgeDetector(baseline_buckets=24, min_history=6)
    >>> alerts = [a for t in range(48)
    ...           for a in det.update("phones", t, n=50, k=10 if t != 40 else 30)]
    >>> [(a.key, a.bucket) for a in alerts]
    [('phones', 40)]
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from emotiondesk.errors import InvalidInputError

#: Named sensitivities -> alpha (the per-bucket false-alarm probability before cooldown).
SENSITIVITY: dict[str, float] = {"low": 1e-4, "medium": 1e-3, "high": 1e-2}
METHODS = ("binomial", "poisson")


@dataclass(frozen=True, slots=True)
class SurgeAlert:
    """A negative surge, with its evidence."""

    key: Hashable
    bucket: Any
    count: int
    total: int
    share: float
    baseline_share: float
    expected: float
    p_value: float
    method: str
    examples: tuple[str, ...] = ()

    @property
    def lift(self) -> float:
        return self.share / self.baseline_share if self.baseline_share > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        bucket = self.bucket.isoformat() if hasattr(self.bucket, "isoformat") else self.bucket
        return {
            "key": self.key,
            "bucket": bucket,
            "count": self.count,
            "total": self.total,
            "share": self.share,
            "baseline_share": self.baseline_share,
            "expected": self.expected,
            "p_value": self.p_value,
            "lift": None if math.isinf(self.lift) else self.lift,
            "method": self.method,
            "examples": list(self.examples),
        }


@dataclass
class _KeyState:
    history: deque[tuple[int, int]]
    in_episode: bool = False
    calm: int = 0
    seen: int = 0


@dataclass
class SurgeDetector:
    """Streaming surge detector; one state per key. Feed buckets in time order.

    Args:
        baseline_buckets: how many past buckets form the baseline.
        min_history: buckets needed before a key can alert.
        alpha: significance level; overrides ``sensitivity`` when given.
        sensitivity: ``low`` | ``medium`` | ``high`` (alpha 1e-4, 1e-3, 1e-2).
        min_count: least negative messages in a bucket to alert.
        min_lift: least ratio of the bucket's share to the baseline share.
        cooldown: normal buckets that close an episode.
        method: ``binomial`` or ``poisson``.
        prior_share: prior negative share for smoothing (weight ``prior_weight`` messages).
        min_baseline: least messages in the baseline window before a key can alert.
    """

    baseline_buckets: int = 168
    min_history: int = 24
    alpha: float | None = None
    sensitivity: str = "medium"
    min_count: int = 5
    min_lift: float = 1.5
    cooldown: int = 6
    method: str = "binomial"
    prior_share: float = 0.2
    prior_weight: float = 20.0
    min_baseline: int = 30
    _states: dict[Hashable, _KeyState] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.alpha is None:
            if self.sensitivity not in SENSITIVITY:
                raise InvalidInputError(
                    f"unknown sensitivity {self.sensitivity!r}; use {', '.join(SENSITIVITY)}"
                )
            self.alpha = SENSITIVITY[self.sensitivity]
        if not 0 < self.alpha < 1:
            raise InvalidInputError("alpha must be between 0 and 1")
        if self.method not in METHODS:
            raise InvalidInputError(f"unknown method {self.method!r}; use {', '.join(METHODS)}")
        if self.baseline_buckets < 1 or self.min_history < 1 or self.cooldown < 0:
            raise InvalidInputError("baseline_buckets and min_history must be >= 1, cooldown >= 0")

    def test(
        self, n: int, k: int, history: Sequence[tuple[int, int]]
    ) -> tuple[float, float, float]:
        """(p-value, baseline share, expected count) of ``k`` negatives out of ``n``."""
        hist_n = sum(h[0] for h in history)
        hist_k = sum(h[1] for h in history)
        p0 = (hist_k + self.prior_share * self.prior_weight) / (hist_n + self.prior_weight)
        if self.method == "binomial":
            expected = n * p0
            p_value = float(stats.binom.sf(k - 1, n, p0)) if n > 0 and k > 0 else 1.0
        else:
            lam = max(hist_k / max(len(history), 1), 0.5)
            expected = lam
            p_value = float(stats.poisson.sf(k - 1, lam)) if k > 0 else 1.0
        return p_value, p0, expected

    def update(
        self, key: Hashable, bucket: Any, *, n: int, k: int, examples: Sequence[str] = ()
    ) -> list[SurgeAlert]:
        """Add one bucket of ``key``; return the alert it raises (at most one)."""
        if n < 0 or k < 0 or k > n:
            raise InvalidInputError(f"bucket {bucket!r}: need 0 <= negatives <= messages")
        st = self._states.get(key)
        if st is None:
            st = self._states[key] = _KeyState(history=deque(maxlen=self.baseline_buckets))
        alerts: list[SurgeAlert] = []
        anomalous = False
        if (
            st.seen >= self.min_history
            and n > 0
            and sum(h[0] for h in st.history) >= self.min_baseline
        ):
            p_value, p0, expected = self.test(n, k, st.history)
            share = k / n
            # the lift is on the share (binomial) or on the count (poisson)
            lifted = (
                share >= self.min_lift * p0
                if self.method == "binomial"
                else k >= self.min_lift * expected
            )
            anomalous = p_value < (self.alpha or 0.0) and k >= self.min_count and lifted
            if anomalous and not st.in_episode:
                alerts.append(
                    SurgeAlert(
                        key=key,
                        bucket=bucket,
                        count=k,
                        total=n,
                        share=share,
                        baseline_share=p0,
                        expected=expected,
                        p_value=p_value,
                        method=self.method,
                        examples=tuple(examples[:5]),
                    )
                )
        st.seen += 1
        if anomalous:
            st.in_episode = True
            st.calm = 0
        else:
            if st.in_episode:
                st.calm += 1
                if st.calm >= self.cooldown:
                    st.in_episode = False
            st.history.append((n, k))
        return alerts

    def in_episode(self, key: Hashable) -> bool:
        st = self._states.get(key)
        return bool(st and st.in_episode)


def detect_surges(
    series: Iterable[tuple[Hashable, Any, int, int]],
    *,
    examples: dict[tuple[Hashable, Any], Sequence[str]] | None = None,
    **params: Any,
) -> list[SurgeAlert]:
    """Run a fresh :class:`SurgeDetector` over ``(key, bucket, n, k)`` rows in time order.

    Missing buckets are not filled in: pass zero-count buckets explicitly when
    silence matters (see :func:`fill_buckets`).
    """
    det = SurgeDetector(**params)
    out: list[SurgeAlert] = []
    for key, bucket, n, k in series:
        ex = (examples or {}).get((key, bucket), ())
        out.extend(det.update(key, bucket, n=n, k=k, examples=ex))
    return out


def fill_buckets(
    counts: dict[tuple[Hashable, Any], tuple[int, int]], buckets: Sequence[Any]
) -> list[tuple[Hashable, Any, int, int]]:
    """Rows ``(key, bucket, n, k)`` for every key and every bucket (absent ones are 0, 0)."""
    keys = sorted({k for k, _b in counts}, key=str)
    rows = []
    for b in buckets:
        for key in keys:
            n, k = counts.get((key, b), (0, 0))
            rows.append((key, b, n, k))
    return rows
