"""One exception handler: domain errors, validation errors and HTTP errors become clear JSON bodies.

Bodies look like ``{"error": {"code": "...", "message": "...", "details": [...]}}``.
Validation details never echo the input (it may hold a customer's text).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from emotiondesk.errors import EmotionDeskError, RateLimitError

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


async def handle_error(request: Request, exc: Exception) -> JSONResponse:
    """Map any exception to a JSON error response (500 only for real bugs, without a trace)."""
    if isinstance(exc, EmotionDeskError):
        headers = None
        if isinstance(exc, RateLimitError):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        elif exc.http_status == 401:
            headers = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
        status = exc.http_status
        if status >= 500:
            logger.error("%s on %s %s: %s", exc.code, request.method, request.url.path, exc.message)
        return error_response(status, exc.code, exc.message, headers=headers)
    if isinstance(exc, RequestValidationError):
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p != "body") or "request"
        return error_response(422, "invalid_request", f"{where}: {first['msg']}", details=details)
    if isinstance(exc, StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(
            exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
        )
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal error; the service logged the details")


def install_handlers(app: FastAPI) -> None:
    # Anything else is answered by service/guard.py, which does not re-raise it
    # (Starlette's handler for Exception re-raises, and uvicorn then drops the
    # keep-alive connection).
    for exc_type in (EmotionDeskError, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(exc_type, handle_error)
