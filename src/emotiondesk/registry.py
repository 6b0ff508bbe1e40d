"""The model registry: versions of the pack, the ``champion`` / ``challenger`` aliases, an audit log.

A registry is a directory (point ``EMOTIONDESK_MODEL_DIR`` at it and the
service serves its champion)::

    registry.json        {"format": 1, "aliases": {"champion": "v2", "challenger": "v3"}}
    audit.jsonl          one JSON object per line, appended, never rewritten
    versions/v1/         an ordinary pack (pack.json + model directories)
    versions/v2/         ... + card.json / MODEL_CARD.md (what it was built from)
                             + gate/report.json, gate/report.md (its gate against a champion)

Versions are immutable once written. ``registry.json`` is replaced atomically
(write a temporary file, ``os.replace``), so a reader (a service worker
polling it) sees the old or the new champion, never half of one. Every
change is appended to ``audit.jsonl``: who, when, what, from what, with which
gate report, and whether ``--force`` overrode a failed gate.

Reading the champion is :func:`emotiondesk.pack.read_pack` (the service needs
only that); this module writes.

Example:
    >>> reg = Registry.init("registry", source="default", by="ops")   # doctest: +SKIP
    >>> reg.promote("v2", by="ops")                                    # doctest: +SKIP
    >>> reg.rollback(by="ops").version                                 # doctest: +SKIP
    'v1'
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from emotiondesk.errors import InvalidInputError, ModelError, PromotionRefusedError
from emotiondesk.pack import (
    CHALLENGER,
    CHAMPION,
    MODEL_CONFIG,
    PACK_FILE,
    REGISTRY_FILE,
    VERSIONS_DIR,
    default_pack_dir,
    is_registry,
    read_aliases,
    read_pack,
    shipped_pack_dir,
)

AUDIT_FILE = "audit.jsonl"
CARD_FILE = "card.json"
CARD_MARKDOWN = "MODEL_CARD.md"
GATE_DIR = "gate"
GATE_REPORT = "report.json"
GATE_MARKDOWN = "report.md"
LOCK_FILE = ".lock"
FORMAT = 1
_VERSION_RE = re.compile(r"^v(\d+)$")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): say so rather than fail
        return "unknown"


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log."""

    at: str
    action: str
    version: str
    by: str
    previous: str | None = None
    force: bool = False
    report: str | None = None
    gate_passed: bool | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "action": self.action,
            "version": self.version,
            "by": self.by,
            "previous": self.previous,
            "force": self.force,
            "report": self.report,
            "gate_passed": self.gate_passed,
            "reason": self.reason,
        }


