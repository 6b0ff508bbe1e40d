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
it, and each source that raised it is reported as a reason. The rules'
numbers are data, ``risk_rules.yaml`` beside this module, read once
(:class:`RiskRules`); a file of the same shape replaces them
(``EMOTIONDESK_RISK_FILE``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from emotiondesk.errors import DataError, ModelError

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

RULES_FILE = "risk_rules.yaml"


@dataclass(frozen=True)
class RiskRules:
    """The numbers of the risk rules (see ``risk_rules.yaml`` for each one's meaning).

    Example:
        >>> RiskRules.load().requests["complaint"]["weight"]
        0.65
    """

    anger: dict[str, float]
    worsening_trend: dict[str, float]
    negative_streak: dict[str, float]
    requests: dict[str, dict[str, Any]]
    repetition: dict[str, float]
    long_unresolved: dict[str, float]
    model: dict[str, float]
    satisfaction: dict[str, float]

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, source: str = "risk rules", defaults: bool = True
    ) -> RiskRules:
        """Rules from a parsed YAML mapping; with ``defaults``, keys it leaves out keep
        the shipped values."""
        if not isinstance(data, Mapping):
            raise DataError(f"{source}: expected a mapping of rule sections")
        shipped = _shipped_rules_data() if defaults else {}
        sections = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - sections)
        if unknown:
            raise DataError(f"{source}: unknown section(s) {unknown}; use {sorted(sections)}")
        values: dict[str, Any] = {}
        for name in sections:
            base = dict(shipped.get(name, {}))
            given = data.get(name, {})
            if not isinstance(given, Mapping):
                raise DataError(f"{source}: '{name}' must be a mapping")
            base.update(given)
            if name == "requests":
                for kind, req in base.items():
                    if not isinstance(req, Mapping) or "weight" not in req or "text" not in req:
                        raise DataError(f"{source}: requests.{kind} needs a weight and a text")
                    _check_number(req["weight"], f"{source}: requests.{kind}.weight", 0.0, 1.0)
                    base[kind] = {"weight": float(req["weight"]), "text": str(req["text"])}
            else:
                for key, value in base.items():
                    _check_number(value, f"{source}: {name}.{key}", 0.0, None)
                    base[key] = float(value)
            values[name] = base
        missing = [f"{n}.{k}" for n, keys in _REQUIRED.items() for k in keys if k not in values[n]]
        if missing:
            raise DataError(f"{source}: missing {', '.join(missing)}")
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path | None = None) -> RiskRules:
        """The rules in ``path`` (YAML) or, with ``None``, the shipped ones (read once)."""
        if path is None:
            return _shipped_rules()
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise DataError(f"cannot read risk rules {p}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise DataError(f"{p}: not valid YAML ({exc})") from None
        return cls.from_mapping(data, source=str(p))


_REQUIRED: dict[str, tuple[str, ...]] = {
    "anger": ("floor", "start", "span", "max", "plain_question_divisor"),
    "worsening_trend": ("below_score", "base", "per_slope", "max"),
    "negative_streak": ("min_turns", "per_turn", "max"),
    "requests": (),
    "repetition": ("threshold", "contribution"),
    "long_unresolved": ("turns", "below_score", "base", "per_turn", "max"),
    "model": ("report_from",),
    "satisfaction": ("rule_penalty",),
}


def _check_number(value: Any, where: str, lo: float, hi: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{where} must be a number, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise DataError(f"{where} must be {bound}, not {value!r}")


@lru_cache(maxsize=1)
def _shipped_rules_data() -> dict[str, Any]:
    text = resources.files("emotiondesk.dialogue").joinpath(RULES_FILE).read_text("utf-8")
    return dict(yaml.safe_load(text))


@lru_cache(maxsize=1)
def _shipped_rules() -> RiskRules:
    return RiskRules.from_mapping(_shipped_rules_data(), source=RULES_FILE, defaults=False)


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
    long_conversation: int | None = None,
    plain_question: bool = False,
    rules: RiskRules | None = None,
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
            conversation starts to count (default: the rules').
        plain_question: the turn is a question with no sign of frustration;
            anger read into it counts less (models trained on social media
            read many service questions as angry).
        rules: the rules' numbers (default: the shipped ``risk_rules.yaml``).
    """
    cfg = rules if rules is not None else _shipped_rules()
    ang, wor, streak, rep_, lng = (
        cfg.anger,
        cfg.worsening_trend,
        cfg.negative_streak,
        cfg.repetition,
        cfg.long_unresolved,
    )
    long_turns = int(lng["turns"]) if long_conversation is None else long_conversation
    reasons: list[RiskReason] = []
    if anger >= ang["floor"]:
        c = min(ang["max"], ang["max"] * (anger - ang["start"]) / ang["span"])
        if plain_question:
            c /= ang["plain_question_divisor"]
        what = "a question that reads angry" if plain_question else "the customer sounds angry"
        reasons.append(RiskReason("anger", f"{what} ({anger:.2f})", c))
    if trend == "worsening" and smoothed_score < wor["below_score"]:
        c = min(wor["max"], wor["base"] + wor["per_slope"] * abs(slope))
        reasons.append(
            RiskReason("worsening_trend", f"sentiment keeps falling (slope {slope:+.2f}/turn)", c)
        )
    if consecutive_negative >= streak["min_turns"]:
        c = min(streak["max"], streak["per_turn"] * consecutive_negative)
        reasons.append(
            RiskReason("negative_streak", f"{consecutive_negative} negative turns in a row", c)
        )
    weights = {k: v["weight"] for k, v in cfg.requests.items()}
    for kind in sorted(set(requests), key=lambda k: -weights.get(k, 0.0)):
        if kind in weights:
            reasons.append(RiskReason(f"request_{kind}", cfg.requests[kind]["text"], weights[kind]))
    if repetition >= rep_["threshold"]:
        reasons.append(
            RiskReason(
                "repetition",
                f"the customer is repeating themselves ({repetition:.2f})",
                rep_["contribution"],
            )
        )
    if customer_turns >= long_turns and smoothed_score < lng["below_score"]:
        c = min(lng["max"], lng["base"] + lng["per_turn"] * (customer_turns - long_turns))
        reasons.append(
            RiskReason(
                "long_unresolved", f"{customer_turns} customer turns and still not resolved", c
            )
        )
    p = model.probability(features)
    if p >= cfg.model["report_from"]:
        reasons.append(RiskReason("model", f"learned dissatisfaction model: {p:.2f}", p))
    keep = 1.0 - p
    for r in reasons:
        if r.code != "model":
            keep *= 1.0 - r.contribution
    value = round(1.0 - keep, 4)
    reasons.sort(key=lambda r: -r.contribution)
    sat = model.satisfaction(features)
    # Rules lower the predicted satisfaction where the data had no such turns.
    sat = max(1.0, sat - cfg.satisfaction["rule_penalty"] * max(0.0, value - p))
    return Risk(
        value=value,
        reasons=[RiskReason(r.code, r.detail, round(r.contribution, 4)) for r in reasons],
        model_probability=round(p, 4),
        satisfaction=round(sat, 3),
    )
