"""Agents' corrections (stored, listed, read by `emotiondesk learn`) and alerts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from emotiondesk.service.contract import ERRORS
from emotiondesk.service.deps import AnalyzerDep, ReadKey, SessionDep, WriteKey
from emotiondesk.service.schemas import (
    AlertOut,
    ApiDatetime,
    FeedbackConflict,
    FeedbackIn,
    FeedbackOut,
    FeedbackPage,
    FeedbackRow,
    ReviewQueueOut,
)
from emotiondesk.storage import feedback as feedback_store
from emotiondesk.storage import repository as repo
from emotiondesk.usecases import review_queue

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    status_code=status.HTTP_201_CREATED,
    responses={**ERRORS, 404: ERRORS[422]},
)
def add_feedback(
    body: FeedbackIn, request: Request, key: WriteKey, session: SessionDep
) -> FeedbackOut:
    """Correct a stored message's polarity and/or emotion (kept with what the model said).

    PII in the note is masked before it is stored.
    """
    fb = repo.add_feedback(
        session,
        workspace=key.workspace,
        message_id=body.message_id,
        polarity=body.polarity,
        emotion=body.emotion,
        note=request.app.state.privacy.text(body.note),
        author=key.name,
    )
    session.commit()
    return FeedbackOut.model_validate(fb)


@router.get("/feedback", response_model=FeedbackPage, responses=ERRORS)
def list_feedback(
    key: ReadKey,
    session: SessionDep,
    conversation_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    task: Annotated[
        Literal["polarity", "emotion"] | None,
        Query(description="Only corrections of this task."),
    ] = None,
    label: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=16,
            description="Only corrections giving this label (of `task`, or of either task).",
        ),
    ] = None,
    language: Annotated[Literal["zh", "en", "other"] | None, Query()] = None,
    created_after: ApiDatetime | None = None,
    created_before: ApiDatetime | None = None,
    used_for_training: Annotated[
        bool | None, Query(description="Only rows a retraining has (or has not) used.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> FeedbackPage:
    """Stored corrections, oldest first, each with its message and whether it conflicts.

    Conflicting corrections of one message are resolved by a stated rule (`rule`:
    the latest correction wins); `conflicts` lists those among this page's messages.
    """
    page = feedback_store.list_feedback(
        session,
        workspace=key.workspace,
        conversation_id=conversation_id,
        task=task,
        label=label,
        language=language,
        created_after=created_after,
        created_before=created_before,
        used_for_training=used_for_training,
        limit=limit,
        offset=offset,
    )
    ids = sorted({r.message_id for r in page.items})
    every = (
        feedback_store.feedback_records(session, workspace=key.workspace, message_ids=ids)
        if ids
        else []
    )
    resolved = [
        r for t in feedback_store.TASKS for r in feedback_store.resolve_labels(every, task=t)
    ]
    conflicted = {(r.message_id, r.task) for r in resolved if r.conflict}
    winners = {r.feedback_id for r in resolved}
    items = []
    for r in page.items:
        tasks = [t for t in feedback_store.TASKS if r.label(t) is not None]
        items.append(
            FeedbackRow.model_validate(
                {
                    **asdict(r),
                    "conflict": any((r.message_id, t) in conflicted for t in tasks),
                    "superseded": r.id not in winners,
                }
            )
        )
    return FeedbackPage(
        items=items,
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        rule=feedback_store.CONFLICT_RULE,
        conflicts=[
            FeedbackConflict(
                message_id=r.message_id,
                task=r.task,
                labels=list(r.labels),
                label=r.label,
                feedback_id=r.feedback_id,
                feedback_ids=list(r.feedback_ids),
            )
            for r in resolved
            if r.conflict
        ],
    )


@router.get("/review-queue", response_model=ReviewQueueOut, responses=ERRORS)
def get_review_queue(
    key: ReadKey,
    session: SessionDep,
    analyzer: AnalyzerDep,
    language: Annotated[Literal["zh", "en", "other"] | None, Query()] = None,
    window: Annotated[
        int,
        Query(ge=1, le=5000, description="How many of the newest uncorrected messages to rank."),
    ] = 500,
    label_check: Annotated[
        bool, Query(description="Look for likely label errors in the corrections (cleanlab).")
    ] = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ReviewQueueOut:
    """Stored messages most worth an agent's label, highest priority first, each with why.

    Signals: uncertainty of the calibrated probabilities, disagreement of the fast and
    the deep tier (ensemble routes), under-represented labels and products, and
    corrections that look wrong (cleanlab on cross-validated probabilities; those
    not checkable are counted in `label_check`). Label with `POST /v1/feedback`.
    """
    queue = review_queue.build_review_queue(
        session,
        analyzer,
        workspace=key.workspace,
        language=language,
        window=window,
        limit=limit,
        offset=offset,
        check_labels=label_check,
    )
    return ReviewQueueOut.model_validate(
        {
            "items": [asdict(i) for i in queue.items],
            "total": queue.total,
            "limit": limit,
            "offset": offset,
            "candidates": queue.candidates,
            "weights": review_queue.WEIGHTS,
            "tiers": queue.tiers,
            "label_check": [c.to_dict() for c in queue.label_check],
        }
    )


@router.get("/alerts", response_model=list[AlertOut], responses=ERRORS)
def list_alerts(
    key: ReadKey,
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AlertOut]:
    """Alerts, newest first."""
    return [
        AlertOut.model_validate(a)
        for a in repo.list_alerts(
            session, workspace=key.workspace, kind=kind, limit=limit, offset=offset
        )
    ]
