"""Export the labels agents' corrections settle: ``emotiondesk feedback export --out FILE``.

One row per corrected message and task: ``text, label`` first (what
``emotiondesk train`` reads), then the provenance: task, language, message and
conversation ids, who corrected it and when, the label the model had given
(``old_label``) and its version, the correction that holds and all of them,
and whether the corrections conflicted (``conflict``, ``labels_given``; the
rule: :data:`emotiondesk.storage.feedback.CONFLICT_RULE`).

The format follows the file's extension: ``.csv``, ``.jsonl`` or ``.parquet``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from emotiondesk.errors import InvalidInputError
from emotiondesk.storage import feedback as store

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
COLUMNS = list(
    store.ResolvedLabel(
        message_id="",
        conversation_id="",
        text="",
        language=None,
        task="polarity",
        label="",
        old_label=None,
        author=None,
        created_at=datetime(2000, 1, 1),
        model_version=None,
        feedback_id=0,
        feedback_ids=(),
        labels=(),
        conflict=False,
        used_for_training=False,
    ).to_dict()
)


@dataclass(frozen=True)
class ExportReport:
    path: Path
    format: str
    rows: int
    by_task: dict[str, int]
    conflicts: list[store.ResolvedLabel]


def export_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInputError(
            f"cannot tell the format of {path.name!r}: name it .csv, .jsonl or .parquet"
        )
    return fmt


def export_feedback(
    session: Session,
    *,
    out: Path,
    workspace: str | None,
    task: str | None = None,
    language: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    unused_only: bool = False,
) -> ExportReport:
    """Write the settled labels (both tasks unless ``task``) of ``workspace`` (``None``:
    every workspace's) to ``out``; what was written."""
    fmt = export_format(out)
    store.check_task(task)
    rows: list[store.ResolvedLabel] = []
    by_task: dict[str, int] = {}
    for name in [task] if task else list(store.TASKS):
        found = store.training_rows(
            session,
            workspace=workspace,
            task=name,
            language=language,
            created_after=created_after,
            created_before=created_before,
            unused_only=unused_only,
        )
        by_task[name] = len(found)
        rows.extend(found)
    records = [r.to_dict() for r in rows]
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(records)
    elif fmt == "jsonl":
        with out.open("w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(records) if records else _empty_table()
        pq.write_table(table, out)
    return ExportReport(
        path=out,
        format=fmt,
        rows=len(rows),
        by_task=by_task,
        conflicts=[r for r in rows if r.conflict],
    )


def _empty_table():  # type: ignore[no-untyped-def]
    import pyarrow as pa

    types = {"conflict": pa.bool_(), "used_for_training": pa.bool_(), "feedback_id": pa.int64()}
    return pa.table({c: pa.array([], type=types.get(c, pa.string())) for c in COLUMNS})
