"""API schemas (request and response bodies), separate from the database tables."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
    model_validator,
)

from emotiondesk.config import MAX_TEXT_CHARS
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS
from emotiondesk.usecases.analyze_messages import with_texts

Polarity = Literal["negative", "neutral", "positive"]
Emotion = Literal["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
assert set(Polarity.__args__) == set(POLARITY_LABELS)  # type: ignore[attr-defined]
assert set(Emotion.__args__) == set(EMOTION_LABELS)  # type: ignore[attr-defined]

#: Hard upper bounds for the schema; the service's settings may be stricter.
MAX_TEXTS = 1000
MAX_ID = 128


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]


_NUMBER = re.compile(r"\s*[-+]?\d+(?:\.\d*)?\s*")


def _iso_text(value: Any) -> Any:
    """Datetimes come as ISO 8601 text (the schema says string): numbers are refused."""
    if (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and _NUMBER.fullmatch(value)
    ):
        raise ValueError("a datetime must be an ISO 8601 string, not a number")
    return value


def _in_utc_range(value: datetime) -> datetime:
    """Aware and convertible to UTC (0001-01-01T00:00+14:00 is before year 1 in UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the datetime is out of range once converted to UTC") from None


#: A datetime in a request: ISO 8601 text, within year 1..9999 in UTC; naive means UTC.
ApiDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_in_utc_range)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- analysis ------------------------------------------------------------------------------


class AnalyzeRequest(_In):
    texts: list[str] = Field(
        min_length=1, max_length=MAX_TEXTS, description="Messages to analyse (a batch)."
    )
    language: Literal["auto", "zh", "en"] = Field(
        default="auto", description="'auto' detects per text; 'zh' or 'en' forces the models."
    )
    explain: bool = Field(
        default=False,
        description="Add each result's 'evidence': the spans that drove polarity and emotion.",
    )


class Analysis(_Out):
    text: str
    language: str
    polarity: str
    polarity_scores: dict[str, float]
    score: float = Field(
        description="Expected polarity in [0, 1]: 0 very negative, 1 very positive."
    )
    emotion: str
    emotion_scores: dict[str, float]
    truncated: bool = False
    model: str = ""
    decided_by: dict[str, int | None] | None = Field(
        default=None,
        description="Texts read in chunks: the chunk that decided "
        "({chunk, chunks, start, end}; chunk null when the chunks were averaged).",
    )
    signals: list[str] = Field(
        default_factory=list, description="Lexical signals that adjusted the reading."
    )
    read_as: str | None = Field(
        default=None, description="A romanised (pinyin) message as read in Chinese characters."
    )


class EvidenceSpan(BaseModel):
    text: str
    start: int = Field(description="Character offset into the text as given.")
    end: int
    weight: float = Field(
        description="Signed: towards (+) or against (-) the label; logit units (linear, "
        "ngram_member), the drop in the label's probability when erased (occlusion), or "
        "the word's share of its group's drop (grouped)."
    )


class TaskEvidence(BaseModel):
    label: str
    method: Literal["linear", "ngram_member", "grouped", "occlusion", "none"]
    spans: list[EvidenceSpan]


class OpinionSpanOut(BaseModel):
    text: str
    start: int
    end: int
    polarity: str
    negated: bool


class AspectOpinion(BaseModel):
    aspect: str
    term: str
    start: int = Field(description="The aspect term's offset in the text (-1: implicit).")
    end: int
    polarity: str
    negated: bool
    opinions: list[OpinionSpanOut]


class Evidence(BaseModel):
    polarity: TaskEvidence
    emotion: TaskEvidence
    aspects: list[AspectOpinion] = Field(default_factory=list)
    note: str | None = Field(
        default=None, description="Set when the message's polarity and its aspects disagree."
    )


class ExplainedAnalysis(Analysis):
    evidence: Evidence | None = Field(
        default=None, description="Only with 'explain': true: why the message reads so."
    )


class AnalyzeResponse(BaseModel):
    results: list[ExplainedAnalysis]


# -- conversations -------------------------------------------------------------------------


class ConversationCreate(_In):
    channel: str | None = Field(default=None, max_length=64, examples=["web"])
    customer_id: str | None = Field(default=None, max_length=MAX_ID)
    product_id: str | None = Field(default=None, max_length=MAX_ID)
    category: str | None = Field(default=None, max_length=MAX_ID)
    agent_id: str | None = Field(default=None, max_length=MAX_ID)
    metadata: dict[str, Any] = Field(default_factory=dict)


ConversationStatus = Literal["open", "resolved", "closed"]


class ConversationUpdate(_In):
    """What a supervisor changes: the status (resolve, close, reopen) and the agent."""

    status: ConversationStatus | None = Field(default=None, examples=["resolved"])
    agent_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID)


