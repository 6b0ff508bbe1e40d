"""`emotiondesk db` and `emotiondesk keys` on a SQLite file in a temp dir."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from emotiondesk.cli.main import app

runner = CliRunner()


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    r = runner.invoke(app, ["db", "current", "--url", url, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["current"] is None
    assert runner.invoke(app, ["db", "upgrade", "--url", url]).exit_code == 0
    info = json.loads(runner.invoke(app, ["db", "current", "--url", url, "--json"]).stdout)
    assert info["current"] == info["head"] is not None


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    r = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--scope",
            "analyze,read",
            "--name",
            "ops",
            "--rate-limit",
            "60",
            "--url",
            url,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["key"].startswith("ed_") and created["scopes"] == ["analyze", "read"]
    listed = json.loads(runner.invoke(app, ["keys", "list", "--url", url, "--json"]).stdout)
    assert [k["name"] for k in listed] == ["ops"]
    assert created["key"] not in json.dumps(listed)
    assert runner.invoke(app, ["keys", "revoke", str(created["id"]), "--url", url]).exit_code == 0
    assert json.loads(runner.invoke(app, ["keys", "list", "--url", url, "--json"]).stdout) == []


def test_keys_errors_are_clean(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.sqlite'}"
    r = runner.invoke(app, ["keys", "create", "--scope", "root", "--url", url])
    assert r.exit_code == 2 and "unknown scope" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["keys", "revoke", "42", "--url", url])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(app, ["db", "upgrade", "--url", "nonsense://"])
    assert r.exit_code == 2 and "Traceback" not in r.output
