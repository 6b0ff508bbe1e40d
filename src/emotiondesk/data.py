"""Labelled data: read CSV, JSONL and Parquet files with ``text,label`` columns.

Every reader validates as it goes and names the row of anything wrong (row
numbers count the CSV header as row 1, so they match what a spreadsheet or
``sed -n`` shows; in JSONL they are line numbers; in Parquet the header-less
record number plus one). Labels go through a dataset's label map
(:data:`emotiondesk.labels.DATASET_LABEL_MAPS`) onto the canonical scheme;
rows whose label the map deliberately drops are skipped and counted.

Example:
    >>> data = load_dataset("reviews.csv", task="polarity", dataset="online_shopping_10_cats")  # doctest: +SKIP
    >>> data.texts[:1], data.labels[:1]                                                        # doctest: +SKIP
    (['物流很快，好评'], ['positive'])
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk.errors import DataError, LabelError
from emotiondesk.labels import map_label

FORMATS = ("csv", "jsonl", "parquet")


@dataclass
class LabelledData:
    """Texts, canonical labels, their source rows and any extra columns.

    ``rows[i]`` is the row number of ``texts[i]`` in the file; ``extra`` maps
    every other column to its values (aligned with ``texts``); ``report``
    counts what was dropped and why.
    """

    texts: list[str]
    labels: list[str]
    rows: list[int] = field(default_factory=list)
    extra: dict[str, list[Any]] = field(default_factory=dict)
    source: str = ""
    report: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def label_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels).items()))

    def subset(self, index: Sequence[int]) -> LabelledData:
        """The rows at ``index`` (in that order)."""
        idx = list(index)
        return LabelledData(
            texts=[self.texts[i] for i in idx],
            labels=[self.labels[i] for i in idx],
            rows=[self.rows[i] for i in idx] if self.rows else [],
            extra={k: [v[i] for i in idx] for k, v in self.extra.items()},
            source=self.source,
        )

    def split(self, fraction: float, *, seed: int = 42) -> tuple[LabelledData, LabelledData]:
        """Seeded stratified split: ``(rest, held_out)`` with ``fraction`` of each label held out."""
        held = stratified_split_index(self.labels, fraction, seed=seed)
        mask = np.zeros(len(self), dtype=bool)
        mask[held] = True
        return self.subset(np.flatnonzero(~mask).tolist()), self.subset(held.tolist())


def stratified_split_index(labels: Sequence[str], fraction: float, *, seed: int = 42) -> np.ndarray:
    """Indices of a seeded stratified sample of ``fraction`` of each label (sorted).

    A label with at least two rows keeps one row on each side.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"split fraction must be between 0 and 1, not {fraction}")
    rng = np.random.default_rng(seed)
    arr = np.asarray(labels)
    chosen: list[np.ndarray] = []
    for label in sorted(set(labels)):
        members = np.flatnonzero(arr == label)
        k = round(len(members) * fraction)
        k = min(max(k, 1), len(members) - 1) if len(members) >= 2 else 0
        if k:
            chosen.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=int)


def detect_format(path: Path) -> str:
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if suffixes.endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 (bad byte at offset {exc.start}): convert it first, e.g. "
            f"`iconv -f GBK -t UTF-8 {path} > {path.stem}.utf8{path.suffix}`",
            code="bad_encoding",
        ) from None


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, Any]], int]:
    text = _decode(path, path.read_bytes())
    if "\x00" in text:
        raise DataError(f"{path} contains NUL bytes: it is not a text CSV file", code="bad_file")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        records = list(reader)
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV near line {reader.line_num}: {exc}") from None
    return list(reader.fieldnames or []), records, 2


def _read_jsonl(path: Path) -> tuple[list[str], list[dict[str, Any]], int]:
    text = _decode(path, path.read_bytes())
    records: list[dict[str, Any]] = []
    columns: dict[str, None] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            records.append({})  # keeps numbering; dropped as empty later
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {lineno} is not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}: line {lineno} is not a JSON object")
        columns.update(dict.fromkeys(obj))
        records.append(obj)
    return list(columns), records, 1


def _read_parquet(path: Path) -> tuple[list[str], list[dict[str, Any]], int]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            "reading Parquet needs pyarrow: pip install 'emotiondesk[train]' (or pyarrow), "
            "or convert the file to CSV",
            code="missing_dependency",
        ) from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path} is not a readable Parquet file: {exc}") from None
    return list(table.column_names), table.to_pylist(), 2


