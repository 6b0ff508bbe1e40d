"""Score agent replies on the rubric: per-criterion verdicts with evidence, and a 0-100 score.

Each agent reply is judged against the customer turn(s) it answers (the
customer messages since the agent's previous reply): which criteria apply
follows from that turn (negative? something the shop got wrong? a question? a
goodbye?), and each criterion that applies passes or fails on cues of the
rubric. Every verdict carries its evidence: the span of the reply that
satisfied or broke it (character offsets), and the span of the customer turn
that made it apply. A criterion that does not apply is ``na``: it counts
neither for nor against the score.

Example:
    >>> scorer = AgentScorer()
    >>> s = scorer.score_reply(
    ...     "Calm down, delays are normal.",
    ...     customer=CustomerTurn("My parcel is a week late!!", emotion="anger"),
    ... )
    >>> s.result("empathy").verdict, s.result("empathy").evidence.text
    ('fail', 'Calm down')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emotiondesk.agentqa.rubric import Criterion, Rubric, load_rubric
from emotiondesk.errors import InvalidInputError
from emotiondesk.text.language import detect_language
from emotiondesk.text.tokens import Tokenizer

PASS, FAIL, NA = "pass", "fail", "na"
VERDICTS = (PASS, FAIL, NA)
CUSTOMER_ROLES = frozenset({"customer", "user"})
AGENT_ROLES = frozenset({"agent", "system", "bot", "assistant"})


@dataclass(frozen=True)
class Span:
    """Characters ``start:end`` of a text (the evidence of a verdict)."""

    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


def _aware(ts: datetime) -> datetime:
    """A naive timestamp (SQLite gives them back so) is UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _span(text: str, where: tuple[int, int] | None) -> Span | None:
    return None if where is None else Span(where[0], where[1], text[where[0] : where[1]])


@dataclass(frozen=True)
class CustomerTurn:
    """The customer's message a reply answers (emotion / polarity from the analyzer, if known)."""

    text: str
    emotion: str | None = None
    polarity: str | None = None
    language: str | None = None
    sent_at: datetime | None = None
    index: int | None = None


@dataclass(frozen=True)
class CriterionResult:
    criterion: str
    verdict: str
    weight: float
    evidence: Span | None = None
    trigger: Span | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "verdict": self.verdict,
            "weight": self.weight,
            "evidence": self.evidence.to_dict() if self.evidence else None,
            "trigger": self.trigger.to_dict() if self.trigger else None,
            "note": self.note,
        }


def weighted_score(results: Sequence[CriterionResult]) -> float | None:
    """100 x passed weight / applicable weight (``None`` when nothing applies)."""
    applicable = sum(r.weight for r in results if r.verdict != NA)
    if applicable <= 0:
        return None
    return round(100.0 * sum(r.weight for r in results if r.verdict == PASS) / applicable, 1)


@dataclass(frozen=True)
class ReplyScore:
    """The scorecard of one agent reply."""

    text: str
    language: str
    results: tuple[CriterionResult, ...]
    score: float | None
    answered: CustomerTurn | None = None
    index: int | None = None

    def result(self, criterion: str) -> CriterionResult:
        for r in self.results:
            if r.criterion == criterion:
                return r
        raise KeyError(criterion)

    @property
    def failed(self) -> list[str]:
        return [r.criterion for r in self.results if r.verdict == FAIL]

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "language": self.language,
            "turn": self.index,
            "answered": None
            if self.answered is None
            else {
                "turn": self.answered.index,
                "text": self.answered.text,
                "emotion": self.answered.emotion,
            },
            "criteria": [r.to_dict() for r in self.results],
            "failed": self.failed,
        }


