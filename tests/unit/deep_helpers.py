"""Helpers of the deep-model tests: a tiny random BERT and small labelled files."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import TINY_EN, TINY_ZH

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tiny-bert"


def make_tiny_bert(directory: Path, *, seed: int = 0, vocab_size: int | None = None) -> Path:
    """A randomly initialised 2-layer, hidden-32 BERT with the fixture tokenizer, saved to ``directory``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig.from_pretrained(str(FIXTURE))
    if vocab_size is not None:
        config.vocab_size = vocab_size
    BertModel(config).save_pretrained(str(directory))
    AutoTokenizer.from_pretrained(str(FIXTURE)).save_pretrained(str(directory))
    return directory


def write_csv(path: Path, rows: Iterable[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def task_rows(task: str, repeat: int = 2) -> list[tuple[str, str]]:
    col = 1 if task == "polarity" else 2
    return [(r[0], r[col]) for r in TINY_EN + TINY_ZH] * repeat
