"""The outer guard of every request: poison input, security headers, unhandled errors.

* Lone UTF-16 surrogates and NUL characters are refused with 422 before any
  route runs (so before anything is stored), wherever they are: the path,
  the query string, or any string (value or key, at any depth) of a JSON
  body. SQLite would store them and fail on reading them back; PostgreSQL
  refuses NUL in text. Refusing them on both keeps the databases alike.
* Every response carries ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: DENY``, a strict ``Content-Security-Policy`` and
  ``Referrer-Policy: no-referrer``.
* An exception no handler took becomes a JSON 500 here and is not re-raised,
  so the server keeps the connection open (a re-raised error makes uvicorn
  close a keep-alive connection) and logs it once, without SQL parameters
  (the engine is made with ``hide_parameters``).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emotiondesk.service.limits import send_json_error

logger = logging.getLogger(__name__)

#: The dashboard loads its own scripts and styles only; the API answers JSON.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
]
#: The API docs pages (Swagger UI, ReDoc: static, no user data) start their bundle
#: with an inline script; they alone may run inline scripts.
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
DOCS_HEADERS: list[tuple[bytes, bytes]] = [
    (name, value.replace(b"script-src 'self'", b"script-src 'self' 'unsafe-inline'"))
    for name, value in SECURITY_HEADERS
]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# A \u escape of NUL or of a surrogate, not itself escaped (an even run of backslashes before it).
_SUSPECT_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def bad_string(value: str) -> str | None:
    """Why ``value`` cannot be stored (``None`` when it can)."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode text)"
    return None


def _find_bad(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        why = bad_string(value)
        return None if why is None else f"{where}: {why}"
    if isinstance(value, dict):
        for k, v in value.items():
            found = _find_bad(k, f"{where} key") or _find_bad(v, f"{where}.{k}")
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _find_bad(v, f"{where}[{i}]")
            if found:
                return found
    return None


def _bad_url_part(raw: bytes, what: str) -> str | None:
    if b"%" not in raw and b"\x00" not in raw:
        return None
    data = unquote_to_bytes(raw)
    if b"\x00" in data:
        return f"{what} contains a NUL character"
    try:
        data.decode("utf-8")  # strict: surrogates encoded as UTF-8 are invalid too
    except UnicodeDecodeError:
        return f"{what} is not valid UTF-8 text (percent-encoded)"
    return None


async def _send_json(send: Send, status: int, code: str, message: str) -> None:
    await send_json_error(send, status, code, message, SECURITY_HEADERS)


class GuardMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogatepass")
        why = _bad_url_part(raw_path, "the path") or _bad_url_part(
            scope.get("query_string", b""), "the query string"
        )
        if why is None and "\x00" in scope.get("path", ""):
            why = "the path contains a NUL character"
        if why is not None:
            await _send_json(send, 422, "invalid_request", why)
            return
        if scope.get("method") in _BODY_METHODS:
            body, receive = await _buffer(receive)
            if body is None:
                return  # the client went away
            if _SUSPECT_ESCAPE.search(body):
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None  # not JSON: the route answers it
                why = _find_bad(parsed, "body")
                if why is not None:
                    await _send_json(send, 422, "invalid_request", why)
                    return
        started = False
        extra = DOCS_HEADERS if scope.get("path") in DOCS_PATHS else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _send_json(
                    send, 500, "internal_error", "internal error; the service logged the details"
                )


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body (the size limit outside has bounded it) and a receive that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, receive
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