@dataclass(frozen=True)
class ConversationScore:
    """Every agent reply's scorecard and the conversation's 0-100 score."""

    replies: tuple[ReplyScore, ...]
    score: float | None
    by_criterion: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "replies": [r.to_dict() for r in self.replies],
            "by_criterion": {k: dict(v) for k, v in self.by_criterion.items()},
        }


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, for :meth:`AgentScorer.score_conversation`."""

    role: str
    text: str
    emotion: str | None = None
    polarity: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Context:
    """What the scorer reads from the customer turn(s) a reply answers."""

    negative: bool
    at_fault: bool
    issue: bool
    question: bool
    closing: bool
    fault_span: Span | None
    question_span: Span | None
    closing_span: Span | None
    request_span: Span | None


class AgentScorer:
    """Scores agent replies on a rubric.

    Args:
        rubric: the rubric (default: the shipped one).
        faq: an :class:`emotiondesk.replies.knowledge.FaqIndex`; a reply that
            restates the matching FAQ answer counts as answering the question.
    """

    def __init__(self, rubric: Rubric | None = None, *, faq: Any = None) -> None:
        self.rubric = rubric if rubric is not None else load_rubric()
        self.faq = faq

    # -- the customer side ------------------------------------------------------------------
    def context(self, customer: CustomerTurn | None, language: str) -> Context:
        """Which kinds of criteria a reply to ``customer`` must meet."""
        if customer is None or not customer.text.strip():
            return Context(False, False, False, False, False, None, None, None, None)
        text = customer.text
        lang = customer.language if customer.language in ("zh", "en") else language
        cues = self.rubric.customer
        fault = _span(text, cues["fault"].find(text, lang))
        if fault is not None and "吗" in text[fault.end : fault.end + 2]:
            fault = None  # "是寄错了吗？": asking whether, not reporting
        own = cues["own_fault"].find(text, lang) is not None
        if fault is None and not own and customer.emotion in self.rubric.fault_emotions:
            # An angry, disgusted or sad customer writing to a shop reports something it
            # got wrong, in more ways than a list of cues can name.
            fault = Span(0, len(text), text)
        if fault is not None and own:
            fault = None  # the customer's own slip: nothing for the shop to apologise for
        request = _span(text, cues["request"].find(text, lang))
        question = _span(text, cues["question"].find(text, lang))
        closing = _span(text, cues["closing"].find(text, lang))
        if customer.emotion is not None or customer.polarity is not None:
            negative = (
                customer.emotion in self.rubric.negative_emotions or customer.polarity == "negative"
            )
        else:
            negative = fault is not None
        is_closing = closing is not None and not (negative or fault or question)
        issue = (negative or fault is not None or request is not None) and not is_closing
        return Context(
            negative=negative,
            at_fault=fault is not None,
            issue=issue,
            question=question is not None,
            closing=is_closing,
            fault_span=fault,
            question_span=question,
            closing_span=closing,
            request_span=request,
        )

    # -- one reply -----------------------------------------------------------------------------
    def score_reply(
        self,
        reply: str,
        *,
        customer: CustomerTurn | None = None,
        first_reply: bool = False,
        language: str | None = None,
        reply_at: datetime | None = None,
        index: int | None = None,
    ) -> ReplyScore:
        """The scorecard of ``reply`` answering ``customer``.

        Args:
            reply: the agent's message.
            customer: the customer turn it answers (``None``: the agent wrote first).
            first_reply: the agent's first reply in the conversation (greeting applies).
            language: ``zh`` / ``en`` (detected from the reply when not given).
            reply_at: when the reply was sent (response time, with ``customer.sent_at``).
        """
        if not isinstance(reply, str) or not reply.strip():
            raise InvalidInputError("the agent reply is empty: send some text")
        lang = language or detect_language(reply)
        if lang not in ("zh", "en"):
            lang = (
                customer.language
                if customer is not None and customer.language in ("zh", "en")
                else "en"
            )
        ctx = self.context(customer, lang)
        done: dict[str, CriterionResult] = {}
        for c in self.rubric.criteria:
            done[c.id] = self._judge(c, reply, lang, ctx, customer, first_reply, reply_at, done)
        results = tuple(done.values())
        return ReplyScore(
            text=reply,
            language=lang,
            results=results,
            score=weighted_score(results),
            answered=customer,
            index=index,
        )

    def _applies(
        self,
        c: Criterion,
        ctx: Context,
        first_reply: bool,
        customer: CustomerTurn | None,
        reply_at: datetime | None,
    ) -> tuple[bool, Span | None, str]:
        a = c.applies
        if a == "always":
            return True, None, ""
        if a == "first_reply":
            return first_reply, None, "first reply" if first_reply else ""
        if a == "customer_negative":
            emotion = customer.emotion if customer is not None else None
            return ctx.negative, ctx.fault_span, f"customer {emotion or 'negative'}"
        if a == "company_at_fault":
            return ctx.at_fault, ctx.fault_span, "something went wrong on the shop's side"
        if a == "customer_issue":
            return ctx.issue, ctx.fault_span or ctx.request_span, "the customer has an issue"
        if a == "customer_question":
            return ctx.question, ctx.question_span, "the customer asked"
        if a == "customer_closing":
            return ctx.closing, ctx.closing_span, "the customer is wrapping up"
        if a == "timed":
            timed = customer is not None and customer.sent_at is not None and reply_at is not None
            return timed, None, ""
        return False, None, ""

    def _judge(
        self,
        c: Criterion,
        reply: str,
        lang: str,
        ctx: Context,
        customer: CustomerTurn | None,
        first_reply: bool,
        reply_at: datetime | None,
        done: Mapping[str, CriterionResult],
    ) -> CriterionResult:
        applies, trigger, why = self._applies(c, ctx, first_reply, customer, reply_at)
        if not applies:
            return CriterionResult(c.id, NA, c.weight)
        if c.applies == "timed":
            assert customer is not None and customer.sent_at is not None and reply_at is not None
            seconds = (_aware(reply_at) - _aware(customer.sent_at)).total_seconds()
            limit = c.max_seconds or 60.0
            return CriterionResult(
                c.id,
                PASS if seconds <= limit else FAIL,
                c.weight,
                note=f"replied after {seconds:.0f} s (limit {limit:.0f} s)",
            )
        bad = c.fail_cues.find(reply, lang, unless=c.fail_unless)
        if bad is not None:
            return CriterionResult(
                c.id,
                FAIL,
                c.weight,
                _span(reply, bad),
                trigger,
                f"{why}; the reply says this" if why else "the reply says this",
            )
        if c.question_types and customer is not None:
            typed = self._typed_answer(c, reply, lang, customer)
            if typed is not None:
                return typed
        good = c.pass_cues.find(reply, lang)
        if good is None and c.id == "answers_question" and customer is not None:
            good = self._faq_overlap(reply, customer.text, lang)
        if good is not None:
            return CriterionResult(c.id, PASS, c.weight, _span(reply, good), trigger, why)
        for other in c.fail_with:
            prior = done.get(other)
            if prior is not None and prior.verdict == FAIL:
                return CriterionResult(
                    c.id, FAIL, c.weight, prior.evidence, trigger, f"{why}; see {other}"
                )
        min_words = c.pass_if_words.get(lang)
        if min_words is not None and len(reply.split()) >= min_words:
            return CriterionResult(c.id, PASS, c.weight, None, trigger, why)
        if c.pass_cues:
            return CriterionResult(
                c.id, FAIL, c.weight, None, trigger, f"{why}; nothing in the reply does it"
            )
        return CriterionResult(c.id, PASS, c.weight, None, trigger, why)

    def _typed_answer(
        self, c: Criterion, reply: str, lang: str, customer: CustomerTurn
    ) -> CriterionResult | None:
        """Pass or fail by the kind of question asked (when, where, how much, why, how,
        yes / no, X or Y) and whether the reply carries that kind of answer; ``None``
        when the customer asks none of those kinds (the pass cues decide)."""
        text = customer.text
        clang = customer.language if customer.language in ("zh", "en") else lang
        asked = []
        for qt in c.question_types:
            where = qt.ask.find(text, clang)
            if where is not None:
                asked.append((qt, where))
        options = choice_options(text, clang)
        if not asked and not options:
            return None
        trigger = _span(text, asked[0][1]) if asked else None
        by_id = {qt.id: qt for qt in c.question_types}
        answers = {qt.id: qt for qt, _ in asked}
        for qt, _ in asked:
            answers.update({x: by_id[x] for x in qt.also if x not in answers})
        best: tuple[tuple[int, int], str] | None = None
        for qt in answers.values():
            found = _stated(reply, qt.answer.spans(reply, lang))
            if found is not None and (best is None or found[0] < best[0][0]):
                best = (found, qt.name(lang))
        named = _stated(reply, [_option_in(reply, lang, options)])
        if named is not None and (best is None or named[0] < best[0][0]):
            best = (named, "names one of the options")
        kinds = ", ".join([qt.name(lang) for qt, _ in asked] + (["X or Y"] if options else []))
        if best is not None:
            return CriterionResult(
                c.id,
                PASS,
                c.weight,
                _span(reply, best[0]),
                trigger,
                f"the customer asked ({kinds}); the reply answers it ({best[1]})",
            )
        faq = self._faq_overlap(reply, text, lang)
        if faq is not None:
            return CriterionResult(
                c.id,
                PASS,
                c.weight,
                _span(reply, faq),
                trigger,
                f"the customer asked ({kinds}); the reply restates the FAQ answer",
            )
        return CriterionResult(
            c.id,
            FAIL,
            c.weight,
            None,
            trigger,
            f"the customer asked ({kinds}); the reply gives no answer of that kind",
        )

    def _faq_overlap(self, reply: str, question: str, lang: str) -> tuple[int, int] | None:
        """The whole reply as evidence when it shares most content words with the FAQ answer."""
        if self.faq is None:
            return None
        hits = self.faq.search(question, lang)
        if not hits:
            return None
        tokenize = self.faq.tokenizer  # the FAQ's own tokens (text/tokens.py RETRIEVAL)
        answer = set(tokenize(hits[0].entry.answer, lang))
        mine = set(tokenize(reply, lang))
        if answer and len(answer & mine) / max(1, min(len(answer), len(mine))) >= 0.3:
            return (0, len(reply))
        return None

    # -- a conversation ---------------------------------------------------------------------
    def score_conversation(self, turns: Sequence[Turn]) -> ConversationScore:
        """Scorecards of every agent turn and the conversation's 0-100 score."""
        replies: list[ReplyScore] = []
        pending: list[tuple[int, Turn]] = []
        first = True
        for i, t in enumerate(turns):
            role = t.role.lower()
            if role in CUSTOMER_ROLES:
                pending.append((i, t))
                continue
            if role not in AGENT_ROLES:
                raise InvalidInputError(f"turn {i}: role {t.role!r} is not customer or agent")
            if not t.text.strip():
                continue
            answered = merge_customer_turns(pending) if pending else None
            replies.append(
                self.score_reply(
                    t.text, customer=answered, first_reply=first, reply_at=t.sent_at, index=i
                )
            )
            first = False
            pending = []
        return summarize(replies)


