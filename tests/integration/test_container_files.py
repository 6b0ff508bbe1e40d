"""Dockerfile and compose.yaml stay consistent with the CLI, the settings and the
routes they name (no container engine runs on the test machines), and the image's
COPY set is enough to build the package with its shipped pack."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from emotiondesk.cli.main import app as cli
from emotiondesk.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions():
        if word == "ENV":
            for part in shlex.split(rest):
                k, _, v = part.partition("=")
                env[k] = v
    return env


def shell_of(cmd: str) -> str:
    """The shell line of a JSON-array CMD/command (["sh", "-c", LINE]) or the plain line."""
    import json

    if cmd.startswith("["):
        parts = json.loads(cmd)
        return parts[2] if parts[:2] == ["sh", "-c"] else shlex.join(parts)
    return cmd


def emotiondesk_calls(line: str) -> list[list[str]]:
    calls = []
    for piece in re.split(r"&&|;|\|\|", line):
        words = [w for w in shlex.split(piece) if w != "exec"]
        if words and words[0] == "emotiondesk":
            calls.append(words[1:])
    return calls


def service() -> dict:
    return COMPOSE["services"]["emotiondesk"]


def test_every_setting_named_exists() -> None:
    fields = set(Settings.model_fields)
    named = set(docker_env()) | set(service()["environment"])
    settings = {k for k in named if k.startswith("EMOTIONDESK_")}
    assert settings, "no EMOTIONDESK_* setting named"
    unknown = sorted(k for k in settings if k.removeprefix("EMOTIONDESK_").lower() not in fields)
    assert unknown == []
    # and their values are valid settings
    values = {
        k.removeprefix("EMOTIONDESK_").lower(): v
        for k, v in docker_env().items()
        if k.startswith("EMOTIONDESK_")
    }
    Settings(_env_file=None, **values)


def test_the_commands_exist_and_migrate_before_serving() -> None:
    [cmd] = [rest for word, rest in instructions() if word == "CMD"]
    lines = [shell_of(cmd), shell_of(__import__("json").dumps(service()["command"]))]
    runner = CliRunner()
    for line in lines:
        calls = emotiondesk_calls(line)
        assert [c[:2] for c in calls] == [["db", "upgrade"], ["serve"]], line
        for args in calls:
            r = runner.invoke(cli, [*args, "--help"])
            assert r.exit_code == 0, (args, r.output)


def test_health_checks_hit_a_real_route_on_the_served_port() -> None:
    from emotiondesk.service import create_app

    routes = set(create_app(Settings(_env_file=None, dev=True)).openapi()["paths"])
    [health] = [rest for word, rest in instructions() if word == "HEALTHCHECK"]
    port = docker_env()["EMOTIONDESK_PORT"]
    exposed = [rest for word, rest in instructions() if word == "EXPOSE"]
    assert exposed == [port]
    for text in (health, " ".join(service()["healthcheck"]["test"])):
        url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", text)
        assert url, text
        assert url.group(1) == port and url.group(2) in routes
    assert service()["environment"]["EMOTIONDESK_PORT"] == port
    assert service()["ports"] == [f"{port}:{port}"]


def test_compose_waits_for_a_healthy_database_it_can_reach() -> None:
    from sqlalchemy.engine import make_url

    db = COMPOSE["services"]["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert service()["depends_on"]["db"]["condition"] == "service_healthy"
    url = make_url(
        service()["environment"]["EMOTIONDESK_DATABASE_URL"].replace(
            "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}", "pw"
        )
    )
    assert url.drivername == "postgresql+psycopg"
    env = db["environment"]
    assert (url.host, url.database, url.username) == (
        "db",
        env["POSTGRES_DB"],
        env["POSTGRES_USER"],
    )


def test_the_extra_installed_exists() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    runs = " ".join(rest for word, rest in instructions() if word == "RUN")
    named = re.findall(r"\.\[(\w+)\]", runs)
    assert named and all(n in extras for n in named)
    assert not any(dep.startswith("torch") for n in named for dep in extras[n])


@pytest.mark.slow
def test_the_copied_files_build_the_package_with_its_pack(tmp_path: Path) -> None:
    """pip builds a wheel from only what the Dockerfile copies, and it carries the pack."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for word, rest in instructions():
        if word == "COPY":
            *sources, _dest = rest.split()
            for src in sources:
                path = ROOT / src
                assert path.exists(), src
                if path.is_dir():
                    shutil.copytree(path, ctx / src, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(path, ctx / src)
    out = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(ctx),
        ],
        check=True,
        timeout=300,
    )
    [wheel] = out.glob("emotiondesk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "emotiondesk/_pack/pack.json" in names
    assert "emotiondesk/web/static/dashboard.js" in names
