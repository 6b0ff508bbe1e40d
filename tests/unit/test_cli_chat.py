"""``emotiondesk chat``: the interactive session, driven through stdin."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from emotiondesk.cli.main import app

runner = CliRunner()


def test_chat_json_turns(tiny_pack: Path):
    script = "\n".join(
        [
            "When will my order ship",
            "/agent Let me check that.",
            "",
            "Still no delivery after two weeks, furious",
            "Terrible service, I am angry and want a refund now",
            "/quit",
            "never read",
        ]
    )
    r = runner.invoke(app, ["chat", "--model", str(tiny_pack), "--json"], input=script + "\n")
    assert r.exit_code == 0, r.output
    turns = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [t["role"] for t in turns] == ["customer", "agent", "customer", "customer"]
    assert "escalate_to_senior" in [d["action"] for d in turns[2]["decisions"]]
    assert turns[-1]["trajectory"]["trend"] == "worsening"
    assert all(not t["suggestions"] for t in turns if t["role"] == "agent")


def test_chat_panels_in_chinese(tiny_pack: Path):
    r = runner.invoke(
        app,
        ["chat", "--model", str(tiny_pack), "--lang", "zh"],
        input="快递丢了怎么办，我很担心\n/state\n",
    )
    assert r.exit_code == 0, r.output
    # labels and values in Chinese (issue 13): 情绪 担忧, 决策 安抚; no English labels
    assert "情绪" in r.stdout and "担忧" in r.stdout and "安抚" in r.stdout
    assert "风险" in r.stdout and "第 1 轮" in r.stdout
    for english in (
        "emotion ",
        "polarity ",
        " satisfaction ",
        "decision ",
        "risk reasons",
        "model:",
    ):
        assert english not in r.stdout, english
    assert "[reassure_worried:" in r.stdout  # the matched conditions are shown, not eaten as markup
    assert "请" in r.stdout or "您" in r.stdout  # a Chinese suggestion


def test_chat_bad_options_and_rule_files(tiny_pack: Path, tmp_path: Path):
    r = runner.invoke(app, ["chat", "--model", str(tiny_pack), "--lang", "fr"], input="")
    assert r.exit_code == 2 and "--lang" in r.output
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "rules:\n  - id: a\n    when: {emotion: furious}\n    then: [comfort]\n", "utf-8"
    )
    r = runner.invoke(app, ["chat", "--model", str(tiny_pack), "--rules", str(bad)], input="")
    assert r.exit_code == 2
    assert "line 3" in r.output and "furious" in r.output
    assert "Traceback" not in r.output