class Registry:
    """A model registry directory (see the module docs)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not is_registry(self.root):
            raise ModelError(
                f"{str(self.root)!r} is not a model registry (no {REGISTRY_FILE}); "
                "create one with `emotiondesk models init --registry DIR`"
            )

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def init(cls, root: str | Path, *, source: str | Path = "default", by: str = "") -> Registry:
        """Create a registry whose first version (``v1``, the champion) is a copy of ``source``.

        ``source``: ``"default"`` (the shipped pack), a pack or a model directory.
        """
        path = Path(root)
        if is_registry(path):
            raise ModelError(f"{str(path)!r} is already a model registry")
        if path.exists() and any(path.iterdir()):
            raise InvalidInputError(
                f"{str(path)!r} exists and is not empty; give a new or empty directory"
            )
        src = default_pack_dir() if str(source) == "default" else Path(source)
        if src.resolve() == path.resolve():
            if str(source) != "default":
                raise InvalidInputError("the registry cannot be created from itself")
            src = shipped_pack_dir()  # EMOTIONDESK_MODEL_DIR names the registry to create
        spec = read_pack(src)
        (path / VERSIONS_DIR).mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=path / VERSIONS_DIR))
        copy_pack(src, staging, version="v1", extra={"source": f"{spec.name}-{spec.version}"})
        staging.rename(path / VERSIONS_DIR / "v1")
        _write_json_atomic(path / REGISTRY_FILE, {"format": FORMAT, "aliases": {CHAMPION: "v1"}})
        reg = cls(path)
        reg._append(
            AuditEntry(
                at=now(),
                action="init",
                version="v1",
                by=by or current_user(),
                reason=f"imported {spec.name}-{spec.version}",
            )
        )
        return reg

    @contextmanager
    def new_version(self) -> Iterator[tuple[str, Path]]:
        """A staging directory for the next version; it becomes ``versions/<name>`` on success.

        Yields ``(name, staging dir)``; on an exception nothing is registered.
        """
        with self._locked():
            name = f"v{self._last_number() + 1}"
            staging = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root / VERSIONS_DIR))
            # Reserve the name: a concurrent learner takes the next one.
            (self.root / VERSIONS_DIR / name).mkdir()
        try:
            yield name, staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(self.root / VERSIONS_DIR / name, ignore_errors=True)
            raise
        final = self.root / VERSIONS_DIR / name
        final.rmdir()
        staging.rename(final)

    # -- reading ----------------------------------------------------------------------------

    def aliases(self) -> dict[str, str]:
        return read_aliases(self.root)

    @property
    def champion(self) -> str:
        champion = self.aliases().get(CHAMPION)
        if champion is None:
            raise ModelError(f"the model registry {str(self.root)!r} has no champion")
        return champion

    def version_dir(self, version: str) -> Path:
        name = self.aliases().get(version, version)
        path = self.root / VERSIONS_DIR / name
        if not (path / PACK_FILE).is_file():
            known = ", ".join(self.version_names()) or "none"
            raise ModelError(f"no model version {version!r} in the registry (versions: {known})")
        return path

    def version_names(self) -> list[str]:
        root = self.root / VERSIONS_DIR
        names = [
            p.name
            for p in root.iterdir()
            if _VERSION_RE.match(p.name) and (p / PACK_FILE).is_file()
        ]
        return sorted(names, key=lambda n: int(n[1:]))

    def card(self, version: str) -> dict[str, Any]:
        return _read_json(self.version_dir(version) / CARD_FILE) or {}

    def gate_report(self, version: str) -> dict[str, Any] | None:
        return _read_json(self.version_dir(version) / GATE_DIR / GATE_REPORT)

    def versions(self) -> list[dict[str, Any]]:
        """Every version with its aliases, parent, creation time and gate verdict."""
        aliases = self.aliases()
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(version, []).append(alias)
        rows = []
        for name in self.version_names():
            spec = read_pack(self.root / VERSIONS_DIR / name)
            card = self.card(name)
            gate = self.gate_report(name)
            rows.append(
                {
                    "version": name,
                    "model": f"{spec.name}-{spec.version}",
                    "aliases": sorted(by_version.get(name, [])),
                    "parent": card.get("parent"),
                    "created": card.get("created") or spec.extra.get("created"),
                    "feedback_rows": len(card.get("feedback", {}).get("train_ids", [])),
                    "gate": None if gate is None else bool(gate.get("passed")),
                }
            )
        return rows

    def audit(self) -> list[dict[str, Any]]:
        path = self.root / AUDIT_FILE
        if not path.is_file():
            return []
        return [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]

    # -- changing aliases -------------------------------------------------------------------

    def set_challenger(self, version: str, *, by: str = "", reason: str = "") -> AuditEntry:
        """Make ``version`` the challenger (scored in shadow when the service is asked to)."""
        with self._locked():
            self.version_dir(version)
            aliases = self.aliases()
            entry = AuditEntry(
                at=now(),
                action="challenger",
                version=version,
                by=by or current_user(),
                previous=aliases.get(CHALLENGER),
                reason=reason,
            )
            aliases[CHALLENGER] = version
            self._write_aliases(aliases)
            self._append(entry)
        return entry

    def promote(
        self, version: str, *, by: str = "", force: bool = False, reason: str = ""
    ) -> AuditEntry:
        """Make ``version`` the champion, if its gate report against the champion passed.

        Raises:
            PromotionRefusedError: no gate report, a gate against another champion,
                or a failed gate (the message names the failed checks), unless ``force``.
        """
        with self._locked():
            path = self.version_dir(version)
            version = path.name
            aliases = self.aliases()
            champion = aliases.get(CHAMPION)
            if version == champion:
                raise InvalidInputError(f"{version} is already the champion")
            report = self.gate_report(version)
            problem = _gate_problem(version, report, champion)
            if problem and not force:
                raise PromotionRefusedError(
                    f"promotion of {version} refused: {problem} (`--force` overrides; it is logged)"
                )
            entry = AuditEntry(
                at=now(),
                action="promote",
                version=version,
                by=by or current_user(),
                previous=champion,
                force=bool(problem) and force,
                report=f"{VERSIONS_DIR}/{version}/{GATE_DIR}/{GATE_REPORT}" if report else None,
                gate_passed=None if report is None else bool(report.get("passed")),
                reason=reason or (f"forced: {problem}" if problem else ""),
            )
            aliases[CHAMPION] = version
            if aliases.get(CHALLENGER) == version:
                del aliases[CHALLENGER]
            self._write_aliases(aliases)
            self._append(entry)
        return entry

    def rollback(self, *, to: str | None = None, by: str = "", reason: str = "") -> AuditEntry:
        """Make the previous champion (or ``to``, an earlier champion) the champion again."""
        with self._locked():
            history = self.champion_history()
            current = self.aliases().get(CHAMPION)
            if to is None:
                if len(history) < 2:
                    raise InvalidInputError(
                        f"nothing to roll back to: {current} is the only champion so far"
                    )
                target = history[-2]
            else:
                target = self.version_dir(to).name
                if target == current:
                    raise InvalidInputError(f"{target} is already the champion")
                if target not in history:
                    raise InvalidInputError(
                        f"{target} was never the champion; use `emotiondesk models promote`"
                    )
            aliases = self.aliases()
            entry = AuditEntry(
                at=now(),
                action="rollback",
                version=target,
                by=by or current_user(),
                previous=current,
                reason=reason,
            )
            aliases[CHAMPION] = target
            self._write_aliases(aliases)
            self._append(entry)
        return entry

    def champion_history(self) -> list[str]:
        """The champions in order, as promotions pushed them and rollbacks popped them."""
        stack: list[str] = []
        for entry in self.audit():
            action, version = entry.get("action"), str(entry.get("version"))
            if action in ("init", "promote"):
                stack.append(version)
            elif action == "rollback":
                while stack and stack[-1] != version:
                    stack.pop()
                if not stack:
                    stack.append(version)
        return stack

    # -- internals --------------------------------------------------------------------------

    def _last_number(self) -> int:
        numbers = [
            int(m.group(1))
            for p in (self.root / VERSIONS_DIR).iterdir()
            if (m := _VERSION_RE.match(p.name))
        ]
        return max(numbers, default=0)

    def _write_aliases(self, aliases: dict[str, str]) -> None:
        _write_json_atomic(
            self.root / REGISTRY_FILE,
            {"format": FORMAT, "aliases": aliases, "updated": now()},
        )

    def _append(self, entry: AuditEntry) -> None:
        line = json.dumps(entry.to_dict(), ensure_ascii=False) + "\n"
        fd = os.open(self.root / AUDIT_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / LOCK_FILE, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _gate_problem(version: str, report: dict[str, Any] | None, champion: str | None) -> str:
    """Why ``report`` does not allow promoting ``version`` ('' when it does)."""
    if report is None:
        return f"{version} has no gate report (run `emotiondesk models gate {version}`)"
    against = report.get("champion", {}).get("version")
    if champion is not None and against != champion:
        return (
            f"its gate compared it with {against}, but the champion is now {champion} "
            f"(run `emotiondesk models gate {version}` again)"
        )
    if not report.get("passed"):
        failures = report.get("failures") or ["the gate failed"]
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        return "; ".join(str(f) for f in failures[:3]) + more
    return ""


# -- copying packs ----------------------------------------------------------------------------


def copy_pack(
    source: str | Path,
    dest: str | Path,
    *,
    version: str,
    name: str | None = None,
    replace: dict[tuple[str, str], str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Copy the models a pack routes (and the models they build on) into ``dest`` as a new pack.

    Each routed model lands under its directory name; the members of an
    ensemble and the base of a corrected model land at their path relative to
    the model's parent, as they are looked up. ``replace`` maps
    ``(language, task)`` to a directory name already in ``dest`` that serves
    that route instead (the model it replaces is copied all the same: a
    correction model names it as its ``base``). Files inside a registry are hard-linked (versions are
    immutable); others are copied.
    """
    spec = read_pack(source)
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    placed: dict[str, Path] = {}
    routes: dict[str, dict[str, str]] = {}
    for lang, tasks in spec.routes.items():
        for task, rel in tasks.items():
            # The replaced model is copied too: a correction model builds on it.
            src = (spec.root / rel).resolve()
            _place(src, src.name, out, placed)
            routes.setdefault(lang, {})[task] = src.name
    for (lang, task), rel in (replace or {}).items():
        if not (out / rel / MODEL_CONFIG).is_file():
            raise ModelError(f"the replacement model {rel!r} for {lang}/{task} is not in {out}")
        routes.setdefault(lang, {})[task] = rel
    manifest = {
        "name": name or spec.name,
        "version": version,
        "fallback_language": spec.fallback_language,
        "routes": routes,
        "created": now(),
        **(extra or {}),
    }
    _write_json_atomic(out / PACK_FILE, manifest)
    return out


