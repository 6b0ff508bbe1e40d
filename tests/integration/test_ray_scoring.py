"""``emotiondesk score --engine ray`` on a real local Ray cluster, checked row for row
against the local engine.

The test starts ``ray start --head --block`` on 127.0.0.1 with 2 CPUs (two actor
processes score), runs the real CLI against it with the fast pack, and stops the
cluster by ending the ``ray start`` process (which takes the processes it started
with it; other Ray sessions on the machine are left alone).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TINY_EN, TINY_ZH

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FAST_PACK = ROOT / "models" / "fast"
ROWS = 20_000


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(token_path: Path) -> dict[str, str]:
    """The cluster and its client: Ray's token authentication with a token of this test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMOTIONDESK_", "RAY_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH", "")])),
        RAY_USAGE_STATS_ENABLED="0",
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=str(token_path),
        OMP_NUM_THREADS="1",
    )
    return env


@pytest.fixture(scope="module")
def ray_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    token = tmp_path_factory.mktemp("ray-auth") / "auth_token"
    token.write_text(secrets.token_hex(32), encoding="utf-8")
    return _env(token)


@pytest.fixture(scope="module")
def ray_cluster(ray_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not _ray_available():
        if os.environ.get("CI"):
            pytest.fail("CI installs the dev extra, which includes ray")
        pytest.skip("ray is not installed (pip install 'emotiondesk[ray]')")
    port = _free_port()
    log = tmp_path_factory.mktemp("ray") / "ray-start.log"
    ray_bin = Path(sys.executable).with_name("ray")
    proc = subprocess.Popen(
        [
            str(ray_bin),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=ray_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ray start exited: {log.read_text()[-3000:]}")
            if "Ray runtime started" in log.read_text(errors="replace"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"ray start not ready in 120 s: {log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield address
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _texts(n: int) -> list[str]:
    rng = random.Random(14)
    base = [t for t, _, _ in TINY_ZH + TINY_EN]
    tails = ["", "！", "。。", " really", "，谢谢", "?", " 13812345678"]
    out = [rng.choice(base) + rng.choice(tails) for _ in range(n)]
    out[7] = ""  # an empty message scores neutral on both engines
    return out


def _score(env: dict[str, str], *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "emotiondesk", "score", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_ray_matches_local_row_for_row(
    ray_cluster: str, ray_env: dict[str, str], tmp_path: Path
) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS
    from emotiondesk.usecases.distributed import read_output

    src = tmp_path / "archive.parquet"
    pq.write_table(
        pa.table(
            {
                "订单号": [f"A{i:06d}" for i in range(ROWS)],
                "评论": _texts(ROWS),
                "stars": [i % 5 + 1 for i in range(ROWS)],
            }
        ),
        src,
        row_group_size=4096,
    )
    local = _score(ray_env, str(src), str(tmp_path / "local.parquet"), "--model", str(FAST_PACK))
    ray_report = _score(
        ray_env,
        str(src),
        str(tmp_path / "ray.parquet"),
        "--engine",
        "ray",
        "--ray-address",
        ray_cluster,
        "--workers",
        "2",
        "--batch-size",
        "1000",
        "--model",
        str(FAST_PACK),
    )
    assert local["rows"] == ray_report["rows"] == ROWS
    assert ray_report["model"] == local["model"]

    a = pq.read_table(tmp_path / "local.parquet")
    b = read_output(tmp_path / "ray.parquet")
    assert b.num_rows == ROWS and b.column_names == a.column_names
    # row for row, in input order, every row once
    for col in ("订单号", "评论", "stars", "language", "polarity", "emotion", "model_version"):
        assert a.column(col).to_pylist() == b.column(col).to_pylist(), col
    probs = ["score"] + [f"polarity_{x}" for x in POLARITY_LABELS]
    probs += [f"emotion_{x}" for x in EMOTION_LABELS]
    for col in probs:
        np.testing.assert_allclose(
            a.column(col).to_numpy(), b.column(col).to_numpy(), rtol=0, atol=1e-6, err_msg=col
        )
    assert len(set(b.column("订单号").to_pylist())) == ROWS
    assert set(a.column("polarity").to_pylist()) == {"negative", "neutral", "positive"}


def test_import_on_ray_into_postgres_resumes_and_matches_local(
    ray_cluster: str, ray_env: dict[str, str], tmp_path: Path
) -> None:
    """``import --engine ray``: the analysis on the cluster, rows stored in batches in
    PostgreSQL; an interrupted import (here: stopped after 1,500 rows) re-run stores
    nothing twice, and every row reads as the local engine's import reads it."""
    from sqlalchemy import text

    from emotiondesk.service.demo_reviews import generate_reviews, write_jsonl
    from emotiondesk.storage import make_engine
    from tests.integration.test_service_http import reset_postgres

    url = os.environ.get("EMOTIONDESK_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must set EMOTIONDESK_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)")
        pytest.skip("EMOTIONDESK_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    reset_postgres(url)
    archive = write_jsonl(generate_reviews(n=4000, seed=3), tmp_path / "reviews.jsonl")

    def run_import(database: str, *extra: str) -> dict:
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "emotiondesk", "import", str(archive)),
                *("--database", database, "--model", str(FAST_PACK), "--batch-size", "250"),
                *("--no-scan-surges", "--json", *extra),
            ],
            env=ray_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    on_ray = ["--engine", "ray", "--ray-address", ray_cluster, "--workers", "2"]
    first = run_import(url, *on_ray, "--limit", "1500")
    assert first["imported"] == 1500
    again = run_import(url, *on_ray)
    assert (again["imported"], again["already_stored"]) == (2500, 1500)
    local_db = f"sqlite:///{tmp_path / 'local.sqlite'}"
    assert run_import(local_db)["imported"] == 4000

    query = text(
        "SELECT conversation_id, client_message_id, polarity, emotion, score, text FROM messages"
    )
    rows = {}
    for name, db in (("ray", url), ("local", local_db)):
        engine = make_engine(db)
        with engine.connect() as conn:
            got = conn.execute(query).all()
        engine.dispose()
        keys = [(r[0], r[1]) for r in got]
        assert len(keys) == len(set(keys)) == 4000, name  # every row once
        rows[name] = {(r[0], r[1]): r[2:] for r in got}
    assert rows["ray"].keys() == rows["local"].keys()
    for key, (pol, emo, score, txt) in rows["local"].items():
        r_pol, r_emo, r_score, r_txt = rows["ray"][key]
        assert (r_pol, r_emo, r_txt) == (pol, emo, txt)
        assert abs(r_score - score) <= 1e-6
