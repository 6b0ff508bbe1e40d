"""The service's background negative-surge monitor (over :mod:`emotiondesk.usecases.analytics`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from fastapi.concurrency import run_in_threadpool

from emotiondesk.storage.repository import list_workspaces
from emotiondesk.usecases.analytics import scan_surges, surge_alert

logger = logging.getLogger(__name__)


class SurgeMonitor:
    """Background task: :func:`scan_surges` per workspace, per category and per product,
    every ``minutes``."""

    def __init__(
        self,
        sessions: Any,
        *,
        minutes: float,
        sensitivity: str = "medium",
        notify: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.notify = notify
        self.minutes = minutes
        self.sensitivity = sensitivity
        self._task: asyncio.Task[None] | None = None

    def scan_once(self) -> int:
        found = 0
        with self.sessions() as session:
            workspaces = list_workspaces(session)
        for workspace in workspaces:
            for by in ("category", "product_id"):
                with self.sessions() as session:
                    surges = scan_surges(
                        session, workspace=workspace, by=by, sensitivity=self.sensitivity
                    )
                found += len(surges)
                if self.notify is not None:
                    for surge in surges:
                        if surge.get("new"):
                            self.notify(surge_alert(surge))
        return found

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.minutes * 60)
            try:
                await run_in_threadpool(self.scan_once)
            except Exception:  # keep monitoring; the next scan retries
                logger.exception("negative-surge scan failed")

    def start(self) -> None:
        if self.minutes > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
