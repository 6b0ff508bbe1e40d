"""``emotiondesk jobs``: background training jobs (``learn --tier deep`` starts one).

``list``, ``status``, ``log``, ``cancel`` and ``resume`` read and steer the
jobs of a model registry (``<registry>/jobs/<id>``); ``run`` is what the
background process executes (it can also be run in the foreground).
"""

from __future__ import annotations

import json
import signal
import time
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from emotiondesk.cli.common import err_console, print_json, user_errors
from emotiondesk.cli.learn_cmd import RegistryOpt, gate_version, open_registry, print_gate

jobs_app = typer.Typer(
    help="Background training jobs: status, log, cancel, resume.", no_args_is_help=True
)
JobArg = Annotated[str, typer.Argument(help="The job id (a unique prefix is enough).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


def _job(registry_path: Path | None, job_id: str) -> Path:
    from emotiondesk.training.jobs import find_job, jobs_root

    return find_job(jobs_root(open_registry(registry_path).root), job_id)


def _line(data: dict[str, Any]) -> str:
    p = data.get("progress") or {}
    where = f"{p.get('stage')} {p.get('done')}/{p.get('total')}" if p.get("stage") else "-"
    result = data.get("result") or {}
    extra = f" -> {result.get('version')}" if result.get("version") else ""
    if data.get("error"):
        extra += f" ({data['error']})"
    return f"{data['id']}  {data['kind']}  {data['state']}  {where}{extra}"


@jobs_app.command("list")
def list_command(registry_path: RegistryOpt = None, as_json: JsonOpt = False) -> None:
    """Every job of the registry, oldest first."""
    from emotiondesk.training.jobs import jobs_root, list_jobs, read_job

    with user_errors():
        jobs = [read_job(j) for j in list_jobs(jobs_root(open_registry(registry_path).root))]
    if as_json:
        print_json(jobs)
        return
    for data in jobs:
        typer.echo(_line(data))
    if not jobs:
        err_console.print("no jobs yet (emotiondesk learn --tier deep starts one)")


@jobs_app.command("status")
def status_command(
    job_id: JobArg,
    registry_path: RegistryOpt = None,
    as_json: JsonOpt = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the job with a progress bar until it ends.")
    ] = False,
) -> None:
    """A job's state, stage and progress (``interrupted``: its process is gone; resume it)."""
    from emotiondesk.training.jobs import read_job

    with user_errors():
        job = _job(registry_path, job_id)
        data = follow(job) if wait else read_job(job)
    if as_json:
        print_json(data)
    else:
        typer.echo(_line(data))
    if wait and data["state"] != "done":
        raise typer.Exit(code=1)


def follow(job: Path, poll: float = 0.5) -> dict[str, Any]:
    """Show the job's progress until it is no longer running; returns its final ``job.json``."""
    from emotiondesk.training.jobs import read_job

    bar: tqdm[Any] | None = None
    stage = None
    try:
        while True:
            data = read_job(job)
            p = data.get("progress") or {}
            if p.get("stage") and p.get("stage") != stage:
                if bar is not None:
                    bar.close()
                stage = p["stage"]
                bar = tqdm(total=p.get("total") or 0, desc=f"{job.name} {stage}", leave=False)
            if bar is not None and p.get("done") is not None:
                bar.n = int(p["done"])
                bar.refresh()
            if data["state"] not in ("running", "queued"):
                return data
            time.sleep(poll)
    finally:
        if bar is not None:
            bar.close()


@jobs_app.command("log")
def log_command(
    job_id: JobArg,
    registry_path: RegistryOpt = None,
    lines: Annotated[int, typer.Option("-n", "--lines", help="The last N lines (0: all).")] = 40,
) -> None:
    """The job's log (its process's output)."""
    from emotiondesk.training.jobs import LOG_FILE

    with user_errors():
        path = _job(registry_path, job_id) / LOG_FILE
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    out = text.splitlines()
    typer.echo("\n".join(out[-lines:] if lines > 0 else out))


@jobs_app.command("cancel")
def cancel_command(job_id: JobArg, registry_path: RegistryOpt = None) -> None:
    """Stop a job (its checkpoints stay: ``jobs resume`` continues from them)."""
    from emotiondesk.training.jobs import cancel

    with user_errors():
        data = cancel(_job(registry_path, job_id))
    err_console.print(f"cancel requested: {_line(data)}", highlight=False)


@jobs_app.command("resume")
def resume_command(
    job_id: JobArg,
    registry_path: RegistryOpt = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow it until it ends.")] = False,
) -> None:
    """Run an interrupted (killed) or cancelled job again from its last checkpoints."""
    from emotiondesk.training.jobs import resume

    with user_errors():
        job = _job(registry_path, job_id)
        pid = resume(job)
        err_console.print(f"job {job.name} resumed (pid {pid})", highlight=False)
        if wait:
            data = follow(job)
            typer.echo(_line(data))
            if data["state"] != "done":
                raise typer.Exit(code=1)


@jobs_app.command("run", hidden=True)
def run_command(job_dir: Annotated[Path, typer.Argument(help="The job directory.")]) -> None:
    """Run a job in this process (what the background process does)."""
    with user_errors():
        code = run_job(job_dir)
    if code:
        raise typer.Exit(code=code)


def run_job(job: Path) -> int:
    """Run the job's stages with its lock held; returns an exit code (0: done)."""
    import os

    from emotiondesk.registry import Registry
    from emotiondesk.training.jobs import (
        CANCEL_FILE,
        JobCancelled,
        JobContext,
        read_inputs,
        read_job,
        run_lock,
        update_job,
    )

    job = job.resolve()
    with run_lock(job):
        data = read_job(job)
        if data["state"] in ("done", "failed"):
            return 0 if data["state"] == "done" else 1
        if data["kind"] != "learn-deep":
            update_job(job, state="failed", error=f"unknown job kind {data['kind']!r}")
            return 1
        ctx = JobContext(job)

        def on_term(signum: int, frame: Any) -> None:
            ctx.cancelled = True

        signal.signal(signal.SIGTERM, on_term)  # before "running": a cancel is never a kill
        if data["state"] == "cancelled" or (job / CANCEL_FILE).exists():
            update_job(job, state="cancelled")
            return 1
        update_job(job, state="running", pid=os.getpid(), runs=int(data.get("runs", 0)) + 1)
        ctx.log(f"job {job.name} run {data.get('runs', 0) + 1} (pid {os.getpid()})")
        try:
            params = data["params"]
            registry = Registry(params["registry"])
            result = data.get("result") or _learn_deep(job, registry, read_inputs(job), params, ctx)
            update_job(job, result=result)  # the candidate exists: a resume does not rebuild it
            result = _after_candidate(job, registry, params, result, ctx)
            update_job(job, state="done", result=result, error=None)
            ctx.log(f"job {job.name} done: {json.dumps(result, ensure_ascii=False)[:400]}")
            return 0
        except JobCancelled:
            update_job(job, state="cancelled")
            ctx.log(f"job {job.name} cancelled; `emotiondesk jobs resume {job.name}` continues it")
            return 1
        except Exception as exc:  # recorded for `jobs status`; the log has the trace
            traceback.print_exc()
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            update_job(job, state="failed", error=str(message))
            return 1


def _learn_deep(
    job: Path, registry: Any, inputs: dict[str, Any], params: dict[str, Any], ctx: Any
) -> dict[str, Any]:
    from emotiondesk.training.deep_learn import DeepParams, run_deep_learn

    return run_deep_learn(job, registry, inputs, DeepParams(**params["deep"]), ctx)


def _after_candidate(
    job: Path, registry: Any, params: dict[str, Any], result: dict[str, Any], ctx: Any
) -> dict[str, Any]:
    """Mark the trained rows used, gate the candidate, promote it if asked and it passed."""
    from emotiondesk.storage import make_engine, make_session_factory
    from emotiondesk.storage.feedback import mark_feedback_used

    version = result["version"]
    if "marked_used" not in result:
        db = make_engine(params.get("database"))
        try:
            with make_session_factory(db)() as session:
                marked = mark_feedback_used(
                    session, workspace=params.get("workspace"), feedback_ids=result["trained_ids"]
                )
                session.commit()
        finally:
            db.dispose()
        result = {**result, "marked_used": marked}
        ctx.log(f"{marked} feedback rows marked used")
    if params.get("gate", True) and "gate" not in result:
        ctx.stage("gate", 1)
        report = gate_version(
            registry,
            version,
            database=params.get("database"),
            gate_data=params.get("gate_data"),
            thresholds=Path(params["thresholds"]) if params.get("thresholds") else None,
            shipped=params.get("shipped", True),
            workspace=params.get("workspace"),
        )
        print_gate(report, registry, version)
        result = {**result, "gate": {"passed": report["passed"], "failures": report["failures"]}}
        ctx.advance(1, 1)
        if params.get("promote") and report["passed"]:
            entry = registry.promote(version, by=params.get("by", ""), reason="learn --promote")
            result["promoted"] = entry.to_dict()
            ctx.log(f"promoted {version} to champion")
    return result
