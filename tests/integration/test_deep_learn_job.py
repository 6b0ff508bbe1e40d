"""``emotiondesk learn --tier deep`` as a real background job: kill, resume, gate, promote, cancel.

The transformer tier is a tiny random BERT exported to int8 ONNX (as the
shipped e5 model is); the corrections are in a real SQLite database; every
step goes through the CLI in separate processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx_ir")

from emotiondesk.analyzer import load_analyzer
from emotiondesk.registry import Registry
from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
from emotiondesk.storage import repository as repo
from emotiondesk.storage.tables import Feedback
from tests.learning_data import anchor_texts, domain_messages
from tests.unit.deep_tier_helpers import make_deep_pack

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emotiondesk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _status(job: str, env: dict[str, str]) -> dict:
    res = cli("jobs", "status", job, "--json", env=env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _wait_for_checkpoint(job_dir: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not list((job_dir / "checkpoints").glob("epoch-*.pt")):
        assert time.monotonic() < deadline, (job_dir / "log.txt").read_text()
        time.sleep(0.02)


def _wait_until_stopped(job: str, env: dict[str, str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        data = _status(job, env)
        if data["state"] not in ("running", "queued"):
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.2)


def test_deep_job_survives_a_kill_and_its_candidate_is_gated_and_promoted(
    tiny_pack: Path, tmp_path: Path
) -> None:
    pack = make_deep_pack(tmp_path / "deep", tiny_pack)
    reg = Registry.init(tmp_path / "registry", source=pack, by="t")
    url = f"sqlite:///{tmp_path / 'deep.sqlite'}"
    engine = make_engine(url)
    upgrade_database(engine)
    analyzer = load_analyzer(reg.root)
    with make_session_factory(engine)() as s:
        conv = repo.create_conversation(s, workspace="default", channel="chat")
        texts = domain_messages() + anchor_texts()
        for text, result in zip(texts, analyzer.analyze(texts), strict=True):
            msg = repo.add_message(
                s, conversation=conv, role="customer", text=text, analysis=result.to_dict(),
                model_version=result.model,
            )  # fmt: skip
            if text in domain_messages():
                repo.add_feedback(
                    s, workspace="default", message_id=msg.id, polarity="negative", emotion="anger"
                )
        s.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTIONDESK_")}
    env.update(OMP_NUM_THREADS="1", EMOTIONDESK_MODEL_DIR=str(reg.root))
    th = tmp_path / "th.yaml"
    th.write_text("min_support: 3\n", encoding="utf-8")
    common = ["--database", url, "--no-shipped-sets", "--thresholds", str(th)]

    # -- started in the background: the command returns with the job id
    started = cli("learn", "--tier", "deep", *common, "--epochs", "200", "--json", env=env)
    assert started.returncode == 0, started.stderr
    job = json.loads(started.stdout.strip().splitlines()[-1])["job"]
    job_dir = reg.root / "jobs" / job
    assert "jobs status" in started.stderr and job in started.stderr

    # -- killed (SIGKILL: no chance to clean up) after its first checkpoint
    _wait_for_checkpoint(job_dir)
    pid = json.loads((job_dir / "job.json").read_text())["pid"]
    os.killpg(pid, signal.SIGKILL)
    data = _wait_until_stopped(job, env)
    assert data["state"] == "interrupted" and data["stage"] in ("train", "candidate")
    assert reg.version_names() == ["v1"]
    listed = cli("jobs", "list", env=env)
    assert job in listed.stdout and "interrupted" in listed.stdout

    # -- resumed: it continues from the checkpoint, builds the candidate, gates it
    resumed = cli("jobs", "resume", job[:12], "--wait", env=env)
    assert resumed.returncode == 0, resumed.stderr + (job_dir / "log.txt").read_text()
    data = _status(job, env)
    assert data["state"] == "done" and data["runs"] == 2
    log = cli("jobs", "log", job, "-n", "0", env=env).stdout
    assert "train: resumed from checkpoint epoch-" in log
    assert "features: 1 of 1 chunks read from checkpoints" in log
    result = data["result"]
    assert result["version"] == "v2" and result["parent"] == "v1"
    card = reg.card("v2")
    assert card["models"]["deep"]["epochs_resumed_from"] >= 1
    assert len(card["history"]) == 200
    assert (reg.version_dir("v2") / "gate" / "report.json").is_file()
    assert result["gate"]["passed"], result["gate"]
    with make_session_factory(engine)() as s:
        used = {f.id for f in s.query(Feedback).filter(Feedback.used_for_training.is_(True))}
    assert used == set(result["trained_ids"]) and result["marked_used"] == len(used)

    # -- the existing promotion path takes it; the service would serve it (onnxruntime only)
    promoted = cli("models", "promote", "v2", "--by", "t", env=env)
    assert promoted.returncode == 0, promoted.stderr
    assert reg.champion == "v2"
    assert load_analyzer(reg.root).analyze(["这个手机又卡顿了"])[0].model.endswith("v2")

    # -- cancel: a long job stops at its next step and keeps its checkpoints
    long = cli("learn", "--tier", "deep", *common, "--epochs", "100000", "--json", env=env)
    assert long.returncode == 0, long.stderr
    job2 = json.loads(long.stdout.strip().splitlines()[-1])["job"]
    _wait_for_checkpoint(reg.root / "jobs" / job2)
    cancelled = cli("jobs", "cancel", job2, env=env)
    assert cancelled.returncode == 0, cancelled.stderr
    data = _wait_until_stopped(job2, env)
    assert data["state"] == "cancelled", data
    assert list((reg.root / "jobs" / job2 / "checkpoints").glob("epoch-*.pt"))
    again = cli("jobs", "cancel", job2, env=env)
    assert again.returncode == 2 and "already cancelled" in again.stderr
    engine.dispose()
