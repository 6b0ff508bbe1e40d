"""Liveness and readiness (no API key needed) and Prometheus metrics (a read key outside dev)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from emotiondesk.errors import StorageError
from emotiondesk.service.deps import MetricsAccess, MetricsDep
from emotiondesk.service.schemas import Health, Readiness
from emotiondesk.storage import check_database

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request) -> JSONResponse:
    """Ready when the model pack is loaded and the database answers with its schema."""
    analyzer = getattr(request.app.state, "analyzer", None)
    try:
        await run_in_threadpool(check_database, request.app.state.engine)
        database = "ok"
    except StorageError as exc:
        database = exc.message
    ready = analyzer is not None and database == "ok"
    body = Readiness(
        status="ready" if ready else "not_ready",
        model=analyzer.version if analyzer is not None else None,
        database=database,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
    dependencies=[MetricsAccess],
)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus exposition format (needs a read key unless the service runs in dev mode)."""
    return Response(metrics.render(), media_type=metrics.content_type)
