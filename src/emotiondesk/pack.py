"""Model packs: a directory of models plus ``pack.json`` saying which serves what.

``pack.json``::

    {
      "name": "default",
      "version": "2026.11.0",
      "fallback_language": "en",
      "routes": {
        "zh": {"polarity": "zh-polarity-ngram", "emotion": "zh-emotion-ngram"},
        "en": {"polarity": "en-polarity-ngram", "emotion": "en-emotion-ngram"}
      }
    }

Each route names a model directory inside the pack. The shipped pack lives in
the repository's ``models/`` folder; an installed wheel carries it as
``emotiondesk/_pack``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from emotiondesk.errors import ModelError
from emotiondesk.labels import SCHEMES

PACK_FILE = "pack.json"
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class PackSpec:
    """The parsed ``pack.json`` of a pack directory."""

    root: Path
    name: str
    version: str
    routes: dict[str, dict[str, str]]
    fallback_language: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)

    def model_dir(self, language: str, task: str) -> Path:
        return self.root / self.routes[language][task]


def default_pack_dir() -> Path:
    """Where the shipped pack is: the installed package data, else the checkout's ``models/``."""
    from emotiondesk.config import get_settings

    configured = get_settings().model_dir
    if configured is not None:
        return Path(configured)
    installed = resources.files("emotiondesk") / "_pack"
    if installed.is_dir():
        return Path(str(installed))
    # A source checkout (editable install or PYTHONPATH=src): models/ at the root.
    checkout = Path(__file__).resolve().parents[2] / "models"
    if (checkout / PACK_FILE).is_file():
        return checkout
    raise ModelError(
        "no model pack found: set EMOTIONDESK_MODEL_DIR to a pack directory "
        "(one with pack.json), or reinstall emotiondesk"
    )


def read_pack(directory: str | Path) -> PackSpec:
    """Read and validate ``pack.json``."""
    root = Path(directory)
    path = root / PACK_FILE
    if not path.is_file():
        raise ModelError(f"{str(root)!r} is not a model pack (no {PACK_FILE})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    routes = raw.get("routes")
    if not isinstance(routes, dict) or not routes:
        raise ModelError(f"{path}: 'routes' must map languages to {{task: model dir}}")
    for lang, tasks in routes.items():
        if not isinstance(tasks, dict):
            raise ModelError(f"{path}: routes[{lang!r}] must map tasks to model dirs")
        for task, rel in tasks.items():
            if task not in SCHEMES:
                raise ModelError(f"{path}: unknown task {task!r} for {lang!r}")
            if not (root / str(rel)).is_dir():
                raise ModelError(f"{path}: model {rel!r} for {lang}/{task} is missing")
    fallback = str(raw.get("fallback_language", "en"))
    if fallback not in routes:
        raise ModelError(f"{path}: fallback_language {fallback!r} has no routes")
    known = {"name", "version", "routes", "fallback_language"}
    return PackSpec(
        root=root,
        name=str(raw.get("name", root.name)),
        version=str(raw.get("version", "0")),
        routes={lang: {t: str(d) for t, d in tasks.items()} for lang, tasks in routes.items()},
        fallback_language=fallback,
        extra={k: v for k, v in raw.items() if k not in known},
    )