class ConversationOut(_Out):
    id: str
    channel: str | None
    customer_id: str | None
    product_id: str | None
    category: str | None
    agent_id: str | None
    metadata: dict[str, Any] = Field(validation_alias="meta")
    status: str
    message_count: int
    state: dict[str, Any] = Field(
        description="What the conversation engine says so far (trajectory, risk, decisions, ...)."
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="conversation (a live one) or review (a row of an imported archive)."
    )
    @property
    def kind(self) -> str:
        return "review" if (self.metadata or {}).get("imported") else "conversation"

    @computed_field(  # type: ignore[prop-decorator]
        description="The current escalation risk (0..1), null before a customer turn."
    )
    @property
    def risk(self) -> float | None:
        r = (self.state or {}).get("risk")
        value = r.get("value") if isinstance(r, dict) else r
        return float(value) if isinstance(value, int | float) else None

    created_at: UtcDatetime
    updated_at: UtcDatetime


class MessageIn(_In):
    role: Literal["customer", "agent"]
    text: str = Field(description="The message; PII is masked before it is stored.")
    timestamp: ApiDatetime | None = Field(default=None, description="When it was sent (ISO 8601).")
    client_message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ID,
        description="The caller's id: a retried POST with the same id stores nothing new.",
    )


class MessageOut(_Out):
    id: str
    conversation_id: str
    seq: int
    client_message_id: str | None
    role: str
    text: str = Field(description="The text with PII masked.")
    language: str | None
    polarity: str | None
    score: float | None
    emotion: str | None
    analysis: dict[str, Any]
    state: dict[str, Any] | None = None
    model_version: str | None
    sent_at: UtcDatetime | None
    created_at: UtcDatetime
    scorecard: dict[str, Any] | None = Field(
        default=None,
        description="An agent message's rubric scorecard: score, criteria (verdict, evidence "
        "span, the customer turn answered), failed.",
    )
    corrections: list[CorrectionOut] = Field(
        default_factory=list,
        description="Agents' corrections of this message, oldest first (stored messages).",
    )
    corrected: dict[str, str] = Field(
        default_factory=dict,
        description="The label each corrected task has now (the latest correction wins).",
    )
    conflicts: list[str] = Field(
        default_factory=list,
        description="Tasks whose corrections of this message disagree (resolved by the "
        "latest correction).",
    )
    evidence: dict[str, Any] | None = Field(
        default=None,
        description="A customer message's evidence (null for agent messages and messages "
        "stored before evidence was kept): per task (polarity, emotion) the label, the "
        "method and the spans (text, start, end offsets into `text`, signed weight) that "
        "drove it; the aspects (aspect, term, start, end, polarity, negated, opinions with "
        "offsets); a note when the polarity and the aspects disagree.",
    )

    @model_validator(mode="after")
    def _evidence_words(self) -> MessageOut:
        # Stored as offsets into the stored text; the words are put back here.
        if self.evidence:
            self.evidence = with_texts(self.evidence, self.text)
        return self


class CorrectionOut(BaseModel):
    """One correction of one task of a message: who changed which label, when."""

    feedback_id: int
    task: Literal["polarity", "emotion"]
    previous: str | None = Field(
        description="The label before: the previous correction's, else the model's."
    )
    label: str = Field(description="The label the correction gives.")
    predicted: str | None = Field(description="What the model had said.")
    author: str | None
    note: str | None
    model_version: str | None
    used_for_training: bool
    created_at: UtcDatetime


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]
    quality: dict[str, Any] | None = Field(
        default=None,
        description="The conversation's 0-100 rubric score over its agent replies "
        "(score, replies, by_criterion).",
    )


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    total: int
    limit: int
    offset: int


class IngestResponse(BaseModel):
    message: MessageOut
    conversation: ConversationOut
    created: bool = Field(description="False when this client_message_id was already stored.")


# -- feedback and alerts -------------------------------------------------------------------


class FeedbackIn(_In):
    message_id: str = Field(min_length=1, max_length=64)
    polarity: Polarity | None = None
    emotion: Emotion | None = None
    note: str | None = Field(default=None, max_length=2000)


class FeedbackOut(_Out):
    id: int
    message_id: str
    polarity: str | None
    emotion: str | None
    note: str | None
    author: str | None
    predicted_polarity: str | None
    predicted_emotion: str | None
    model_version: str | None
    created_at: UtcDatetime


class FeedbackRow(FeedbackOut):
    """A stored correction with its message (``GET /v1/feedback``)."""

    conversation_id: str
    text: str = Field(description="The message, PII masked.")
    language: str | None
    used_for_training: bool
    conflict: bool = Field(
        description="The message's corrections disagree on a task this row corrects."
    )
    superseded: bool = Field(
        description="A later correction of the message decides every task this row corrects."
    )


class FeedbackConflict(BaseModel):
    message_id: str
    task: str
    labels: list[str] = Field(description="The labels given, oldest first.")
    label: str = Field(description="The label that holds (the latest correction's).")
    feedback_id: int = Field(description="The correction that holds.")
    feedback_ids: list[int]


class FeedbackPage(BaseModel):
    items: list[FeedbackRow]
    total: int
    limit: int
    offset: int
    rule: str = Field(description="How conflicting corrections of one message are resolved.")
    conflicts: list[FeedbackConflict] = Field(
        description="Conflicting corrections among the messages of this page."
    )


