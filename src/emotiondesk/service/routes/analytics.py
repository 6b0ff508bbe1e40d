"""Analytics endpoints (``/v1/analytics/...``), the live feed and alert acknowledgement."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from emotiondesk.service.contract import ERRORS, ERRORS_404
from emotiondesk.service.deps import ReadKey, SessionDep, WriteKey
from emotiondesk.service.schemas import AlertOut, ApiDatetime
from emotiondesk.storage import stats
from emotiondesk.usecases import analytics as svc
from emotiondesk.usecases.live import LiveTail

router = APIRouter(prefix="/v1", tags=["analytics"])

Granularity = Literal["hour", "day", "week"]
Slice = Literal["channel", "category", "product_id", "agent_id", "language"]

Days = Annotated[
    int,
    Query(ge=0, le=3660, description="Period: the last N days up to the newest message (0 = all)."),
]
Since = Annotated[ApiDatetime | None, Query(description="Start (ISO 8601); overrides days.")]
Until = Annotated[ApiDatetime | None, Query(description="End, exclusive (ISO 8601).")]
Channel = Annotated[str | None, Query(max_length=64)]
Ident = Annotated[str | None, Query(max_length=128)]


def _product_filters(
    key: ReadKey,
    session: SessionDep,
    days: Days = 30,
    since: Since = None,
    until: Until = None,
    channel: Channel = None,
    category: Ident = None,
    product_id: Ident = None,
) -> stats.Filters:
    """The key's workspace and the period and slice query parameters shared by every
    analytics endpoint (the read key is the route's own: FastAPI checks it once)."""
    since, until = svc.window(session, workspace=key.workspace, days=days, since=since, until=until)
    return stats.Filters(
        workspace=key.workspace,
        since=since,
        until=until,
        channel=channel,
        category=category,
        product_id=product_id,
    )


def _agent_filters(
    request: Request,
    base: Annotated[stats.Filters, Depends(_product_filters)],
    agent_id: Ident = None,
) -> stats.Filters:
    """The shared filters plus ``agent_id`` (the endpoints that can slice by agent)."""
    return replace(base, agent_id=request.app.state.privacy.filter_identifier(agent_id))


#: Filters of the product views (aspects, topics): no agent.
ProductFilters = Annotated[stats.Filters, Depends(_product_filters)]
#: Filters of the conversation views: also by agent.
Filters = Annotated[stats.Filters, Depends(_agent_filters)]


@router.get("/analytics/overview", responses=ERRORS)
def overview(
    _key: ReadKey,
    session: SessionDep,
    f: Filters,
    granularity: Granularity = "day",
) -> dict[str, Any]:
    """KPIs (volume, satisfaction, share negative, top emotion, open alerts), the trend,
    the emotion mix and the split by channel and category."""
    return svc.overview(session, filters=f, granularity=granularity)


@router.get("/analytics/trend", responses=ERRORS)
def trend(
    _key: ReadKey,
    session: SessionDep,
    f: Filters,
    granularity: Granularity = "day",
    by: Slice | None = None,
) -> dict[str, Any]:
    """Satisfaction, share negative/positive and emotion mix per hour/day/week (per slice)."""
    return {
        "granularity": granularity,
        "by": by,
        "points": svc.trend(session, filters=f, granularity=granularity, by=by),
    }


@router.get("/analytics/breakdown", responses=ERRORS)
def breakdown(
    _key: ReadKey,
    session: SessionDep,
    by: Slice,
    f: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The same figures per channel, category, product, agent or language, largest first."""
    return {"by": by, "groups": svc.breakdown(session, filters=f, by=by, limit=limit)}


@router.get("/analytics/aspects", responses=ERRORS)
def aspects(
    request: Request,
    _key: ReadKey,
    session: SessionDep,
    f: ProductFilters,
    sample: Annotated[int, Query(ge=1, le=20_000)] = svc.TEXT_SAMPLE,
) -> dict[str, Any]:
    """Aspect sentiment (price, quality, logistics, ...) with example clauses."""
    analyzer = getattr(request.app.state, "analyzer", None)
    return svc.aspects(session, filters=f, sample=sample, analyzer=analyzer)


@router.get("/analytics/topics", responses=ERRORS)
def topics(
    _key: ReadKey,
    session: SessionDep,
    f: ProductFilters,
    k: Annotated[int | None, Query(ge=1, le=30)] = None,
    sample: Annotated[int, Query(ge=1, le=20_000)] = svc.TEXT_SAMPLE,
) -> dict[str, Any]:
    """Complaint topics of the negative messages, with counts and examples."""
    return svc.topics(session, filters=f, k=k, sample=sample)


@router.post("/analytics/surges/scan", responses=ERRORS)
def scan_surges(
    request: Request,
    key: WriteKey,
    session: SessionDep,
    by: Literal["category", "product_id", "channel"] = "category",
    days: Annotated[int, Query(ge=2, le=90)] = 8,
    sensitivity: Literal["low", "medium", "high"] = "medium",
    method: Literal["binomial", "poisson"] = "binomial",
) -> dict[str, Any]:
    """Test the last hours against a rolling baseline; store each new surge as one alert."""
    found = svc.scan_surges(
        session,
        workspace=key.workspace,
        by=by,
        days=days,
        sensitivity=sensitivity,
        method=method,
    )
    for surge in found:
        if surge.get("new"):
            request.app.state.notify_alert(svc.surge_alert(surge))
    return {"surges": found}


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=ERRORS_404)
def acknowledge(
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)], key: WriteKey, session: SessionDep
) -> AlertOut:
    """Mark an alert as seen (it moves from open to acknowledged)."""
    alert = stats.acknowledge_alert(session, workspace=key.workspace, alert_id=alert_id)
    session.commit()
    return AlertOut.model_validate(alert)


@router.get("/analytics/live", responses=ERRORS)
def live(
    key: ReadKey,
    session: SessionDep,
    after: Annotated[
        ApiDatetime | None, Query(description="Only messages stored after this time.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The newest messages with their conversation's emotion, risk and escalation flags."""
    return {
        "messages": svc.recent_messages_feed(
            session, workspace=key.workspace, after=after, limit=limit
        )
    }


@router.get("/analytics/live/stream", responses=ERRORS)
async def live_stream(
    request: Request,
    key: ReadKey,
    poll: Annotated[float, Query(ge=0.2, le=10)] = 1.0,
) -> StreamingResponse:
    """Server-sent events: one ``message`` event per newly stored message."""
    sessions = request.app.state.sessions
    # A cursor that also catches messages other workers commit out of order.
    tail = LiveTail(workspace=key.workspace)

    def start() -> list[dict[str, Any]]:
        with sessions() as session:
            return tail.start(session, backlog=20)

    def fetch() -> list[dict[str, Any]]:
        with sessions() as session:
            return tail.poll(session, limit=200)

    async def events() -> AsyncIterator[str]:
        for item in await run_in_threadpool(start):
            yield f"event: message\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
        yield "event: ready\ndata: {}\n\n"
        idle = 0.0
        while not await request.is_disconnected():
            await asyncio.sleep(poll)
            items = await run_in_threadpool(fetch)
            for item in items:
                yield f"event: message\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
            if items:
                idle = 0.0
            else:
                idle += poll
                if idle >= 15:
                    yield ": keep-alive\n\n"
                    idle = 0.0

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
