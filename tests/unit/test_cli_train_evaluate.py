"""`emotiondesk evaluate` and `emotiondesk train` through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emotiondesk.cli.main import app

from ..conftest import TINY_EN, TINY_ZH

runner = CliRunner()


def flat(output: str) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(output.split())


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


@pytest.fixture()
def polarity_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "pol.csv", [(t, p) for t, p, _ in TINY_ZH + TINY_EN])


def test_evaluate_pack_json(tiny_pack: Path, polarity_csv: Path) -> None:
    res = runner.invoke(
        app,
        [
            "evaluate",
            "--task",
            "polarity",
            "--data",
            str(polarity_csv),
            "--model",
            str(tiny_pack),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("task", "n", "accuracy", "macro_f1", "per_class", "model"):
        assert key in out
    assert out["task"] == "polarity"
    assert out["n"] == 40
    assert out["accuracy"] > 0.9
    assert set(out["per_class"]) == {"negative", "neutral", "positive"}


def test_evaluate_single_model_dir_binary(tiny_pack: Path, tmp_path: Path) -> None:
    rows = [(t, "0" if p == "negative" else "1") for t, p, _ in TINY_ZH if p != "neutral"]
    f = write_csv(tmp_path / "bin.csv", rows)
    res = runner.invoke(
        app,
        [
            "evaluate",
            "--task",
            "polarity",
            "--data",
            str(f),
            "--binary",
            "--model",
            str(tiny_pack / "zh-polarity-ngram"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["binary"] is True
    assert set(out["per_class"]) == {"negative", "positive"}
    assert out["accuracy"] == 1.0


def test_evaluate_human_output(tiny_pack: Path, polarity_csv: Path) -> None:
    res = runner.invoke(
        app,
        ["evaluate", "--task", "polarity", "--data", str(polarity_csv), "--model", str(tiny_pack)],
    )
    assert res.exit_code == 0
    assert "macro-F1" in res.stdout


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"review,label\ngood,positive\n", [], "no 'text' column"),
        ("text,label\n物流太慢了,negative\n".encode("gbk"), [], "not UTF-8"),
        (b"text,label\ngood,positive\nbad,furious\n", [], "row 3"),
        (bytes(range(256)) * 40, [], "not UTF-8"),
        (b"text,label\ngood,2\n", ["--binary"], "row 2"),
    ],
)
def test_evaluate_bad_files_are_clear_errors(
    tiny_pack: Path, tmp_path: Path, content: bytes, args: list[str], message: str
) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    res = runner.invoke(
        app, ["evaluate", "--task", "polarity", "--data", str(f), "--model", str(tiny_pack), *args]
    )
    assert res.exit_code == 2
    assert message in flat(res.output)
    assert "Traceback" not in res.output


def test_evaluate_bad_model_and_task(tmp_path: Path, polarity_csv: Path) -> None:
    res = runner.invoke(
        app,
        ["evaluate", "--task", "polarity", "--data", str(polarity_csv), "--model", str(tmp_path)],
    )
    assert res.exit_code == 2 and "neither" in flat(res.output)
    res = runner.invoke(app, ["evaluate", "--task", "mood", "--data", str(polarity_csv)])
    assert res.exit_code == 2 and "--task" in flat(res.output)
    res = runner.invoke(
        app, ["evaluate", "--task", "emotion", "--binary", "--data", str(polarity_csv)]
    )
    assert res.exit_code == 2


def test_evaluate_odd_texts(tiny_pack: Path, tmp_path: Path) -> None:
    rows = [
        ("😀😀😀", "positive"),
        ("!!!", "neutral"),
        ("好" * 1_000_000, "positive"),
        ("\x07\x1b", "neutral"),
    ]
    f = write_csv(tmp_path / "odd.csv", rows)
    res = runner.invoke(
        app,
        ["evaluate", "--task", "polarity", "--data", str(f), "--model", str(tiny_pack), "--json"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["n"] == 4


def test_train_ngram_then_evaluate(tmp_path: Path) -> None:
    rows = [(t, e) for t, _, e in TINY_EN] * 3
    train = write_csv(tmp_path / "train.csv", [(f"{t} #{i}", e) for i, (t, e) in enumerate(rows)])
    dev = write_csv(tmp_path / "dev.csv", [(t, e) for t, _, e in TINY_EN])
    out = tmp_path / "model"
    res = runner.invoke(
        app,
        [
            "train",
            "--task",
            "emotion",
            "--train",
            str(train),
            "--dev",
            str(dev),
            "--out",
            str(out),
            "--C",
            "10",
            "--word-ngrams",
            "1,2",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["language"] == "en"
    assert summary["dev"]["n"] == 20
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "ngram" and cfg["params"]["C"] == 10.0
    res = runner.invoke(
        app, ["evaluate", "--task", "emotion", "--data", str(dev), "--model", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output


def test_train_with_dataset_map_and_holdout(tmp_path: Path) -> None:
    rows = [("开心" + str(i), "happy") for i in range(20)] + [
        ("生气" + str(i), "angry") for i in range(20)
    ]
    train = write_csv(tmp_path / "smp.csv", rows)
    res = runner.invoke(
        app,
        [
            "train",
            "--task",
            "emotion",
            "--train",
            str(train),
            "--dataset",
            "smp2020_ewect",
            "--out",
            str(tmp_path / "m"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["language"] == "zh"
    assert summary["train_labels"] == {"anger": 18, "joy": 18}
    assert summary["dev"]["n"] == 4


def test_train_errors(tmp_path: Path, polarity_csv: Path) -> None:
    res = runner.invoke(
        app,
        [
            "train",
            "--task",
            "polarity",
            "--train",
            str(tmp_path / "no.csv"),
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert res.exit_code == 2 and "does not exist" in flat(res.output)
    res = runner.invoke(
        app,
        [
            "train",
            "--task",
            "polarity",
            "--train",
            str(polarity_csv),
            "--out",
            str(tmp_path / "m"),
            "--char-ngrams",
            "three",
        ],
    )
    assert res.exit_code == 2 and "--char-ngrams" in flat(res.output)
    res = runner.invoke(
        app,
        ["train", "--task", "emotion", "--train", str(polarity_csv), "--out", str(tmp_path / "m")],
    )
    assert res.exit_code == 2 and "row 2" in flat(res.output)
    assert "Traceback" not in res.output


def test_trained_model_dir_works_where_a_pack_does(
    tmp_path: Path, tiny_pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`train --out DIR` then `analyze --model DIR`: the model serves its task and
    language, the default pack the rest (issue 11, item 7)."""
    import emotiondesk.pack as pack_mod
    from emotiondesk.analyzer import load_analyzer
    from emotiondesk.pack import read_pack

    monkeypatch.setattr(pack_mod, "default_pack_dir", lambda: tiny_pack)
    rows = [(t, e) for t, _, e in TINY_EN] * 3
    train = write_csv(tmp_path / "train.csv", [(f"{t} #{i}", e) for i, (t, e) in enumerate(rows)])
    dev = write_csv(tmp_path / "dev.csv", [(t, e) for t, _, e in TINY_EN])
    out = tmp_path / "my-emotion-model"
    res = runner.invoke(
        app,
        ["train", "--task", "emotion", "--train", str(train), "--dev", str(dev), "--out", str(out)],
    )
    assert res.exit_code == 0, res.output

    spec = read_pack(out)
    assert spec.routes["en"]["emotion"] == str(out.resolve())
    base = read_pack(tiny_pack)
    for lang, task in (("zh", "emotion"), ("zh", "polarity"), ("en", "polarity")):
        assert spec.routes[lang][task] == str((tiny_pack / base.routes[lang][task]).resolve())
    assert spec.extra["single_model"] == {"tasks": ["emotion"], "languages": ["en"]}

    analyzer = load_analyzer(out)
    assert analyzer.version.startswith("my-emotion-model-")
    res = runner.invoke(
        app, ["analyze", "--model", str(out), "--json", "I am so angry!", "物流太慢了"]
    )
    assert res.exit_code == 0, res.output
    results = [json.loads(line) for line in res.stdout.strip().splitlines()]
    assert [r["language"] for r in results] == ["en", "zh"]
    assert all(r["model"].startswith("my-emotion-model-") for r in results)

    # a directory that is neither a pack nor a model is a clear error
    res = runner.invoke(app, ["analyze", "--model", str(tmp_path / "nothing"), "hi"])
    assert res.exit_code != 0 and "not a model pack" in flat(res.output)
