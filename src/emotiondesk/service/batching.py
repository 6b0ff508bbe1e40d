"""Micro-batching: concurrent analyse calls are gathered into one model batch.

A single worker task takes the first waiting request, waits at most
``max_wait`` seconds for more to arrive (never longer than that, and not at
all when the batch is already full), runs the model once on all their texts in
a worker thread, and hands each caller its own slice of the results. Under
load the queue is never empty, so batches fill without waiting; when idle a
request pays at most ``max_wait``.

Example:
    >>> batcher = MicroBatcher(analyzer.analyze, max_batch=64, max_wait=0.002)  # doctest: +SKIP
    >>> await batcher.start()                                                 # doctest: +SKIP
    >>> results = await batcher.analyze(["物流太慢了"])                           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from emotiondesk.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)

AnalyzeFn = Callable[..., list[Any]]
#: Called after every model call with (number of texts, seconds spent).
Observer = Callable[[int, float], None]


@dataclass
class _Item:
    texts: list[str]
    language: str | None
    future: asyncio.Future[list[Any]] = field(repr=False)


class MicroBatcher:
    """Gathers concurrent ``analyze`` calls into batches (or runs each alone when disabled).

    Args:
        analyze: ``analyze(texts, language=...) -> list``, one result per text.
        max_batch: most texts in one model call.
        max_wait: longest wait, in seconds, for a batch to fill.
        enabled: False runs every call on its own in the thread pool.
        observe: metrics hook, called with (batch size, seconds).
    """

    def __init__(
        self,
        analyze: AnalyzeFn,
        *,
        max_batch: int = 64,
        max_wait: float = 0.002,
        enabled: bool = True,
        observe: Observer | None = None,
    ) -> None:
        self.analyze_fn = analyze
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.enabled = enabled
        self.observe = observe
        self._queue: asyncio.Queue[_Item | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    async def start(self) -> None:
        if self.enabled and self._task is None:
            self._queue = asyncio.Queue()
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="emotiondesk-batch"
            )
            self._task = asyncio.create_task(self._run(), name="emotiondesk-batcher")

    async def stop(self) -> None:
        """Finish every queued request, then stop the worker."""
        self._closed = True
        if self._task is not None and self._queue is not None:
            self._queue.put_nowait(None)
            await self._task
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _call(self, texts: list[str], language: str | None) -> list[Any]:
        start = time.perf_counter()
        results = self.analyze_fn(texts, language=language)
        if self.observe is not None:
            self.observe(len(texts), time.perf_counter() - start)
        return results

    async def analyze(self, texts: Sequence[str], *, language: str | None = None) -> list[Any]:
        """Analyse ``texts`` (possibly together with other callers' texts)."""
        texts = list(texts)
        if not texts:
            return []
        if self._closed:
            raise ServiceUnavailableError("the service is shutting down; retry on another instance")
        loop = asyncio.get_running_loop()
        if not self.enabled or self._queue is None:
            return await loop.run_in_executor(None, self._call, texts, language)
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._queue.put_nowait(_Item(texts, language, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await queue.get()
            if first is None:
                break
            batch = [first]
            size = len(first.texts)
            deadline = loop.time() + self.max_wait
            while size < self.max_batch:
                try:
                    nxt = queue.get_nowait()
                except asyncio.QueueEmpty:
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        break
                    try:
                        nxt = await asyncio.wait_for(queue.get(), timeout)
                    except TimeoutError:
                        break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
                size += len(nxt.texts)
            await self._process(loop, batch)
        # Drain what arrived before the stop sentinel was seen.
        rest: list[_Item] = []
        while not queue.empty():
            item = queue.get_nowait()
            if item is not None:
                rest.append(item)
        if rest:
            await self._process(loop, rest)

    async def _process(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        by_language: dict[str | None, list[_Item]] = {}
        for item in batch:
            by_language.setdefault(item.language, []).append(item)
        for language, items in by_language.items():
            texts = [t for item in items for t in item.texts]
            try:
                results = await loop.run_in_executor(self._executor, self._call, texts, language)
            except Exception as exc:
                if len(items) == 1:
                    _fail(items[0], exc)
                    continue
                # One caller's bad input must not fail the others: retry each alone.
                for item in items:
                    try:
                        res = await loop.run_in_executor(
                            self._executor, self._call, item.texts, language
                        )
                    except Exception as item_exc:
                        _fail(item, item_exc)
                    else:
                        _succeed(item, res)
                continue
            pos = 0
            for item in items:
                _succeed(item, results[pos : pos + len(item.texts)])
                pos += len(item.texts)


def _succeed(item: _Item, results: list[Any]) -> None:
    if not item.future.done():
        item.future.set_result(results)


def _fail(item: _Item, exc: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(exc)
