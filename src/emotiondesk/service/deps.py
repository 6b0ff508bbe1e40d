"""FastAPI dependencies, as ``Annotated`` aliases used by the routes.

Dependencies that only read ``app.state`` are ``async def``: FastAPI runs a
plain ``def`` dependency in its thread pool, a thread round trip (about 0.1 ms
of CPU) per dependency per request. Only blocking ones (the database session)
stay plain functions.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from emotiondesk.analyzer import Analyzer
from emotiondesk.config import Settings
from emotiondesk.errors import ServiceUnavailableError
from emotiondesk.service.auth import KeyVerifier, Principal
from emotiondesk.service.batching import MicroBatcher
from emotiondesk.service.metrics import Metrics
from emotiondesk.web.session import SESSION_COOKIE

__all__ = [
    "SESSION_COOKIE",
    "AnalyzeKey",
    "AnalyzerDep",
    "BatcherDep",
    "MetricsDep",
    "ReadKey",
    "SessionDep",
    "SettingsDep",
    "WriteKey",
    "get_analyzer",
    "get_batcher",
    "get_metrics",
    "get_session",
    "get_settings_dep",
    "require",
]

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from `emotiondesk keys create`."
)


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_analyzer(request: Request) -> Analyzer:
    analyzer = getattr(request.app.state, "analyzer", None)
    if analyzer is None:
        raise ServiceUnavailableError("the model pack is not loaded yet; retry shortly")
    return analyzer  # type: ignore[no-any-return]


async def get_batcher(request: Request) -> MicroBatcher:
    await get_analyzer(request)
    return request.app.state.batcher  # type: ignore[no-any-return]


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """A database session for the request (closed afterwards; routes commit explicitly)."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


def require(scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting keys with ``scope`` (or admin), within their rate limit."""

    async def dependency(
        request: Request, api_key: Annotated[str | None, Security(api_key_header)] = None
    ) -> Principal:
        verifier: KeyVerifier = request.app.state.verifier
        principal = await verifier.authorize(api_key or request.cookies.get(SESSION_COOKIE), scope)
        assert principal is not None  # authorize raises rather than return None here
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
AnalyzerDep = Annotated[Analyzer, Depends(get_analyzer)]
BatcherDep = Annotated[MicroBatcher, Depends(get_batcher)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SessionDep = Annotated[Session, Depends(get_session)]
AnalyzeKey = Annotated[Principal, Depends(require("analyze"))]
WriteKey = Annotated[Principal, Depends(require("write"))]
ReadKey = Annotated[Principal, Depends(require("read"))]
