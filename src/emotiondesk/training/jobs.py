"""Background training jobs: a directory per job, a detached process, progress you can read.

A job lives in ``<registry>/jobs/<id>/``:

* ``job.json``: what it is (``kind``, ``params``), its ``state`` (``queued``,
  ``running``, ``done``, ``failed``, ``cancelled``; a ``running`` job whose
  process is gone reads as ``interrupted``), its ``stage`` and ``progress``
  (``done`` / ``total`` of the stage), the ``pid`` of its process, the
  ``result`` or ``error``; rewritten atomically at each step;
* ``inputs.json``: the data it was started with (a snapshot: a resumed job
  trains on the same rows whatever happened to the database since);
* ``log.txt``: the process's output;
* whatever the job's stages checkpoint (``features/``, ``checkpoints/``).

:func:`start` spawns ``python -m emotiondesk jobs run DIR`` in its own
session (it outlives the command that started it); :func:`resume` spawns it
again on the same directory, and the stages pick up from their checkpoints;
:func:`cancel` asks it to stop (a ``cancel`` file the job reads between
steps, then SIGTERM). One process runs a job at a time (an exclusive lock on
``run.lock``).

Example:
    >>> job = create_job(Path("registry/jobs"), kind="learn-deep", params={}, inputs={})  # doctest: +SKIP
    >>> start(job); read_job(job)["state"]                                                # doctest: +SKIP
    'running'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emotiondesk.errors import InvalidInputError, NotFoundError

JOB_FILE = "job.json"
INPUTS_FILE = "inputs.json"
LOG_FILE = "log.txt"
CANCEL_FILE = "cancel"
_JOB_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]*")
LOCK_FILE = "run.lock"
JOBS_DIR = "jobs"

FINISHED = ("done", "failed", "cancelled")


class JobCancelled(Exception):
    """Raised inside a job's stages when a cancel was asked for."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def jobs_root(registry_root: str | Path) -> Path:
    return Path(registry_root) / JOBS_DIR


def create_job(root: Path, *, kind: str, params: dict[str, Any], inputs: dict[str, Any]) -> Path:
    """A new job directory (state ``queued``) with its parameters and input snapshot."""
    job_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    job = root / job_id
    job.mkdir(parents=True)
    (job / INPUTS_FILE).write_text(json.dumps(inputs, ensure_ascii=False), encoding="utf-8")
    _write_atomic(
        job / JOB_FILE,
        {
            "id": job_id,
            "kind": kind,
            "state": "queued",
            "created": _now(),
            "updated": _now(),
            "params": params,
            "stage": None,
            "progress": {},
            "runs": 0,
            "pid": None,
            "result": None,
            "error": None,
        },
    )
    return job


def find_job(root: Path, job_id: str) -> Path:
    """The directory of job ``job_id`` (a unique prefix is enough)."""
    if not _JOB_ID.fullmatch(job_id):
        raise InvalidInputError(f"{job_id!r} is no job id (letters, digits, '-' and '_')")
    if (root / job_id / JOB_FILE).is_file():
        return root / job_id
    matches = sorted(p for p in root.glob(f"{job_id}*") if (p / JOB_FILE).is_file())
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(p.name for p in list_jobs(root)[-5:]) or "none"
    if matches:
        raise InvalidInputError(f"job id {job_id!r} is ambiguous: {[p.name for p in matches]}")
    raise NotFoundError(f"no job {job_id!r} under {root} (latest: {known})")


def list_jobs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / JOB_FILE).is_file())


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie has exited
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _running(job: Path) -> bool:
    """Whether a process holds the job's run lock (it is running now)."""
    path = job / LOCK_FILE
    if not path.exists():
        return False
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def read_job(job: Path) -> dict[str, Any]:
    """``job.json``, with ``state`` ``interrupted`` for a running job whose process is gone."""
    data = json.loads((job / JOB_FILE).read_text(encoding="utf-8"))
    # running without the lock: the process is gone; queued: its process died
    # before taking the lock (a queued job not spawned yet has no pid)
    gone = data["state"] == "running" or (data.get("pid") and not _alive(data["pid"]))
    if data["state"] in ("running", "queued") and gone and not _running(job):
        data["state"] = "interrupted"
    data["dir"] = str(job)
    data["cancel_requested"] = (job / CANCEL_FILE).exists()
    return data


