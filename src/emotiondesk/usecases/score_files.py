"""Score a file of messages (CSV, JSONL, Parquet) into Parquet or CSV: the local engine.

Every input column is kept and the analysis columns of
:mod:`emotiondesk.usecases.scoring` are added. The input is read in chunks
of ``chunk_rows`` rows; each scored chunk is written atomically as a part
file in a folder next to the output (``.OUT.parts``), and the output is
assembled from the parts at the end. A run that is interrupted resumes from
the last finished part when the same command is run again (same input file,
text column, prefix, model and chunk size; otherwise it starts over and says
so): the output is the same as an uninterrupted run's and no row appears
twice.

Reading and writing use pyarrow (CSV cells are read as text, as written;
JSONL and Parquet keep their types).

Example:
    >>> report = score_file("reviews.csv", "scored.parquet", analyzer=load_analyzer())  # doctest: +SKIP
    >>> report.rows                                                                     # doctest: +SKIP
    50164
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emotiondesk.errors import DataError
from emotiondesk.usecases.scoring import (
    ANALYSIS_COLUMNS,
    check_no_clash,
    resolve_text_column,
    score_batch,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from emotiondesk.analyzer import Analyzer

logger = logging.getLogger(__name__)

INPUT_FORMATS = ("csv", "jsonl", "parquet")
OUTPUT_FORMATS = ("parquet", "csv")
MANIFEST_VERSION = 1


@dataclass
class ScoreReport:
    """What a scoring run did (``--json`` prints :meth:`to_dict`)."""

    input: str
    output: str
    engine: str
    text_column: str
    rows: int = 0
    resumed_rows: int = 0
    seconds: float = 0.0
    model: str = ""
    started_over: str | None = None

    @property
    def rows_per_second(self) -> float:
        scored = self.rows - self.resumed_rows
        return scored / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


def input_format(
    path: Path,
    fmt: str | None = None,
    *,
    formats: tuple[str, ...] = INPUT_FORMATS,
    option: str = "--input-format",
) -> str:
    """One of ``formats``: ``fmt`` or the file's extension (``option`` names the flag in errors)."""
    choices = "|".join(formats)
    if fmt:
        if fmt not in formats:
            raise DataError(f"unknown format {fmt!r}; use one of {', '.join(formats)}")
        return fmt
    suffix = path.suffix.lower()
    detected = {
        ".csv": "csv",
        ".tsv": "csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
        ".parquet": "parquet",
        ".pq": "parquet",
    }.get(suffix)
    if detected is None or detected not in formats:
        raise DataError(
            f"{path.name}: cannot tell the format from the extension; pass {option} {choices}"
        )
    return detected


def output_format(path: Path, fmt: str | None = None) -> str:
    """``parquet`` or ``csv``: ``fmt`` or the output's extension."""
    if fmt:
        if fmt not in OUTPUT_FORMATS:
            raise DataError(f"unknown output format {fmt!r}; use parquet or csv")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise DataError(
        f"{path.name}: cannot tell the output format from the extension (.parquet or .csv); "
        "pass --output-format parquet|csv"
    )


def analysis_fields(prefix: str = "") -> list[pa.Field]:
    """The pyarrow fields of the analysis columns."""
    import pyarrow as pa

    types = {str: pa.string(), float: pa.float64(), bool: pa.bool_()}
    return [pa.field(prefix + name, types[kind]) for name, kind in ANALYSIS_COLUMNS.items()]


def append_analysis(table: pa.Table, cols: dict[str, list[Any]], prefix: str = "") -> pa.Table:
    """``table`` with the analysis columns appended."""
    import pyarrow as pa

    for field in analysis_fields(prefix):
        table = table.append_column(
            field, pa.array(cols[field.name[len(prefix) :]], type=field.type)
        )
    return table


def score_table(analyzer: Analyzer, table: pa.Table, text_col: str, prefix: str = "") -> pa.Table:
    """Score one table (every column kept, the analysis columns appended)."""
    texts = table.column(text_col).to_pylist()
    return append_analysis(table, score_batch(analyzer, texts), prefix)


# -- reading ------------------------------------------------------------------------------


