"""Agent quality: coaching a draft, per-agent scorecards, practice with virtual customers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from emotiondesk.service.contract import ERRORS, ERRORS_404
from emotiondesk.service.deps import AnalyzeKey, BatcherDep, ReadKey, SessionDep, WriteKey
from emotiondesk.service.schemas import CoachIn, CoachOut, PracticeIn, PracticeOut, PracticeReplyIn
from emotiondesk.storage import quality as store
from emotiondesk.usecases.agent_quality import AgentQuality, agent_report

router = APIRouter(prefix="/v1", tags=["agent quality"])


def _quality(request: Request) -> AgentQuality:
    return request.app.state.agent_quality  # type: ignore[no-any-return]


@router.post("/coach", response_model=CoachOut, responses=ERRORS)
async def coach(body: CoachIn, request: Request, _key: AnalyzeKey, batcher: BatcherDep) -> CoachOut:
    """Score an agent's draft reply, say what is missing and propose an improved draft.

    The customer turns the draft answers are analysed unless their `emotion`
    is given; the LLM backend rewrites the draft when it is configured.
    """

    def analyze(texts: list[str]) -> list[Any]:
        return anyio.from_thread.run(batcher.analyze, texts)

    out = await run_in_threadpool(
        _quality(request).coach,
        messages=[(m.role, m.text, m.emotion) for m in body.messages],
        draft=body.draft,
        analyze=analyze,
        language=body.language,
    )
    return CoachOut(**out.to_dict())


def _period(days: int | None) -> datetime | None:
    return datetime.now(UTC) - timedelta(days=days) if days else None


@router.get("/agents", responses=ERRORS)
def list_agents(
    key: ReadKey,
    session: SessionDep,
    days: Annotated[int | None, Query(ge=1, le=3650)] = None,
) -> dict[str, Any]:
    """Every agent's rubric figures: score, daily trend, criteria, weakest, example replies,
    practice sessions (agents are the conversations' `agent_id`)."""
    return {"agents": agent_report(session, workspace=key.workspace, since=_period(days))}


@router.get("/agents/{agent_id}", responses=ERRORS_404)
def get_agent(
    agent_id: str,
    key: ReadKey,
    session: SessionDep,
    days: Annotated[int | None, Query(ge=1, le=3650)] = None,
) -> dict[str, Any]:
    """One agent's rubric figures (404 when the agent has no scored reply and no practice)."""
    from emotiondesk.errors import NotFoundError

    found = agent_report(session, workspace=key.workspace, agent_id=agent_id, since=_period(days))
    if not found:
        raise NotFoundError(f"agent {agent_id!r} has no scored replies or practice sessions")
    return found[0]


def _practice_out(record: Any, customer: str | None) -> PracticeOut:
    return PracticeOut(**store.practice_view(record), customer=customer)


@router.post(
    "/practice", response_model=PracticeOut, status_code=status.HTTP_201_CREATED, responses=ERRORS
)
def start_practice(
    body: PracticeIn, request: Request, key: WriteKey, session: SessionDep
) -> PracticeOut:
    """Start a practice session; `customer` is the virtual customer's opening line."""
    record, live = _quality(request).start_practice(
        session,
        workspace=key.workspace,
        scenario=body.scenario,
        language=body.language,
        difficulty=body.difficulty,
        seed=body.seed,
        agent_id=body.agent_id,
    )
    session.commit()
    return _practice_out(record, live.opening)


@router.post("/practice/{practice_id}/replies", response_model=PracticeOut, responses=ERRORS_404)
def practice_reply(
    practice_id: str,
    body: PracticeReplyIn,
    request: Request,
    key: WriteKey,
    session: SessionDep,
) -> PracticeOut:
    """Send the agent's reply: scored on the rubric, the customer's anger moves, it answers
    (`customer`) or the session ends (`outcome`: resolved, escalated, left, unresolved)."""
    record, step = _quality(request).practice_reply(
        session, workspace=key.workspace, practice_id=practice_id, text=body.text
    )
    session.commit()
    return _practice_out(record, step.reply)


@router.get("/practice/{practice_id}", response_model=PracticeOut, responses=ERRORS_404)
def get_practice(practice_id: str, key: ReadKey, session: SessionDep) -> PracticeOut:
    """A stored practice session with its report."""
    record = store.get_practice(session, workspace=key.workspace, practice_id=practice_id)
    steps = record.report.get("steps") or []
    customer = steps[-1]["reply"] if steps else record.report.get("opening")
    return _practice_out(record, customer)


@router.get("/practice", response_model=list[PracticeOut], responses=ERRORS)
def list_practice(
    key: ReadKey,
    session: SessionDep,
    agent_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[PracticeOut]:
    """Practice sessions, newest first."""
    return [
        _practice_out(r, None)
        for r in store.list_practice(
            session, workspace=key.workspace, agent_id=agent_id, limit=limit
        )
    ]
