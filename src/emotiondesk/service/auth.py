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
from emotiondesk.storage.tables import DEFAULT_WORKSPACE

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
    """Who is calling: the key's id (None for the bootstrap key), name, scopes, limit and
    workspace (the only one whose rows the request may read or write)."""

    key_id: int | None
    name: str
    scopes: frozenset[str]
    rate_limit: int | None
    workspace: str = DEFAULT_WORKSPACE

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def require(self, scope: str) -> None:
        if self.allows(scope):
            return
        raise PermissionDeniedError(
            f"this API key lacks the {scope!r} scope (it has: {', '.join(sorted(self.scopes))})"
        )


def bucket_shape(per_minute: int) -> tuple[float, float]:
    """(capacity, tokens per second) of a ``per_minute`` limit: bursts of 1/10 of it (at least 5)."""
    return max(5.0, per_minute / 10.0), per_minute / 60.0


class RateLimiter:
    """Token buckets kept in the database, so every worker and every restart share one limit.

    Each bucket (``key:<id>``, ``authfail:<address>``) lives in the
    ``rate_buckets`` table and is refilled and drawn from in one atomic
    statement. To keep the database out of most requests, a worker takes a
    small lease of tokens at a time (a tenth of the burst, at least one) and
    spends them locally; after a refusal it remembers until when the bucket
    is empty and refuses locally until then. So N workers never allow more
    than one limit, and a restart starts from the bucket as it was (tokens a
    stopped worker had leased are lost, never doubled).

    Args:
        sessions: database sessions (the ``rate_buckets`` table).
        clock: Unix seconds (workers compare it, so wall time, not monotonic).
    """

    #: Forget buckets untouched this long (they are full again long before).
    IDLE_S = 3600.0

    def __init__(
        self, sessions: sessionmaker[Session], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self._leased: dict[str, int] = {}
        self._empty_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def take_local(self, bucket: str, per_minute: int) -> bool:
        """Spend a leased token (True), or say a claim is needed (False); 429 while empty."""
        if per_minute <= 0:
            return True
        with self._lock:
            until = self._empty_until.get(bucket)
            if until is not None:
                wait = until - self.clock()
                if wait > 0:
                    raise self._refusal(per_minute, wait)
                del self._empty_until[bucket]
            left = self._leased.get(bucket, 0)
            if left > 0:
                self._leased[bucket] = left - 1
                return True
        return False

    def claim(self, bucket: str, per_minute: int) -> None:
        """Lease tokens from the database and spend one (blocking); 429 when none is left."""
        capacity, rate = bucket_shape(per_minute)
        lease = max(1, int(capacity // 10))
        now = self.clock()
        with self.sessions() as session:
            granted, left = repo.take_tokens(
                session, bucket=bucket, want=lease, capacity=capacity, rate=rate, now=now
            )
            if now - self._last_sweep > 600:
                self._last_sweep = now
                repo.forget_idle_buckets(session, before=now - self.IDLE_S)
        with self._lock:
            if granted <= 0:
                wait = (1.0 - left) / rate
                self._empty_until[bucket] = now + wait
                raise self._refusal(per_minute, wait)
            self._leased[bucket] = self._leased.get(bucket, 0) + granted - 1

    async def check(self, bucket: str, per_minute: int) -> None:
        """Take one request from ``bucket`` (``RateLimitError`` when it is spent)."""
        if not self.take_local(bucket, per_minute):
            await run_in_threadpool(self.claim, bucket, per_minute)

    def is_empty(self, bucket: str) -> float:
        """Seconds until ``bucket`` has a token, as far as this worker knows (0: maybe now)."""
        until = self._empty_until.get(bucket)
        return 0.0 if until is None else max(0.0, until - self.clock())

    @staticmethod
    def _refusal(per_minute: int, wait: float) -> RateLimitError:
        return RateLimitError(
            f"rate limit of {per_minute} requests per minute exceeded; "
            f"retry in {math.ceil(wait)} s",
            retry_after=wait,
        )


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
        bootstrap_key: the ``EMOTIONDESK_API_KEY`` secret, valid with every scope in the
            default workspace.
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
        auth_failures_per_minute: int = 0,
    ) -> None:
        self.sessions = sessions
        self.bootstrap_key = bootstrap_key
        self._bootstrap_hash = repo.hash_key(bootstrap_key) if bootstrap_key is not None else None
        self.default_rate_limit = default_rate_limit
        self.auth_failures_per_minute = auth_failures_per_minute
        self.ttl = ttl
        self.clock = clock
        self.limiter = RateLimiter(sessions)
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, Principal | None]:
        """(True, principal or None) when ``key`` was verified less than ``ttl`` s ago."""
        return self.cached_hash(repo.hash_key(key))

    def cached_hash(self, key_hash: str) -> tuple[bool, Principal | None]:
        """:meth:`cached` by the key's SHA-256 (what a dashboard session carries)."""
        if self.ttl <= 0:
            return False, None
        hit = self._cache.get(key_hash)  # a dict read is atomic under the GIL
        if hit is not None and self.clock() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def lookup(self, key: str) -> Principal | None:
        """Database lookup (blocking: call it from a worker thread)."""
        return self.lookup_hash(repo.hash_key(key))

    def lookup_hash(self, key_hash: str) -> Principal | None:
        """:meth:`lookup` by the key's SHA-256 (blocking)."""
        if self._bootstrap_hash is not None and hmac.compare_digest(
            key_hash.encode(), self._bootstrap_hash.encode()
        ):
            principal: Principal | None = Principal(
                key_id=None,
                name="bootstrap",
                scopes=frozenset(repo.SCOPES),
                rate_limit=None,
                workspace=DEFAULT_WORKSPACE,
            )
        else:
            with self.sessions() as session:
                row = repo.find_api_key_by_hash(session, key_hash=key_hash)
                principal = (
                    None
                    if row is None
                    else Principal(
                        key_id=row.id,
                        name=row.name,
                        scopes=frozenset(row.scopes),
                        rate_limit=row.rate_limit,
                        workspace=row.workspace,
                    )
                )
        with self._lock:
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache.clear()
            self._cache[key_hash] = (self.clock(), principal)
        return principal

    async def verify_hash(self, key_hash: str) -> Principal | None:
        hit, principal = self.cached_hash(key_hash)
        if not hit:
            principal = await run_in_threadpool(self.lookup_hash, key_hash)
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

        Used by the ``/v1/analyze`` fast path; the routes' dependencies
        (``deps.authenticate``) also take the dashboard session and count failed
        attempts per client address.

        Args:
            key: the key sent in the ``X-API-Key`` header (the dashboard's
                signed session goes through :meth:`verify_hash`).
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
        return await self.admit(principal, scope, rate_limit=rate_limit)

    async def admit(
        self, principal: Principal | None, scope: str, *, rate_limit: bool = True
    ) -> Principal:
        if principal is None:
            raise AuthenticationError("unknown or revoked API key")
        principal.require(scope)
        if rate_limit:
            await self.check_rate(principal)
        return principal

    async def check_rate(self, principal: Principal) -> None:
        """Take one request from the key's rate limit (``RateLimitError`` when it is spent)."""
        limit = (
            principal.rate_limit if principal.rate_limit is not None else self.default_rate_limit
        )
        if limit > 0:
            await self.limiter.check(f"key:{principal.key_id}:{principal.name}"[:160], limit)

    def refuse_throttled(self, address: str) -> None:
        """429 at once while ``address`` has spent its failed authentications (no database)."""
        if self.auth_failures_per_minute > 0:
            wait = self.limiter.is_empty(_auth_bucket(address))
            if wait > 0:
                raise RateLimiter._refusal(self.auth_failures_per_minute, wait)

    async def count_failure(self, address: str) -> None:
        """Count a failed authentication from ``address``; 429 once they exceed the limit."""
        if self.auth_failures_per_minute > 0:
            await self.limiter.check(_auth_bucket(address), self.auth_failures_per_minute)


def _auth_bucket(address: str) -> str:
    return f"authfail:{address}"[:160]
