"""Repository functions: the only code that builds queries. Keyword-only arguments.

Each function takes a :class:`~sqlalchemy.orm.Session` and leaves committing
to the caller. Every function that reads or writes a tenant's rows takes its
``workspace`` (a required keyword): a row of another workspace is never
returned, counted or changed, and looking one up by id is a
:class:`NotFoundError`, exactly as if it did not exist (the service commits once per request, after everything that
request stores is in the session).

Example:
    >>> conv = create_conversation(session, workspace="default", channel="web")  # doctest: +SKIP
    >>> session.commit()                                                        # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, case, cast, delete, func, or_, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from emotiondesk.errors import ConflictError, InvalidInputError, NotFoundError
from emotiondesk.storage.tables import (
    DEFAULT_WORKSPACE,
    Alert,
    ApiKey,
    Conversation,
    Feedback,
    Message,
    RateBucket,
    ServiceSecret,
    utcnow,
)


class StaleConversationError(ConflictError):
    """The conversation changed between reading it and storing a message in it."""


#: API key scopes; ``admin`` implies every other.
SCOPES = ("analyze", "write", "read", "admin")
KEY_PREFIX = "ed_"
WORKSPACE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def check_workspace(name: str) -> str:
    """A valid workspace name (lowercase letters, digits, ``_ . -``; at most 64), or
    :class:`InvalidInputError`."""
    value = str(name).strip()
    if not WORKSPACE_PATTERN.fullmatch(value):
        raise InvalidInputError(
            f"workspace {name!r} is not a valid name: 1-64 lowercase letters, digits, "
            "'_', '.' or '-', starting with a letter or digit"
        )
    return value


def to_utc(value: datetime | None) -> datetime | None:
    """Aware datetimes converted to UTC; naive ones taken as UTC (SQLite keeps no offset)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# -- conversations -------------------------------------------------------------------------


def create_conversation(
    session: Session,
    *,
    workspace: str,
    channel: str | None = None,
    customer_id: str | None = None,
    product_id: str | None = None,
    category: str | None = None,
    agent_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    conversation_id: str | None = None,
) -> Conversation:
    """Add a new open conversation to the session and flush it (its ``id`` is then set)."""
    conv = Conversation(
        workspace=workspace,
        channel=channel,
        customer_id=customer_id,
        product_id=product_id,
        category=category,
        agent_id=agent_id,
        meta=dict(metadata or {}),
        state={},
        status="open",
        message_count=0,
    )
    if conversation_id is not None:
        conv.id = conversation_id
    session.add(conv)
    session.flush()
    return conv


def get_conversation(
    session: Session,
    *,
    workspace: str,
    conversation_id: str,
    with_messages: bool = False,
    for_update: bool = False,
) -> Conversation:
    """The workspace's conversation, or :class:`NotFoundError` (also for another
    workspace's: its existence is not revealed)."""
    stmt = select(Conversation).where(
        Conversation.id == conversation_id, Conversation.workspace == workspace
    )
    if with_messages:
        stmt = stmt.options(selectinload(Conversation.messages))
    if for_update:
        stmt = stmt.with_for_update()
    conv = session.scalars(stmt).first()
    if conv is None:
        raise NotFoundError(f"conversation {conversation_id!r} does not exist")
    return conv


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    limit: int
    offset: int


#: Orders ``list_conversations`` knows: newest first (``created``), most recently
#: active first (``updated``), highest current risk first (``risk``).
CONVERSATION_SORTS = ("created", "updated", "risk")
#: ``conversation`` (live) or ``review`` (a row of an imported archive).
CONVERSATION_KINDS = ("conversation", "review")


def _risk_expr() -> Any:
    return Conversation.state["risk"]["value"].as_float()


