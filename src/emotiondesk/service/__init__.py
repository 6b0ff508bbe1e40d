"""The REST service: FastAPI app factory, routes, dependencies, auth, metrics, micro-batching."""

from __future__ import annotations

from emotiondesk.service.app import create_app

__all__ = ["create_app"]