class ReviewReason(_Out):
    code: Literal["uncertain", "tiers_disagree", "rare_class", "rare_product", "label_issue"]
    value: float = Field(description="The signal, 0..1.")
    detail: str


class ReviewItem(_Out):
    message_id: str
    conversation_id: str
    text: str = Field(description="The message, PII masked.")
    language: str | None
    product: str | None = Field(description="The conversation's product id, else its category.")
    kind: Literal["unlabelled", "label_issue"] = Field(
        description="unlabelled: never corrected; label_issue: a correction that looks wrong."
    )
    priority: float = Field(description="0..1, highest first.")
    polarity: str | None
    emotion: str | None
    polarity_scores: dict[str, float]
    emotion_scores: dict[str, float]
    reasons: list[ReviewReason] = Field(description="Why it was picked, strongest first.")
    correction: dict[str, Any] | None = Field(
        default=None,
        description="label_issue: the task, the label given, the one suggested, cleanlab's "
        "label quality and the correction's id and author.",
    )


class LabelCheckOut(_Out):
    task: str
    status: Literal["checked", "skipped"]
    checked: int
    flagged: int
    not_checked: int
    reason: str | None


class ReviewQueueOut(BaseModel):
    items: list[ReviewItem]
    total: int
    limit: int
    offset: int
    candidates: int = Field(description="Uncorrected customer messages considered (the window).")
    weights: dict[str, float] = Field(description="How the signals weigh in the priority.")
    tiers: str = Field(description="Whether tier disagreement could be scored, and how.")
    label_check: list[LabelCheckOut] = Field(
        description="The label-error check (cleanlab) per task: checked, flagged, not checked."
    )


class AlertOut(_Out):
    id: int
    kind: str
    severity: str
    conversation_id: str | None
    title: str
    details: dict[str, Any]
    created_at: UtcDatetime
    acknowledged_at: UtcDatetime | None


# -- health and errors ---------------------------------------------------------------------


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    model: str | None
    database: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# -- agent quality (issue 12) --------------------------------------------------------------


class CoachTurn(_In):
    role: Literal["customer", "agent"]
    text: str = Field(max_length=MAX_TEXT_CHARS)
    emotion: str | None = Field(
        default=None, description="The customer's emotion if known (else it is analysed)."
    )


class CoachIn(_In):
    messages: list[CoachTurn] = Field(
        default_factory=list, max_length=200, description="The conversation so far, oldest first."
    )
    draft: str = Field(
        min_length=1, max_length=MAX_TEXT_CHARS, description="The agent's draft reply."
    )
    language: Literal["zh", "en"] | None = None


class CoachOut(BaseModel):
    score: float | None = Field(
        description="The draft's 0-100 rubric score (N/A criteria left out)."
    )
    scorecard: dict[str, Any]
    missing: list[dict[str, Any]] = Field(description="Criteria the draft fails, with advice.")
    improved: str = Field(description="An improved draft (templates + FAQ, or the LLM).")
    improved_score: float | None
    improved_scorecard: dict[str, Any]
    source: str = Field(description="template or llm")
    faq_id: str | None = None
    llm_error: str | None = None


class PracticeIn(_In):
    scenario: str = Field(max_length=200, examples=["late_delivery"])
    language: Literal["zh", "en"] = "en"
    difficulty: Literal["easy", "normal", "hard"] = "normal"
    seed: int = Field(default=0, ge=0, le=1_000_000)
    agent_id: str | None = Field(default=None, max_length=MAX_ID)


class PracticeReplyIn(_In):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class PracticeOut(BaseModel):
    id: str
    agent_id: str | None
    scenario: str
    language: str
    difficulty: str
    seed: int
    outcome: str
    score: float | None
    turns: int
    created_at: str | None
    updated_at: str | None
    report: dict[str, Any] = Field(
        default_factory=dict, description="Rubric per turn, emotion curve, what to practise next."
    )
    customer: str | None = Field(default=None, description="The virtual customer's latest line.")


# -- the model this service serves (issue 11: registry, live swap, shadow) ---------------


class ShadowDisagreement(BaseModel):
    champion: str
    challenger: str
    count: int


class ShadowReport(BaseModel):
    """The challenger scored in shadow on live traffic (never returned to callers).

    The counts are the service's: every worker's, summed from the database.
    """

    challenger: str
    champion: str = Field(description="the version the challenger is compared with")
    workers: int = Field(description="worker processes whose counts are summed")
    scope: str = Field(
        description="`service` (every worker's counts) or `worker` (the database could not "
        "be read: this worker's alone)"
    )
    compared: int
    skipped: int
    agreement: dict[str, float | None]
    disagreements: dict[str, list[ShadowDisagreement]]


class ModelsOut(BaseModel):
    """The model this worker serves and, with a registry, what it follows."""

    model: str | None = Field(description="the pack name and version in every result's `model`")
    registry: bool = Field(description="EMOTIONDESK_MODEL_DIR is a model registry")
    champion: str | None = Field(description="the registry version served")
    challenger: str | None = Field(description="the version scored in shadow (shadow on)")
    swaps: int = Field(description="live swaps since this worker started")
    poll_seconds: float | None
    shadow: ShadowReport | None
