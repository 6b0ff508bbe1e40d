"""``emotiondesk models``: what a pack holds, and the model registry.

``list`` and ``info`` read a pack (or a registry's champion); ``init``,
``show``, ``gate``, ``promote``, ``rollback`` and ``audit`` work on a model
registry (``--registry``, default ``EMOTIONDESK_MODEL_DIR``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from emotiondesk.cli.common import err_console, print_json, user_errors
from emotiondesk.cli.learn_cmd import (
    DatabaseOpt,
    GateDataOpt,
    NoShippedOpt,
    RegistryOpt,
    ThresholdsOpt,
    WorkspaceOpt,
    gate_version,
    open_registry,
    print_gate,
)

models_app = typer.Typer(
    help="Inspect model packs and models; manage the model registry.", no_args_is_help=True
)
ByOpt = Annotated[str, typer.Option("--by", help="Who (for the audit log; default: the user).")]


@models_app.command("list")
def list_command(
    pack: Annotated[
        str,
        typer.Option(
            "--pack", help="'default', a pack directory or a model directory (train --out)."
        ),
    ] = "default",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the models of a pack and what each serves (of a registry: its versions)."""
    from emotiondesk.models.base import read_config
    from emotiondesk.pack import default_pack_dir, is_registry, read_pack

    with user_errors():
        root = default_pack_dir() if pack == "default" else Path(pack)
        if is_registry(root):
            _list_versions(open_registry(root), as_json)
            return
        spec = read_pack(root)
        rows = []
        for lang, tasks in spec.routes.items():
            for task, rel in tasks.items():
                cfg = read_config(spec.root / rel)
                rows.append(
                    {
                        "language": lang,
                        "task": task,
                        "model": rel,
                        "model_type": cfg.get("model_type"),
                        "version": cfg.get("version"),
                        "labels": cfg.get("labels"),
                    }
                )
    if as_json:
        print_json({"pack": spec.name, "version": spec.version, "models": rows})
        return
    table = Table(title=f"{spec.name} {spec.version} ({spec.root})")
    for col in ("language", "task", "model", "model_type", "version"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("language", "task", "model", "model_type", "version")))
    Console().print(table)


@models_app.command("info")
def info_command(
    name: Annotated[str, typer.Argument(help="A model directory, or a model's name in the pack.")],
    pack: Annotated[
        str,
        typer.Option(
            "--pack", help="'default', a pack directory or a model directory (train --out)."
        ),
    ] = "default",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a model's configuration and its model card."""
    from emotiondesk.models.base import read_config
    from emotiondesk.pack import default_pack_dir, is_registry, registry_version_dir

    with user_errors():
        path = Path(name)
        if not path.is_dir():
            root = default_pack_dir() if pack == "default" else Path(pack)
            if is_registry(root):  # a registry's champion holds the models
                root = registry_version_dir(root)
            path = root / name
        cfg = read_config(path)
        card_path = path / "README.md"
        card = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    if as_json:
        print_json({"path": str(path), "config": cfg, "card": card})
        return
    console = Console()
    console.print_json(data=cfg)
    if card:
        console.print(card)


def _list_versions(registry: Any, as_json: bool) -> None:
    versions = registry.versions()
    if as_json:
        print_json({"registry": str(registry.root), "versions": versions})
        return
    table = Table(title=f"model registry {registry.root}")
    for col in ("version", "aliases", "model", "parent", "created", "feedback_rows", "gate"):
        table.add_column(col)
    for v in versions:
        gate = {None: "-", True: "passed", False: "failed"}[v["gate"]]
        table.add_row(
            v["version"],
            ", ".join(v["aliases"]),
            v["model"],
            str(v["parent"] or "-"),
            str(v["created"] or "-"),
            str(v["feedback_rows"]),
            gate,
        )
    Console().print(table)


@models_app.command("init")
def init_command(
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry", help="The new registry directory (default: EMOTIONDESK_MODEL_DIR)."
        ),
    ] = None,
    source: Annotated[
        str,
        typer.Option("--from", help="'default' (the shipped pack), a pack or a model directory."),
    ] = "default",
    by: ByOpt = "",
) -> None:
    """Create a model registry; its first version (v1, the champion) is a copy of --from."""
    from emotiondesk.config import get_settings
    from emotiondesk.errors import ConfigError
    from emotiondesk.registry import Registry

    with user_errors():
        root = registry or get_settings().model_dir
        if root is None:
            raise ConfigError("pass --registry DIR (or set EMOTIONDESK_MODEL_DIR)")
        reg = Registry.init(root, source=source, by=by)
    err_console.print(
        f"model registry {reg.root}: v1 is the champion; serve it with "
        f"EMOTIONDESK_MODEL_DIR={reg.root}",
        highlight=False,
    )


