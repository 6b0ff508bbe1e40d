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

A single model directory (what ``emotiondesk train --out DIR`` writes: a
``config.json`` and no ``pack.json``) is read as a pack too: the default pack
with that model on the routes it serves (its task, or each task of a
multi-task model; its language, or every language when it records none).

A **model registry** (a directory with ``registry.json``, written by
``emotiondesk models init`` / ``learn``; see :mod:`emotiondesk.registry`) is
read as its champion: ``versions/<champion>/`` is an ordinary pack. This
module only *reads* the registry (the service and the analyzer need that);
writing it (new versions, promotion, rollback, the audit log) is
:mod:`emotiondesk.registry`.
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
MODEL_CONFIG = "config.json"
LANGUAGES = ("zh", "en")
#: A model registry's pointer file: ``{"format": 1, "aliases": {"champion": "v2", ...}}``.
REGISTRY_FILE = "registry.json"
#: The registry's versions, each an ordinary pack: ``versions/<version>/pack.json``.
VERSIONS_DIR = "versions"
CHAMPION = "champion"
CHALLENGER = "challenger"


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
    """Where the default pack is: ``EMOTIONDESK_MODEL_DIR``, else the shipped pack."""
    from emotiondesk.config import get_settings

    configured = get_settings().model_dir
    if configured is not None:
        return Path(configured)
    return shipped_pack_dir()


def shipped_pack_dir() -> Path:
    """The shipped pack: the installed package data, else the checkout's ``models/``."""
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


def is_registry(directory: str | Path) -> bool:
    """Whether ``directory`` is a model registry (holds ``registry.json``)."""
    return (Path(directory) / REGISTRY_FILE).is_file()


def read_aliases(registry: str | Path) -> dict[str, str]:
    """A registry's aliases (``champion``, ``challenger``) -> version names."""
    path = Path(registry) / REGISTRY_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read the model registry {path}: {exc}") from exc
    aliases = raw.get("aliases") if isinstance(raw, dict) else None
    if not isinstance(aliases, dict):
        raise ModelError(f"{path}: 'aliases' must map alias names to versions")
    return {str(k): str(v) for k, v in aliases.items() if v}


def registry_version_dir(registry: str | Path, name: str = CHAMPION) -> Path:
    """The pack directory of a registry version, named directly or by an alias.

    Example:
        >>> registry_version_dir("registry")                # doctest: +SKIP
        PosixPath('registry/versions/v3')
    """
    root = Path(registry)
    aliases = read_aliases(root)
    version = aliases.get(name, name)
    if name in (CHAMPION, CHALLENGER) and name not in aliases:
        raise ModelError(f"the model registry {str(root)!r} has no {name}")
    path = root / VERSIONS_DIR / version
    if not (path / PACK_FILE).is_file():
        raise ModelError(f"the model registry {str(root)!r} has no version {version!r}")
    return path


def read_pack(directory: str | Path) -> PackSpec:
    """Read and validate ``pack.json`` (of a registry: its champion's)."""
    root = Path(directory)
    if is_registry(root):
        return read_pack(registry_version_dir(root))
    path = root / PACK_FILE
    if not path.is_file():
        if (root / MODEL_CONFIG).is_file():
            return single_model_pack(root)
        raise ModelError(
            f"{str(root)!r} is not a model pack (no {PACK_FILE}), "
            f"a model directory (no {MODEL_CONFIG}) or a model registry (no {REGISTRY_FILE})"
        )
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


def single_model_pack(directory: str | Path, base: str | Path | None = None) -> PackSpec:
    """A pack that serves one model directory on its routes and ``base`` on the rest.

    ``base`` defaults to the default pack (the shipped one when the default is
    this very directory). Routes to the model are absolute paths, so
    ``spec.model_dir`` works for both kinds of route.

    Example:
        >>> spec = single_model_pack("my-emotion-model")   # doctest: +SKIP
        >>> spec.routes["zh"]["emotion"]                    # doctest: +SKIP
        '/abs/path/my-emotion-model'
    """
    model_dir = Path(directory).resolve()
    try:
        cfg = json.loads((model_dir / MODEL_CONFIG).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {model_dir / MODEL_CONFIG}: {exc}") from exc
    if not isinstance(cfg, dict) or "model_type" not in cfg:
        raise ModelError(f"{model_dir / MODEL_CONFIG} is not an emotiondesk model config")
    tasks = _model_tasks(cfg, model_dir)
    if base is None:
        base = default_pack_dir()
        if Path(base).resolve() == model_dir:
            base = shipped_pack_dir()
    base_spec = read_pack(base)
    language = cfg.get("language")
    languages = [language] if language in LANGUAGES else list(base_spec.routes)
    routes = {
        lang: {t: str((base_spec.root / rel).resolve()) for t, rel in served.items()}
        for lang, served in base_spec.routes.items()
    }
    for lang in languages:
        for task in tasks:
            routes.setdefault(lang, {})[task] = str(model_dir)
    return PackSpec(
        root=model_dir,
        name=model_dir.name,
        version=str(cfg.get("version", "0")),
        routes=routes,
        fallback_language=base_spec.fallback_language,
        extra={
            "base_pack": f"{base_spec.name}-{base_spec.version}",
            "single_model": {"tasks": tasks, "languages": languages},
        },
    )


def _model_tasks(cfg: dict[str, Any], model_dir: Path) -> list[str]:
    """The tasks a saved model serves: its ``tasks``, its recorded task, or its labels."""
    if isinstance(cfg.get("tasks"), dict):
        tasks = [t for t in cfg["tasks"] if t in SCHEMES]
        if tasks:
            return tasks
    training = cfg.get("training")
    if isinstance(training, dict) and training.get("task") in SCHEMES:
        return [str(training["task"])]
    labels = set(cfg.get("labels") or [])
    fits = [t for t, scheme in SCHEMES.items() if labels and labels <= set(scheme)]
    if len(fits) == 1:
        return fits
    raise ModelError(
        f"{model_dir}: cannot tell which task the model serves (labels {sorted(labels)}); "
        "write a pack.json that routes it (see the README, 'Model packs')"
    )