_OR_EN = re.compile(
    r"\b([a-z][a-z'-]+) or (?:just |only |simply |a |an |the )?([a-z][a-z'-]+)\b[^.!?]*\?",
    re.IGNORECASE,
)
_OR_ZH = re.compile(r"([\u4e00-\u9fff]{1,6})还是([\u4e00-\u9fff]{1,6})")
_OPTION_WORDS = Tokenizer(zh="chars", plural=True, mixed=False)


def choice_options(text: str, language: str) -> list[str]:
    """The options of an "X or Y?" / "X还是Y" question (content words only: "refund me or
    do I" names none)."""
    out: list[str] = []
    pattern = _OR_ZH if language == "zh" else _OR_EN
    for m in pattern.finditer(text):
        for option in m.groups():
            if language == "zh":
                # the option's last two characters ("是翻新机" -> "新机"): the noun, not the verb
                words = [option[-2:]] if len(option) >= 2 else []
            else:
                words = _OPTION_WORDS(option, "en")
            out.extend(w for w in words if w not in out)
    return out


_SENTENCE_END = re.compile(r"[.!?。！？]+")


def _stated(reply: str, spans: Sequence[tuple[int, int] | None]) -> tuple[int, int] | None:
    """The leftmost span that sits in a statement, not in a question back to the customer
    ("你自己不会在订单里看进度吗？" names a place but answers nothing)."""
    for span in sorted(s for s in spans if s is not None):
        end = _SENTENCE_END.search(reply, span[1])
        if end is None or ("?" not in end.group() and "？" not in end.group()):
            return span
    return None