def csv_header(path: Path) -> tuple[list[str], str]:
    """The header row and the delimiter of a CSV/TSV file."""
    with path.open("rb") as fh:
        bom = fh.read(3) == b"\xef\xbb\xbf"
    try:
        with path.open(encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
            sample = fh.read(65536)
    except UnicodeDecodeError:
        raise DataError(f"{path.name}: not UTF-8 text; convert it (e.g. iconv -t UTF-8)") from None
    first = sample.splitlines()[0] if sample.strip() else ""
    delimiter = (
        "\t" if path.suffix.lower() == ".tsv" or first.count("\t") > first.count(",") else ","
    )
    header = next(csv.reader([first], delimiter=delimiter), []) if first else []
    if not header:
        raise DataError(f"{path.name}: empty file (no header row)")
    return header, delimiter


@dataclass
class Source:
    """An input file opened for reading: its columns, row count and a batch reader."""

    path: Path
    fmt: str
    columns: list[str]
    schema: pa.Schema
    total_rows: int | None
    batches: Callable[[], Iterator[pa.RecordBatch]]


def open_source(path: Path, fmt: str | None = None) -> Source:
    """Open ``path`` for chunked reading (the JSONL reader loads the file whole)."""
    import pyarrow as pa

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    fmt = input_format(path, fmt)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            schema = pf.schema_arrow
            return Source(
                path,
                fmt,
                list(schema.names),
                schema,
                pf.metadata.num_rows,
                lambda: pf.iter_batches(batch_size=65536),
            )
        if fmt == "csv":
            import pyarrow.csv as pacsv

            header, delimiter = csv_header(path)
            schema = pa.schema([pa.field(name, pa.string()) for name in header])

            def csv_batches() -> Iterator[pa.RecordBatch]:
                reader = pacsv.open_csv(
                    path,
                    # the names from csv_header (a BOM stripped), the header row skipped
                    read_options=pacsv.ReadOptions(
                        block_size=1 << 22, column_names=header, skip_rows=1
                    ),
                    parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                    convert_options=pacsv.ConvertOptions(
                        column_types=dict.fromkeys(header, pa.string()),
                        strings_can_be_null=False,
                    ),
                )
                yield from reader

            return Source(path, fmt, header, schema, _count_lines(path) - 1, csv_batches)
        import pyarrow.json as pajson

        table = pajson.read_json(path, read_options=pajson.ReadOptions(block_size=1 << 24))
        return Source(
            path,
            fmt,
            list(table.schema.names),
            table.schema,
            table.num_rows,
            lambda: iter(table.to_batches()),
        )
    except pa.ArrowInvalid as exc:
        raise DataError(f"{path.name}: cannot be read as {fmt}: {exc}") from None


def _count_lines(path: Path) -> int:
    n = 0
    last = b"\n"
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def chunks(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``rows`` rows (the last may be shorter)."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == rows:
                yield pa.Table.from_batches(pending)
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending)


# -- the local engine ---------------------------------------------------------------------


def parts_dir(output: Path) -> Path:
    """Where the finished chunks of an interrupted run wait (next to the output)."""
    return output.parent / f".{output.name}.parts"


def _manifest(src: Source, *, text_col: str, prefix: str, model: str, chunk_rows: int) -> dict:
    stat = src.path.stat()
    return {
        "version": MANIFEST_VERSION,
        "input": str(src.path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "format": src.fmt,
        "text_column": text_col,
        "prefix": prefix,
        "model": model,
        "chunk_rows": chunk_rows,
    }


def _write_atomic(table: pa.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def score_file(
    src_path: str | Path,
    dst_path: str | Path,
    *,
    analyzer: Analyzer,
    text_col: str | None = None,
    in_format: str | None = None,
    out_format: str | None = None,
    prefix: str = "",
    chunk_rows: int = 5000,
    batch_size: int = 512,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int | None, int], None] | None = None,
) -> ScoreReport:
    """Score ``src_path`` into ``dst_path`` with ``analyzer``; resumable (see the module docstring).

    ``on_start(total_rows, rows_already_done)`` is called once before
    scoring (for a progress bar); ``progress(n)`` after each batch.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if chunk_rows < 1 or batch_size < 1:
        raise DataError("chunk_rows and batch_size must be at least 1")
    dst = Path(dst_path)
    ofmt = output_format(dst, out_format)
    src = open_source(Path(src_path), in_format)
    text_col = resolve_text_column(src.columns, text_col, name=src.path.name)
    check_no_clash(src.columns, prefix, name=src.path.name)
    if dst.resolve() == src.path.resolve():
        raise DataError(f"{dst}: the output would overwrite the input; choose another path")
    if dst.is_dir():
        raise DataError(f"{dst}: is a directory; give a file path for the output")
    dst.parent.mkdir(parents=True, exist_ok=True)
    report = ScoreReport(input=str(src.path), output=str(dst), engine="local", text_column=text_col)
    report.model = analyzer.version
    manifest = _manifest(
        src, text_col=text_col, prefix=prefix, model=analyzer.version, chunk_rows=chunk_rows
    )
    parts = parts_dir(dst)
    manifest_path = parts / "manifest.json"
    if parts.is_dir():
        try:
            previous = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if previous != manifest:
            changed = (
                sorted(k for k in manifest if previous.get(k) != manifest[k])
                if isinstance(previous, dict)
                else ["manifest"]
            )
            report.started_over = "changed since the interrupted run: " + ", ".join(changed)
            logger.warning("%s: starting over (%s)", dst, report.started_over)
            shutil.rmtree(parts)
    parts.mkdir(exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    done = sorted(p for p in parts.glob("part-*.parquet"))
    done_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in done)
    report.resumed_rows = done_rows
    if on_start is not None:
        on_start(src.total_rows, done_rows)
    t0 = time.perf_counter()
    out_schema = pa.schema(list(src.schema) + analysis_fields(prefix))
    n_parts = 0
    for index, chunk in enumerate(chunks(src.batches(), chunk_rows)):
        n_parts = index + 1
        part = parts / f"part-{index:06d}.parquet"
        if part.is_file():
            report.rows += chunk.num_rows
            continue
        pieces = []
        for start in range(0, chunk.num_rows, batch_size):
            piece = chunk.slice(start, batch_size)
            pieces.append(score_table(analyzer, piece, text_col, prefix))
            if progress is not None:
                progress(piece.num_rows)
        scored = pa.concat_tables(pieces) if pieces else chunk
        _write_atomic(scored.cast(out_schema), part)
        report.rows += chunk.num_rows
    report.seconds = time.perf_counter() - t0

    tmp = dst.with_name(f".{dst.name}.tmp")
    if ofmt == "parquet":
        with pq.ParquetWriter(tmp, out_schema) as writer:
            for index in range(n_parts):
                writer.write_table(pq.read_table(parts / f"part-{index:06d}.parquet"))
    else:
        with pacsv.CSVWriter(tmp, out_schema) as writer:
            for index in range(n_parts):
                writer.write_table(pq.read_table(parts / f"part-{index:06d}.parquet"))
    os.replace(tmp, dst)
    shutil.rmtree(parts)
    return report
