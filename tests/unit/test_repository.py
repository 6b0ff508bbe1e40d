"""The repository's own text: no unresolved merge conflicts, no paths of a developer's machine."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFLICT = re.compile(r"^(<{7}|>{7}) |^={7}$", re.MULTILINE)
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|root|home/\w+)/")


def _tracked_text_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    files = []
    for name in out.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        head = path.read_bytes()[:4096]
        if b"\0" in head:  # binary
            continue
        files.append(path)
    return files


def test_no_unresolved_merge_conflicts_and_no_machine_paths():
    conflicts, paths = [], []
    for path in _tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = path.relative_to(ROOT)
        if CONFLICT.search(text):
            conflicts.append(str(rel))
        if rel.parts[0] != "tests" and MACHINE_PATH.search(text):
            paths.append(str(rel))
    assert not conflicts, f"merge-conflict markers in {conflicts}"
    assert not paths, f"paths of a developer's machine in {paths}"
