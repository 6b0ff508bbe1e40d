"""``emotiondesk score`` and the batch-scoring core, on the tiny pack (local engine)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from emotiondesk.analyzer import load_analyzer
from emotiondesk.cli.main import app
from emotiondesk.errors import DataError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS
from emotiondesk.usecases.score_files import parts_dir, score_file
from emotiondesk.usecases.scoring import (
    ANALYSIS_COLUMNS,
    analysis_record,
    score_batch,
)
from tests.conftest import TINY_EN, TINY_ZH

TEXTS = [t for t, _, _ in TINY_ZH + TINY_EN]


@pytest.fixture(scope="module")
def analyzer(tiny_pack: Path):
    return load_analyzer(tiny_pack)


def write_csv(path: Path, n: int, *, text_col: str = "评论") -> list[dict[str, str]]:
    rows = [
        {"编号": str(i), text_col: TEXTS[i % len(TEXTS)], "店铺": f"shop,{i % 3}"} for i in range(n)
    ]
    pacsv.write_csv(pa.Table.from_pylist(rows), path)
    return rows


def test_score_batch_matches_analyze(analyzer) -> None:
    cols = score_batch(analyzer, [*TEXTS[:5], None, 42])
    assert list(cols) == list(ANALYSIS_COLUMNS)
    assert all(len(v) == 7 for v in cols.values())
    results = analyzer.analyze([*TEXTS[:5], "", "42"])
    for i, r in enumerate(results):
        assert cols["polarity"][i] == r.polarity and cols["emotion"][i] == r.emotion
        assert cols["score"][i] == r.score and cols["model_version"][i] == r.model
        for label in POLARITY_LABELS:
            assert cols[f"polarity_{label}"][i] == r.polarity_scores[label]
        for label in EMOTION_LABELS:
            assert cols[f"emotion_{label}"][i] == r.emotion_scores[label]
        record = analysis_record(cols, i, r.text)  # what the importer stores
        assert record == {k: v for k, v in r.to_dict().items() if k in record}
    assert cols["polarity"][5] == "neutral"  # a missing cell reads as an empty text


def test_csv_with_chinese_columns_to_csv(analyzer, tmp_path: Path) -> None:
    src = tmp_path / "评论.csv"
    rows = write_csv(src, 30)
    dst = tmp_path / "out" / "scored.csv"
    report = score_file(src, dst, analyzer=analyzer, chunk_rows=7, batch_size=4)
    assert report.rows == 30 and report.text_column == "评论"
    out = pacsv.read_csv(dst, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    assert out.column_names == ["编号", "评论", "店铺", *ANALYSIS_COLUMNS]
    assert out.column("店铺").to_pylist() == [r["店铺"] for r in rows]  # a comma in a cell
    assert out.column("编号").to_pylist() == list(range(30))
    expected = analyzer.analyze([r["评论"] for r in rows])
    assert out.column("emotion").to_pylist() == [r.emotion for r in expected]
    assert not parts_dir(dst).exists()


def test_jsonl_keeps_types_in_parquet(analyzer, tmp_path: Path) -> None:
    src = tmp_path / "msgs.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(TEXTS):
            fh.write(json.dumps({"id": i, "message": text, "stars": i % 5 + 0.5}) + "\n")
    dst = tmp_path / "scored.parquet"
    score_file(src, dst, analyzer=analyzer)
    out = pq.read_table(dst)
    assert out.schema.field("id").type == pa.int64()
    assert out.schema.field("stars").type == pa.float64()
    assert out.schema.field("polarity_negative").type == pa.float64()
    assert out.schema.field("truncated").type == pa.bool_()
    assert out.num_rows == len(TEXTS)


def test_text_column_errors(analyzer, tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("id,body_text\n1,hello\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pass --text-col.*found: id, body_text"):
        score_file(src, tmp_path / "o.csv", analyzer=analyzer)
    with pytest.raises(DataError, match="no column 'nope'"):
        score_file(src, tmp_path / "o.csv", analyzer=analyzer, text_col="nope")
    clash = tmp_path / "b.csv"
    clash.write_text("text,score\nhello,5\n", encoding="utf-8")
    with pytest.raises(DataError, match="--prefix"):
        score_file(clash, tmp_path / "o.csv", analyzer=analyzer)
    report = score_file(clash, tmp_path / "o.csv", analyzer=analyzer, prefix="ed_")
    assert "ed_score" in pacsv.read_csv(tmp_path / "o.csv").column_names and report.rows == 1
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty file"):
        score_file(empty, tmp_path / "o.csv", analyzer=analyzer)
    with pytest.raises(DataError, match="output format"):
        score_file(clash, tmp_path / "o.xlsx", analyzer=analyzer)


class Interrupt(Exception):
    pass


def test_resume_after_interruption(analyzer, tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    n = 230
    pq.write_table(
        pa.table({"id": list(range(n)), "text": [TEXTS[i % len(TEXTS)] for i in range(n)]}),
        src,
        row_group_size=50,
    )
    whole = tmp_path / "whole.parquet"
    score_file(src, whole, analyzer=analyzer, chunk_rows=40, batch_size=16)

    dst = tmp_path / "resumed.parquet"
    seen = 0

    def stop_midway(k: int) -> None:
        nonlocal seen
        seen += k
        if seen > 100:
            raise Interrupt

    with pytest.raises(Interrupt):
        score_file(src, dst, analyzer=analyzer, chunk_rows=40, batch_size=16, progress=stop_midway)
    assert not dst.exists()
    assert len(list(parts_dir(dst).glob("part-*.parquet"))) == 2  # 80 rows kept

    scored_again = 0

    def count(k: int) -> None:
        nonlocal scored_again
        scored_again += k

    report = score_file(src, dst, analyzer=analyzer, chunk_rows=40, batch_size=16, progress=count)
    assert report.resumed_rows == 80 and report.rows == n and scored_again == n - 80
    assert pq.read_table(dst).equals(pq.read_table(whole))
    assert sorted(pq.read_table(dst).column("id").to_pylist()) == list(range(n))


def test_changed_settings_start_over(analyzer, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    write_csv(src, 50, text_col="text")
    dst = tmp_path / "o.parquet"

    def boom(_k: int) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        score_file(src, dst, analyzer=analyzer, chunk_rows=10, batch_size=10, progress=boom)
    report = score_file(src, dst, analyzer=analyzer, chunk_rows=20)
    assert report.started_over and "chunk_rows" in report.started_over
    assert report.resumed_rows == 0 and pq.read_table(dst).num_rows == 50


def test_cli_score(tiny_pack: Path, tmp_path: Path) -> None:
    src = tmp_path / "reviews.csv"
    write_csv(src, 12, text_col="内容")
    dst = tmp_path / "scored.parquet"
    runner = CliRunner()
    result = runner.invoke(app, ["score", str(src), str(dst), "--model", str(tiny_pack), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["rows"] == 12 and report["text_column"] == "内容" and report["engine"] == "local"
    assert pq.read_table(dst).num_rows == 12
    missing = runner.invoke(app, ["score", str(tmp_path / "nope.csv"), str(dst)])
    assert missing.exit_code == 2 and "no such file" in missing.output
    bad = runner.invoke(app, ["score", str(src), str(dst), "--workers", "2"])
    assert bad.exit_code == 2 and "--engine ray" in bad.output


def test_csv_with_bom_and_tabs(analyzer, tmp_path: Path) -> None:
    src = tmp_path / "excel.tsv"
    src.write_bytes("\ufeff评价\t订单\n物流太慢了，气死我了\tA1\nThank you so much\tA2\n".encode())
    dst = tmp_path / "o.csv"
    report = score_file(src, dst, analyzer=analyzer)
    assert report.text_column == "评价"
    out = pacsv.read_csv(dst)
    assert out.column("订单").to_pylist() == ["A1", "A2"]
    assert out.column("polarity").to_pylist() == ["negative", "positive"]
