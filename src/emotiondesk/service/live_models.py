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
returned to a caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
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

logger = logging.getLogger(__name__)

#: Shadow batches allowed to wait; beyond that they are skipped (and counted).
SHADOW_BACKLOG = 4


class ShadowScorer:
    """Scores the challenger on the champion's texts in a background thread and counts agreement."""

    def __init__(self, analyzer: Analyzer, version: str, metrics: Any) -> None:
        self.analyzer = analyzer
        self.version = version
        self.metrics = metrics
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emotiondesk-shadow")
        self._lock = threading.Lock()
        self._pending = 0
        self.compared = 0
        self.skipped = 0
        self.agree: Counter[str] = Counter()
        self.pairs: dict[str, Counter[tuple[str, str]]] = {
            "polarity": Counter(),
            "emotion": Counter(),
        }

    def submit(self, texts: list[str], language: str | None, results: list[Any]) -> None:
        with self._lock:
            if self._pending >= SHADOW_BACKLOG:
                self.skipped += len(texts)
                self.metrics.shadow_skipped.inc(len(texts))
                return
            self._pending += 1
        self._executor.submit(self._score, texts, language, results)

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
        except Exception:  # the shadow never disturbs serving
            logger.exception("shadow scoring with %s failed", self.version)
        finally:
            with self._lock:
                self._pending -= 1

    def report(self) -> dict[str, Any]:
        with self._lock:
            n = self.compared
            return {
                "challenger": self.version,
                "compared": n,
                "skipped": self.skipped,
                "agreement": {t: round(self.agree[t] / n, 4) if n else None for t in self.pairs},
                "disagreements": {
                    t: [
                        {"champion": a, "challenger": b, "count": c}
                        for (a, b), c in pairs.most_common(20)
                    ]
                    for t, pairs in self.pairs.items()
                },
            }

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


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
        if self.shadow is not None:
            self.shadow.close()

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
        if self.shadow is not None:
            self.shadow.close()
            self.shadow = None
        self.challenger = version
        if version is None or self.registry is None:
            return
        try:
            analyzer = await run_in_threadpool(self._load, version)
        except Exception:
            logger.exception("could not load challenger %s for shadow scoring", version)
            return
        self.shadow = ShadowScorer(analyzer, version, self.metrics)
        logger.info("shadow scoring with challenger %s (%s)", version, analyzer.version)

    def _load(self, version: str) -> Analyzer:
        assert self.registry is not None
        return load_analyzer(
            registry_version_dir(self.registry, version), max_chars=self.settings.max_chars
        )

    def _version_label(self) -> str:
        analyzer = getattr(self.app.state, "analyzer", None)
        return str(getattr(analyzer, "version", "") or "")

    def report(self) -> dict[str, Any]:
        """What ``GET /v1/models`` shows."""
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
