"""The layers of ``src/emotiondesk``, written down once, and a walk of its imports that keeps them.

Every ``import`` in the package (at module level, inside functions, under
``TYPE_CHECKING``) is an edge from its module to the module it names. An edge
between two top-level parts of the package is allowed when the target sits in
a lower tier than the source, or is listed in ``PEERS``; ``NEVER`` overrides
both. Within the service, no route imports another route; within the CLI,
only the command that starts the server imports the service.

The same rules, in words, are in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "emotiondesk"
SRC = Path(__file__).resolve().parents[2] / "src" / PACKAGE

#: The tiers, lowest first: a part may import any part of a lower tier.
#: Parts of the same tier do not import each other (except ``PEERS``).
TIERS: list[set[str]] = [
    {"_version", "errors"},
    {"labels", "config"},
    {"text", "data", "pack"},
    {"registry"},  # model versions, aliases, audit log (reading the champion is pack's)
    {"models"},
    {"analyzer"},
    # domain: inference-only layers that do not use each other, and the learning side
    {
        "dialogue",
        "policy",
        "replies",
        "analytics",
        "agentqa",
        "storage",
        "evaluation",
        "training",
        "explain",  # evidence spans: the analyzer's models, read word by word
    },
    {"usecases"},  # the journeys joining the domain layers
    {"web"},  # dashboard pages and assets (the service mounts them)
    {"service"},  # HTTP adapter
    {"cli"},  # command-line adapter
    {"__init__", "__main__"},  # the package's public face and `python -m emotiondesk`
]
#: Same-tier edges that are allowed (importer, imported).
PEERS: set[tuple[str, str]] = {
    ("training", "evaluation"),
    ("agentqa", "replies"),  # the coach drafts from the FAQ and the optional LLM backend
}
#: Edges that are never allowed, whatever the tiers say.
NEVER: set[tuple[str, str]] = {
    ("service", "training"),
    ("service", "evaluation"),
    ("usecases", "training"),
    ("usecases", "evaluation"),
    ("web", "training"),
}
#: The one CLI module that may import the service (it starts the server and the demo).
CLI_SERVICE_ENTRY = f"{PACKAGE}.cli.serve"
ROUTES = f"{PACKAGE}.service.routes"

TIER_OF = {part: i for i, tier in enumerate(TIERS) for part in tier}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every import in the file, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # ``from emotiondesk import x`` may name a submodule
            for alias in node.names:
                found.append((f"{target}.{alias.name}", node.lineno))
    return [(t, line) for t, line in found if t == PACKAGE or t.startswith(PACKAGE + ".")]


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _existing(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _edges() -> list[tuple[str, str, int]]:
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = _module_name(path)
        for target, line in _imports(path):
            if target != PACKAGE and not _existing(target):
                continue  # ``from pkg import name``: a name, not a submodule
            edges.append((source, target, line))
    return edges


def _allowed(a: str, b: str) -> bool:
    if a == b:
        return True
    if (a, b) in NEVER:
        return False
    if (a, b) in PEERS:
        return True
    return TIER_OF[b] < TIER_OF[a]


def test_every_part_of_the_package_has_a_tier() -> None:
    parts = {p.stem for p in SRC.glob("*.py")}
    parts |= {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    missing = sorted(parts - set(TIER_OF))
    assert not missing, f"add {missing} to a tier in TIERS"


def test_imports_point_down_the_layers() -> None:
    bad = []
    for source, target, line in _edges():
        a, b = _part(source), _part(target)
        if not _allowed(a, b):
            bad.append(f"{source}:{line} imports {target} ({a} -> {b})")
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


def test_no_route_imports_a_route() -> None:
    bad = [
        f"{s}:{line} imports {t}"
        for s, t, line in _edges()
        if s.startswith(ROUTES + ".") and t.startswith(ROUTES) and t != s
    ]
    assert not bad, "\n".join(bad)


def test_only_the_serve_command_imports_the_service() -> None:
    bad = [
        f"{s}:{line} imports {t}"
        for s, t, line in _edges()
        if _part(s) == "cli" and _part(t) == "service" and s != CLI_SERVICE_ENTRY
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("source", "target"),
    [("models", "training"), ("dialogue", "policy"), ("storage", "usecases"), ("web", "service")],
)
def test_the_rules_refuse_upward_and_sideways_edges(source: str, target: str) -> None:
    assert not _allowed(source, target)


def test_the_walk_sees_imports_inside_functions() -> None:
    edges = {(s, t) for s, t, _ in _edges()}
    assert (f"{PACKAGE}.cli.serve", f"{PACKAGE}.service.server") in edges
