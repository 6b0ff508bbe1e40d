"""Agents' corrections (stored for retraining) and alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from emotiondesk.service.contract import ERRORS
from emotiondesk.service.deps import ReadKey, SessionDep, WriteKey
from emotiondesk.service.schemas import AlertOut, FeedbackIn, FeedbackOut
from emotiondesk.storage import repository as repo

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