def read_records(path: str | Path) -> tuple[list[str], list[dict[str, Any]], int]:
    """Read a file's columns and records; returns (columns, records, first row number)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file {str(p)!r} does not exist", code="file_not_found")
    if not p.is_file():
        raise DataError(f"{str(p)!r} is not a file")
    fmt = detect_format(p)
    if fmt == "jsonl":
        return _read_jsonl(p)
    if fmt == "parquet":
        return _read_parquet(p)
    return _read_csv(p)


def load_dataset(
    path: str | Path,
    *,
    task: str,
    dataset: str = "canonical",
    text_column: str = "text",
    label_column: str = "label",
    drop_duplicates: bool = True,
    require_labels: bool = True,
    row_filter: Callable[[dict[str, Any]], bool] | None = None,
) -> LabelledData:
    """Read a labelled file and map its labels onto ``task``'s canonical scheme.

    Args:
        path: a ``.csv``, ``.jsonl`` (or ``.json`` lines) or ``.parquet`` file.
        task: ``polarity`` or ``emotion``.
        dataset: whose label map to apply (``canonical`` = canonical names;
            see :data:`emotiondesk.labels.DATASET_LABEL_MAPS`).
        text_column, label_column: the column names.
        drop_duplicates: drop exact repeats of (text, label); a text seen
            with two different labels is kept both times (and counted).
        require_labels: ``False`` allows a file without a label column
            (labels are then empty strings).
        row_filter: keep only the records (dicts of column -> value) for
            which it returns true (counted as ``filtered``).

    Raises:
        DataError: missing file, wrong encoding, no text column, malformed rows.
        LabelError: a label the map does not know (the message names the row).
    """
    columns, records, first_row = read_records(path)
    if not columns:
        raise DataError(f"{path} is empty: no header row and no records", code="empty_file")
    if text_column not in columns:
        found = ", ".join(repr(c) for c in columns[:10])
        raise DataError(
            f"{path} has no {text_column!r} column (found: {found}); "
            f"name the text column with --text-col, e.g. --text-col {columns[0]!r}",
            code="missing_column",
        )
    has_label = label_column in columns
    if require_labels and not has_label:
        found = ", ".join(repr(c) for c in columns[:10])
        raise DataError(
            f"{path} has no {label_column!r} column (found: {found}): name the column of "
            f"the {task} labels with --label-col, or add one",
            code="missing_column",
        )
    extra_cols = [c for c in columns if c not in (text_column, label_column)]
    out = LabelledData(texts=[], labels=[], rows=[], extra={c: [] for c in extra_cols})
    out.source = str(path)
    report = Counter({"read": 0, "empty_text": 0, "duplicate": 0, "dropped_label": 0})
    seen: dict[str, str] = {}
    conflicts = 0
    for i, rec in enumerate(records):
        row = first_row + i
        if not rec:
            continue
        report["read"] += 1
        if row_filter is not None and not row_filter(rec):
            report["filtered"] += 1
            continue
        raw_text = rec.get(text_column)
        text = "" if raw_text is None else str(raw_text)
        if not text.strip():
            report["empty_text"] += 1
            continue
        if has_label:
            raw_label = rec.get(label_column)
            if raw_label is None or str(raw_label).strip() == "":
                raise LabelError(
                    f"{path}: row {row} has an empty {label_column!r}; fill it in or drop the row"
                )
            label = map_label(raw_label, task=task, dataset=dataset, row=row)
            if label is None:
                report["dropped_label"] += 1
                continue
        else:
            label = ""
        if drop_duplicates:
            previous = seen.get(text)
            if previous is not None:
                if previous == label:
                    report["duplicate"] += 1
                    continue
                conflicts += 1
            seen[text] = label
        out.texts.append(text)
        out.labels.append(label)
        out.rows.append(row)
        for c in extra_cols:
            out.extra[c].append(rec.get(c))
    report["conflicting_labels"] = conflicts
    report["kept"] = len(out.texts)
    out.report = dict(report)
    if not out.texts:
        raise DataError(f"{path} has no usable rows (empty texts or dropped labels only)")
    return out
