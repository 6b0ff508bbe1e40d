"""API keys: verification (hashed, cached briefly), scopes and per-key rate limits."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from emotiondesk.errors import (
    AuthenticationError,
    ConfigError,
    PermissionDeniedError,
    RateLimitError,
)
from emotiondesk.storage import repository as repo

#: The key ``emotiondesk demo`` and ``serve --dev`` use; refused outside dev mode.
DEV_API_KEY = "ed_dev_local_only_key"
_PLACEHOLDERS = {
    "",
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "admin",
    "dev",
    "test",
    "default",
    "apikey",
    "api-key",
    "emotiondesk",
    DEV_API_KEY,
}
MIN_KEY_LENGTH = 24


def is_placeholder_key(key: str) -> bool:
    """True for keys that must never guard a real deployment."""
    low = key.strip().lower()
    return (
        low in _PLACEHOLDERS
        or len(low) < MIN_KEY_LENGTH
        or any(w in low for w in ("changeme", "example", "placeholder", "xxxx"))
    )


def check_bootstrap_key(key: str | None, *, dev: bool) -> None:
    """Refuse to start with a placeholder ``EMOTIONDESK_API_KEY`` outside dev mode."""
    if key is not None and not dev and is_placeholder_key(key):
        raise ConfigError(
            "EMOTIONDESK_API_KEY is a placeholder or shorter than "
            f"{MIN_KEY_LENGTH} characters: set a real secret (or create keys with "
            "`emotiondesk keys create`), or run with --dev for local development only"
        )


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id (None for the bootstrap key), name, scopes and limit."""

    key_id: int | None
    name: str
    scopes: frozenset[str]
    rate_limit: int | None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def require(self, scope: str) -> None:
        if self.allows(scope):
            return
        raise PermissionDeniedError(
            f"this API key lacks the {scope!r} scope (it has: {', '.join(sorted(self.scopes))})"
        )


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts of 1/10 of that."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, per_minute: int) -> None:
        if per_minute <= 0:
            return
        rate = per_minute / 60.0
        capacity = max(5.0, per_minute / 10.0)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / rate
                raise RateLimitError(
                    f"rate limit of {per_minute} requests per minute exceeded; "
                    f"retry in {math.ceil(wait)} s",
                    retry_after=wait,
                )
            self._buckets[key] = (tokens - 1.0, now)


class KeyVerifier:
    """Checks ``X-API-Key`` values against the database, caching each answer for ``ttl`` seconds.

    The cache holds the SHA-256 of each key seen (never the key) with the
    principal it maps to, or with "unknown". So the database is asked at most
    once per key per ``ttl``, and a key revoked, created or changed in the
    database takes effect within ``ttl`` seconds in every running worker
    (``EMOTIONDESK_API_KEY_CACHE_SECONDS``, default 10; 0 asks the database
    on every request).

    Args:
        sessions: database sessions.
        bootstrap_key: the ``EMOTIONDESK_API_KEY`` secret, valid with every scope.
        default_rate_limit: requests per minute for keys without their own limit.
        ttl: seconds a verification is reused.
        clock: monotonic seconds (a parameter so tests can move time on).
    """

    #: Most keys remembered; past it the cache starts over.
    MAX_ENTRIES = 10_000

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        bootstrap_key: str | None = None,
        default_rate_limit: int = 0,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.bootstrap_key = bootstrap_key
        self.default_rate_limit = default_rate_limit
        self.ttl = ttl
        self.clock = clock
        self.limiter = RateLimiter()
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, Principal | None]:
        """(True, principal or None) when ``key`` was verified less than ``ttl`` s ago."""
        if self.ttl <= 0:
            return False, None
        hit = self._cache.get(repo.hash_key(key))  # a dict read is atomic under the GIL
        if hit is not None and self.clock() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def lookup(self, key: str) -> Principal | None:
        """Database lookup (blocking: call it from a worker thread)."""
        if self.bootstrap_key is not None and hmac.compare_digest(
            key.encode(), self.bootstrap_key.encode()
        ):
            principal: Principal | None = Principal(
                key_id=None, name="bootstrap", scopes=frozenset(repo.SCOPES), rate_limit=None
            )
        else:
            with self.sessions() as session:
                row = repo.find_api_key(session, key=key)
                principal = (
                    None
                    if row is None
                    else Principal(
                        key_id=row.id,
                        name=row.name,
                        scopes=frozenset(row.scopes),
                        rate_limit=row.rate_limit,
                    )
                )
        with self._lock:
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache.clear()
            self._cache[repo.hash_key(key)] = (self.clock(), principal)
        return principal

    async def authorize(
        self,
        key: str | None,
        scope: str,
        *,
        cached_only: bool = False,
        rate_limit: bool = True,
    ) -> Principal | None:
        """The one check of a request's API key: known, not revoked, has ``scope``
        (or admin), within its rate limit (one token taken).

        Every caller uses it: the routes' dependencies (``deps.require``), the
        ``/v1/analyze`` fast path and the dashboard login.

        Args:
            key: the key sent (``X-API-Key`` header or the dashboard cookie).
            scope: the scope the request needs.
            cached_only: answer only from the verified-key cache, and return None
                (never raise) when that cannot admit the key: the fast path then
                leaves the request to the route, which answers every error. A
                rate limit that is spent still raises.
            rate_limit: take a token from the key's rate limit.

        Raises:
            AuthenticationError: no key, or an unknown or revoked one.
            PermissionDeniedError: the key lacks ``scope``.
            RateLimitError: the key's rate limit is spent.
        """
        if not key:
            if cached_only:
                return None
            raise AuthenticationError("missing API key: send it in the X-API-Key header")
        hit, principal = self.cached(key)
        if cached_only:
            if not hit or principal is None or not principal.allows(scope):
                return None
        elif not hit:
            principal = await run_in_threadpool(self.lookup, key)
        return self.admit(principal, scope, rate_limit=rate_limit)

    def admit(
        self, principal: Principal | None, scope: str, *, rate_limit: bool = True
    ) -> Principal:
        if principal is None:
            raise AuthenticationError("unknown or revoked API key")
        principal.require(scope)
        if rate_limit:
            self.check_rate(principal)
        return principal

    def check_rate(self, principal: Principal) -> None:
        """Take one request from the key's rate limit (``RateLimitError`` when it is spent)."""
        limit = (
            principal.rate_limit if principal.rate_limit is not None else self.default_rate_limit
        )
        self.limiter.check(f"{principal.key_id}:{principal.name}", limit)
