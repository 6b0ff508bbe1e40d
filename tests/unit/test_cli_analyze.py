from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from emotiondesk.cli.main import app

runner = CliRunner()


def test_analyze_json(tiny_pack: Path) -> None:
    res = runner.invoke(
        app,
        [
            "analyze",
            "物流太慢了，气死我了",
            "Thanks, great service",
            "--model",
            str(tiny_pack),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["language"] for r in rows] == ["zh", "en"]
    for r in rows:
        assert {
            "text",
            "language",
            "polarity",
            "polarity_scores",
            "score",
            "emotion",
            "emotion_scores",
        } <= set(r)
    assert rows[0]["text"] == "物流太慢了，气死我了"  # not ASCII-escaped, as given


def test_analyze_file_and_table(tiny_pack: Path, tmp_path: Path) -> None:
    f = tmp_path / "msgs.txt"
    f.write_text("订单什么时候发货\n\n   \nWhen will my order ship\n", encoding="utf-8")
    res = runner.invoke(app, ["analyze", "--file", str(f), "--model", str(tiny_pack), "--json"])
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 2  # blank lines skipped
    table = runner.invoke(app, ["analyze", "--file", str(f), "--model", str(tiny_pack)])
    assert table.exit_code == 0
    assert "polarity" in table.stdout


def test_analyze_lang_forced(tiny_pack: Path) -> None:
    res = runner.invoke(app, ["analyze", "ok", "--lang", "zh", "--model", str(tiny_pack), "--json"])
    assert json.loads(res.stdout)["language"] == "zh"


def test_analyze_user_errors(tiny_pack: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["analyze", "--model", str(tiny_pack)])
    assert res.exit_code == 2
    assert "nothing to analyse" in res.output
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("物流太慢了".encode("gbk"))
    res = runner.invoke(app, ["analyze", "--file", str(gbk), "--model", str(tiny_pack)])
    assert res.exit_code == 2
    assert "not UTF-8" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["analyze", "hi", "--lang", "fr", "--model", str(tiny_pack)])
    assert res.exit_code == 2
    res = runner.invoke(app, ["analyze", "hi", "--model", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "not a model pack" in res.output
    res = runner.invoke(
        app, ["analyze", "--file", str(tmp_path / "missing.txt"), "--model", str(tiny_pack)]
    )
    assert res.exit_code == 2
    assert "does not exist" in res.output


def test_models_list_and_info(tiny_pack: Path) -> None:
    res = runner.invoke(app, ["models", "list", "--pack", str(tiny_pack), "--json"])
    assert res.exit_code == 0, res.output
    listing = json.loads(res.stdout)
    assert {(m["language"], m["task"]) for m in listing["models"]} == {
        ("zh", "polarity"),
        ("zh", "emotion"),
        ("en", "polarity"),
        ("en", "emotion"),
    }
    res = runner.invoke(
        app, ["models", "info", "en-emotion-ngram", "--pack", str(tiny_pack), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["config"]["model_type"] == "ngram"
    res = runner.invoke(app, ["models", "info", "nope", "--pack", str(tiny_pack)])
    assert res.exit_code == 2


def test_analyze_explain_json_and_highlighting(tiny_pack: Path) -> None:
    texts = ["物流太慢了，气死我了", "Thanks, great service"]
    plain = runner.invoke(app, ["analyze", *texts, "--model", str(tiny_pack), "--json"])
    res = runner.invoke(app, ["analyze", *texts, "--model", str(tiny_pack), "--json", "--explain"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    before = [json.loads(line) for line in plain.stdout.splitlines()]
    # The documented fields are unchanged; evidence is added.
    assert [{k: v for k, v in r.items() if k != "evidence"} for r in rows] == before
    for text, row in zip(texts, rows, strict=True):
        ev = row["evidence"]
        assert ev["polarity"]["label"] == row["polarity"]
        assert ev["emotion"]["label"] == row["emotion"]
        spans = ev["polarity"]["spans"] + ev["emotion"]["spans"]
        assert spans and all(text[s["start"] : s["end"]] == s["text"] for s in spans)
    human = runner.invoke(app, ["analyze", *texts, "--model", str(tiny_pack), "--explain"])
    assert human.exit_code == 0, human.output
    assert "polarity negative (linear)" in human.stdout
    assert "emotion anger (linear)" in human.stdout
    # The aspects, with their opinion words, follow each message's spans (the
    # console wraps long lines: compared with the spaces folded).
    assert "aspect logistics ('物流') negative: '慢' negative" in " ".join(human.stdout.split())
    packed = runner.invoke(
        app, ["analyze", "包装很严实，没有破损。", "--model", str(tiny_pack), "--explain"]
    )
    folded = " ".join(packed.stdout.split())
    assert "aspect packaging ('包装') positive negated" in folded
    assert "'没有破损' (negated) positive" in folded