def _option_in(reply: str, language: str, options: Sequence[str]) -> tuple[int, int] | None:
    """Where the reply first names one of ``options`` (a word, case-insensitive)."""
    if not options:
        return None
    low = reply.lower()
    best: tuple[int, int] | None = None
    for option in options:
        pattern = re.escape(option) if language == "zh" else rf"\b{re.escape(option)}"
        m = re.search(pattern, low)
        if m is not None and (best is None or m.start() < best[0]):
            best = (m.start(), m.start() + len(option))
    return best


def merge_customer_turns(turns: Sequence[tuple[int, Turn]]) -> CustomerTurn:
    """The customer messages since the agent's last reply, as one turn (the most negative
    emotion wins; the first message's time)."""
    order = ("anger", "disgust", "sadness", "fear")
    emotions = [t.emotion for _, t in turns if t.emotion]
    emotion = next((e for e in order if e in emotions), emotions[-1] if emotions else None)
    polarities = [t.polarity for _, t in turns if t.polarity]
    polarity = "negative" if "negative" in polarities else (polarities[-1] if polarities else None)
    return CustomerTurn(
        text="\n".join(t.text for _, t in turns),
        emotion=emotion,
        polarity=polarity,
        sent_at=turns[0][1].sent_at,
        index=turns[-1][0],
    )


