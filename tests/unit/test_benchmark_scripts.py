"""The benchmark scripts say so and stop cleanly when the shared data is absent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_accuracy_skips_without_data(tmp_path: Path) -> None:
    res = run("accuracy.py", "--data", str(tmp_path / "absent"))
    assert res.returncode == 0
    assert "skipped" in res.stderr


def test_train_pack_refuses_without_data(tmp_path: Path) -> None:
    res = run("train_pack.py", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert "--data" in res.stderr
    assert not (tmp_path / "out").exists()


def test_speed_falls_back_to_examples(tiny_pack: Path, tmp_path: Path) -> None:
    res = run(
        "speed.py",
        "--data",
        str(tmp_path / "absent"),
        "--model",
        str(tiny_pack),
        "--batch",
        "50",
        "--runs",
        "1",
        "--no-baselines",
    )
    assert res.returncode == 0, res.stderr
    assert "examples/messages.txt" in res.stdout
    assert "msgs/s" in res.stdout


def test_service_cpu_runs_in_process(tiny_pack: Path) -> None:
    res = run("service_cpu.py", "--model", str(tiny_pack), "--requests", "60", "--callers", "6")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "60 requests, 6 in-process callers" in res.stdout
    assert "ms CPU per request" in res.stdout


def test_scale_needs_a_database_for_the_service_part() -> None:
    res = run("scale.py", "--skip-scoring", "--database-url", "")
    assert res.returncode == 1
    assert "--database-url" in res.stderr


def test_learn_loop_says_so_without_data(tmp_path: Path) -> None:
    res = run("learn_loop.py", "--shared", str(tmp_path / "absent"))
    assert res.returncode == 0
    assert "the shared data is absent" in res.stderr
