"""The dashboard's session: its cookie, its signed token, and the same-origin check.

``POST /login`` checks an API key and sets the cookie; the cookie holds a
signed token (the key's SHA-256 and an expiry), never the key itself. The
service accepts it like the ``X-API-Key`` header, and a request it
authenticates that may change something (not GET/HEAD/OPTIONS) must come
from this site (``Origin`` or ``Referer``), so another site cannot make a
signed-in browser post. Defined here, with the login that sets it; the
service imports it (never the other way).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request

from emotiondesk.errors import PermissionDeniedError

#: Name of the cookie set by ``POST /login`` (HttpOnly, SameSite=Strict).
SESSION_COOKIE = "emotiondesk_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_address(request: Request) -> str:
    """The peer address (behind a proxy: what uvicorn's ``--forwarded-allow-ips`` makes it)."""
    return request.client.host if request.client is not None else "unknown"


def check_same_origin(request: Request) -> None:
    """Refuse a cookie-authenticated unsafe request that does not come from this site (CSRF)."""
    if request.method in _SAFE_METHODS:
        return
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        raise PermissionDeniedError(
            "a request authenticated by the dashboard cookie needs an Origin header"
        )
    parts = urlsplit(source)
    host = request.headers.get("host", "")
    if (parts.scheme, parts.netloc) != (request.url.scheme, host):
        raise PermissionDeniedError("cross-site request refused (Origin is not this site)")


class SessionSigner:
    """Dashboard session tokens: the key's SHA-256 and an expiry, signed (HMAC-SHA256).

    The cookie never holds the API key itself; a token is good until it
    expires and only while its key is active (revoking the key ends the
    session). The secret is shared by the workers through the database
    (``service_secrets``), so any worker accepts any worker's token.
    """

    VERSION = "v1"

    def __init__(self, secret: str, *, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret.encode("utf-8")
        self.clock = clock

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode("ascii"), "sha256").hexdigest()

    def issue(self, key_hash: str, max_age: int) -> str:
        payload = f"{self.VERSION}.{key_hash}.{int(self.clock()) + max_age}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str) -> str | None:
        """The key hash a valid, unexpired token carries; ``None`` otherwise."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != self.VERSION:
            return None
        payload = ".".join(parts[:3])
        if not hmac.compare_digest(
            self._sign(payload).encode(), parts[3].encode("ascii", "replace")
        ):
            return None
        try:
            expires = int(parts[2])
        except ValueError:
            return None
        return parts[1] if expires > self.clock() else None
