"""`emotiondesk train --base <dir>`, `export`, `pretrain` through typer's runner (tiny random BERT)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from typer.testing import CliRunner

from emotiondesk.cli.main import app
from tests.unit.deep_helpers import make_tiny_bert, task_rows, write_csv

runner = CliRunner()


def flat(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("cli-bert") / "base")


@pytest.fixture(scope="module")
def pol_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("cli-data") / "pol.csv", task_rows("polarity"))


def test_train_export_analyze_with_a_transformer(tiny_base: Path, pol_csv: Path, tmp_path: Path):
    out = tmp_path / "deep"
    cfg = tmp_path / "run.yaml"
    cfg.write_text("lr: 1.0e-3\nbatch_size: 8\nlog_every: 5\n", encoding="utf-8")
    res = runner.invoke(
        app,
        [
            "train",
            "--task",
            "polarity",
            "--train",
            str(pol_csv),
            "--dev",
            str(pol_csv),
            "--base",
            str(tiny_base),
            "--out",
            str(out),
            "--config",
            str(cfg),
            "--epochs",
            "1",
            "--set",
            "num_threads=1",
            "--set",
            "loss=focal",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["model_type"] == "transformer" and summary["model_dir"] == str(out)
    assert set(summary["dev"]) >= {"n", "accuracy", "macro_f1", "per_class"}
    saved = json.loads((out / "training_args.json").read_text(encoding="utf-8"))
    assert saved["lr"] == 1e-3 and saved["epochs"] == 1 and saved["loss"] == "focal"

    res = runner.invoke(
        app, ["export", str(out), "--no-quantize", "--parity-data", str(pol_csv), "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["min_agreement"] == 1.0 and report["n_texts"] == 80

    res = runner.invoke(
        app,
        ["evaluate", "--task", "polarity", "--data", str(pol_csv), "--model", str(out), "--json"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["n"] in (40, 80)


def test_train_errors_are_one_line(tiny_base: Path, pol_csv: Path, tmp_path: Path):
    res = runner.invoke(
        app,
        [
            "train",
            "--task",
            "polarity",
            "--train",
            str(pol_csv),
            "--dev",
            str(pol_csv),
            "--base",
            str(tmp_path / "missing-model"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2
    assert "does not exist" in flat(res.output) and "Traceback" not in res.output
    res = runner.invoke(
        app,
        [
            "train",
            "--task",
            "polarity",
            "--train",
            str(pol_csv),
            "--dev",
            str(pol_csv),
            "--base",
            str(tiny_base),
            "--out",
            str(tmp_path / "o"),
            "--set",
            "method=qlora",
        ],
    )
    assert res.exit_code == 2 and "method must be one of" in flat(res.output)
    res = runner.invoke(app, ["export", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "does not exist" in flat(res.output)


def test_train_summary_counts_the_rows_trained_on(tiny_base: Path, pol_csv: Path, tmp_path: Path):
    res = runner.invoke(
        app,
        [
            "train",
            "--task",
            "polarity",
            "--train",
            str(pol_csv),
            "--dev",
            str(pol_csv),
            "--base",
            str(tiny_base),
            "--out",
            str(tmp_path / "sub"),
            "--set",
            "max_steps=1",
            "--set",
            "max_train_samples=12",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["n_train"] == 12  # the subsample, not the whole file
    assert sum(summary["train_labels"].values()) == 12


def test_pretrain_command(tmp_path: Path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(t for t, _ in task_rows("polarity", 1)), encoding="utf-8")
    res = runner.invoke(
        app,
        [
            "pretrain",
            str(corpus),
            "--out",
            str(tmp_path / "bert"),
            "--vocab-size",
            "300",
            "--hidden-size",
            "32",
            "--layers",
            "1",
            "--heads",
            "2",
            "--max-length",
            "32",
            "--max-steps",
            "2",
            "--batch-size",
            "8",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "bert" / "model.safetensors").is_file()
    assert (tmp_path / "bert" / "tokenizer.json").is_file()


def test_ngram_pack_never_imports_torch(tiny_pack: Path):
    code = (
        "import sys\n"
        "from emotiondesk.analyzer import load_analyzer\n"
        f"a = load_analyzer({str(tiny_pack)!r})\n"
        "a.analyze(['物流太慢了', 'great, thanks'])\n"
        "bad = [m for m in ('torch', 'transformers', 'onnxruntime') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""
