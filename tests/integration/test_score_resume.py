"""``emotiondesk score`` killed mid-run and run again: the same output as an
uninterrupted run, every row once (the real CLI, the shipped fast pack)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emotiondesk.usecases.score_files import parts_dir

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FAST_PACK = ROOT / "models" / "fast"


def _cmd(src: Path, dst: Path) -> list[str]:
    return [
        *(sys.executable, "-m", "emotiondesk", "score", str(src), str(dst)),
        *("--model", str(FAST_PACK), "--chunk-rows", "1000", "--batch-size", "250"),
    ]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTIONDESK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_killed_run_resumes_to_the_same_output(tmp_path: Path) -> None:
    import pyarrow.csv as pacsv

    from emotiondesk.service.demo_reviews import generate_reviews

    rows = generate_reviews(n=12_000, seed=9)
    src = tmp_path / "评论.csv"
    with src.open("w", encoding="utf-8") as fh:
        fh.write("编号,评论,渠道\n")
        for i, r in enumerate(rows):
            text = r["text"].replace('"', '""')
            fh.write(f'{i},"{text}",{r.get("channel") or ""}\n')

    whole = tmp_path / "whole.csv"
    subprocess.run(_cmd(src, whole), env=_env(), check=True, capture_output=True, timeout=600)

    dst = tmp_path / "resumed.csv"
    proc = subprocess.Popen(
        _cmd(src, dst), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    parts = parts_dir(dst)
    deadline = time.monotonic() + 300
    while len(list(parts.glob("part-*.parquet"))) < 3:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait(timeout=30)
    assert not dst.exists()
    kept = len(list(parts.glob("part-*.parquet")))
    assert 3 <= kept < 12

    again = subprocess.run(
        _cmd(src, dst), env=_env(), check=True, capture_output=True, text=True, timeout=600
    )
    assert f"resuming: {kept * 1000} rows" in again.stderr
    assert dst.read_bytes() == whole.read_bytes()  # byte for byte
    out = pacsv.read_csv(dst)
    assert out.num_rows == 12_000
    assert sorted(out.column("编号").to_pylist()) == list(range(12_000))
    assert not parts.exists()
