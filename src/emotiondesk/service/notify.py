"""Outgoing alert notifications by webhook: generic JSON, or the message shapes of
WeCom (企业微信), DingTalk (钉钉) and Slack incoming webhooks.

Alerts are queued and sent by one background thread, so a slow or dead receiver
never blocks ingestion; each one is retried with backoff on connection errors,
429 and 5xx. With a secret every request is signed: the header
``X-Emotiondesk-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with
``X-Emotiondesk-Timestamp`` (seconds); a DingTalk robot's own signature
(``timestamp`` and ``sign`` query parameters) is added for ``dingtalk``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx

from emotiondesk.storage.tables import DEFAULT_WORKSPACE

logger = logging.getLogger(__name__)

FORMATS = ("generic", "wecom", "dingtalk", "slack")
_STOP = object()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>." + body): how a receiver checks us."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _text(alert: Mapping[str, Any], dashboard_url: str) -> str:
    lines = [f"[{alert.get('severity', 'warning')}] {alert.get('title', 'alert')}"]
    if alert.get("workspace") not in (None, DEFAULT_WORKSPACE):
        lines.append(f"workspace {alert['workspace']}")
    if alert.get("conversation_id"):
        lines.append(f"conversation {alert['conversation_id']}")
    if dashboard_url:
        target = (
            f"#/conversation/{alert['conversation_id']}"
            if alert.get("conversation_id")
            else "#/alerts"
        )
        lines.append(f"{dashboard_url.rstrip('/')}/dashboard{target}")
    return "\n".join(lines)


def render(
    alert: Mapping[str, Any], fmt: str = "generic", *, dashboard_url: str = ""
) -> dict[str, Any]:
    """The JSON body for ``fmt`` (see :data:`FORMATS`)."""
    if fmt == "generic":
        return {"event": "alert", "alert": dict(alert)}
    text = _text(alert, dashboard_url)
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if fmt == "dingtalk":
        return {
            "msgtype": "markdown",
            "markdown": {"title": str(alert.get("title", "alert"))[:64], "text": text},
        }
    if fmt == "slack":
        return {"text": text}
    raise ValueError(f"unknown webhook format {fmt!r}; use one of {', '.join(FORMATS)}")


class WebhookNotifier:
    """Send alerts to ``url`` in the background (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        fmt: str = "generic",
        secret: str = "",
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 5.0,
        dashboard_url: str = "",
        max_queue: int = 1000,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown webhook format {fmt!r}; use one of {', '.join(FORMATS)}")
        self.url, self.fmt, self.secret = url, fmt, secret
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.dashboard_url = dashboard_url
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the caller's side: never blocks -----------------------------------------------
    def notify(self, alert: Mapping[str, Any]) -> bool:
        """Queue ``alert``; False (and a log line) when the queue is full."""
        self._start()
        try:
            self._queue.put_nowait(dict(alert))
        except queue.Full:
            self.failed += 1
            logger.warning("alert webhook queue full: alert %r dropped", alert.get("title"))
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (waiting at most ``timeout`` seconds), then stop."""
        if self._thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
        self._thread = None

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="emotiondesk-webhook", daemon=True
                )
                self._thread.start()

    # -- the sender thread --------------------------------------------------------------
    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as http:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                try:
                    self.send(http, item)  # type: ignore[arg-type]
                except Exception:  # a bug must not kill the sender
                    logger.exception("alert webhook failed")

    def request(self, alert: Mapping[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """URL, body and headers of the request for ``alert`` (signed with the secret)."""
        body = json.dumps(
            render(alert, self.fmt, dashboard_url=self.dashboard_url),
            ensure_ascii=False,
            default=str,
        ).encode()
        headers = {"content-type": "application/json", "user-agent": "emotiondesk-webhook"}
        url = self.url
        if self.secret:
            ts = str(int(time.time()))
            headers["x-emotiondesk-timestamp"] = ts
            headers["x-emotiondesk-signature"] = sign(self.secret, ts, body)
            if self.fmt == "dingtalk":
                ms = str(int(time.time() * 1000))
                mac = hmac.new(
                    self.secret.encode(), f"{ms}\n{self.secret}".encode(), hashlib.sha256
                ).digest()
                query = urllib.parse.urlencode(
                    {"timestamp": ms, "sign": base64.b64encode(mac).decode()}
                )
                url = f"{url}{'&' if '?' in url else '?'}{query}"
        return url, body, headers

    def send(self, http: httpx.Client, alert: Mapping[str, Any]) -> bool:
        """POST one alert, retrying connection errors, 429 and 5xx with backoff."""
        for attempt in range(self.retries + 1):
            url, body, headers = self.request(alert)  # re-signed: a fresh timestamp
            try:
                resp = http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            else:
                if resp.status_code < 300:
                    self.sent += 1
                    return True
                reason = f"HTTP {resp.status_code}"
                if resp.status_code != 429 and resp.status_code < 500:
                    break  # the receiver refuses it: retrying will not help
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        self.failed += 1
        logger.warning("alert webhook gave up on %r: %s", alert.get("title"), reason)
        return False