def list_conversations(
    session: Session,
    *,
    workspace: str,
    channel: str | None = None,
    customer_id: str | None = None,
    product_id: str | None = None,
    category: str | None = None,
    agent_id: str | None = None,
    status: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    escalated: bool | None = None,
    language: str | None = None,
    kind: str | None = None,
    q: str | None = None,
    q_customer_id: str | None = None,
    sort: str = "created",
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Conversations matching every given filter, one page of them.

    ``sort``: see :data:`CONVERSATION_SORTS` (risk: unknown risk last). ``q``
    finds a customer id or conversation id (prefix), or an order number or other
    words in a message; ``q_customer_id`` is the stored form of ``q`` as a
    customer id (its pseudonym), matched exactly as well. ``kind``: see
    :data:`CONVERSATION_KINDS`.
    """
    if sort not in CONVERSATION_SORTS:
        raise InvalidInputError(
            f"sort must be one of {', '.join(CONVERSATION_SORTS)}, not {sort!r}"
        )
    filters: list[Any] = [Conversation.workspace == workspace]
    for column, value in (
        (Conversation.channel, channel),
        (Conversation.customer_id, customer_id),
        (Conversation.product_id, product_id),
        (Conversation.category, category),
        (Conversation.agent_id, agent_id),
        (Conversation.status, status),
    ):
        if value is not None:
            filters.append(column == value)
    if created_after is not None:
        filters.append(Conversation.created_at >= to_utc(created_after))
    if created_before is not None:
        filters.append(Conversation.created_at < to_utc(created_before))
    if escalated is not None:
        flag = func.coalesce(Conversation.state["escalated"].as_boolean(), False)
        filters.append(flag.is_(True) if escalated else flag.is_(False))
    if language is not None:
        filters.append(Conversation.state["dialogue"]["language"].as_string() == language)
    if kind is not None:
        if kind not in CONVERSATION_KINDS:
            raise InvalidInputError(f"kind must be conversation or review, not {kind!r}")
        imported = func.coalesce(Conversation.meta["imported"].as_boolean(), False)
        filters.append(imported.is_(True) if kind == "review" else imported.is_(False))
    if q is not None and q.strip():
        term = q.strip()
        like = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        in_text = (
            select(Message.id)
            .where(
                Message.conversation_id == Conversation.id,
                Message.text.like(f"%{like}%", escape="\\"),
            )
            .exists()
        )
        matches = [
            Conversation.customer_id.like(f"{like}%", escape="\\"),
            Conversation.id.like(f"{like}%", escape="\\"),
            in_text,
        ]
        if q_customer_id is not None:
            matches.append(Conversation.customer_id == q_customer_id)
        filters.append(or_(*matches))
    order: list[Any]
    if sort == "risk":
        risk = _risk_expr()
        order = [risk.is_(None), risk.desc(), Conversation.updated_at.desc(), Conversation.id]
    elif sort == "updated":
        order = [Conversation.updated_at.desc(), Conversation.id]
    else:
        order = [Conversation.created_at.desc(), Conversation.id]
    total = session.scalar(select(func.count()).select_from(Conversation).where(*filters)) or 0
    items = list(
        session.scalars(
            select(Conversation).where(*filters).order_by(*order).limit(limit).offset(offset)
        )
    )
    return Page(items=items, total=int(total), limit=limit, offset=offset)


def update_conversation(
    session: Session,
    *,
    workspace: str,
    conversation_id: str,
    status: str | None = None,
    agent_id: str | None = None,
) -> Conversation:
    """Set a conversation's status (open, resolved, closed) and/or its agent."""
    conv = get_conversation(session, workspace=workspace, conversation_id=conversation_id)
    if status is not None:
        if status not in ("open", "resolved", "closed"):
            raise InvalidInputError(f"status must be open, resolved or closed, not {status!r}")
        conv.status = status
    if agent_id is not None:
        conv.agent_id = agent_id
    conv.updated_at = utcnow()
    session.flush()
    return conv


# -- messages ------------------------------------------------------------------------------


def find_message(
    session: Session, *, workspace: str, conversation_id: str, client_message_id: str
) -> Message | None:
    """The message a client already sent with this id in this conversation, if any."""
    return session.scalars(
        select(Message).where(
            Message.workspace == workspace,
            Message.conversation_id == conversation_id,
            Message.client_message_id == client_message_id,
        )
    ).first()


def get_message(session: Session, *, workspace: str, message_id: str) -> Message:
    """The workspace's message, or :class:`NotFoundError` (also for another workspace's)."""
    msg = session.get(Message, message_id)
    if msg is None or msg.workspace != workspace:
        raise NotFoundError(f"message {message_id!r} does not exist")
    return msg


def recent_messages(session: Session, *, conversation_id: str, limit: int = 50) -> list[Message]:
    """The last ``limit`` messages of a conversation, oldest first (a conversation the
    caller loaded with :func:`get_conversation`, so of its workspace)."""
    rows = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.seq.desc())
            .limit(limit)
        )
    )
    rows.reverse()
    return rows


def recent_turns(
    session: Session, *, conversation_id: str, limit: int = 50
) -> list[dict[str, Any]]:
    """The last ``limit`` turns as plain dicts (``seq, role, text, analysis, sent_at``),
    oldest first, of a conversation loaded with :func:`get_conversation`; lighter than :func:`recent_messages` (no per-message state is read)."""
    rows = session.execute(
        select(Message.seq, Message.role, Message.text, Message.analysis, Message.sent_at)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.seq.desc())
        .limit(limit)
    ).all()
    return [
        {"seq": r.seq, "role": r.role, "text": r.text, "analysis": r.analysis, "sent_at": r.sent_at}
        for r in reversed(rows)
    ]


