"""``emotiondesk learn``: a candidate from the champion + the agents' corrections, gated.

The steps are one call each: the feedback rows (``storage.learning``), the
candidate (``training.learn``), the gate (``evaluation.gate``), the registry
(``registry``). ``models gate`` re-runs the gate alone.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from emotiondesk.cli.common import err_console, print_json, user_errors

RegistryOpt = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        help="The model registry directory (default: EMOTIONDESK_MODEL_DIR).",
    ),
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="A SQLite file path or a database URL (default: EMOTIONDESK_DATABASE_URL, "
        "else the SQLite file that demo and serve use).",
    ),
]
GateDataOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--gate-data",
        help="TASK:FILE, a labelled dev file the gate scores too (repeatable), "
        "e.g. emotion:../dev.csv.",
    ),
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        help="Learn from (gate on) one workspace's corrections only (default: every "
        "workspace's; the served model is shared).",
    ),
]
ThresholdsOpt = Annotated[
    Path | None,
    typer.Option("--thresholds", help="Gate thresholds (YAML/JSON; see the README)."),
]
NoShippedOpt = Annotated[
    bool,
    typer.Option(
        "--no-shipped-sets",
        help="Leave out the shipped customer-service sets (benchmarks/data) from the gate.",
    ),
]


def open_registry(path: Path | None) -> Any:
    """The registry at ``path``, else at ``EMOTIONDESK_MODEL_DIR``."""
    from emotiondesk.config import get_settings
    from emotiondesk.errors import ConfigError
    from emotiondesk.registry import Registry

    root = path or get_settings().model_dir
    if root is None:
        raise ConfigError(
            "no model registry: pass --registry DIR or set EMOTIONDESK_MODEL_DIR "
            "(create one with `emotiondesk models init --registry DIR`)"
        )
    return Registry(root)


def feedback_rows(
    database: str | None,
    anchors: list[Any] | None = None,
    notes: list[str] | None = None,
    *,
    workspace: str | None = None,
) -> list[Any]:
    """The corrected messages of the database as ``FeedbackRow`` objects.

    Each task's label is the one ``storage.feedback`` settles (its conflict
    rule: the latest correction wins); ``notes`` receives how many messages had
    conflicting corrections. ``anchors`` receives the uncorrected customer
    messages ``(text, language)`` (the candidate keeps the champion's reading of them).
    ``workspace``: only that workspace's rows (``None``: every workspace: the
    model is shared by the service).
    """
    from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
    from emotiondesk.storage.feedback import CONFLICT_RULE, training_rows
    from emotiondesk.storage.learning import anchor_messages
    from emotiondesk.training.learn import FeedbackRow

    db = make_engine(database)
    merged: dict[str, dict[str, Any]] = {}
    conflicts = 0
    try:
        upgrade_database(db)
        with make_session_factory(db)() as session:
            for task in ("polarity", "emotion"):
                for r in training_rows(session, workspace=workspace, task=task):
                    row = merged.setdefault(
                        r.message_id,
                        {"text": r.text, "language": r.language, "ids": set(), "id": 0},
                    )
                    row[task] = r.label
                    row["ids"] |= set(r.feedback_ids)
                    row["id"] = max(row["id"], r.feedback_id)
                    conflicts += r.conflict
            if anchors is not None:
                anchors.extend(anchor_messages(session, workspace=workspace))
    finally:
        db.dispose()
    if notes is not None and conflicts:
        notes.append(f"{conflicts} conflicting corrections resolved: {CONFLICT_RULE}")
    return [
        FeedbackRow(
            id=r["id"],
            message_id=message_id,
            text=r["text"],
            language=r["language"],
            polarity=r.get("polarity"),
            emotion=r.get("emotion"),
            ids=tuple(sorted(r["ids"])),
        )
        for message_id, r in merged.items()
    ]


def gate_version(
    registry: Any,
    version: str,
    *,
    database: str | None,
    gate_data: list[str] | None,
    thresholds: Path | None,
    shipped: bool = True,
    workspace: str | None = None,
) -> dict[str, Any]:
    """Gate ``version`` against the champion; writes and returns the report."""
    from emotiondesk.evaluation.gate import (
        data_gate_set,
        feedback_gate_sets,
        load_thresholds,
        run_gate,
        shipped_gate_sets,
        write_report,
    )
    from emotiondesk.training.learn import HOLDBACK_FRACTION, split_feedback

    th = load_thresholds(thresholds)
    sets, notes = shipped_gate_sets() if shipped else ([], ["shipped sets left out"])
    sets += [data_gate_set(spec) for spec in gate_data or []]
    card = registry.card(version)
    fraction = float(card.get("feedback", {}).get("holdback_fraction", HOLDBACK_FRACTION))
    _, held = split_feedback(feedback_rows(database, workspace=workspace), fraction)
    trained = set(card.get("feedback", {}).get("train_ids", []))
    held = [r for r in held if not trained & set(r.feedback_ids)]
    if held:
        sets += feedback_gate_sets(
            [r.text for r in held],
            [r.polarity for r in held],
            [r.emotion for r in held],
            [r.language for r in held],
        )
    notes.append(f"{len(held)} held-back feedback rows")
    champion = registry.champion
    total = 2 * sum(len(s.texts) for s in sets)
    with tqdm(total=total, unit="msg", desc=f"gate {version} vs {champion}", leave=False) as bar:
        report = run_gate(
            registry.version_dir(champion),
            registry.version_dir(version),
            sets,
            thresholds=th,
            champion_version=champion,
            candidate_version=registry.version_dir(version).name,
            notes=notes,
            progress=bar.update,
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    archived = registry.root / "reports" / f"{version}-vs-{champion}-{stamp}"
    report["archived"] = str(archived.relative_to(registry.root) / "report.json")
    write_report(report, archived)
    write_report(report, registry.version_dir(version) / "gate")
    return report


def print_gate(report: dict[str, Any], registry: Any, version: str) -> None:
    verdict = "[green]passed[/]" if report["passed"] else "[bold red]failed[/]"
    err_console.print(f"gate of {version} against {report['champion']['version']}: {verdict}")
    for failure in report["failures"][:20]:
        err_console.print(f"  - {failure}", highlight=False, markup=False)
    gate_dir = registry.version_dir(version) / "gate"
    err_console.print(f"report: {gate_dir / 'report.md'} (and report.json)", highlight=False)


def learn_command(
    registry_path: RegistryOpt = None,
    database: DatabaseOpt = None,
    workspace: WorkspaceOpt = None,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            help="TASK:FILE, base training rows added to the corrections (repeatable).",
        ),
    ] = None,
    gate_data: GateDataOpt = None,
    thresholds: ThresholdsOpt = None,
    no_shipped_sets: NoShippedOpt = False,
    holdback: Annotated[
        float, typer.Option("--holdback", help="Share of the feedback held back for the gate.")
    ] = 0.2,
    min_rows: Annotated[
        int, typer.Option("--min-rows", help="Fewest rows a language/task learns from.")
    ] = 5,
    promote: Annotated[
        bool, typer.Option("--promote", help="Promote the candidate if its gate passes.")
    ] = False,
    by: Annotated[str, typer.Option("--by", help="Who (for the audit log).")] = "",
    tier: Annotated[
        str,
        typer.Option(
            "--tier",
            help="fast: n-gram corrections stacked on the champion (seconds, in this process); "
            "deep: the transformer tier's heads retrained as a background job (see `jobs`).",
        ),
    ] = "fast",
    epochs: Annotated[
        int, typer.Option("--epochs", help="Deep tier: training epochs over the heads.")
    ] = 40,
    replay: Annotated[
        int,
        typer.Option(
            "--replay",
            help="Deep tier: uncorrected stored messages replayed with the champion's "
            "probabilities (a seeded sample of this size).",
        ),
    ] = 2000,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Deep tier: follow the job until it ends (else return at once)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Build a candidate model from the champion plus the agents' corrections, then gate it.

    The fast tier: n-gram correction models stacked on the champion's models,
    fitted on the feedback in the database (a hashed slice held back for the
    gate). The deep tier (--tier deep): a background job retrains the heads of
    the champion's transformer (ONNX) model on its frozen encoder, with
    checkpoints; `emotiondesk jobs status|log|cancel|resume JOB` follow and
    steer it. The candidate becomes the registry's challenger; with --promote
    (and a passing gate) the champion, which a running service picks up.
    """
    from emotiondesk.data import load_dataset
    from emotiondesk.errors import InvalidInputError
    from emotiondesk.pack import read_pack
    from emotiondesk.storage import make_engine, make_session_factory
    from emotiondesk.storage.feedback import mark_feedback_used
    from emotiondesk.training.learn import ExtraData, build_candidate

    with user_errors():
        registry = open_registry(registry_path)
        extras = []
        for spec in data or []:
            task, sep, path = spec.partition(":")
            if not sep or task not in ("polarity", "emotion"):
                raise InvalidInputError(
                    f"--data {spec!r}: write TASK:FILE, e.g. polarity:train.csv"
                )
            extras.append(ExtraData(task=task, data=load_dataset(path, task=task)))
        anchors: list[Any] = []
        notes: list[str] = []
        rows = feedback_rows(database, anchors, notes, workspace=workspace)
        if not rows:
            raise InvalidInputError(
                "no corrections in the database yet (POST /v1/feedback, or the dashboard's "
                "'Correct the label')"
            )
        err_console.print(
            f"{len(rows)} corrected messages, {len(anchors)} uncorrected ones as anchors; "
            f"champion {registry.champion}"
        )
        for note in notes:
            err_console.print(f"  {note}", highlight=False)
        if tier == "deep":
            from emotiondesk.evaluation.gate import data_gate_set, load_thresholds

            # absolute: `jobs resume` may run from another directory
            gate_specs = [
                f"{t}:{Path(f).resolve()}" if sep else t + sep + f
                for t, sep, f in (g.partition(":") for g in gate_data or [])
            ]
            # read now, not at the gate hours later (a typo would fail the job at its end)
            for spec in gate_specs:
                data_gate_set(spec)
            load_thresholds(thresholds)
            start_deep_job(
                registry,
                rows,
                anchors,
                extras,
                params={
                    "database": _job_database(database),
                    "workspace": workspace,
                    "gate_data": gate_specs,
                    "thresholds": str(thresholds.resolve()) if thresholds else None,
                    "shipped": not no_shipped_sets,
                    "promote": promote,
                    "by": by,
                },
                deep={"epochs": epochs, "holdback": holdback, "min_rows": min_rows},
                replay=replay,
                wait=wait,
                as_json=as_json,
            )
            return
        if tier != "fast":
            raise InvalidInputError(f"--tier {tier!r}: choose fast or deep")
        routes = sum(
            len(t) for t in read_pack(registry.version_dir(registry.champion)).routes.values()
        )
        with tqdm(total=routes, unit="route", desc="learn", leave=False) as bar:

            def progress(message: str) -> None:
                if message.endswith(": reading"):
                    bar.update(1)
                    bar.set_postfix_str(message.split(":")[0])
                else:
                    bar.write(f"  {message}", file=sys.stderr)

            result = build_candidate(
                registry,
                rows,
                data=extras,
                anchors=anchors,
                holdback=holdback,
                min_rows=min_rows,
                by=by,
                progress=progress,
            )
        db = make_engine(database)
        try:
            with make_session_factory(db)() as session:
                marked = mark_feedback_used(
                    session, workspace=workspace, feedback_ids=result.trained_ids
                )
                session.commit()
        finally:
            db.dispose()
        err_console.print(
            f"candidate {result.version} (parent {result.parent}): trained on "
            f"{len(result.trained_ids)} feedback rows (marked used: {marked}), "
            f"{len(result.held_back_ids)} held back; card {result.path / 'MODEL_CARD.md'}",
            highlight=False,
        )
        report = gate_version(
            registry,
            result.version,
            database=database,
            gate_data=gate_data,
            thresholds=thresholds,
            shipped=not no_shipped_sets,
            workspace=workspace,
        )
        print_gate(report, registry, result.version)
        promoted = None
        if promote and report["passed"]:
            entry = registry.promote(result.version, by=by, reason="learn --promote")
            promoted = entry.to_dict()
            err_console.print(f"promoted {result.version} to champion")
        elif report["passed"]:
            err_console.print(f"promote it with: emotiondesk models promote {result.version}")
    if as_json:
        print_json(
            {
                "version": result.version,
                "parent": result.parent,
                "path": str(result.path),
                "trained_ids": result.trained_ids,
                "held_back_ids": result.held_back_ids,
                "gate": {"passed": report["passed"], "failures": report["failures"]},
                "promoted": promoted,
            }
        )
    if not report["passed"]:
        raise typer.Exit(code=3)


