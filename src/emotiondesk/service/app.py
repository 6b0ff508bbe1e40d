"""The FastAPI application factory.

Example:
    >>> from emotiondesk.config import Settings
    >>> from emotiondesk.service import create_app
    >>> app = create_app(Settings(dev=True))   # doctest: +SKIP
    >>> # uvicorn.run(app)  — or `emotiondesk serve`
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute, APIRouter

from emotiondesk._version import __version__
from emotiondesk.analyzer import Analyzer, load_analyzer
from emotiondesk.config import Settings, get_settings
from emotiondesk.service.auth import KeyVerifier, check_bootstrap_key
from emotiondesk.service.batching import MicroBatcher
from emotiondesk.service.fastpath import AnalyzeFastPath
from emotiondesk.service.guard import GuardMiddleware
from emotiondesk.service.handlers import install_handlers
from emotiondesk.service.limits import BodySizeLimitMiddleware
from emotiondesk.service.live_models import LiveModels
from emotiondesk.service.metrics import Metrics, MetricsMiddleware
from emotiondesk.service.routes import analytics, analyze, conversations, feedback, health
from emotiondesk.service.routes import models as models_routes
from emotiondesk.service.routes import quality as quality_routes
from emotiondesk.storage import make_engine, make_session_factory, redact_url, upgrade_database
from emotiondesk.storage import repository as repo
from emotiondesk.text.privacy import Privacy
from emotiondesk.usecases.conversation import ConversationHook, resolve_hook, serialized
from emotiondesk.web.session import SessionSigner

logger = logging.getLogger(__name__)

DESCRIPTION = """Emotion-aware customer service analysis for Chinese and English.

Send an API key (from `emotiondesk keys create`) in the `X-API-Key` header.
Errors come back as `{"error": {"code": ..., "message": ...}}`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    analyzer: Analyzer | None = None,
    conversation_engine: ConversationHook | None = None,
) -> FastAPI:
    """Build the service.

    Args:
        settings: runtime settings (default: :func:`get_settings`).
        analyzer: an already loaded analyzer; by default the pack named by the
            settings is loaded in the lifespan (at startup, once).
        conversation_engine: the :class:`ConversationHook` run on every ingested
            message; by default the one the settings name.

    Raises:
        ConfigError: a placeholder ``EMOTIONDESK_API_KEY`` outside dev mode; a rule,
            rubric or aspect-lexicon file that is not valid.
    """
    settings = settings or get_settings()
    bootstrap = settings.api_key.get_secret_value() if settings.api_key is not None else None
    check_bootstrap_key(bootstrap, dev=settings.dev)
    engine_fn = serialized(
        conversation_engine or resolve_hook(settings.conversation_engine, settings)
    )
    metrics = Metrics()
    privacy = Privacy.from_settings(settings)
    from emotiondesk.usecases.agent_quality import AgentQuality  # agent quality (issue 12)

    quality = AgentQuality.from_settings(settings)
    from emotiondesk.analytics.aspects import aspect_lexicon

    aspect_lexicon(settings.aspect_lexicon_file)  # a bad lexicon file fails here, not on a request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from emotiondesk.service.logs import install_access_log_redaction

        install_access_log_redaction()  # here, so every worker process has it
        db_engine = make_engine(
            settings.database_url.get_secret_value() if settings.database_url else None
        )
        logger.info("database: %s", redact_url(str(db_engine.url)))
        if settings.auto_migrate:
            await run_in_threadpool(upgrade_database, db_engine)
        sessions = make_session_factory(db_engine)
        app.state.engine = db_engine
        app.state.sessions = sessions
        app.state.verifier = KeyVerifier(
            sessions,
            bootstrap_key=bootstrap,
            default_rate_limit=settings.rate_limit_per_minute,
            ttl=settings.api_key_cache_seconds,
            auth_failures_per_minute=settings.auth_failures_per_minute,
        )
        secret = await run_in_threadpool(_session_secret, sessions)
        app.state.signer = SessionSigner(secret)
        app.state.conversation_engine = engine_fn
        app.state.agent_quality = quality
        model = analyzer
        if model is None:
            model = await run_in_threadpool(
                load_analyzer, settings.model_dir, max_chars=settings.max_chars
            )
        app.state.analyzer = model
        metrics.model_loaded.set(1)
        live = LiveModels(app, settings, metrics)  # follows a registry's champion (issue 11)
        app.state.live_models = live
        batcher = MicroBatcher(
            live.analyze,
            max_batch=settings.batch_max_size,
            max_wait=settings.batch_max_wait_ms / 1000.0,
            enabled=settings.batching,
            observe=metrics.observe_batch,
        )
        await batcher.start()
        app.state.batcher = batcher
        await live.start()
        logger.info(
            "ready: model %s, micro-batching %s",
            model.version,
            "on" if settings.batching else "off",
        )
        from emotiondesk.service.monitor import SurgeMonitor  # analytics (issue 6)

        monitor = SurgeMonitor(
            sessions,
            minutes=settings.surge_scan_minutes,
            sensitivity=settings.surge_sensitivity,
            notify=notify_alert,
        )
        monitor.start()
        try:
            yield
        finally:
            await live.stop()
            await monitor.stop()
            if app.state.notifier is not None:
                await run_in_threadpool(app.state.notifier.close, 5.0)
            await batcher.stop()
            metrics.model_loaded.set(0)
            db_engine.dispose()

    app = FastAPI(
        title="emotiondesk",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs and /redoc are served by the web package from local assets (no CDN)
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.privacy = privacy
    app.state.metrics = metrics
    app.state.notifier = None
    if settings.alert_webhook_url:  # outgoing alert notifications (service/notify.py)
        from emotiondesk.service.notify import WebhookNotifier

        app.state.notifier = WebhookNotifier(
            settings.alert_webhook_url,
            fmt=settings.alert_webhook_format,
            secret=settings.alert_webhook_secret.get_secret_value(),
            retries=settings.alert_webhook_retries,
            dashboard_url=settings.public_url,
        )

    def notify_alert(alert: dict[str, Any]) -> None:
        if app.state.notifier is not None:
            app.state.notifier.notify(alert)

    app.state.notify_alert = notify_alert
    app.state.analyzer = None
    install_handlers(app)
    app.state.live_models = None
    for module in (
        analyze,
        conversations,
        feedback,
        health,
        analytics,
        quality_routes,
        models_routes,
    ):
        app.include_router(module.router)
    from emotiondesk.web import install_web  # the dashboard (issue 6)

    install_web(app)
    # Innermost first: the fast lane of /v1/analyze runs after the body-size
    # limit and inside the metrics middleware.
    if settings.analyze_fast_path:
        app.add_middleware(AnalyzeFastPath, route=_route(analyze.router, "/v1/analyze", "POST"))
    app.add_middleware(GuardMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _agree_openapi_with_settings(app, settings)
    return app


def _agree_openapi_with_settings(app: FastAPI, settings: Settings) -> None:
    """The schema states the limits this service applies (not the schema's hard bounds)."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base()
            props = schema["components"]["schemas"]["AnalyzeRequest"]["properties"]
            props["texts"]["maxItems"] = settings.max_texts
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _session_secret(sessions: Any) -> str:
    with sessions() as session:
        return repo.service_secret(session, name="dashboard_session")


def _route(router: APIRouter, path: str, method: str) -> APIRoute:
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise LookupError(f"no {method} {path} route")
