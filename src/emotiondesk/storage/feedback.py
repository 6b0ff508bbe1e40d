"""Reading agents' corrections (feedback): listings, the labels they settle, training rows.

A correction (one ``feedback`` row) may set a message's polarity, its emotion,
or both; each is read here per *task* (``polarity`` or ``emotion``).

**The conflict rule.** When a message was corrected more than once for a task,
the latest correction wins: the one with the latest ``created_at``, and of
equal times the higher id (the one stored last). The message is reported as
*conflicting* when its corrections for that task do not all give the same
label: every listing and export here says so (``conflict``, and the labels
given, oldest first), so that nothing is resolved silently.

**Workspaces.** Every query takes ``workspace`` (a required keyword): the
workspace whose corrections it reads or marks, or ``None`` for every
workspace, which only operator commands (retraining the shared model) pass.

Example:
    >>> rows = training_rows(session, workspace="default", task="polarity",
    ...     unused_only=True)                                              # doctest: +SKIP
    >>> rows[0].text, rows[0].label, rows[0].conflict                      # doctest: +SKIP
    ('物流太慢了', 'negative', False)
    >>> mark_feedback_used(session, feedback_ids=rows[0].feedback_ids)     # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from emotiondesk.errors import InvalidInputError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS
from emotiondesk.storage.repository import Page, to_utc
from emotiondesk.storage.tables import Conversation, Feedback, Message

#: The labelling tasks a correction can carry, with their label schemes.
TASKS: dict[str, tuple[str, ...]] = {
    "polarity": tuple(POLARITY_LABELS),
    "emotion": tuple(EMOTION_LABELS),
}
#: How conflicting corrections of one message are resolved (see the module docstring).
CONFLICT_RULE = "latest correction wins (latest created_at, then highest id)"


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One stored correction with the message it corrects (text masked, as stored)."""

    id: int
    message_id: str
    conversation_id: str
    text: str
    language: str | None
    polarity: str | None
    emotion: str | None
    predicted_polarity: str | None
    predicted_emotion: str | None
    note: str | None
    author: str | None
    model_version: str | None
    used_for_training: bool
    created_at: datetime

    def label(self, task: str) -> str | None:
        """This correction's label for ``task`` (``None``: it does not correct that task)."""
        return self.polarity if task == "polarity" else self.emotion

    def predicted(self, task: str) -> str | None:
        """What the model had said for ``task`` when the correction was made."""
        return self.predicted_polarity if task == "polarity" else self.predicted_emotion