def update_job(job: Path, **changes: Any) -> dict[str, Any]:
    data = json.loads((job / JOB_FILE).read_text(encoding="utf-8"))
    data.update(changes)
    data["updated"] = _now()
    _write_atomic(job / JOB_FILE, data)
    return data


def read_inputs(job: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((job / INPUTS_FILE).read_text(encoding="utf-8"))
    return result


def _spawn(job: Path) -> int:
    log = (job / LOG_FILE).open("ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emotiondesk", "jobs", "run", str(job)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # outlives the command that started it; no terminal signals
        env=env,
    )
    log.close()
    update_job(job, pid=proc.pid)
    return proc.pid


def start(job: Path) -> int:
    """Run the job in a detached background process; returns its pid."""
    state = read_job(job)["state"]
    if state != "queued":
        raise InvalidInputError(f"job {job.name} is {state}, not queued (use `jobs resume`)")
    return _spawn(job)


def resume(job: Path) -> int:
    """Run an interrupted or cancelled job again from its checkpoints; returns the new pid."""
    data = read_job(job)
    if data["state"] in ("running", "queued") or _running(job):
        raise InvalidInputError(f"job {job.name} is {data['state']}: nothing to resume")
    if data["state"] == "done":
        raise InvalidInputError(f"job {job.name} is done (candidate {data['result']})")
    (job / CANCEL_FILE).unlink(missing_ok=True)
    update_job(job, state="queued", error=None)
    return _spawn(job)


def cancel(job: Path) -> dict[str, Any]:
    """Ask the job to stop: a ``cancel`` file it reads between steps, and SIGTERM to its process.

    Its checkpoints stay: ``resume`` continues from them.
    """
    data = read_job(job)
    if data["state"] in FINISHED:
        raise InvalidInputError(f"job {job.name} is already {data['state']}")
    (job / CANCEL_FILE).write_text(_now(), encoding="utf-8")
    pid = data.get("pid")
    if _running(job) and pid and _alive(pid) and _is_job_process(pid, job):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    elif data["state"] != "running":
        update_job(job, state="cancelled")
    return read_job(job)


def _is_job_process(pid: int, job: Path) -> bool:
    """The pid still is this job's runner (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(job).encode() in cmdline


@contextlib.contextmanager
def run_lock(job: Path) -> Iterator[None]:
    """Held while a process runs the job; a second runner is refused."""
    with (job / LOCK_FILE).open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InvalidInputError(f"job {job.name} is already running") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class JobContext:
    """What a running job's stages use: progress, log lines, the cancel check."""

    def __init__(self, job: Path) -> None:
        self.job = job
        self._last_write = 0.0
        self.cancelled = False

    def stage(self, name: str, total: int) -> None:
        update_job(self.job, stage=name, progress={"stage": name, "done": 0, "total": total})
        self.log(f"stage {name}: {total} steps")

    def advance(self, done: int, total: int, **extra: Any) -> None:
        """Progress of the current stage (written at most twice a second, and at the end)."""
        self.check_cancel()
        now = time.monotonic()
        if done < total and now - self._last_write < 0.5:
            return
        self._last_write = now
        data = json.loads((self.job / JOB_FILE).read_text(encoding="utf-8"))
        update_job(
            self.job, progress={"stage": data.get("stage"), "done": done, "total": total, **extra}
        )

    def log(self, message: str) -> None:
        print(f"{_now()} {message}", flush=True)

    def check_cancel(self) -> None:
        if self.cancelled or (self.job / CANCEL_FILE).exists():
            raise JobCancelled(f"job {self.job.name} cancelled")
