"""Every Python snippet in the README runs as written (each in a fresh namespace,
from the repository root, with the shipped pack)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SNIPPET = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def snippets() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in SNIPPET.finditer(text)]


def test_the_readme_has_python_snippets() -> None:
    assert len(snippets()) >= 3


@pytest.mark.parametrize(
    ("line", "code"), snippets(), ids=lambda v: f"line{v}" if isinstance(v, int) else ""
)
def test_readme_snippet_runs(line: int, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": f"readme_line_{line}"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