@dataclass(frozen=True, slots=True)
class Correction:
    """One correction of one task of a message, with the label it replaced.

    ``previous`` is the label in effect just before: the previous correction's
    label for this task, else what the model had said (``predicted``).
    """

    feedback_id: int
    message_id: str
    task: str
    label: str
    previous: str | None
    predicted: str | None
    author: str | None
    note: str | None
    model_version: str | None
    used_for_training: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ResolvedLabel:
    """The label a message's corrections settle for one task (a training row).

    ``label`` comes from the winning correction (``feedback_id``) under
    :data:`CONFLICT_RULE`; ``feedback_ids`` are all the corrections of this
    task (mark these used); ``labels`` the labels they gave, oldest first;
    ``conflict`` is true when those differ. ``old_label`` is what the model
    had said (``model_version``) when the winning correction was made.
    """

    message_id: str
    conversation_id: str
    text: str
    language: str | None
    task: str
    label: str
    old_label: str | None
    author: str | None
    created_at: datetime
    model_version: str | None
    feedback_id: int
    feedback_ids: tuple[int, ...]
    labels: tuple[str, ...]
    conflict: bool
    used_for_training: bool

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dict (the export's columns)."""
        return {
            "text": self.text,
            "label": self.label,
            "task": self.task,
            "language": self.language,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "author": self.author,
            "corrected_at": self.created_at.isoformat(),
            "old_label": self.old_label,
            "model_version": self.model_version,
            "feedback_id": self.feedback_id,
            "feedback_ids": " ".join(str(i) for i in self.feedback_ids),
            "conflict": self.conflict,
            "labels_given": " ".join(self.labels),
            "used_for_training": self.used_for_training,
        }


def check_task(task: str | None) -> None:
    if task is not None and task not in TASKS:
        raise InvalidInputError(f"task must be polarity or emotion, not {task!r}")


def _order_key(record: FeedbackRecord | Correction) -> tuple[datetime, int]:
    created = to_utc(record.created_at)
    assert created is not None
    ident = record.id if isinstance(record, FeedbackRecord) else record.feedback_id
    return created, ident


def corrections(records: Iterable[FeedbackRecord]) -> dict[str, list[Correction]]:
    """Per message, its corrections task by task, oldest first, each with the label it replaced."""
    by_message: dict[str, list[FeedbackRecord]] = defaultdict(list)
    for record in records:
        by_message[record.message_id].append(record)
    out: dict[str, list[Correction]] = {}
    for message_id, rows in by_message.items():
        rows.sort(key=_order_key)
        items: list[Correction] = []
        for task in TASKS:
            current: str | None = None
            first = True
            for row in rows:
                label = row.label(task)
                if label is None:
                    continue
                previous = row.predicted(task) if first else current
                items.append(
                    Correction(
                        feedback_id=row.id,
                        message_id=message_id,
                        task=task,
                        label=label,
                        previous=previous,
                        predicted=row.predicted(task),
                        author=row.author,
                        note=row.note,
                        model_version=row.model_version,
                        used_for_training=row.used_for_training,
                        created_at=row.created_at,
                    )
                )
                current, first = label, False
        items.sort(key=_order_key)
        out[message_id] = items
    return out


def resolve_labels(records: Iterable[FeedbackRecord], *, task: str) -> list[ResolvedLabel]:
    """One :class:`ResolvedLabel` per corrected message for ``task``, under :data:`CONFLICT_RULE`.

    Rows come out in the order of their winning corrections (oldest first).

    Example:
        >>> resolve_labels(records, task="emotion")[0].label  # doctest: +SKIP
        'anger'
    """
    check_task(task)
    if task is None:
        raise InvalidInputError("resolve_labels needs a task (polarity or emotion)")
    by_message: dict[str, list[FeedbackRecord]] = defaultdict(list)
    for record in records:
        if record.label(task) is not None:
            by_message[record.message_id].append(record)
    out: list[ResolvedLabel] = []
    for rows in by_message.values():
        rows.sort(key=_order_key)
        winner = rows[-1]
        labels = tuple(str(r.label(task)) for r in rows)
        out.append(
            ResolvedLabel(
                message_id=winner.message_id,
                conversation_id=winner.conversation_id,
                text=winner.text,
                language=winner.language,
                task=task,
                label=str(winner.label(task)),
                old_label=winner.predicted(task),
                author=winner.author,
                created_at=winner.created_at,
                model_version=winner.model_version,
                feedback_id=winner.id,
                feedback_ids=tuple(r.id for r in rows),
                labels=labels,
                conflict=len(set(labels)) > 1,
                used_for_training=all(r.used_for_training for r in rows),
            )
        )
    out.sort(key=lambda r: (to_utc(r.created_at), r.feedback_id))
    return out


# -- queries -------------------------------------------------------------------------------


_COLUMNS = (
    Feedback.id,
    Feedback.message_id,
    Message.conversation_id,
    Message.text,
    Message.language,
    Feedback.polarity,
    Feedback.emotion,
    Feedback.predicted_polarity,
    Feedback.predicted_emotion,
    Feedback.note,
    Feedback.author,
    Feedback.model_version,
    Feedback.used_for_training,
    Feedback.created_at,
)


def _record(row: Any) -> FeedbackRecord:
    return FeedbackRecord(
        id=row.id,
        message_id=row.message_id,
        conversation_id=row.conversation_id,
        text=row.text,
        language=row.language,
        polarity=row.polarity,
        emotion=row.emotion,
        predicted_polarity=row.predicted_polarity,
        predicted_emotion=row.predicted_emotion,
        note=row.note,
        author=row.author,
        model_version=row.model_version,
        used_for_training=bool(row.used_for_training),
        created_at=to_utc(row.created_at) or row.created_at,
    )


def _filters(
    *,
    workspace: str | None,
    conversation_id: str | None,
    message_ids: Sequence[str] | None,
    task: str | None,
    label: str | None,
    language: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    used_for_training: bool | None,
) -> list[Any]:
    check_task(task)
    if label is not None:
        known = TASKS[task] if task is not None else TASKS["polarity"] + TASKS["emotion"]
        if label not in known:
            raise InvalidInputError(f"unknown label {label!r}; known: {', '.join(known)}")
    filters: list[Any] = []
    if workspace is not None:
        filters.append(Feedback.workspace == workspace)
    if conversation_id is not None:
        filters.append(Message.conversation_id == conversation_id)
    if message_ids is not None:
        filters.append(Feedback.message_id.in_(list(message_ids)))
    if task == "polarity":
        filters.append(Feedback.polarity.is_not(None))
    elif task == "emotion":
        filters.append(Feedback.emotion.is_not(None))
    if label is not None:
        if task == "polarity":
            filters.append(Feedback.polarity == label)
        elif task == "emotion":
            filters.append(Feedback.emotion == label)
        else:
            filters.append(or_(Feedback.polarity == label, Feedback.emotion == label))
    if language is not None:
        filters.append(Message.language == language)
    if created_after is not None:
        filters.append(Feedback.created_at >= to_utc(created_after))
    if created_before is not None:
        filters.append(Feedback.created_at < to_utc(created_before))
    if used_for_training is not None:
        filters.append(Feedback.used_for_training.is_(used_for_training))
    return filters


def list_feedback(
    session: Session,
    *,
    workspace: str | None,
    conversation_id: str | None = None,
    message_ids: Sequence[str] | None = None,
    task: str | None = None,
    label: str | None = None,
    language: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    used_for_training: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page:
    """Stored corrections matching every given filter, oldest first; one :class:`Page` of
    :class:`FeedbackRecord`.

    ``task`` keeps the corrections of that task (``polarity`` / ``emotion``);
    ``label`` those that give that label (for ``task``, or either task);
    ``created_after`` (inclusive) / ``created_before`` (exclusive) bound the
    correction's time; ``used_for_training`` the rows a retraining has used.
    """
    filters = _filters(
        workspace=workspace,
        conversation_id=conversation_id,
        message_ids=message_ids,
        task=task,
        label=label,
        language=language,
        created_after=created_after,
        created_before=created_before,
        used_for_training=used_for_training,
    )
    base = select(*_COLUMNS).join(Message, Message.id == Feedback.message_id).where(*filters)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        base.order_by(Feedback.created_at, Feedback.id).limit(limit).offset(offset)
    ).all()
    return Page(items=[_record(r) for r in rows], total=int(total), limit=limit, offset=offset)


def feedback_records(
    session: Session,
    *,
    workspace: str | None,
    conversation_id: str | None = None,
    message_ids: Sequence[str] | None = None,
    task: str | None = None,
    language: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    used_for_training: bool | None = None,
) -> list[FeedbackRecord]:
    """Every stored correction matching the filters (see :func:`list_feedback`), oldest first."""
    filters = _filters(
        workspace=workspace,
        conversation_id=conversation_id,
        message_ids=message_ids,
        task=task,
        label=None,
        language=language,
        created_after=created_after,
        created_before=created_before,
        used_for_training=used_for_training,
    )
    rows = session.execute(
        select(*_COLUMNS)
        .join(Message, Message.id == Feedback.message_id)
        .where(*filters)
        .order_by(Feedback.created_at, Feedback.id)
    ).all()
    return [_record(r) for r in rows]


def corrections_for_messages(
    session: Session, *, workspace: str | None, message_ids: Sequence[str]
) -> dict[str, list[Correction]]:
    """The corrections of each of these messages (oldest first; absent: never corrected)."""
    if not message_ids:
        return {}
    return corrections(feedback_records(session, workspace=workspace, message_ids=message_ids))


def training_rows(
    session: Session,
    *,
    workspace: str | None,
    task: str,
    language: str | None = None,
    conversation_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    unused_only: bool = False,
) -> list[ResolvedLabel]:
    """The labels the corrections settle for ``task``: one row per corrected message.

    Conflicts are resolved by :data:`CONFLICT_RULE` over *all* of a message's
    corrections for the task (used or not), and reported on the row
    (``conflict``, ``labels``). ``unused_only`` keeps the messages with at
    least one correction no retraining has used yet. The date range bounds the
    winning correction's time.
    """
    check_task(task)
    records = feedback_records(
        session,
        workspace=workspace,
        task=task,
        language=language,
        conversation_id=conversation_id,
    )
    rows = resolve_labels(records, task=task)
    after, before = to_utc(created_after), to_utc(created_before)
    if after is not None:
        rows = [r for r in rows if to_utc(r.created_at) >= after]  # type: ignore[operator]
    if before is not None:
        rows = [r for r in rows if to_utc(r.created_at) < before]  # type: ignore[operator]
    if unused_only:
        rows = [r for r in rows if not r.used_for_training]
    return rows


def conflicting_messages(
    session: Session,
    *,
    workspace: str | None,
    task: str | None = None,
    language: str | None = None,
) -> list[ResolvedLabel]:
    """The messages whose corrections disagree (per task; both tasks when ``task`` is None)."""
    tasks = [task] if task is not None else list(TASKS)
    out: list[ResolvedLabel] = []
    for name in tasks:
        out.extend(
            r
            for r in training_rows(session, workspace=workspace, task=name, language=language)
            if r.conflict
        )
    return out


def mark_feedback_used(
    session: Session, *, workspace: str | None, feedback_ids: Iterable[int]
) -> int:
    """Set ``used_for_training`` on these corrections (what a retraining used); the count.
    Only ``workspace``'s corrections are changed (``None``: any workspace's)."""
    ids = sorted({int(i) for i in feedback_ids})
    if not ids:
        return 0
    stmt = update(Feedback).where(Feedback.id.in_(ids))
    if workspace is not None:
        stmt = stmt.where(Feedback.workspace == workspace)
    result: Any = session.execute(
        stmt.values(used_for_training=True).execution_options(synchronize_session="fetch")
    )
    session.flush()
    return int(result.rowcount or 0)


# -- the review queue's inputs ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored customer message no agent has corrected yet (a review-queue candidate)."""

    message_id: str
    conversation_id: str
    text: str
    language: str | None
    polarity: str | None
    emotion: str | None
    analysis: dict[str, Any]
    product: str | None
    created_at: datetime


def review_candidates(
    session: Session, *, workspace: str | None, language: str | None = None, window: int = 500
) -> list[Candidate]:
    """The newest ``window`` customer messages without any correction, newest first.

    ``product`` is the conversation's product id, else its category.
    """
    corrected = select(Feedback.id).where(Feedback.message_id == Message.id).exists()
    stmt = (
        select(
            Message.id,
            Message.conversation_id,
            Message.text,
            Message.language,
            Message.polarity,
            Message.emotion,
            Message.analysis,
            Message.created_at,
            func.coalesce(Conversation.product_id, Conversation.category).label("product"),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.role == "customer", ~corrected)
    )
    if workspace is not None:
        stmt = stmt.where(Message.workspace == workspace)
    if language is not None:
        stmt = stmt.where(Message.language == language)
    rows = session.execute(stmt.order_by(Message.created_at.desc(), Message.id).limit(window)).all()
    return [
        Candidate(
            message_id=r.id,
            conversation_id=r.conversation_id,
            text=r.text,
            language=r.language,
            polarity=r.polarity,
            emotion=r.emotion,
            analysis=dict(r.analysis or {}),
            product=r.product,
            created_at=to_utc(r.created_at) or r.created_at,
        )
        for r in rows
    ]


def corrections_by_product(session: Session, *, workspace: str | None) -> dict[str, int]:
    """How many messages were corrected per product (product id, else category)."""
    product = func.coalesce(Conversation.product_id, Conversation.category)
    stmt = (
        select(product, func.count(func.distinct(Feedback.message_id)))
        .join(Message, Message.id == Feedback.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(product.is_not(None))
    )
    if workspace is not None:
        stmt = stmt.where(Feedback.workspace == workspace)
    rows = session.execute(stmt.group_by(product)).all()
    return {str(p): int(n) for p, n in rows}
