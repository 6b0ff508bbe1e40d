"""``emotiondesk models list|info``: what the model pack holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from emotiondesk.cli.common import print_json, user_errors

models_app = typer.Typer(help="Inspect model packs and models.", no_args_is_help=True)


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
    """List the models of a pack and what each serves."""
    from emotiondesk.models.base import read_config
    from emotiondesk.pack import default_pack_dir, read_pack

    with user_errors():
        spec = read_pack(default_pack_dir() if pack == "default" else Path(pack))
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
    from emotiondesk.pack import default_pack_dir

    with user_errors():
        path = Path(name)
        if not path.is_dir():
            path = (default_pack_dir() if pack == "default" else Path(pack)) / name
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
