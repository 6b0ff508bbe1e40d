"""`emotiondesk demo` starts the service with sample conversations and prints how to reach it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from emotiondesk.service.auth import DEV_API_KEY
from emotiondesk.service.demo import SAMPLE_CONVERSATIONS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_demo(tmp_path: Path, tiny_pack: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTIONDESK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    log = tmp_path / "demo.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emotiondesk",
            "demo",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "demo.sqlite"),
            "--model",
            str(tiny_pack),
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while "dev API key" not in log.read_text(encoding="utf-8"):
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.2)
        out = log.read_text(encoding="utf-8")
        assert f"http://127.0.0.1:{port}/docs" in out and DEV_API_KEY in out
        for fields, _ in SAMPLE_CONVERSATIONS:  # every sample is there (besides other demo data)
            page = httpx.get(
                f"http://127.0.0.1:{port}/v1/conversations",
                params={"customer_id": fields["customer_id"]},
                headers={"X-API-Key": DEV_API_KEY},
            ).json()
            assert page["total"] == 1, fields["customer_id"]
        phone = httpx.get(
            f"http://127.0.0.1:{port}/v1/conversations",
            params={"customer_id": "cn-33410"},
            headers={"X-API-Key": DEV_API_KEY},
        ).json()["items"][0]
        detail = httpx.get(
            f"http://127.0.0.1:{port}/v1/conversations/{phone['id']}",
            headers={"X-API-Key": DEV_API_KEY},
        ).json()
        assert any("[PHONE]" in m["text"] for m in detail["messages"])
        assert "13812345678" not in str(detail)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