def summarize(replies: Sequence[ReplyScore]) -> ConversationScore:
    """The conversation score over ``replies`` (weights of applicable criteria pooled)."""
    pooled = [r for s in replies for r in s.results]
    counts: dict[str, dict[str, int]] = {}
    for r in pooled:
        counts.setdefault(r.criterion, {PASS: 0, FAIL: 0, NA: 0})[r.verdict] += 1
    return ConversationScore(tuple(replies), weighted_score(pooled), counts)


def _turn_from_record(record: Mapping[str, Any]) -> Turn:
    analysis = record.get("analysis") or {}
    sent_at = record.get("sent_at")
    return Turn(
        role=str(record.get("role") or "customer"),
        text=str(record.get("text") or ""),
        emotion=analysis.get("emotion"),
        polarity=analysis.get("polarity"),
        sent_at=sent_at if isinstance(sent_at, datetime) else None,
    )


def score_stored_turn(
    scorer: AgentScorer,
    *,
    history: Sequence[Mapping[str, Any]],
    turn: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The scorecard of an agent ``turn`` after ``history`` as the service stores turns
    (``seq, role, text, analysis, sent_at``); ``None`` for a customer turn.

    The reply answers the customer turns since the agent's previous turn; it is
    the agent's first reply when ``history`` reaches back to the first message
    (``seq`` 1) and holds no agent turn.
    """
    if str(turn.get("role") or "").lower() not in AGENT_ROLES:
        return None
    text = str(turn.get("text") or "")
    if not text.strip():
        return None
    pending: list[tuple[int, Turn]] = []
    agent_before = False
    for record in history:
        t = _turn_from_record(record)
        if t.role.lower() in CUSTOMER_ROLES:
            if t.text.strip():
                pending.append((int(record.get("seq") or 0), t))
        else:
            agent_before, pending = True, []
    complete = not history or int(history[0].get("seq") or 1) <= 1
    answered = merge_customer_turns(pending) if pending else None
    analysis = turn.get("analysis") or {}
    language = analysis.get("language") if analysis.get("language") in ("zh", "en") else None
    sent_at = turn.get("sent_at")
    card = scorer.score_reply(
        text,
        customer=answered,
        first_reply=complete and not agent_before,
        language=language,
        reply_at=sent_at if isinstance(sent_at, datetime) else None,
        index=int(turn.get("seq") or 0) or None,
    )
    return card.to_dict()