def add_message(
    session: Session,
    *,
    conversation: Conversation,
    role: str,
    text: str,
    analysis: dict[str, Any],
    state: dict[str, Any] | None = None,
    raw_text: str | None = None,
    pii: dict[str, int] | None = None,
    model_version: str | None = None,
    sent_at: datetime | None = None,
    client_message_id: str | None = None,
    scorecard: dict[str, Any] | None = None,
    evidence: dict[str, Any] | None = None,
) -> Message:
    """Append a message to ``conversation`` and record the engine ``state`` on both.

    ``scorecard`` is an agent message's rubric scorecard (its ``score`` is kept
    in ``qa_score`` for the agent figures); ``evidence`` why the message reads
    as it does (offsets into ``text``).

    ``text`` must already be masked. The conversation's ``message_count`` as
    loaded is the version the caller's ``state`` was computed from: the update
    is a compare-and-swap on it, so a concurrent writer that got there first
    makes this call raise :class:`StaleConversationError` (reload and retry)
    instead of overwriting its state.
    """
    expected = conversation.message_count
    seq = expected + 1
    now = utcnow()
    values: dict[str, Any] = {"message_count": seq, "updated_at": now}
    if state is not None:
        values["state"] = state
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.message_count == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleConversationError(
            f"conversation {conversation.id!r} changed concurrently; reload and retry"
        )
    for key, value in values.items():
        set_committed_value(conversation, key, value)
    msg = Message(
        conversation_id=conversation.id,
        workspace=conversation.workspace,
        seq=seq,
        client_message_id=client_message_id,
        role=role,
        text=text,
        raw_text=raw_text,
        language=analysis.get("language"),
        polarity=analysis.get("polarity"),
        score=analysis.get("score"),
        emotion=analysis.get("emotion"),
        analysis=analysis,
        state=state,
        pii=dict(pii or {}),
        model_version=model_version,
        sent_at=to_utc(sent_at),
        scorecard=scorecard,
        evidence=evidence,
        qa_score=(scorecard or {}).get("score"),
    )
    session.add(msg)
    session.flush()
    return msg


