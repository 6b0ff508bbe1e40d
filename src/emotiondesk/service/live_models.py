"""Live model swap and shadow scoring: the service follows the registry's champion.

When ``EMOTIONDESK_MODEL_DIR`` is a model registry, every worker process
polls its ``registry.json`` (a few hundred bytes, every
``model_poll_seconds``). When the champion changes (``models promote`` or
``models rollback``), the worker loads the new version in a thread while it
keeps serving the old one, then swaps ``app.state.analyzer`` in one
assignment. The micro-batcher reads the analyzer at each model call, so a
batch already running finishes on the old analyzer and the next one uses the
new: no request is dropped or answered by half of each. A version that fails
to load is logged and the old one kept (no retry until the pointer changes).

With ``shadow`` on, the registry's challenger is loaded too and scores the
same texts after each batch, off the request path (one background thread; when
it falls behind, batches are skipped and counted). Only agreement counts and
the label pairs of the disagreements are kept (``GET /v1/models``, the
``emotiondesk_shadow_*`` metrics); the challenger's answers are never
returned to a caller. Each worker writes its running counts to its own row
of the database's ``shadow_counts`` table (at most every
``SHADOW_FLUSH_SECONDS``, and before it reports), and ``GET /v1/models``
sums the rows of every worker for the current challenger/champion pair.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi.concurrency import run_in_threadpool

from emotiondesk.analyzer import Analyzer, load_analyzer
from emotiondesk.config import Settings
from emotiondesk.pack import (
    CHALLENGER,
    CHAMPION,
    is_registry,
    read_aliases,
    read_pack,
    registry_version_dir,
)
from emotiondesk.storage.shadow import save_shadow_counts, shadow_totals

logger = logging.getLogger(__name__)

#: Shadow batches allowed to wait; beyond that they are skipped (and counted).
SHADOW_BACKLOG = 4
#: A worker writes its shadow counts to the database at most this often (and before reporting).
SHADOW_FLUSH_SECONDS = 1.0


def worker_id() -> str:
    """This process's name in ``shadow_counts`` (host, pid, and a nonce: pids get reused)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ShadowScorer:
    """Scores the challenger on the champion's texts in a background thread and counts agreement."""

    def __init__(
        self,
        analyzer: Analyzer,
        version: str,
        metrics: Any,
        *,
        champion: str = "",
        sessions: Callable[[], Any] | None = None,
        worker: str | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.version = version
        self.metrics = metrics
        self.sessions = sessions
        self.worker = worker or worker_id()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emotiondesk-shadow")
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending = 0
        self._flushed_at = 0.0
        self._changes = 0  # bumped by every count; a flush writes only when it moved
        self._written = -1  # the first flush writes the row even at zero
        self._timer: threading.Timer | None = None
        self._reset(champion)

    def _reset(self, champion: str) -> None:
        self.champion = champion
        self.compared = 0
        self.skipped = 0
        self.agree: Counter[str] = Counter()
        self.pairs: dict[str, Counter[tuple[str, str]]] = {
            "polarity": Counter(),
            "emotion": Counter(),
        }

    def set_champion(self, champion: str) -> None:
        """A new champion: the counts so far belong to the old pair (written), new ones start at 0."""
        self.flush()
        with self._lock:
            self._reset(champion)
            self._changes += 1

    def submit(self, texts: list[str], language: str | None, results: list[Any]) -> None:
        with self._lock:
            if self._pending >= SHADOW_BACKLOG:
                self.skipped += len(texts)
                self.metrics.shadow_skipped.inc(len(texts))
                return
            self._pending += 1
        try:
            self._executor.submit(self._score, texts, language, results)
        except RuntimeError:  # closed meanwhile (a new challenger, a shutdown): never fail serving
            with self._lock:
                self._pending -= 1

    def _score(self, texts: list[str], language: str | None, results: list[Any]) -> None:
        try:
            shadow = self.analyzer.analyze(texts, language=language)
            with self._lock:
                for champ, chall in zip(results, shadow, strict=True):
                    self.compared += 1
                    for task in ("polarity", "emotion"):
                        a, b = getattr(champ, task), getattr(chall, task)
                        same = a == b
                        self.agree[task] += same
                        self.metrics.shadow.labels(task, "true" if same else "false").inc()
                        if not same:
                            self.pairs[task][(a, b)] += 1
                self._changes += 1
            self._schedule_flush()
        except Exception:  # the shadow never disturbs serving
            logger.exception("shadow scoring with %s failed", self.version)
        finally:
            with self._lock:
                self._pending -= 1

    def _schedule_flush(self) -> None:
        """Write now if the last write is old enough, else once the interval has passed."""
        wait = SHADOW_FLUSH_SECONDS - (time.monotonic() - self._flushed_at)
        if wait <= 0:
            self.flush()
            return
        with self._lock:
            if self._timer is not None:
                return  # a write is already due: it will carry these counts
            self._timer = threading.Timer(wait, self._timed_flush)
            self._timer.daemon = True
            self._timer.start()

    def _timed_flush(self) -> None:
        with self._lock:
            self._timer = None
        self.flush()

    def flush(self) -> bool:
        """Write this worker's running counts to its ``shadow_counts`` row; False if it could not."""
        if self.sessions is None:
            return False
        with self._flush_lock:  # a snapshot is written whole and in order
            with self._lock:
                if self._written == self._changes:
                    return True  # the row already holds these counts
                changes = self._changes
                snapshot: dict[str, Any] = {
                    "challenger": self.version,
                    "champion": self.champion,
                    "worker": self.worker,
                    "compared": self.compared,
                    "skipped": self.skipped,
                    "agree": dict(self.agree),
                    "pairs": {
                        t: [[a, b, c] for (a, b), c in p.items()] for t, p in self.pairs.items()
                    },
                }
            try:
                with self.sessions() as session:
                    save_shadow_counts(session, **snapshot)
                    session.commit()
            except Exception:  # the database is down: keep counting, report this worker's
                logger.exception("could not store the shadow counts")
                return False
            self._flushed_at = time.monotonic()
            self._written = changes
            return True

    def _totals(self) -> dict[str, Any]:
        """The service's counts (every worker's row) or, without a database, this worker's."""
        if self.flush():
            try:
                assert self.sessions is not None
                with self.sessions() as session:
                    return shadow_totals(session, challenger=self.version, champion=self.champion)
            except Exception:
                logger.exception("could not read the shadow counts")
        with self._lock:
            return {
                "workers": 1,
                "compared": self.compared,
                "skipped": self.skipped,
                "agree": dict(self.agree),
                "pairs": {t: Counter(p) for t, p in self.pairs.items()},
                "this_worker_only": True,
            }

    def report(self) -> dict[str, Any]:
        """Agreement and disagreements summed over every worker (blocking: database I/O)."""
        totals = self._totals()
        n = int(totals["compared"])
        pairs: dict[str, Counter[tuple[str, str]]] = totals["pairs"]
        return {
            "challenger": self.version,
            "champion": self.champion,
            "workers": int(totals["workers"]),
            "scope": "worker" if totals.get("this_worker_only") else "service",
            "compared": n,
            "skipped": int(totals["skipped"]),
            "agreement": {
                t: round(int(totals["agree"].get(t, 0)) / n, 4) if n else None
                for t in ("polarity", "emotion")
            },
            "disagreements": {
                t: [
                    {"champion": a, "challenger": b, "count": c}
                    for (a, b), c in pairs.get(t, Counter()).most_common(20)
                ]
                for t in ("polarity", "emotion")
            },
        }

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self.flush()


class LiveModels:
    """The analyzer this worker serves, following a registry's champion (and challenger)."""

    def __init__(self, app: Any, settings: Settings, metrics: Any) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        root = settings.model_dir
        self.registry: Path | None = Path(root) if root and is_registry(root) else None
        self.champion: str | None = None
        self.challenger: str | None = None
        self.shadow: ShadowScorer | None = None
        self.swaps = 0
        self._failed: str | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the batcher's model call -----------------------------------------------------------

    def analyze(self, texts: list[str], *, language: str | None = None) -> list[Any]:
        """The champion's analysis (the analyzer is read once per call: a swap never splits one)."""
        analyzer: Analyzer = self.app.state.analyzer
        results = analyzer.analyze(texts, language=language)
        shadow = self.shadow
        if shadow is not None and results:
            shadow.submit(list(texts), language, results)
        return results

    # -- following the registry ------------------------------------------------------------

    async def start(self) -> None:
        if self.registry is None:
            return
        aliases = await run_in_threadpool(read_aliases, self.registry)
        self.champion = aliases.get(CHAMPION)
        if self.champion is not None:
            # promoted while the service was loading: the first check swaps
            spec = await run_in_threadpool(
                read_pack, registry_version_dir(self.registry, self.champion)
            )
            if f"{spec.name}-{spec.version}" != self._version_label():
                self.champion = None
        self.metrics.model_version.labels(self._version_label()).set(1)
        await self._follow_challenger(aliases.get(CHALLENGER))
        if self.settings.model_poll_seconds > 0:
            self._task = asyncio.create_task(self._run(), name="emotiondesk-model-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        old, self.shadow = self.shadow, None  # detached first: requests stop submitting to it
        if old is not None:
            await run_in_threadpool(old.close)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.model_poll_seconds)
            try:
                await self.check()
            except Exception:  # keep watching; the old model keeps serving
                logger.exception("model registry check failed")

    async def check(self) -> bool:
        """Swap to the registry's champion if it changed; True when a swap happened."""
        assert self.registry is not None
        aliases = await run_in_threadpool(read_aliases, self.registry)
        await self._follow_challenger(aliases.get(CHALLENGER))
        target = aliases.get(CHAMPION)
        if target is None or target == self.champion or target == self._failed:
            return False
        try:
            new = await run_in_threadpool(self._load, target)
        except Exception:
            self._failed = target
            logger.exception("could not load champion %s; still serving %s", target, self.champion)
            return False
        old = self.app.state.analyzer
        self.metrics.model_version.labels(self._version_label()).set(0)
        self.app.state.analyzer = new  # one assignment: the next model call uses it
        self.champion, self._failed = target, None
        if self.shadow is not None:
            await run_in_threadpool(self.shadow.set_champion, self._pair_champion())
        self.swaps += 1
        self.metrics.model_swaps.inc()
        self.metrics.model_version.labels(self._version_label()).set(1)
        logger.info(
            "model swapped: %s -> %s (registry champion %s)",
            getattr(old, "version", None),
            new.version,
            target,
        )
        return True

    async def _follow_challenger(self, version: str | None) -> None:
        if not self.settings.shadow or version == self.challenger:
            return
        old, self.shadow = self.shadow, None  # detached first: requests stop submitting to it
        if old is not None:
            await run_in_threadpool(old.close)
        self.challenger = version
        if version is None or self.registry is None:
            return
        try:
            analyzer = await run_in_threadpool(self._load, version)
        except Exception:
            logger.exception("could not load challenger %s for shadow scoring", version)
            return
        self.shadow = ShadowScorer(
            analyzer,
            version,
            self.metrics,
            champion=self._pair_champion(),
            sessions=getattr(self.app.state, "sessions", None),
        )
        await run_in_threadpool(self.shadow.flush)  # this worker's row, at zero: it takes part
        logger.info("shadow scoring with challenger %s (%s)", version, analyzer.version)

    def _load(self, version: str) -> Analyzer:
        assert self.registry is not None
        return load_analyzer(
            registry_version_dir(self.registry, version), max_chars=self.settings.max_chars
        )

    def _pair_champion(self) -> str:
        """The champion side of a shadow pair: the registry version, else the served pack."""
        return self.champion or self._version_label()

    def _version_label(self) -> str:
        analyzer = getattr(self.app.state, "analyzer", None)
        return str(getattr(analyzer, "version", "") or "")

    def report(self) -> dict[str, Any]:
        """What ``GET /v1/models`` shows (blocking with shadow on: it reads the database)."""
        analyzer = getattr(self.app.state, "analyzer", None)
        return {
            "model": getattr(analyzer, "version", None),
            "registry": self.registry is not None,
            "champion": self.champion,
            "challenger": self.challenger if self.settings.shadow else None,
            "swaps": self.swaps,
            "poll_seconds": self.settings.model_poll_seconds if self.registry else None,
            "shadow": self.shadow.report() if self.shadow is not None else None,
        }
