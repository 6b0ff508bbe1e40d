"""Real-time coaching: score an agent's draft, say what is missing, propose a better draft.

The improved draft is built from the rubric's coach sentences (greeting,
acknowledgement fitting the customer's emotion, apology, next step, time,
closing), the matching FAQ answer when the customer asked something the FAQ
knows, and the draft's own sentences minus the ones that broke a criterion
(blame, dismissal). With the optional LLM backend configured, the model
rewrites the draft instead; a failure falls back to the templates
(``llm_error`` says why) and a rewrite that scores lower than the template
draft is not used.

Example:
    >>> coach = Coach()
    >>> out = coach.coach(
    ...     "Delays are normal.", history=[Turn("customer", "Still no parcel after 10 days!", "anger")]
    ... )
    >>> [m["criterion"] for m in out.missing][:3]
    ['greeting', 'empathy', 'apology']
    >>> out.improved_score.score > out.score.score
    True
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emotiondesk.agentqa.scorer import (
    AGENT_ROLES,
    CUSTOMER_ROLES,
    FAIL,
    AgentScorer,
    CustomerTurn,
    ReplyScore,
    Turn,
    merge_customer_turns,
)
from emotiondesk.errors import InvalidInputError

logger = logging.getLogger(__name__)

EMOTION_WORDS = {
    "en": {
        "anger": "angry",
        "disgust": "disgusted",
        "sadness": "disappointed",
        "fear": "worried",
        "surprise": "surprised",
        "joy": "happy",
        "neutral": "calm",
    },
    "zh": {
        "anger": "很生气",
        "disgust": "很反感",
        "sadness": "很失望",
        "fear": "很担心",
        "surprise": "很意外",
        "joy": "很开心",
        "neutral": "情绪平稳",
    },
}

#: Criteria whose failing sentences are dropped from the draft.
_DROP_ON = ("no_blame", "empathy", "politeness", "apology", "next_step", "answers_question")
_SENTENCE_RE = re.compile(r"[^。！？!?.;；\n]+[。！？!?.;；\n]*")


@dataclass(frozen=True)
class CoachResult:
    score: ReplyScore
    missing: list[dict[str, str]]
    improved: str
    improved_score: ReplyScore
    source: str = "template"
    faq_id: str | None = None
    llm_error: str | None = None
    answered: CustomerTurn | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score.score,
            "scorecard": self.score.to_dict(),
            "missing": list(self.missing),
            "improved": self.improved,
            "improved_score": self.improved_score.score,
            "improved_scorecard": self.improved_score.to_dict(),
            "source": self.source,
            "faq_id": self.faq_id,
            "llm_error": self.llm_error,
        }


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_RE.findall(text) if s.strip()]


class Coach:
    """Scores drafts and proposes improved ones.

    Args:
        scorer: the rubric scorer (default: shipped rubric).
        faq: an FAQ index for answers (default: the scorer's FAQ, else the shipped FAQ).
        llm: an :class:`emotiondesk.replies.llm.LLMBackend`, or ``None`` (templates only).
    """

    def __init__(
        self, scorer: AgentScorer | None = None, *, faq: Any = None, llm: Any = None
    ) -> None:
        if faq is None:
            faq = scorer.faq if scorer is not None and scorer.faq is not None else None
        if faq is None:
            from emotiondesk.replies.knowledge import FaqIndex

            faq = FaqIndex.load()
        self.faq = faq
        self.scorer = scorer if scorer is not None else AgentScorer(faq=faq)
        self.llm = llm

    def coach(
        self, draft: str, *, history: Sequence[Turn], language: str | None = None
    ) -> CoachResult:
        """Score ``draft`` as the next agent turn after ``history`` and propose a better one."""
        if not isinstance(draft, str) or not draft.strip():
            raise InvalidInputError("the draft is empty: send the reply you want coached")
        pending: list[tuple[int, Turn]] = []
        first = True
        for i, t in enumerate(history):
            role = t.role.lower()
            if role in CUSTOMER_ROLES:
                pending.append((i, t))
            elif role in AGENT_ROLES:
                first, pending = False, []
            else:
                raise InvalidInputError(f"turn {i}: role {t.role!r} is not customer or agent")
        answered = merge_customer_turns(pending) if pending else None
        score = self.scorer.score_reply(
            draft, customer=answered, first_reply=first, language=language
        )
        lang = score.language
        missing = [
            {
                "criterion": r.criterion,
                "name": self.scorer.rubric.criterion(r.criterion).name(lang),
                "message": self._advice(r.criterion, lang, answered),
                **({"evidence": r.evidence.text} if r.evidence is not None else {}),
            }
            for r in score.results
            if r.verdict == FAIL
        ]
        faq_answer, faq_id = None, None
        if answered is not None and self.faq is not None:
            hits = self.faq.search(answered.text, lang)
            if hits:
                faq_answer, faq_id = hits[0].entry.answer, hits[0].entry.id
        improved = self._template_draft(draft, score, lang, answered, faq_answer)
        improved_score = self.scorer.score_reply(
            improved, customer=answered, first_reply=first, language=lang
        )
        source, llm_error = "template", None
        if self.llm is not None and missing:
            try:
                text = self._llm_draft(draft, history, missing, lang, faq_answer)
                llm_score = self.scorer.score_reply(
                    text, customer=answered, first_reply=first, language=lang
                )
                if (llm_score.score or 0) >= (improved_score.score or 0):
                    improved, improved_score, source = text, llm_score, "llm"
            except Exception as exc:  # any LLM failure falls back to the templates
                llm_error = str(exc) or type(exc).__name__
                logger.info("coach: LLM rewrite failed (%s); template draft used", llm_error)
        return CoachResult(
            score=score,
            missing=missing,
            improved=improved,
            improved_score=improved_score,
            source=source,
            faq_id=faq_id,
            llm_error=llm_error,
            answered=answered,
        )

    def _advice(self, criterion: str, lang: str, answered: CustomerTurn | None) -> str:
        c = self.scorer.rubric.criterion(criterion)
        text = c.advice.get(lang) or c.advice.get("en") or c.name(lang)
        emotion = (answered.emotion if answered is not None else None) or "negative"
        word = EMOTION_WORDS.get(lang, EMOTION_WORDS["en"]).get(emotion, emotion)
        return text.replace("{emotion}", word)

    def _sentence(self, key: str, lang: str, emotion: str | None = None) -> str:
        coach = self.scorer.rubric.coach
        entry = coach.get(key) or {}
        if key == "empathy":
            entry = entry.get(emotion or "default") or entry.get("default") or {}
        options = entry.get(lang) or entry.get("en") or []
        return str(options[0]) if options else ""

    def _template_draft(
        self,
        draft: str,
        score: ReplyScore,
        lang: str,
        answered: CustomerTurn | None,
        faq_answer: str | None,
    ) -> str:
        failed = set(score.failed)
        emotion = answered.emotion if answered is not None else None
        bad_spans = [
            r.evidence
            for r in score.results
            if r.verdict == FAIL and r.criterion in _DROP_ON and r.evidence is not None
        ]
        kept: list[str] = []
        pos = 0
        for sentence in split_sentences(draft):
            start = draft.find(sentence, pos)
            end = start + len(sentence)
            pos = end
            if any(s.start < end and s.end > start for s in bad_spans):
                continue
            kept.append(sentence.strip())
        head: list[str] = []
        if "greeting" in failed:
            head.append(self._sentence("greeting", lang))
        if "empathy" in failed:
            head.append(self._sentence("empathy", lang, emotion))
        if "apology" in failed:
            head.append(self._sentence("apology", lang))
        tail: list[str] = []
        if "answers_question" in failed and faq_answer:
            tail.append(faq_answer)
        if "next_step" in failed:
            tail.append(self._sentence("next_step", lang))
        if "timeframe" in failed:
            tail.append(self._sentence("timeframe", lang))
        if "closing" in failed:
            tail.append(self._sentence("closing", lang))
        if "politeness" in failed and lang == "en":
            tail.append("Thank you for your patience.")
        parts = [p for p in (*head, *kept, *tail) if p]
        if not parts:
            return draft
        sep = "" if lang == "zh" else " "
        return sep.join(parts)

    def _llm_draft(
        self,
        draft: str,
        history: Sequence[Turn],
        missing: Sequence[dict[str, str]],
        lang: str,
        faq_answer: str | None,
    ) -> str:
        from emotiondesk.replies.llm import LANGUAGE_NAMES

        system = (
            "You coach customer-service agents of an online shop. Rewrite the agent's draft "
            f"reply in {LANGUAGE_NAMES.get(lang, 'English')}, at most 4 sentences, keeping its "
            "facts and never inventing order details. Fix these problems: "
            + "; ".join(m["message"] for m in missing)
            + "."
            + (f" The FAQ answer you may use: {faq_answer}" if faq_answer else "")
            + " Answer with the rewritten reply only."
        )
        messages = [{"role": "system", "content": system}]
        for t in history[-6:]:
            messages.append(
                {
                    "role": "user" if t.role.lower() in CUSTOMER_ROLES else "assistant",
                    "content": t.text,
                }
            )
        messages.append({"role": "user", "content": f"Draft reply to rewrite:\n{draft}"})
        return str(self.llm.complete(messages, max_tokens=220))
