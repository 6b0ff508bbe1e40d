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
from emotiondesk.errors import (
    AuthenticationError,
    PermissionDeniedError,
    ServiceUnavailableError,
)
from emotiondesk.service.auth import KeyVerifier, Principal
from emotiondesk.service.batching import MicroBatcher
from emotiondesk.service.metrics import Metrics
from emotiondesk.storage import repository as repo
from emotiondesk.storage.tables import DEFAULT_WORKSPACE
from emotiondesk.web.session import SESSION_COOKIE, check_same_origin, client_address

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


async def authenticate(request: Request, api_key: str | None) -> Principal | None:
    """The principal of the ``X-API-Key`` header or of the dashboard session cookie.

    ``None`` for an unknown or revoked key; failed attempts count against the
    client address (``auth_failures_per_minute``), past which they get 429.
    """
    verifier: KeyVerifier = request.app.state.verifier
    address = client_address(request)
    verifier.refuse_throttled(address)
    if api_key:
        key_hash = repo.hash_key(api_key)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise AuthenticationError("missing API key: send it in the X-API-Key header")
        found = request.app.state.signer.verify(token)
        if found is None:
            await verifier.count_failure(address)
            raise AuthenticationError("the dashboard session has expired: sign in again")
        check_same_origin(request)
        key_hash = found
    principal = await verifier.verify_hash(key_hash)
    if principal is None:
        await verifier.count_failure(address)
    return principal


async def metrics_access(
    request: Request, api_key: Annotated[str | None, Security(api_key_header)] = None
) -> None:
    """``/metrics`` needs a read key when ``metrics_require_key`` (default: outside dev mode).

    The counters cover every workspace, so only a key of the default workspace
    (the operator's) reads them. The key may come as ``X-API-Key`` or as ``Authorization: Bearer <key>``
    (what Prometheus' ``authorization`` setting sends).
    """
    settings: Settings = request.app.state.settings
    required = settings.metrics_require_key
    if required is None:
        required = not settings.dev
    if not required:
        return
    if not api_key:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            api_key = value.strip()
    if not api_key:
        raise AuthenticationError(
            "/metrics needs an API key with the read scope (X-API-Key or Authorization: Bearer)"
        )
    principal = await authenticate(request, api_key)
    principal = await request.app.state.verifier.admit(principal, "read")
    if principal.workspace != DEFAULT_WORKSPACE:
        # the counters are the whole service's (every workspace's volume and mix)
        raise PermissionDeniedError(
            "/metrics counts every workspace: it needs a key of the default workspace"
        )


def require(scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting keys with ``scope`` (or admin), within their rate limit."""

    async def dependency(
        request: Request, api_key: Annotated[str | None, Security(api_key_header)] = None
    ) -> Principal:
        principal = await authenticate(request, api_key)
        principal = await request.app.state.verifier.admit(principal, scope)
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
MetricsAccess = Depends(metrics_access)
