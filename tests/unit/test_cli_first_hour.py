"""The first hour with the CLI (issue 13): one default database named by every command
that writes, --database as a file path, column mapping, per-row predictions, and
errors that say what is wrong before any progress bar."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emotiondesk.cli.main import app
from emotiondesk.storage import describe_database, resolve_url, sqlite_file

from ..conftest import TINY_EN, TINY_ZH

runner = CliRunner()


def flat(output: str) -> str:
    return " ".join(output.split())


def test_a_plain_path_is_a_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_url("shop.db") == f"sqlite:///{tmp_path / 'shop.db'}"
    assert sqlite_file("shop.db") == tmp_path / "shop.db"
    assert describe_database("shop.db") == f"SQLite file {tmp_path / 'shop.db'}"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"
    assert "secret" not in describe_database("postgresql://u:secret@db/x")


def test_every_command_defaults_to_one_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emotiondesk.config import get_settings
    from emotiondesk.storage import default_sqlite_path

    monkeypatch.delenv("EMOTIONDESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        default = default_sqlite_path()
        assert resolve_url(None) == f"sqlite:///{default}"
        r = runner.invoke(app, ["keys", "create", "--scope", "read", "--name", "t"])
        assert r.exit_code == 0, r.output
        assert str(default) in flat(r.stderr)
        assert not (tmp_path / "emotiondesk.db").exists()
    finally:
        get_settings.cache_clear()


def write(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_import_maps_columns_and_names_the_database(tiny_pack: Path, tmp_path: Path) -> None:
    f = write(
        tmp_path / "评价.csv",
        ["编号", "评论内容", "下单时间"],
        [
            ("1", "物流太慢了，气死我了", "2026-11-01 10:00"),
            ("2", "很好用，满意", "2026-11-01 11:00"),
        ],
    )
    db = tmp_path / "shop.db"
    base = ["import", str(f), "--database", str(db), "--model", str(tiny_pack), "--no-scan-surges"]
    r = runner.invoke(app, base)
    assert r.exit_code == 2
    assert "--column text=COLUMN" in flat(r.stderr)
    r = runner.invoke(
        app, [*base, "--column", "text=评论内容", "--column", "timestamp=下单时间", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["imported"] == 2 and out["database"] == f"SQLite file {db}"
    assert db.is_file()
    r = runner.invoke(app, [*base, "--column", "words=评论内容"])
    assert r.exit_code == 2 and "unknown field 'words'" in flat(r.stderr)


def test_import_and_evaluate_report_an_empty_file(tiny_pack: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    r = runner.invoke(app, ["import", str(empty), "--database", str(tmp_path / "x.db")])
    assert r.exit_code == 2 and "is empty" in flat(r.stderr)
    r = runner.invoke(
        app, ["evaluate", "--task", "polarity", "--data", str(empty), "--model", str(tiny_pack)]
    )
    assert r.exit_code == 2 and "is empty" in flat(r.stderr), r.output
    assert "found: none" not in r.output


def test_evaluate_missing_file_before_any_progress_bar(tmp_path: Path) -> None:
    r = runner.invoke(app, ["evaluate", "--task", "polarity", "--data", str(tmp_path / "nope.csv")])
    assert r.exit_code == 2
    assert "does not exist" in r.stderr
    assert "evaluate:" not in r.stderr and "msg/s" not in r.stderr


def test_evaluate_text_col_and_predictions(tiny_pack: Path, tmp_path: Path) -> None:
    rows = [(str(i), t, p) for i, (t, p, _) in enumerate(TINY_ZH + TINY_EN)]
    f = write(tmp_path / "dev.csv", ["id", "review", "sentiment"], rows)
    args = ["evaluate", "--task", "polarity", "--data", str(f), "--model", str(tiny_pack)]
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert "--text-col" in flat(r.stderr) and "'review'" in flat(r.stderr)
    preds = tmp_path / "out" / "preds.csv"
    r = runner.invoke(
        app,
        [
            *args,
            "--text-col",
            "review",
            "--label-col",
            "sentiment",
            "--predictions",
            str(preds),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout.strip().splitlines()[-1])
    with preds.open(encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert len(written) == report["n"] == len(rows)
    assert {"row", "text", "label", "predicted", "correct", "confidence", "id"} <= set(written[0])
    assert {"p_negative", "p_neutral", "p_positive"} <= set(written[0])
    assert written[0]["text"] == rows[0][1] and written[0]["id"] == "0"
    errors_file = tmp_path / "out" / "preds.errors.csv"
    with errors_file.open(encoding="utf-8") as fh:
        errors = list(csv.DictReader(fh))
    wrong = [w for w in written if w["correct"] == "False"]
    assert len(errors) == len(wrong) == report["n_errors"]
    assert round(1 - len(wrong) / len(written), 4) == round(report["accuracy"], 4)


def test_demo_on_a_busy_port_says_so_before_doing_anything(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        db = tmp_path / "demo.db"
        r = runner.invoke(app, ["demo", "--port", str(port), "--database", str(db)])
    assert r.exit_code == 2
    assert f"port {port}" in flat(r.stderr) and "already in use" in flat(r.stderr)
    assert not db.exists()  # nothing seeded


def test_fresh_refuses_a_server_database() -> None:
    from emotiondesk.errors import ConfigError
    from emotiondesk.service.demo import run_demo

    with pytest.raises(ConfigError, match="--fresh"):
        run_demo(port=0, database="postgresql+psycopg://u@localhost:1/x", fresh=True)