def _place(src: Path, rel: str, out: Path, placed: dict[str, Path]) -> None:
    """Put model directory ``src`` at ``out/rel`` (once), then what it builds on."""
    if rel in placed:
        if placed[rel] != src:
            raise ModelError(
                f"two different models would both be copied to {rel!r} ({placed[rel]}, {src})"
            )
        return
    placed[rel] = src
    target = out / rel
    if not target.exists():
        link = _inside_registry(src)
        shutil.copytree(src, target, copy_function=_link_or_copy if link else shutil.copy2)
    _place_dependencies(target, out, placed, source=src)


def _place_dependencies(
    target: Path, out: Path, placed: dict[str, Path], *, source: Path | None = None
) -> None:
    """Copy an ensemble's members / a corrected model's base next to ``target``."""
    src = source or target
    cfg = _read_json(src / MODEL_CONFIG) or {}
    deps: list[str] = []
    if cfg.get("model_type") == "ensemble":
        deps = [str(m.get("path")) for m in cfg.get("members", []) if isinstance(m, dict)]
    elif cfg.get("model_type") == "corrected" and cfg.get("base"):
        deps = [str(cfg["base"])]
    rel_parent = PurePosixPath(target.relative_to(out).as_posix()).parent
    for dep in deps:
        dep_src = (src.parent / dep).resolve()
        dep_rel = (rel_parent / dep).as_posix()
        _place(dep_src, dep_rel, out, placed)


def _inside_registry(path: Path) -> bool:
    return any(is_registry(parent) for parent in path.parents)


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else None


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that readers see the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Atomically write a JSON file (cards, gate reports)."""
    _write_json_atomic(Path(path), data)