@models_app.command("show")
def show_command(
    version: Annotated[
        str, typer.Argument(help="A version (v2) or an alias (champion).")
    ] = "champion",
    registry: RegistryOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A version's model card, gate verdict and audit entries."""
    with user_errors():
        reg = open_registry(registry)
        path = reg.version_dir(version)
        name = path.name
        info = next(v for v in reg.versions() if v["version"] == name)
        card = reg.card(name)
        gate = reg.gate_report(name)
        audit = [e for e in reg.audit() if e.get("version") == name or e.get("previous") == name]
    if as_json:
        print_json(
            {
                **info,
                "path": str(path),
                "card": card,
                "gate": None
                if gate is None
                else {k: gate.get(k) for k in ("passed", "failures", "champion", "archived")},
                "audit": audit,
            }
        )
        return
    console = Console()
    console.print(f"[bold]{name}[/] {info['model']} aliases: {', '.join(info['aliases']) or '-'}")
    card_md = path / "MODEL_CARD.md"
    if card_md.is_file():
        console.print(card_md.read_text(encoding="utf-8"), markup=False, highlight=False)
    if gate is not None:
        print_gate(gate, reg, name)
    for e in audit:
        console.print(
            f"{e['at']} {e['action']} {e['version']} by {e['by']}"
            + (f" (was {e['previous']})" if e.get("previous") else "")
            + (" FORCED" if e.get("force") else ""),
            markup=False,
            highlight=False,
        )


@models_app.command("gate")
def gate_command(
    version: Annotated[str, typer.Argument(help="The candidate version (or 'challenger').")],
    registry: RegistryOpt = None,
    database: DatabaseOpt = None,
    workspace: WorkspaceOpt = None,
    gate_data: GateDataOpt = None,
    thresholds: ThresholdsOpt = None,
    no_shipped_sets: NoShippedOpt = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score a version against the champion on the gate; exit code 3 when it fails."""
    with user_errors():
        reg = open_registry(registry)
        name = reg.version_dir(version).name
        report = gate_version(
            reg,
            name,
            database=database,
            gate_data=gate_data,
            thresholds=thresholds,
            shipped=not no_shipped_sets,
            workspace=workspace,
        )
    if as_json:
        print_json({k: report[k] for k in ("passed", "failures", "champion", "candidate")})
    print_gate(report, reg, name)
    if not report["passed"]:
        raise typer.Exit(code=3)


@models_app.command("promote")
def promote_command(
    version: Annotated[str, typer.Argument(help="The version to make champion (or 'challenger').")],
    registry: RegistryOpt = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Promote even without a passing gate (logged as forced)."),
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (for the audit log).")] = "",
    by: ByOpt = "",
) -> None:
    """Make a version the champion (only with a passing gate against the current champion)."""
    with user_errors():
        reg = open_registry(registry)
        entry = reg.promote(reg.version_dir(version).name, by=by, force=force, reason=reason)
    forced = " (FORCED past the gate: logged)" if entry.force else ""
    err_console.print(
        f"{entry.version} is the champion (was {entry.previous}){forced}; running services "
        "switch to it within their poll interval",
        highlight=False,
    )


@models_app.command("rollback")
def rollback_command(
    registry: RegistryOpt = None,
    to: Annotated[
        str | None, typer.Option("--to", help="An earlier champion (default: the previous one).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (for the audit log).")] = "",
    by: ByOpt = "",
) -> None:
    """Make the previous champion the champion again (running services switch without a restart)."""
    with user_errors():
        reg = open_registry(registry)
        entry = reg.rollback(to=to, by=by, reason=reason)
    err_console.print(
        f"rolled back: {entry.version} is the champion (was {entry.previous})", highlight=False
    )


@models_app.command("audit")
def audit_command(
    registry: RegistryOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The registry's audit log (who promoted or rolled back what, when, with which report)."""
    with user_errors():
        entries = open_registry(registry).audit()
    if as_json:
        print_json({"audit": entries})
        return
    table = Table(title="model registry audit log")
    for col in ("at", "action", "version", "previous", "by", "forced", "report", "reason"):
        table.add_column(col)
    for e in entries:
        table.add_row(
            e["at"],
            e["action"],
            e["version"],
            str(e.get("previous") or "-"),
            e["by"],
            "yes" if e.get("force") else "",
            str(e.get("report") or "-"),
            e.get("reason") or "",
        )
    Console().print(table)
