"""`emotiondesk serve --no-access-log`: the real server keeps its info log, minus the line per request."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_service_http import ADMIN_KEY, _env, free_port

pytestmark = pytest.mark.integration


def serve_once(tmp_path: Path, tiny_pack: Path, *flags: str) -> str:
    """Start the server at --log-level info, make one analyze call, stop it; its log."""
    log = tmp_path / f"serve{'-'.join(flags)}.log"
    port = free_port()
    db = f"sqlite:///{tmp_path / ('db' + '-'.join(flags) + '.sqlite')}"
    command = [sys.executable, "-m", "emotiondesk", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--log-level", "info", *flags],
        env=_env(db, tiny_pack),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "server not ready in 90 s"
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        r = httpx.post(
            f"{base}/v1/analyze",
            json={"texts": ["where is my parcel"]},
            headers={"X-API-Key": ADMIN_KEY},
            timeout=30,
        )
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=40)
    return log.read_text(encoding="utf-8", errors="replace")


def test_access_log_can_be_turned_off(tmp_path: Path, tiny_pack: Path) -> None:
    default = serve_once(tmp_path, tiny_pack)
    assert "Application startup complete" in default
    assert '"POST /v1/analyze HTTP/1.1" 200' in default
    quiet = serve_once(tmp_path, tiny_pack, "--no-access-log")
    assert "Application startup complete" in quiet
    assert "/v1/analyze" not in quiet and "/readyz" not in quiet
    assert "where is my parcel" not in default + quiet and ADMIN_KEY not in default + quiet
