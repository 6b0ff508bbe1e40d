"""Escalation risk and predicted satisfaction of a customer turn.

Two parts:

* a small logistic model over analyzer and conversation features, trained by
  ``benchmarks/train_escalation.py`` on the USS service-dialogue satisfaction
  data (positive = a user turn rated 1-2) and shipped as JSON
  (``escalation_model.json``: feature names, standardisation, weights), with a
  linear satisfaction (1-5) regressor beside it;
* rules for what that data cannot teach: anger, a worsening trend, explicit
  requests (转人工 / 投诉 / 退款 / "talk to a human" / "refund" / "complaint" /
  "manager"), repetition and long unresolved conversations.

The risk is the noisy-or of the model's probability and the rule
contributions, ``1 - (1 - p) * prod(1 - c_i)``, so every source can only raise
it, and each source that raised it is reported as a reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from emotiondesk.errors import ModelError

#: The features the model reads, in order (the JSON names them; they must match).
FEATURES: tuple[str, ...] = (
    "neg",
    "pos",
    "anger",
    "sad_fear",
    "smoothed_neg",
    "slope",
    "consecutive_negative",
    "turn",
    "request",
    "repetition",
    "frustrated",
    "closing",
    "agent_unhelpful",
    "agent_neg",
    "question",
    "length",
    "negation",
    "agent_question",
)

#: Anger (+ disgust) probability from which anger raises the risk; the
#: contribution grows linearly to 0.9 at 0.9.
ANGER_FLOOR = 0.4

REQUEST_WEIGHTS: dict[str, float] = {
    "human": 0.6,
    "manager": 0.6,
    "complaint": 0.65,
    "refund": 0.35,
    "cancel": 0.25,
}
REQUEST_TEXT: dict[str, str] = {
    "human": "asked for a human agent",
    "manager": "asked for a manager",
    "complaint": "threatened a complaint",
    "refund": "asked for a refund",
    "cancel": "wants to cancel",
}


@dataclass(frozen=True)
class RiskReason:
    """One source that raised the risk."""

    code: str
    detail: str
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Risk:
    """Escalation risk in [0, 1] with the reasons that raised it (strongest first)."""

    value: float
    reasons: list[RiskReason] = field(default_factory=list)
    model_probability: float = 0.0
    satisfaction: float = 3.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "reasons": [r.to_dict() for r in self.reasons],
            "model_probability": self.model_probability,
            "satisfaction": self.satisfaction,
        }


class EscalationModel:
    """Logistic dissatisfaction model + linear satisfaction regressor from JSON.

    Args:
        spec: the parsed JSON (``features``, ``mean``, ``scale``, ``coef``,
            ``intercept``; optional ``satisfaction`` with ``coef``/``intercept``).
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = dict(spec)
        try:
            self.features = tuple(spec["features"])
            self.mean = [float(v) for v in spec["mean"]]
            self.scale = [float(v) or 1.0 for v in spec["scale"]]
            self.coef = [float(v) for v in spec["coef"]]
            self.intercept = float(spec["intercept"])
            sat = spec.get("satisfaction") or {"coef": [0.0] * len(self.features), "intercept": 3.0}
            self.sat_coef = [float(v) for v in sat["coef"]]
            self.sat_intercept = float(sat["intercept"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"escalation model spec is malformed: {exc}") from None
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == len(self.sat_coef) == n):
            raise ModelError("escalation model spec: feature, mean, scale and coef lengths differ")
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ModelError(f"escalation model reads unknown features {sorted(unknown)}")

    @classmethod
    def load(cls, path: str | Path | None = None) -> EscalationModel:
        """Load a model JSON (default: the one shipped with the package)."""
        if path is None:
            return _shipped_model()
        try:
            return cls(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot read escalation model {path}: {exc}") from None

    def _z(self, x: Mapping[str, float]) -> list[float]:
        return [
            (float(x.get(name, 0.0)) - m) / s
            for name, m, s in zip(self.features, self.mean, self.scale, strict=True)
        ]

    def probability(self, x: Mapping[str, float]) -> float:
        """P(the customer rates this turn 1-2) under the learned model."""
        z = self.intercept + sum(c * v for c, v in zip(self.coef, self._z(x), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def satisfaction(self, x: Mapping[str, float]) -> float:
        """Predicted satisfaction on the 1-5 scale."""
        y = self.sat_intercept + sum(c * v for c, v in zip(self.sat_coef, self._z(x), strict=True))
        return max(1.0, min(5.0, y))


@lru_cache(maxsize=1)
def _shipped_model() -> EscalationModel:
    text = (
        resources.files("emotiondesk.dialogue").joinpath("escalation_model.json").read_text("utf-8")
    )
    return EscalationModel(json.loads(text))


def assess_risk(
    features: Mapping[str, float],
    *,
    anger: float,
    trend: str,
    slope: float,
    smoothed_score: float,
    consecutive_negative: int,
    requests: Sequence[str],
    repetition: float,
    customer_turns: int,
    model: EscalationModel,
    long_conversation: int = 8,
    plain_question: bool = False,
) -> Risk:
    """Combine the learned probability with the rule contributions.

    Args:
        features: the model's features of this turn (see :data:`FEATURES`).
        anger: anger + disgust probability of the turn read in context.
        trend, slope, smoothed_score, consecutive_negative: the trajectory.
        requests: explicit request kinds said in this turn.
        repetition: the highest similarity to an earlier customer turn (0-1).
        customer_turns: customer turns so far, this one included.
        model: the learned model.
        long_conversation: customer turns after which an unresolved
            conversation starts to count.
        plain_question: the turn is a question with no sign of frustration;
            anger read into it counts half (models trained on social media
            read many service questions as angry).
    """
    reasons: list[RiskReason] = []
    if anger >= ANGER_FLOOR:
        c = min(0.9, 0.9 * (anger - 0.3) / 0.6)
        if plain_question:
            c /= 2
        what = "a question that reads angry" if plain_question else "the customer sounds angry"
        reasons.append(RiskReason("anger", f"{what} ({anger:.2f})", c))
    if trend == "worsening" and smoothed_score < 0.5:
        c = min(0.45, 0.15 + 2.0 * abs(slope))
        reasons.append(
            RiskReason("worsening_trend", f"sentiment keeps falling (slope {slope:+.2f}/turn)", c)
        )
    if consecutive_negative >= 2:
        c = min(0.4, 0.1 * consecutive_negative)
        reasons.append(
            RiskReason("negative_streak", f"{consecutive_negative} negative turns in a row", c)
        )
    for kind in sorted(set(requests), key=lambda k: -REQUEST_WEIGHTS.get(k, 0.0)):
        if kind in REQUEST_WEIGHTS:
            reasons.append(RiskReason(f"request_{kind}", REQUEST_TEXT[kind], REQUEST_WEIGHTS[kind]))
    if repetition >= 0.6:
        reasons.append(
            RiskReason(
                "repetition", f"the customer is repeating themselves ({repetition:.2f})", 0.3
            )
        )
    if customer_turns >= long_conversation and smoothed_score < 0.5:
        c = min(0.4, 0.15 + 0.02 * (customer_turns - long_conversation))
        reasons.append(
            RiskReason(
                "long_unresolved", f"{customer_turns} customer turns and still not resolved", c
            )
        )
    p = model.probability(features)
    if p >= 0.1:
        reasons.append(RiskReason("model", f"learned dissatisfaction model: {p:.2f}", p))
    keep = 1.0 - p
    for r in reasons:
        if r.code != "model":
            keep *= 1.0 - r.contribution
    value = round(1.0 - keep, 4)
    reasons.sort(key=lambda r: -r.contribution)
    sat = model.satisfaction(features)
    # Rules lower the predicted satisfaction where the data had no such turns.
    sat = max(1.0, sat - 2.0 * max(0.0, value - p))
    return Risk(
        value=value,
        reasons=[RiskReason(r.code, r.detail, round(r.contribution, 4)) for r in reasons],
        model_probability=round(p, 4),
        satisfaction=round(sat, 3),
    )
