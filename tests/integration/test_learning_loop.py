"""The learning loop end to end, on the real pieces, without restarting the service.

A fresh SQLite database and model registry (the tiny pack as v1), the real
HTTP service with two worker processes, a stream of customer messages from a
domain the model reads wrong (device faults: read as neutral, they are
anger), the agents' corrections through ``POST /v1/feedback``, then the real
CLI: ``learn`` (a candidate and its gate report), ``models promote``; the
running service answers with the new version in both workers while requests
keep flowing (none fails), and ``models rollback`` restores the old version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emotiondesk.training.learn import is_held_back
from tests.conftest import TINY_EN, TINY_ZH
from tests.integration.test_service_http import (
    ADMIN_KEY,
    CLEAN_EXIT,
    Server,
    start_server,
    stop_server,
)
from tests.learning_data import domain_messages, write_gate_file

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emotiondesk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def loop(
    tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    tmp = tmp_path_factory.mktemp("loop")
    registry = tmp / "registry"
    url = f"sqlite:///{tmp / 'loop.sqlite'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTIONDESK_")}
    env["OMP_NUM_THREADS"] = "1"
    made = cli("models", "init", "--registry", str(registry), "--from", str(tiny_pack), env=env)
    assert made.returncode == 0, made.stderr
    srv = start_server(
        url,
        registry,
        tmp / "server.log",
        EMOTIONDESK_WORKERS="2",
        EMOTIONDESK_MODEL_POLL_SECONDS="0.2",
        EMOTIONDESK_SURGE_SCAN_MINUTES="0",
    )
    yield srv, registry
    assert stop_server(srv) in CLEAN_EXIT


class Traffic(threading.Thread):
    """Analyse requests back to back until stopped; keeps every status and model seen."""

    def __init__(self, base: str, text: str) -> None:
        super().__init__(daemon=True)
        self.base, self.text = base, text
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.models: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as h:
            while not self.stop.is_set():
                r = h.post("/v1/analyze", json={"texts": [self.text]})
                self.statuses.append(r.status_code)
                if r.status_code == 200:
                    self.models.append(r.json()["results"][0]["model"])


def _all_answer(http: httpx.Client, text: str, model: str, timeout: float = 20) -> dict:
    """Wait until 20 answers in a row (spread over both workers) come from ``model``."""
    deadline = time.monotonic() + timeout
    streak, last = 0, {}
    while time.monotonic() < deadline:
        last = http.post("/v1/analyze", json={"texts": [text]}).json()["results"][0]
        streak = streak + 1 if last["model"] == model else 0
        if streak >= 20:
            return last
        time.sleep(0.02)
    raise AssertionError(f"the service still answers with {last.get('model')}, not {model}")


def test_corrections_learn_gate_promote_rollback_live(
    loop: tuple[Server, Path], tmp_path: Path
) -> None:
    server, registry = loop
    env = {**server.env, "EMOTIONDESK_MODEL_DIR": str(registry)}
    pid = server.proc.pid
    domain = domain_messages()
    held = [t for t in domain if is_held_back(t)]
    assert held
    with server.client() as http:
        # -- a stream of messages: ordinary ones, and the domain the model reads wrong
        conv = http.post("/v1/conversations", json={"channel": "chat"}).json()["id"]
        ids: dict[str, str] = {}
        for text in [t for t, _, _ in TINY_ZH + TINY_EN] + domain:
            r = http.post(
                f"/v1/conversations/{conv}/messages", json={"role": "customer", "text": text}
            )
            assert r.status_code == 201, r.text
            message = r.json()["message"]
            assert message["model_version"] == "tiny-v1"
            ids[text] = message["id"]
        before = http.post("/v1/analyze", json={"texts": held}).json()["results"]
        wrong_before = sum(r["emotion"] != "anger" for r in before)
        assert wrong_before >= len(held) // 2  # the model is weak on this domain

        # -- the agents correct what they see
        for text in domain:
            r = http.post(
                "/v1/feedback",
                json={"message_id": ids[text], "polarity": "negative", "emotion": "anger"},
            )
            assert r.status_code == 201, r.text

        # -- learn: a candidate from the champion + the corrections, and its gate
        thresholds = tmp_path / "gate.yaml"
        thresholds.write_text("min_support: 3\n", encoding="utf-8")
        learned = cli(
            "learn",
            "--no-shipped-sets",
            "--gate-data",
            f"emotion:{write_gate_file(tmp_path / 'emo.csv', 'emotion')}",
            "--gate-data",
            f"polarity:{write_gate_file(tmp_path / 'pol.csv', 'polarity')}",
            "--thresholds",
            str(thresholds),
            "--by",
            "e2e",
            "--json",
            env=env,
        )
        assert learned.returncode == 0, learned.stderr
        out = json.loads(learned.stdout.strip().splitlines()[-1])
        assert out["version"] == "v2" and out["parent"] == "v1" and out["gate"]["passed"]
        gate_dir = registry / "versions" / "v2" / "gate"
        report = json.loads((gate_dir / "report.json").read_text(encoding="utf-8"))
        held_back = [s for s in report["sets"] if s["set"] == "feedback (held back)"]
        assert held_back and all(
            s["candidate"]["accuracy"] >= s["champion"]["accuracy"] for s in held_back
        )
        assert "Confusion matrix" in (gate_dir / "report.md").read_text(encoding="utf-8")
        # still v1: learning alone changes nothing that is served
        assert (
            http.post("/v1/analyze", json={"texts": held}).json()["results"][0]["model"]
            == "tiny-v1"
        )

        # -- promotion, picked up live by both workers while requests flow
        traffic = Traffic(server.base, domain[0])
        traffic.start()
        time.sleep(0.3)
        promoted = cli("models", "promote", "v2", "--by", "e2e", env=env)
        assert promoted.returncode == 0, promoted.stderr
        _all_answer(http, held[0], "tiny-v2")
        after = http.post("/v1/analyze", json={"texts": held}).json()["results"]
        assert sum(r["emotion"] != "anger" for r in after) < wrong_before
        r = http.post(
            f"/v1/conversations/{conv}/messages", json={"role": "customer", "text": held[0]}
        )
        assert r.json()["message"]["model_version"] == "tiny-v2"  # stored with its version

        # -- rollback: one command, the old version is back without a restart
        rolled = cli("models", "rollback", "--by", "e2e", "--reason", "e2e check", env=env)
        assert rolled.returncode == 0, rolled.stderr
        _all_answer(http, held[0], "tiny-v1")
        traffic.stop.set()
        traffic.join(timeout=30)
        assert traffic.statuses and set(traffic.statuses) == {200}, set(traffic.statuses)
        assert {"tiny-v1", "tiny-v2"} <= set(traffic.models)
        assert server.proc.poll() is None and server.proc.pid == pid
        audit = cli("models", "audit", "--json", env=env)
        actions = [e["action"] for e in json.loads(audit.stdout)["audit"]]
        assert actions == ["init", "challenger", "promote", "rollback"]