def start_deep_job(
    registry: Any,
    rows: list[Any],
    anchors: list[Any],
    extras: list[Any],
    *,
    params: dict[str, Any],
    deep: dict[str, Any],
    replay: int,
    wait: bool,
    as_json: bool,
) -> None:
    """Snapshot the inputs into a new job directory and start it in the background."""
    from dataclasses import asdict

    from emotiondesk.training.deep_learn import DeepParams, find_deep_model, replay_sample
    from emotiondesk.training.jobs import create_job, jobs_root, start

    parent = registry.champion
    deep_model = find_deep_model(registry.version_dir(parent))  # refuses a pack without one
    settings = DeepParams(**deep)  # validated here, before anything starts
    sample = replay_sample(anchors, replay, exclude={r.text for r in rows}, seed=settings.seed)
    user = params.get("by") or ""
    if not user:
        from emotiondesk.registry import current_user

        user = current_user()
    inputs = {
        "parent": parent,
        "by": user,
        "feedback": [{**asdict(r), "ids": list(r.ids)} for r in rows],
        "replay": [[t, lang] for t, lang in sample],
        "data": [
            {
                "task": e.task,
                "source": e.data.source,
                "rows": [[t, y] for t, y in zip(e.data.texts, e.data.labels, strict=True)],
            }
            for e in extras
        ],
    }
    job = create_job(
        jobs_root(registry.root),
        kind="learn-deep",
        params={
            **params,
            "by": user,
            "registry": str(registry.root.resolve()),
            "deep": asdict(settings),
        },
        inputs=inputs,
    )
    pid = start(job)
    err_console.print(
        f"job {job.name} started (pid {pid}): deep tier of {parent} ({deep_model.name}), "
        f"{len(rows)} corrected messages, {len(sample)} replay messages\n"
        f"  follow: emotiondesk jobs status {job.name} --wait   log: emotiondesk jobs log "
        f"{job.name}\n  stop:   emotiondesk jobs cancel {job.name}   "
        f"continue: emotiondesk jobs resume {job.name}",
        highlight=False,
    )
    data: dict[str, Any] = {"id": job.name, "dir": str(job), "state": "running"}
    if wait:
        from emotiondesk.cli.jobs_cmd import follow

        data = follow(job)
        err_console.print(f"job {job.name}: {data['state']}", highlight=False)
    if as_json:
        print_json({"job": job.name, **{k: data.get(k) for k in ("state", "result", "error")}})
    if wait and data["state"] != "done":
        raise typer.Exit(code=1)
    if wait and not (data.get("result") or {}).get("gate", {}).get("passed", True):
        raise typer.Exit(code=3)


def _job_database(database: str | None) -> str | None:
    """The database as a background job records it in job.json: a file path made
    absolute (a resume may run from another directory), a URL only without a password
    (job.json is a plain file)."""
    if not database:
        return database
    if "://" not in database:
        return str(Path(database).expanduser().resolve())
    from sqlalchemy.engine import make_url

    from emotiondesk.errors import InvalidInputError

    if make_url(database).password:
        raise InvalidInputError(
            "learn --tier deep writes its database into the job's files: leave out --database "
            "and set EMOTIONDESK_DATABASE_URL (the job reads it from its environment), or use "
            "a URL without a password and a .pgpass file"
        )
    return database
