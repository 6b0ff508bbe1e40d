"""The supervisor dashboard: login, pages and bundled static assets (no CDN).

The JavaScript (our code + Chart.js) is built from ``frontend/`` with
``npm run build`` and committed under ``web/static``, so installing the Python
package needs no npm.

Example:
    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> install_web(app)   # doctest: +SKIP
"""

from __future__ import annotations

from emotiondesk.web.router import install_web, router

__all__ = ["install_web", "router"]
