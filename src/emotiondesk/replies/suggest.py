"""Suggested agent replies: an empathy opening, an FAQ answer, a closing.

For each customer turn the suggester returns up to three suggestions in the
customer's language:

1. ``empathy``: an opening that fits the emotion and its intensity, followed
   by the sentence of the strongest policy decision (hand-over to a senior
   agent, apology, comfort, reassurance);
2. ``faq``: the best FAQ answer for the turn (BM25), when one scores high enough;
3. ``closing``: a recommendation when the policy decided ``recommend``, and a
   closing line whose tone follows the customer's.

With the optional LLM backend a ``llm`` suggestion comes first (and the list
is cut to three); when the endpoint fails the template suggestions stand
alone and ``llm_error`` says why.

Openings never repeat word for word within a conversation while the pool has
an unused variant: the suggester picks the least recently used template (the
conversation state remembers the last template ids).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from emotiondesk.errors import ConfigError
from emotiondesk.replies.knowledge import Catalog, FaqIndex, Product
from emotiondesk.replies.llm import LLMBackend, LLMError, build_prompt

logger = logging.getLogger(__name__)

LANGUAGES = ("zh", "en")
#: Decision -> sentence order: the first decided one is said after the opening.
ACTION_ORDER = ("escalate_to_senior", "comfort", "reassure", "apologise")
#: Emotion probability from which an opening uses the strong wording.
HIGH_INTENSITY = 0.6


@dataclass(frozen=True)
class Suggestion:
    """One suggested reply."""

    kind: str  # empathy | faq | closing | llm
    text: str
    source: str  # template ids, faq:<id>, catalog:<id>, llm:<model>
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SuggestionRequest:
    """What the suggester needs to know about the turn."""

    text: str
    language: str
    emotion: str
    intensity: float
    polarity: str
    risk: float = 0.0
    decisions: Sequence[str] = ()
    reasons: Sequence[str] = ()
    history: Sequence[tuple[str, str]] = ()
    used_templates: Sequence[str] = ()
    first_turn: bool = False


@dataclass
class SuggestionSet:
    suggestions: list[Suggestion] = field(default_factory=list)
    used_templates: list[str] = field(default_factory=list)
    recommended: list[str] = field(default_factory=list)
    llm_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "suggestions": [s.to_dict() for s in self.suggestions],
            "recommended": list(self.recommended),
            "llm_error": self.llm_error,
        }


@lru_cache(maxsize=4)
def _library(language: str) -> dict[str, Any]:
    text = (
        resources.files("emotiondesk.replies")
        .joinpath(f"templates_{language}.yaml")
        .read_text("utf-8")
    )
    return yaml.safe_load(text)


def pick(pool_id: str, pool: Sequence[str], used: Sequence[str]) -> tuple[str, str]:
    """The least recently used template of a pool: (template id, text).

    Example:
        >>> pick("en.x", ["a", "b"], ["en.x.0"])
        ('en.x.1', 'b')
    """
    if not pool:
        raise ConfigError(f"template pool {pool_id} is empty")
    last_use = {tid: i for i, tid in enumerate(used)}
    best = min(range(len(pool)), key=lambda i: (last_use.get(f"{pool_id}.{i}", -1), i))
    return f"{pool_id}.{best}", pool[best]


class ReplySuggester:
    """Builds the suggestions of a turn from templates, the FAQ, the catalog and an optional LLM.

    Args:
        faq: the FAQ index (default: the shipped sample shop FAQ).
        catalog: the product catalog (default: the shipped sample).
        llm: an :class:`LLMBackend`, or ``None`` (templates only).
    """

    def __init__(
        self,
        *,
        faq: FaqIndex | None = None,
        catalog: Catalog | None = None,
        llm: LLMBackend | None = None,
    ) -> None:
        self.faq = faq if faq is not None else FaqIndex.load()
        self.catalog = catalog if catalog is not None else Catalog.load()
        self.llm = llm

    def suggest(self, req: SuggestionRequest) -> SuggestionSet:
        lang = req.language if req.language in LANGUAGES else "en"
        lib = _library(lang)
        used = list(req.used_templates)
        out = SuggestionSet()

        def take(pool_id: str, pool: Sequence[str]) -> str:
            tid, text = pick(f"{lang}.{pool_id}", pool, used)
            used.append(tid)
            out.used_templates.append(tid)
            return text

        # 1. empathy opening (+ the sentence of the strongest decision)
        emotion = req.emotion if req.emotion in lib["empathy"] else "neutral"
        if emotion == "neutral":
            level = "high" if req.first_turn else "low"
        else:
            level = "high" if req.intensity >= HIGH_INTENSITY else "low"
        parts = [take(f"empathy.{emotion}.{level}", lib["empathy"][emotion][level])]
        ids = [out.used_templates[-1]]
        for action in ACTION_ORDER:
            if action in req.decisions:
                parts.append(take(f"actions.{action}", lib["actions"][action]))
                ids.append(out.used_templates[-1])
                break
        joiner = "" if lang == "zh" else " "
        out.suggestions.append(Suggestion("empathy", joiner.join(parts), "+".join(ids)))

        # 2. FAQ answer
        faq_answer = None
        hits = self.faq.search(req.text, lang)
        if not hits and req.history:
            prev = [t for r, t in req.history if r == "customer"][-1:]
            if prev:
                hits = self.faq.search(prev[0] + " " + req.text, lang)
        if hits:
            hit = hits[0]
            faq_answer = hit.entry.answer
            lead = take("faq_lead", lib["faq_lead"])
            out.suggestions.append(
                Suggestion("faq", f"{lead}{faq_answer}", f"faq:{hit.entry.id}", hit.score)
            )

        # 3. recommendation + closing
        closing_parts = []
        source = []
        if "recommend" in req.decisions:
            texts = [t for r, t in req.history if r == "customer"] + [req.text]
            products = self.catalog.recommend(texts, lang)
            if products:
                closing_parts.append(self._recommend_line(lib, lang, products[0], take))
                out.recommended = [p.id for p in products]
                source.append(f"catalog:{products[0].id}")
        tone = "negative" if req.polarity == "negative" or req.risk >= 0.5 else req.polarity
        if tone not in lib["closing"]:
            tone = "neutral"
        closing_parts.append(take(f"closing.{tone}", lib["closing"][tone]))
        source.append(out.used_templates[-1])
        out.suggestions.append(Suggestion("closing", joiner.join(closing_parts), "+".join(source)))

        # optional LLM reply first
        if self.llm is not None:
            messages = build_prompt(
                language=lang,
                emotion=req.emotion,
                intensity=req.intensity,
                risk=req.risk,
                decisions=list(req.decisions),
                reasons=list(req.reasons),
                history=[*req.history, ("customer", req.text)],
                faq_answer=faq_answer,
            )
            try:
                reply = self.llm.complete(messages)
                out.suggestions.insert(0, Suggestion("llm", reply, f"llm:{self.llm.model}"))
                out.suggestions = out.suggestions[:3]
            except LLMError as exc:
                logger.warning("LLM reply failed, using templates: %s", exc)
                out.llm_error = exc.message
        return out

    @staticmethod
    def _recommend_line(lib: Mapping[str, Any], lang: str, product: Product, take: Any) -> str:
        template = take("actions.recommend", lib["actions"]["recommend"])
        blurb = product.name(lang) + (f" ({product.price:g})" if product.price is not None else "")
        return template.format(product=product.name(lang), category=product.category, blurb=blurb)
