"""A fast lane for ``POST /v1/analyze``, the service's hottest route.

Customer-service platforms call ``/v1/analyze`` once per message, so its
per-request overhead bounds the service's throughput. FastAPI's request
handling (route search, dependency resolution, exception-handler wrappers,
telemetry hooks) costs several times what the route itself does, so this pure
ASGI middleware answers the common case directly:

- ``POST /v1/analyze`` with an ``application/json`` body that validates as
  :class:`AnalyzeRequest` and respects the size limits;
- an API key (the header; the dashboard cookie takes the route, which checks
  the session's signature and origin) already verified in the key cache
  (see :class:`KeyVerifier`), having the ``analyze`` or ``admin`` scope;
- the model loaded.

It checks the key with the same ``KeyVerifier.authorize`` as the routes
(from the cache only), which applies the key's rate limit (429 with
``Retry-After``, through the service's one exception handler), runs the
texts through the micro-batcher and answers with the same JSON body as the
FastAPI route. Anything else (a first request with a key, a missing or wrong
key, a bad body, another content type, a request with ``"explain": true``)
is passed, body included, to the FastAPI route unchanged, which produces
every error response exactly as before. Nothing is consumed (no rate-limit
token) before the fast lane knows it answers the request itself.

The metrics middleware still sees the request under the ``/v1/analyze`` route
template, and the body-size limit still runs before it. The setting
``EMOTIONDESK_ANALYZE_FAST_PATH=false`` leaves the lane out (every call then
goes through FastAPI), e.g. to measure what it saves.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emotiondesk.errors import EmotionDeskError
from emotiondesk.service.contract import check_texts, encode_results
from emotiondesk.service.handlers import handle_error
from emotiondesk.service.schemas import AnalyzeRequest

PATH = "/v1/analyze"
_HEADERS = [(b"content-type", b"application/json")]


class AnalyzeFastPath:
    """Pure ASGI middleware answering well-formed ``POST /v1/analyze`` calls directly.

    Args:
        app: the rest of the application (FastAPI), which gets every request
            this lane does not answer.
        route: the FastAPI route object of ``/v1/analyze`` (put in the scope
            so the metrics middleware labels the request by its template).
    """

    def __init__(self, app: ASGIApp, route: Any = None) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        api_key = content_type = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                if api_key is None:
                    api_key = value
            elif name == b"content-type" and content_type is None:
                content_type = value
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        state = scope["app"].state
        if (
            content_type is None
            or content_type.split(b";", 1)[0].strip().lower() != b"application/json"
            or state.analyzer is None
            or not api_key
        ):
            await self.app(scope, _replay(body, receive), send)
            return
        await self._answer(scope, receive, send, state, body, api_key)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        state: Any,
        body: bytes,
        raw_key: bytes | None,
    ) -> None:
        settings = state.settings
        try:
            request = AnalyzeRequest.model_validate_json(body)
            check_texts(
                request.texts, max_texts=settings.max_texts, max_chars=settings.max_text_chars
            )
        except (ValidationError, EmotionDeskError):
            # The FastAPI route answers it (422 with the usual details).
            await self.app(scope, _replay(body, receive), send)
            return
        if request.explain:
            # Explanations are computed by the route (the analyze use case).
            await self.app(scope, _replay(body, receive), send)
            return
        if not raw_key:
            # The dashboard's session cookie: the route checks its signature and origin.
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            principal = await state.verifier.authorize(
                raw_key.decode("latin-1"), "analyze", cached_only=True
            )
        except EmotionDeskError as exc:  # the key's rate limit is spent: 429
            await self._error(scope, receive, send, exc)
            return
        if principal is None:
            # Not verified yet, unknown, revoked or lacking the scope: the route decides.
            await self.app(scope, _replay(body, receive), send)
            return
        if self.route is not None:
            scope["route"] = self.route
        try:
            language = None if request.language == "auto" else request.language
            results = await state.batcher.analyze(request.texts, language=language)
            state.metrics.count_predictions(results)
            payload = encode_results(results)
        except Exception as exc:  # the service's one handler maps it (422, 503, ...)
            await self._error(scope, receive, send, exc)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_HEADERS, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _error(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        """Answer ``exc`` through the service's one exception handler."""
        if self.route is not None:
            scope["route"] = self.route
        response = await handle_error(Request(scope, receive), exc)
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already read body to the next app, then defers."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
