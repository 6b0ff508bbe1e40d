"""Running the service under uvicorn (``emotiondesk serve``)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from fastapi import FastAPI

from emotiondesk.config import Settings, get_settings
from emotiondesk.service.app import create_app

GRACEFUL_SHUTDOWN_S = 30


#: Environment variables by which an operator sets the BLAS threads themselves.
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads() -> Any:
    """One BLAS thread in this process, unless the environment sets a number.

    The service's parallelism is its requests (micro-batches, workers), and
    its matrix products are small: with the BLAS default of one thread per
    core, the extra threads spin between the small products of every batch.
    Measured on the 2-core VM with the default pack (USE heads): 4.2 ms of
    CPU per ``/v1/analyze`` request with the default, 1.5 ms with one thread
    (``benchmarks/service_cpu.py``). The USE encoder keeps its own setting
    (``EMOTIONDESK_USE_THREADS``). Returns the limiter (``None`` when the
    environment decides), whose ``restore_original_limits()`` undoes it.
    """
    if any(os.environ.get(name) for name in BLAS_THREAD_VARS):
        return None
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def app_from_env() -> FastAPI:
    """The app built from the environment (the factory each uvicorn worker calls)."""
    limit_blas_threads()
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
    access_log: bool = True,
    settings: Settings | None = None,
) -> None:
    """Serve until interrupted; in-flight requests drain on shutdown (up to 30 s).

    ``access_log=False`` drops uvicorn's line per request (method, path,
    status; never a text or a key): at 2,000 requests/s it costs about 0.15 ms
    of CPU per request, ~45% of ``/v1/analyze`` with the n-gram tier, and
    ``/metrics`` counts requests by route and status anyway.
    """
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
    from emotiondesk.service.demo import port_is_free

    if not port_is_free(settings.host, settings.port):
        from emotiondesk.errors import ConfigError

        raise ConfigError(
            f"port {settings.port} on {settings.host} is already in use: stop the other "
            "server, or choose another port with --port"
        )
    from emotiondesk.storage import describe_database

    url = settings.database_url.get_secret_value() if settings.database_url else None
    sys.stderr.write(f"emotiondesk serve: database {describe_database(url)}\n")
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "access_log": access_log,
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
        limit_blas_threads()
        uvicorn.run(create_app(settings), **common)