def count_messages(session: Session, *, workspace: str, conversation_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(Message).where(Message.workspace == workspace)
    if conversation_id is not None:
        stmt = stmt.where(Message.conversation_id == conversation_id)
    return int(session.scalar(stmt) or 0)


def list_workspaces(session: Session) -> list[str]:
    """The workspaces that hold conversations (what the surge monitor scans)."""
    return sorted(session.scalars(select(Conversation.workspace).distinct()))


# -- feedback ------------------------------------------------------------------------------


def add_feedback(
    session: Session,
    *,
    workspace: str,
    message_id: str,
    polarity: str | None = None,
    emotion: str | None = None,
    note: str | None = None,
    author: str | None = None,
) -> Feedback:
    """Store an agent's correction of a message's polarity and/or emotion."""
    if polarity is None and emotion is None:
        raise InvalidInputError("feedback needs a corrected 'polarity' or 'emotion' (or both)")
    msg = get_message(session, workspace=workspace, message_id=message_id)
    fb = Feedback(
        message_id=msg.id,
        workspace=msg.workspace,
        polarity=polarity,
        emotion=emotion,
        note=note,
        author=author,
        predicted_polarity=msg.polarity,
        predicted_emotion=msg.emotion,
        model_version=msg.model_version,
        used_for_training=False,
    )
    session.add(fb)
    session.flush()
    return fb


def list_feedback(
    session: Session,
    *,
    workspace: str,
    unused_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[Feedback]:
    stmt = select(Feedback).where(Feedback.workspace == workspace).order_by(Feedback.id)
    if unused_only:
        stmt = stmt.where(Feedback.used_for_training.is_(False))
    return list(session.scalars(stmt.limit(limit).offset(offset)))


# -- alerts --------------------------------------------------------------------------------


def serialize(session: Session, name: str) -> None:
    """Hold a lock named ``name`` until this transaction ends, across processes.

    On PostgreSQL a transaction-scoped advisory lock, so that check-then-insert
    sections (a surge scan's "is this episode stored?") run one at a time
    across service workers; SQLite lets one writer at a time anyway.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql_text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def create_alert(
    session: Session,
    *,
    workspace: str,
    kind: str,
    title: str,
    severity: str = "warning",
    conversation_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> Alert:
    alert = Alert(
        workspace=workspace,
        kind=kind,
        title=title,
        severity=severity,
        conversation_id=conversation_id,
        details=dict(details or {}),
    )
    session.add(alert)
    session.flush()
    return alert


def list_alerts(
    session: Session,
    *,
    workspace: str,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Alert]:
    stmt = (
        select(Alert)
        .where(Alert.workspace == workspace)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
    )
    if kind is not None:
        stmt = stmt.where(Alert.kind == kind)
    return list(session.scalars(stmt.limit(limit).offset(offset)))


# -- API keys ------------------------------------------------------------------------------


def hash_key(key: str) -> str:
    """SHA-256 hex digest of an API key (what is stored)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """A new random API key: ``ed_`` + 43 URL-safe characters (32 random bytes)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def normalize_scopes(scopes: Sequence[str]) -> list[str]:
    out: list[str] = []
    for scope in scopes:
        for part in str(scope).split(","):
            part = part.strip().lower()
            if not part:
                continue
            if part not in SCOPES:
                raise InvalidInputError(f"unknown scope {part!r}; use {', '.join(SCOPES)}")
            if part not in out:
                out.append(part)
    if not out:
        raise InvalidInputError(f"an API key needs at least one scope ({', '.join(SCOPES)})")
    return out


def create_api_key(
    session: Session,
    *,
    name: str,
    scopes: Sequence[str],
    rate_limit: int | None = None,
    key: str | None = None,
    workspace: str = DEFAULT_WORKSPACE,
) -> tuple[ApiKey, str]:
    """Create a key of ``workspace``; return the stored row and the plaintext key
    (shown once, never stored)."""
    plaintext = key or generate_key()
    if rate_limit is not None and rate_limit < 0:
        raise InvalidInputError("rate_limit must be >= 0 requests per minute (0 = unlimited)")
    row = ApiKey(
        name=name,
        workspace=check_workspace(workspace),
        prefix=plaintext[:10],
        key_hash=hash_key(plaintext),
        scopes=normalize_scopes(scopes),
        rate_limit=rate_limit,
    )
    session.add(row)
    session.flush()
    return row, plaintext


def find_api_key(session: Session, *, key: str) -> ApiKey | None:
    """The active (not revoked) key row for a plaintext key."""
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


def list_api_keys(
    session: Session, *, include_revoked: bool = False, workspace: str | None = None
) -> list[ApiKey]:
    """Keys (an operator's listing: every workspace's, or ``workspace``'s only)."""
    stmt = select(ApiKey).order_by(ApiKey.id)
    if workspace is not None:
        stmt = stmt.where(ApiKey.workspace == workspace)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(stmt))


def revoke_api_key(session: Session, *, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError(f"API key #{key_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()
    return row


# -- shared rate limits and secrets --------------------------------------------------------


def _insert(session: Session, model: type[Any]) -> Any:
    """An INSERT with ``on_conflict_do_*`` for the session's database (PostgreSQL or SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def take_tokens(
    session: Session, *, bucket: str, want: int, capacity: float, rate: float, now: float
) -> tuple[int, float]:
    """Take up to ``want`` tokens from a shared token bucket, atomically; (granted, left).

    The bucket holds at most ``capacity`` tokens and refills ``rate`` tokens a
    second. One statement (an upsert that refills, takes and reads back), so
    concurrent workers never hand out the same token. Commits.
    """
    dialect = session.get_bind().dialect.name
    t = RateBucket
    elapsed = case((t.updated > now, 0.0), else_=now - t.updated)
    raw = t.tokens + elapsed * rate
    refill = case((raw > capacity, capacity), else_=raw)
    whole = func.floor(refill) if dialect == "postgresql" else cast(refill, Integer)
    grant = case((refill < want, whole), else_=want)
    first = min(want, int(capacity))
    stmt = (
        _insert(session, RateBucket)
        .values(bucket=bucket, tokens=capacity - first, updated=now, granted=first)
        .on_conflict_do_update(
            index_elements=[RateBucket.bucket],
            set_={"tokens": refill - grant, "updated": now, "granted": grant},
        )
        .returning(RateBucket.granted, RateBucket.tokens)
    )
    granted, left = session.execute(stmt).one()
    session.commit()
    return int(granted), float(left)


def forget_idle_buckets(session: Session, *, before: float) -> int:
    """Delete buckets untouched since ``before`` (Unix seconds; full again by then). Commits."""
    result: Any = session.execute(delete(RateBucket).where(RateBucket.updated < before))
    n = result.rowcount
    session.commit()
    return int(n or 0)


def service_secret(session: Session, *, name: str) -> str:
    """The shared secret ``name``, created (random, 32 bytes) on first use. Commits."""
    row = session.get(ServiceSecret, name)
    if row is not None:
        return row.value
    session.execute(
        _insert(session, ServiceSecret)
        .values(name=name, value=secrets.token_urlsafe(32), created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    session.commit()
    value = session.scalar(select(ServiceSecret.value).where(ServiceSecret.name == name))
    assert value is not None
    return value


def find_api_key_by_hash(session: Session, *, key_hash: str) -> ApiKey | None:
    """The active key row whose SHA-256 is ``key_hash``."""
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()
    if row is None or row.revoked_at is not None:
        return None
    return row
