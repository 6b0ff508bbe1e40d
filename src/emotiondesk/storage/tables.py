"""SQLAlchemy 2 tables: conversations, messages, feedback, alerts, API keys, practice sessions.

Message text is stored masked (see :mod:`emotiondesk.text.pii`); ``raw_text``
stays empty unless the ``store_raw_text`` setting says otherwise. The
conversation's ``state`` (and each message's ``state`` at that turn) holds
what the conversation engine returns: trajectory, escalation risk, policy
decisions and reply suggestions live there as JSON, so that the dialogue
layer can grow without schema changes.

Every tenant row carries its ``workspace`` (conversations, messages,
feedback, alerts, API keys, practice sessions): a key reads and writes its
own workspace's rows only, and a one-shop install lives in
:data:`DEFAULT_WORKSPACE`. ``rate_buckets`` and ``service_secrets`` are the
service's own bookkeeping, shared by all workspaces.

The schema is created and upgraded by the Alembic migrations in
``storage/migrations``; change both together.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JSONType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


#: The workspace of a one-shop install: keys and rows without a workspace belong to it.
DEFAULT_WORKSPACE = "default"


def workspace_column(*, index: bool = True) -> Mapped[str]:
    """The workspace (tenant) a row belongs to; every query is scoped to one (migration 0007).

    ``index=False`` where a composite index leads with it instead.
    """
    return mapped_column(
        String(64), default=DEFAULT_WORKSPACE, server_default=DEFAULT_WORKSPACE, index=index
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: Indexed with ``created_at`` (``ix_conversations_workspace_created``).
    workspace: Mapped[str] = workspace_column(index=False)
    channel: Mapped[str | None] = mapped_column(String(64), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    product_id: Mapped[str | None] = mapped_column(String(128), index=True)
    category: Mapped[str | None] = mapped_column(String(128), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(128), index=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    #: The conversation engine's latest state (trajectory, risk, decisions, ...).
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(32), default="open", index=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.seq", cascade="all, delete-orphan"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "client_message_id", name="uq_messages_client_id"),
        UniqueConstraint("conversation_id", "seq", name="uq_messages_seq"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    #: The conversation's workspace (kept on the row so analytics need no join);
    #: indexed with ``created_at`` (``ix_messages_workspace_created``).
    workspace: Mapped[str] = workspace_column(index=False)
    seq: Mapped[int] = mapped_column(Integer)
    client_message_id: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    #: The text with PII masked: what is kept.
    text: Mapped[str] = mapped_column(Text)
    #: The unmasked text, only with the ``store_raw_text`` setting.
    raw_text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    polarity: Mapped[str | None] = mapped_column(String(16), index=True)
    score: Mapped[float | None] = mapped_column(Float)
    emotion: Mapped[str | None] = mapped_column(String(16), index=True)
    #: The full analysis (probabilities, flags) as returned by the analyzer.
    analysis: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: The conversation engine's state right after this message.
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    pii: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    model_version: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    #: An agent message's rubric scorecard (criteria, verdicts, evidence; see
    #: :mod:`emotiondesk.agentqa`) and its 0-100 score; empty for customer messages.
    scorecard: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    qa_score: Mapped[float | None] = mapped_column(Float)
    #: Why the message reads as it does: the spans that drove its polarity and
    #: emotion and its aspects (offsets into ``text``, bounded in size; see
    #: ``usecases.analyze_messages.stored_evidence``); null when not computed.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    feedback: Mapped[list[Feedback]] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    workspace: Mapped[str] = workspace_column()
    polarity: Mapped[str | None] = mapped_column(String(16))
    emotion: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(128))
    #: What the model had said, kept for evaluation of corrections.
    predicted_polarity: Mapped[str | None] = mapped_column(String(16))
    predicted_emotion: Mapped[str | None] = mapped_column(String(16))
    model_version: Mapped[str | None] = mapped_column(String(128))
    used_for_training: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )

    message: Mapped[Message] = relationship(back_populates="feedback")


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = workspace_column()
    kind: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    #: The workspace whose data the key reads and writes (and nothing else).
    workspace: Mapped[str] = workspace_column()
    #: The first characters of the key, to recognise it in listings.
    prefix: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the whole key (keys are 32 random bytes, so no slow hash is needed).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: Requests per minute; None uses the service default.
    rate_limit: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateBucket(Base):
    """A token bucket shared by every worker (migration 0004): API keys, failed logins."""

    __tablename__ = "rate_buckets"

    #: ``key:<id>`` for an API key, ``authfail:<address>`` for failed authentication.
    bucket: Mapped[str] = mapped_column(String(160), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    #: Unix seconds of the last refill.
    updated: Mapped[float] = mapped_column(Float)
    #: Tokens the last claim got (what a claim reads back).
    granted: Mapped[int] = mapped_column(Integer, default=0)


class ServiceSecret(Base):
    """Secrets the workers share (migration 0004): the dashboard session signing key."""

    __tablename__ = "service_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


Index("ix_messages_conversation_created", Message.conversation_id, Message.created_at)
# Workspaces (migration 0007): a workspace's newest messages and conversations (the live
# feed, the conversation list) without sorting the whole workspace.
Index("ix_messages_workspace_created", Message.workspace, Message.created_at)
Index("ix_conversations_workspace_created", Conversation.workspace, Conversation.created_at)
# Analytics (migration 0002, workspace first since 0007): one workspace's customer
# messages in a time window, covering what the aggregates read (SQLite gets the
# covered columns as trailing key columns instead).
Index(
    "ix_messages_analytics",
    Message.workspace,
    Message.role,
    Message.created_at,
    postgresql_include=["polarity", "emotion", "score", "conversation_id"],
)


class PracticeSession(Base):
    """A practice conversation with a virtual customer (:mod:`emotiondesk.agentqa.practice`).

    The session is rebuilt from its settings and ``replies`` (deterministic);
    ``report`` is the latest report (rubric per turn, emotion curve, outcome).
    """

    __tablename__ = "practice_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace: Mapped[str] = workspace_column()
    agent_id: Mapped[str | None] = mapped_column(String(128), index=True)
    scenario: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    difficulty: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16), default="in_progress", index=True)
    score: Mapped[float | None] = mapped_column(Float)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[list[str]] = mapped_column(JSONType, default=list)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ShadowCount(Base):
    """One worker's shadow-scoring counts for a challenger/champion pair (migration 0009).

    Each worker owns its row (``worker``: host, process id and a start nonce)
    and overwrites it with its running totals, so no two writers ever touch
    one row; ``GET /v1/models`` sums the rows of the current pair (every
    worker, including ones that have since exited).
    """

    __tablename__ = "shadow_counts"

    challenger: Mapped[str] = mapped_column(String(64), primary_key=True)
    champion: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker: Mapped[str] = mapped_column(String(128), primary_key=True)
    compared: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    #: ``{task: texts on which the challenger agreed}``
    agree: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    #: ``{task: [[champion label, challenger label, count], ...]}`` (disagreements only)
    pairs: Mapped[dict[str, list[list[Any]]]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
