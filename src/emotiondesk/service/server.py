"""Running the service under uvicorn (``emotiondesk serve``)."""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI

from emotiondesk.config import Settings, get_settings
from emotiondesk.service.app import create_app

GRACEFUL_SHUTDOWN_S = 30


def app_from_env() -> FastAPI:
    """The app built from the environment (the factory each uvicorn worker calls)."""
    return create_app(get_settings())


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def serve(
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    dev: bool | None = None,
    batching: bool | None = None,
    log_level: str = "info",
    settings: Settings | None = None,
) -> None:
    """Serve until interrupted; in-flight requests drain on shutdown (up to 30 s)."""
    import uvicorn

    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "workers": workers,
            "dev": dev,
            "batching": batching,
        }.items()
        if v is not None
    }
    settings = (settings or get_settings()).model_copy(update=overrides)
    configure_logging(log_level)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }
    if settings.workers > 1:
        create_app(settings)  # fail fast on bad settings before forking workers
        if settings.auto_migrate:
            # Migrate once here, not in every worker at the same time.
            from emotiondesk.storage import make_engine, upgrade_database

            url = settings.database_url.get_secret_value() if settings.database_url else None
            engine = make_engine(url)
            upgrade_database(engine)
            engine.dispose()
            overrides["auto_migrate"] = False
        for key, value in overrides.items():
            os.environ[f"EMOTIONDESK_{key.upper()}"] = str(value)
        uvicorn.run(
            "emotiondesk.service.server:app_from_env",
            factory=True,
            workers=settings.workers,
            **common,
        )
    else:
        uvicorn.run(create_app(settings), **common)
