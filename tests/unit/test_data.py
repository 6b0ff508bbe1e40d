"""Loading labelled files: formats, validation errors with row numbers, splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emotiondesk.data import load_dataset, stratified_split_index
from emotiondesk.errors import DataError, LabelError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_with_extra_columns(tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "text,label,channel\n好评,positive,app\nslow,negative,web\n")
    data = load_dataset(f, task="polarity")
    assert data.texts == ["好评", "slow"]
    assert data.labels == ["positive", "negative"]
    assert data.extra == {"channel": ["app", "web"]}
    assert data.rows == [2, 3]


def test_dataset_label_map(tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "text,label\n开心,happy\n生气,angry\n")
    assert load_dataset(f, task="emotion", dataset="smp2020_ewect").labels == ["joy", "anger"]


def test_dropped_labels_are_counted(tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "text,label\n哇,surprise\n开心,happy\n")
    data = load_dataset(f, task="polarity", dataset="smp2020_ewect")
    assert data.labels == ["positive"]
    assert data.report["dropped_label"] == 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nope.csv", task="polarity")


def test_missing_text_column(tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "review,label\ngood,positive\n")
    with pytest.raises(DataError, match=r"no .text. column.*--text-col .review."):
        load_dataset(f, task="polarity")


def test_missing_label_column(tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "text\ngood\n")
    with pytest.raises(DataError, match="no 'label' column"):
        load_dataset(f, task="polarity")
    assert load_dataset(f, task="polarity", require_labels=False).labels == [""]


def test_wrong_encoding_says_what_to_do(tmp_path: Path) -> None:
    f = write(tmp_path / "gbk.csv", "text,label\n物流太慢了,negative\n", encoding="gbk")
    with pytest.raises(DataError, match=r"not UTF-8.*iconv") as info:
        load_dataset(f, task="polarity")
    assert info.value.code == "bad_encoding"


def test_binary_garbage(tmp_path: Path) -> None:
    f = tmp_path / "garbage.csv"
    f.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(DataError):
        load_dataset(f, task="polarity")


def test_unknown_label_names_the_row(tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "text,label\na,positive\nb,negative\nc,furious\n")
    with pytest.raises(LabelError, match="'furious' in row 4"):
        load_dataset(f, task="polarity")


def test_empty_label_names_the_row(tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "text,label\na,positive\nb,\n")
    with pytest.raises(LabelError, match="row 3"):
        load_dataset(f, task="polarity")


def test_empty_texts_and_duplicates(tmp_path: Path) -> None:
    f = write(
        tmp_path / "d.csv",
        "text,label\ngood,positive\n,negative\n   ,negative\ngood,positive\ngood,negative\n",
    )
    data = load_dataset(f, task="polarity")
    assert data.texts == ["good", "good"]
    assert data.labels == ["positive", "negative"]
    assert data.report["empty_text"] == 2
    assert data.report["duplicate"] == 1
    assert data.report["conflicting_labels"] == 1
    assert len(load_dataset(f, task="polarity", drop_duplicates=False)) == 3


def test_only_empty_rows_is_an_error(tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "text,label\n,positive\n")
    with pytest.raises(DataError, match="no usable rows"):
        load_dataset(f, task="polarity")


def test_jsonl(tmp_path: Path) -> None:
    rows = [{"text": "great", "label": "positive", "id": 1}, {"text": "bad", "label": "negative"}]
    f = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    data = load_dataset(f, task="polarity")
    assert data.labels == ["positive", "negative"]
    assert data.extra["id"] == [1, None]


def test_jsonl_bad_line(tmp_path: Path) -> None:
    f = write(tmp_path / "d.jsonl", '{"text": "a", "label": "positive"}\n{oops\n')
    with pytest.raises(DataError, match="line 2"):
        load_dataset(f, task="polarity")


def test_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"text": ["好", "差"], "label": ["1", "0"], "cat": ["书", "书"]})
    pq.write_table(table, tmp_path / "d.parquet")
    data = load_dataset(tmp_path / "d.parquet", task="polarity", dataset="online_shopping_10_cats")
    assert data.labels == ["positive", "negative"]
    assert data.extra["cat"] == ["书", "书"]


def test_bad_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    f = write(tmp_path / "d.parquet", "not parquet")
    with pytest.raises(DataError, match="Parquet"):
        load_dataset(f, task="polarity")


def test_stratified_split_is_seeded_and_stratified(tmp_path: Path) -> None:
    labels = ["a"] * 80 + ["b"] * 20
    idx = stratified_split_index(labels, 0.25, seed=1)
    assert list(idx) == list(stratified_split_index(labels, 0.25, seed=1))
    held = [labels[i] for i in idx]
    assert held.count("a") == 20 and held.count("b") == 5
    f = write(
        tmp_path / "d.csv",
        "text,label\n"
        + "".join(f"t{i},{lab}\n" for i, lab in enumerate(["positive"] * 10 + ["negative"] * 10)),
    )
    rest, dev = load_dataset(f, task="polarity").split(0.2, seed=3)
    assert len(rest) == 16 and len(dev) == 4
    assert set(rest.texts).isdisjoint(dev.texts)
    assert dev.label_counts() == {"negative": 2, "positive": 2}
