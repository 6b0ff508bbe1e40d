"""Prometheus metrics, one registry per app (so several apps can live in one process).

Exposed at ``/metrics``: request counts and latency by route and status,
inference time and batch sizes of the model calls, predictions by label and
messages ingested. With several uvicorn workers each process reports its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    """The service's metrics."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "emotiondesk_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "emotiondesk_http_request_duration_seconds",
            "HTTP request latency by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference = Histogram(
            "emotiondesk_inference_seconds",
            "Time of one model call (one batch).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "emotiondesk_batch_size",
            "Texts per model call (micro-batches gather concurrent requests).",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "emotiondesk_predictions_total",
            "Predictions by task and label.",
            ["task", "label"],
            registry=r,
        )
        self.ingested = Counter(
            "emotiondesk_messages_ingested_total",
            "Messages stored, by role.",
            ["role"],
            registry=r,
        )
        self.model_loaded = Gauge(
            "emotiondesk_model_loaded", "1 when the model pack is loaded.", registry=r
        )
        self.model_version = Gauge(
            "emotiondesk_model_version",
            "1 for the model version this process serves (0 for ones it served before).",
            ["version"],
            registry=r,
        )
        self.model_swaps = Counter(
            "emotiondesk_model_swaps_total",
            "Live swaps to a new registry champion (promotions and rollbacks).",
            registry=r,
        )
        self.shadow = Counter(
            "emotiondesk_shadow_predictions_total",
            "Challenger predictions scored in shadow, by task and agreement with the champion.",
            ["task", "agree"],
            registry=r,
        )
        self.shadow_skipped = Counter(
            "emotiondesk_shadow_skipped_total",
            "Texts the shadow challenger skipped (it fell behind).",
            registry=r,
        )

        # Labelled children, looked up once per label set (``labels()`` costs
        # microseconds on every call, and these are used on every request).
        self._request_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._prediction_children: dict[tuple[str, str], Any] = {}

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.inference.observe(seconds)

    def observe_request(self, method: str, route: str, status: str, seconds: float) -> None:
        """Count one HTTP request and its latency under its route template and status."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(*key), self.latency.labels(*key))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_predictions(self, results: Sequence[Any]) -> None:
        children = self._prediction_children
        for r in results:
            for key in (("polarity", r.polarity), ("emotion", r.emotion)):
                child = children.get(key)
                if child is None:
                    child = children[key] = self.predictions.labels(*key)
                child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.metrics.observe_request(
                scope.get("method", "GET"), template, str(status), time.perf_counter() - start
            )
