"""Context-aware turn analysis: read a turn with the turns before it.

A message's own probabilities are blended with a context distribution built
from the previous turns of both parties in the window::

    context  = sum_k decay**k * w(role_k) * p_k / sum_k decay**k * w(role_k)
    blended  = (1 - a) * p_turn + a * context

with ``a = alpha_short`` for short turns ("fine.", "好吧", "ok") and
``alpha_long`` otherwise (and ``a = 0`` for turns the model is already sure
of, top probability >= ``max_confidence``), so "fine." after three complaints is not read as
content. The weights are measured per language by
``benchmarks/dialogue_context.py`` on the dialogue dev sets and shipped in
``context_params.json``; where context did not win, ``a`` is 0 and the turn is
read on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from emotiondesk.analyzer import AnalysisResult
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS, POLARITY_VALUES

_PUNCT_RE = re.compile(r"[\W_]+", re.UNICODE)
_HAN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class ContextParams:
    """How much a turn leans on its context (see the module docstring)."""

    alpha_short: float = 0.0
    alpha_long: float = 0.0
    same_role_weight: float = 1.0
    other_role_weight: float = 0.5
    decay: float = 0.7
    short_en_words: int = 3
    short_zh_chars: int = 4
    #: Blend only turns whose own top emotion probability is below this (1.0: always).
    max_confidence: float = 1.0

    @property
    def enabled(self) -> bool:
        return self.alpha_short > 0 or self.alpha_long > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ContextTurn:
    """The minimum the blend needs of a previous turn."""

    role: str
    emotion_scores: dict[str, float]
    polarity_scores: dict[str, float]


@dataclass(frozen=True)
class ContextualReading:
    """A turn's reading after context: what trajectory, risk and policy use."""

    emotion: str
    emotion_scores: dict[str, float]
    polarity: str
    polarity_scores: dict[str, float]
    score: float
    context_weight: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def shipped_context_params() -> dict[str, ContextParams]:
    """The per-language parameters measured by the benchmark (package data)."""
    raw = json.loads(
        resources.files("emotiondesk.dialogue").joinpath("context_params.json").read_text("utf-8")
    )
    fields = set(ContextParams.__dataclass_fields__)
    return {
        lang: ContextParams(**{k: v for k, v in params.items() if k in fields})
        for lang, params in raw.get("languages", {}).items()
    }


def is_short(text: str, language: str, params: ContextParams) -> bool:
    """Whether a turn is too short to be read on its own ("fine.", "好吧")."""
    if language == "zh" or _HAN_RE.search(text):
        return (
            len(_HAN_RE.findall(text)) + len(re.findall(r"[A-Za-z]+", text))
            <= params.short_zh_chars
        )
    words = [w for w in _PUNCT_RE.split(text) if w]
    return len(words) <= params.short_en_words


def _mix(
    current: dict[str, float],
    history: Sequence[ContextTurn],
    attr: str,
    labels: Sequence[str],
    role: str,
    params: ContextParams,
    alpha: float,
) -> dict[str, float]:
    total = 0.0
    ctx = dict.fromkeys(labels, 0.0)
    weight = 1.0
    for turn in reversed(history):
        w = weight * (params.same_role_weight if turn.role == role else params.other_role_weight)
        weight *= params.decay
        if w <= 0:
            continue
        dist = getattr(turn, attr)
        for label in labels:
            ctx[label] += w * dist.get(label, 0.0)
        total += w
    if total <= 0:
        return {label: current.get(label, 0.0) for label in labels}
    return {
        label: (1 - alpha) * current.get(label, 0.0) + alpha * ctx[label] / total
        for label in labels
    }


def read_in_context(
    result: AnalysisResult,
    history: Sequence[ContextTurn],
    *,
    role: str,
    params: ContextParams,
) -> ContextualReading:
    """Blend a turn's analysis with the previous turns (oldest first in ``history``).

    Example:
        >>> from emotiondesk.analyzer import AnalysisResult
        >>> def res(text, emo, pol):
        ...     e = {k: 0.0 for k in EMOTION_LABELS}; e[emo] = 1.0
        ...     p = {k: 0.0 for k in POLARITY_LABELS}; p[pol] = 1.0
        ...     return AnalysisResult(text, "en", pol, p, POLARITY_VALUES[pol], emo, e)
        >>> angry = ContextTurn("customer", res("x", "anger", "negative").emotion_scores,
        ...                     res("x", "anger", "negative").polarity_scores)
        >>> r = read_in_context(res("fine.", "joy", "positive"), [angry] * 3,
        ...                     role="customer", params=ContextParams(alpha_short=0.6))
        >>> r.polarity, r.score < 0.5
        ('negative', True)
    """
    alpha = (
        params.alpha_short if is_short(result.text, result.language, params) else params.alpha_long
    )
    if not history or alpha <= 0:
        return ContextualReading(
            emotion=result.emotion,
            emotion_scores=dict(result.emotion_scores),
            polarity=result.polarity,
            polarity_scores=dict(result.polarity_scores),
            score=result.score,
            context_weight=0.0,
        )
    emo = _mix(
        result.emotion_scores, history, "emotion_scores", EMOTION_LABELS, role, params, alpha
    )
    pol = _mix(
        result.polarity_scores, history, "polarity_scores", POLARITY_LABELS, role, params, alpha
    )
    score = sum(pol[label] * POLARITY_VALUES[label] for label in POLARITY_LABELS)
    return ContextualReading(
        emotion=max(emo, key=emo.__getitem__),
        emotion_scores={k: round(v, 6) for k, v in emo.items()},
        polarity=max(pol, key=pol.__getitem__),
        polarity_scores={k: round(v, 6) for k, v in pol.items()},
        score=round(score, 6),
        context_weight=round(alpha, 4),
    )
