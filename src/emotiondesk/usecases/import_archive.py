"""Import archives of conversations or product reviews (CSV / JSONL) into the database.

Each row is one message: ``text`` (or ``review`` / ``content`` / ``message``)
and optionally ``timestamp``, ``channel``, ``product_id`` (or ``product``),
``category`` (or ``cat``), ``conversation_id``, ``role`` (customer / agent),
``customer_id``, ``agent_id``, ``rating``. Rows with a conversation id are
appended to that conversation in file order; a row without one (a review) is
a conversation of its own.

Texts are PII-masked, then analysed in batches with the model pack (the
first half of :mod:`~emotiondesk.usecases.ingest_message`, the same
function), and stored in bulk with ``created_at`` = the archived timestamp
(now, if absent), so that trends follow the archive's own time. Identifiers are derived from the
source name and the row, so running the same import again (after an
interruption, say) skips what is stored and continues: the import is
resumable and idempotent. Everything goes into one workspace (``workspace``,
default: the default one); in any other workspace the identifiers are derived
from the workspace name as well, so two workspaces importing the same file
get conversations of their own. Rejected rows are counted by reason and can be
written to a CSV.

Example:
    >>> report = import_archive("reviews.csv", analyzer=load_analyzer(), sessions=factory)  # doctest: +SKIP
    >>> report.imported, report.rejected                                                   # doctest: +SKIP
    (50164, 0)
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from emotiondesk.analyzer import Analyzer
from emotiondesk.config import MAX_TEXT_CHARS, get_settings
from emotiondesk.errors import DataError
from emotiondesk.storage.repository import check_workspace, to_utc
from emotiondesk.storage.tables import DEFAULT_WORKSPACE, Conversation, Message, new_id
from emotiondesk.text.pii import MaskResult, mask_pii_detailed
from emotiondesk.text.privacy import Privacy
from emotiondesk.usecases.score_files import input_format
from emotiondesk.usecases.scoring import BatchScorer, LocalScorer, analysis_record

logger = logging.getLogger(__name__)

ALIASES: dict[str, tuple[str, ...]] = {
    "text": (
        "text",
        "review",
        "content",
        "message",
        "comment",
        "body",
        "评论",
        "内容",
        "文本",
        "评价",
        "消息",
    ),
    "timestamp": ("timestamp", "time", "created_at", "date", "datetime", "sent_at", "时间", "日期"),
    "channel": ("channel", "source_channel", "渠道"),
    "product_id": ("product_id", "product", "sku", "item_id", "商品", "商品id"),
    "category": ("category", "cat", "product_category", "品类", "类目", "分类"),
    "conversation_id": (
        "conversation_id",
        "conversation",
        "session_id",
        "dialog_id",
        "thread_id",
        "会话",
        "会话id",
    ),
    "role": ("role", "speaker", "sender", "角色"),
    "customer_id": ("customer_id", "customer", "user_id", "客户", "用户"),
    "agent_id": ("agent_id", "agent", "客服"),
    "rating": ("rating", "stars", "score_given", "评分", "星级"),
}
ROLES = {
    "customer": "customer",
    "user": "customer",
    "buyer": "customer",
    "client": "customer",
    "agent": "agent",
    "staff": "agent",
    "seller": "agent",
    "support": "agent",
    "bot": "agent",
}
FORMATS = ("csv", "jsonl")


@dataclass
class ImportReport:
    """What an import did (``--json`` prints :meth:`to_dict`)."""

    file: str
    source: str
    rows: int = 0
    imported: int = 0
    already_stored: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    rejected_examples: list[dict[str, Any]] = field(default_factory=list)
    conversations: int = 0
    seconds: float = 0.0
    surges: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "source": self.source,
            "rows": self.rows,
            "imported": self.imported,
            "already_stored": self.already_stored,
            "rejected": self.rejected,
            "rejected_reasons": dict(self.reasons),
            "rejected_examples": self.rejected_examples,
            "conversations": self.conversations,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "surges": self.surges,
        }


@dataclass
class _Row:
    rowno: int
    text: str
    fields: dict[str, Any]


def detect_format(path: Path, fmt: str | None = None) -> str:
    """``csv`` or ``jsonl``: ``fmt`` or the file's extension."""
    return input_format(path, fmt, formats=FORMATS, option="--format")


def parse_column_map(pairs: list[str] | None) -> dict[str, str]:
    """``["text=评论内容", "timestamp=time"]`` -> ``{"text": "评论内容", ...}`` (checked)."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        field_name, sep, column = pair.partition("=")
        field_name, column = field_name.strip(), column.strip()
        if not sep or not field_name or not column:
            raise DataError(f"--column {pair!r}: write FIELD=COLUMN, e.g. --column text=评论内容")
        if field_name not in ALIASES:
            raise DataError(
                f"--column {pair!r}: unknown field {field_name!r}; fields: {', '.join(ALIASES)}"
            )
        out[field_name] = column
    return out


def _columns(keys: list[str], mapping: dict[str, str] | None = None) -> dict[str, str]:
    lower = {k.lower().strip(): k for k in keys if k is not None}
    out = {}
    for canon, names in ALIASES.items():
        for n in names:
            if n in lower:
                out[canon] = lower[n]
                break
    out.update(mapping or {})
    return out


def iter_rows(
    path: Path, fmt: str, mapping: dict[str, str] | None = None
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """``(row number, record or None, error or None)``; row numbers as a spreadsheet shows them."""
    with path.open("rb") as fh:
        raw = fh.read(4)
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    with path.open(encoding=encoding, errors="strict", newline="") as fh:
        try:
            if fmt == "csv":
                sample = fh.read(4096)
                fh.seek(0)
                delimiter = (
                    "\t"
                    if path.suffix.lower() == ".tsv" or sample.count("\t") > sample.count(",")
                    else ","
                )
                reader = csv.DictReader(fh, delimiter=delimiter)
                if not reader.fieldnames:
                    raise DataError(f"{path.name}: empty file (no header row)")
                missing = [c for c in (mapping or {}).values() if c not in reader.fieldnames]
                if missing:
                    raise DataError(
                        f"{path.name}: no column {missing[0]!r} (found: "
                        f"{', '.join(reader.fieldnames)})"
                    )
                if "text" not in _columns(list(reader.fieldnames), mapping):
                    raise DataError(
                        f"{path.name}: no text column (expected one of: {', '.join(ALIASES['text'])}); "
                        f"found: {', '.join(reader.fieldnames)}; name it with --column text=COLUMN"
                    )
                for i, rec in enumerate(reader, start=2):
                    if None in rec:
                        yield i, None, "more fields than the header"
                    else:
                        yield i, rec, None
            else:
                for i, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield i, None, f"invalid JSON ({exc.msg})"
                        continue
                    if not isinstance(rec, dict):
                        yield i, None, "not a JSON object"
                        continue
                    yield i, rec, None
        except UnicodeDecodeError:
            raise DataError(
                f"{path.name}: not UTF-8 text; convert it (e.g. iconv -t UTF-8)"
            ) from None


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601, ``YYYY-MM-DD HH:MM[:SS]``, ``YYYY/MM/DD ...`` or Unix seconds; naive = UTC."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = float(value)
        return datetime.fromtimestamp(v / 1000 if v > 1e11 else v, tz=UTC)
    s = str(value).strip().replace("/", "-")
    if s.replace(".", "", 1).isdigit():
        return parse_timestamp(float(s))
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)  # raises ValueError
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _stable_id(source: str, key: str) -> str:
    return hashlib.sha1(f"{source}\x00{key}".encode()).hexdigest()[:32]


def _clean(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s[:limit] if s else None


def import_archive(
    path: str | Path,
    *,
    analyzer: Analyzer | None = None,
    sessions: sessionmaker[Session],
    scorer: BatchScorer | None = None,
    fmt: str | None = None,
    source: str | None = None,
    channel: str | None = None,
    category: str | None = None,
    batch_size: int = 256,
    max_chars: int = MAX_TEXT_CHARS,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
    rejects_to: Path | None = None,
    columns: dict[str, str] | None = None,
    privacy: Privacy | None = None,
    workspace: str = DEFAULT_WORKSPACE,
) -> ImportReport:
    """Import ``path``; see the module docstring. ``progress(n)`` is called per batch of rows.

    ``columns`` maps fields to the file's column names where the built-in aliases
    (:data:`ALIASES`) do not find them, e.g. ``{"text": "评论内容"}``.
    ``scorer`` analyses the batches (default: ``analyzer`` in this process; a
    :class:`~emotiondesk.usecases.distributed.RayScorer` analyses them on Ray,
    several batches in flight, stored in file order).
    ``privacy`` masks the stored identifiers and short fields like the service
    does (default: from the settings, so ``EMOTIONDESK_PSEUDONYMIZE_IDS``
    applies to imports too). ``workspace``: where the rows go.
    """
    workspace = check_workspace(workspace)
    if privacy is None:
        privacy = Privacy.from_settings(get_settings())
    if scorer is None:
        if analyzer is None:
            raise ValueError("import_archive needs an analyzer or a scorer")
        scorer = LocalScorer(analyzer)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    fmt = detect_format(path, fmt)
    source = source or path.name
    # the default workspace keeps the ids of imports made before workspaces existed
    id_source = source if workspace == DEFAULT_WORKSPACE else f"{workspace}\x00{source}"
    report = ImportReport(file=str(path), source=source)
    reject_writer = None
    reject_fh = None
    if rejects_to is not None:
        reject_fh = rejects_to.open("w", encoding="utf-8", newline="")
        reject_writer = csv.writer(reject_fh)
        reject_writer.writerow(["row", "reason", "record"])
    t0 = time.perf_counter()
    batch: list[_Row] = []
    seen_convs: set[str] = set()
    in_flight: deque[tuple[_Prepared, Any]] = deque()

    def flush(rows: list[_Row]) -> None:
        prepared = _prepare(
            rows,
            sessions=sessions,
            workspace=workspace,
            id_source=id_source,
            report=report,
            seen=seen_convs,
        )
        if prepared is not None:
            in_flight.append((prepared, scorer.submit([m.text for m in prepared.masked])))
        while len(in_flight) >= scorer.depth:
            done, handle = in_flight.popleft()
            _store(
                done,
                scorer.result(handle),
                sessions=sessions,
                workspace=workspace,
                source=source,
                report=report,
            )
        if progress:
            progress(len(rows))

    def reject(rowno: int, reason: str, rec: Any) -> None:
        report.rejected += 1
        report.reasons[reason.split(" (")[0]] += 1
        if len(report.rejected_examples) < 20:
            report.rejected_examples.append({"row": rowno, "reason": reason})
        if reject_writer is not None:
            reject_writer.writerow(
                [rowno, reason, json.dumps(rec, ensure_ascii=False, default=str)[:2000]]
            )

    cols: dict[str, str] | None = None
    try:
        for rowno, rec, error in iter_rows(path, fmt, columns):
            if limit is not None and report.rows >= limit:
                break
            report.rows += 1
            if error is not None or rec is None:
                reject(rowno, error or "unreadable row", rec)
                continue
            if fmt == "jsonl" or cols is None:
                cols = _columns(list(rec.keys()), columns)
            get = {c: rec.get(k) for c, k in cols.items()}
            text = get.get("text")
            if text is None or not str(text).strip():
                reject(rowno, "empty or missing text", rec)
                continue
            text = str(text)
            if len(text) > max_chars:
                reject(rowno, f"text longer than {max_chars} characters", rec)
                continue
            try:
                ts = parse_timestamp(get.get("timestamp"))
            except (ValueError, OverflowError, OSError):
                reject(rowno, f"unreadable timestamp ({str(get.get('timestamp'))[:40]!r})", rec)
                continue
            role_raw = (_clean(get.get("role"), 32) or "customer").lower()
            role = ROLES.get(role_raw)
            if role is None:
                reject(rowno, f"unknown role ({role_raw!r}; use customer or agent)", rec)
                continue
            rating = get.get("rating")
            if rating not in (None, ""):
                try:
                    rating = float(rating)
                except (TypeError, ValueError):
                    reject(rowno, f"rating is not a number ({str(rating)[:20]!r})", rec)
                    continue
            else:
                rating = None
            conv_key = _clean(get.get("conversation_id"), 256)
            fields = {
                "timestamp": ts,
                "role": role,
                "rating": rating,
                "conversation_key": conv_key or f"row:{rowno}",
                "channel": privacy.text(_clean(get.get("channel"), 64) or channel),
                "category": privacy.text(_clean(get.get("category"), 128) or category),
                "product_id": privacy.text(_clean(get.get("product_id"), 128)),
                "customer_id": privacy.identifier(_clean(get.get("customer_id"), 128)),
                "agent_id": privacy.identifier(_clean(get.get("agent_id"), 128)),
            }
            batch.append(_Row(rowno, text, fields))
            if len(batch) >= batch_size:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
        while in_flight:
            done, handle = in_flight.popleft()
            _store(
                done,
                scorer.result(handle),
                sessions=sessions,
                workspace=workspace,
                source=source,
                report=report,
            )
    finally:
        if reject_fh is not None:
            reject_fh.close()
        report.seconds = time.perf_counter() - t0
        report.conversations = len(seen_convs)
    return report


@dataclass
class _Prepared:
    """A batch's rows not stored yet, masked, waiting for their analysis."""

    todo: list[tuple[_Row, tuple[str, str]]]
    masked: list[MaskResult]


def _prepare(
    batch: list[_Row],
    *,
    sessions: sessionmaker[Session],
    workspace: str,
    id_source: str,
    report: ImportReport,
    seen: set[str],
) -> _Prepared | None:
    """The rows of ``batch`` not stored yet (by their stable ids), PII-masked; None if none."""
    conv_ids = {
        r.fields["conversation_key"]: _stable_id(id_source, r.fields["conversation_key"])
        for r in batch
    }
    client_ids = [(conv_ids[r.fields["conversation_key"]], f"import:{r.rowno}") for r in batch]
    with sessions() as session:
        existing = (
            set(
                session.execute(
                    select(Message.conversation_id, Message.client_message_id).where(
                        Message.workspace == workspace,
                        tuple_(Message.conversation_id, Message.client_message_id).in_(client_ids),
                    )
                ).all()
            )
            if client_ids
            else set()
        )
    todo = [(r, cid) for r, cid in zip(batch, client_ids, strict=True) if cid not in existing]
    report.already_stored += len(batch) - len(todo)
    seen.update(conv_ids.values())
    if not todo:
        return None
    return _Prepared(todo, [mask_pii_detailed(r.text) for r, _ in todo])


def _store(
    prepared: _Prepared,
    cols: dict[str, list[Any]],
    *,
    sessions: sessionmaker[Session],
    workspace: str,
    source: str,
    report: ImportReport,
) -> None:
    """Store one analysed batch in one transaction (in ``workspace``)."""
    todo = prepared.todo
    with sessions() as session:
        wanted = sorted({cid[0] for _r, cid in todo})
        convs = {
            c.id: c
            for c in session.scalars(
                select(Conversation).where(
                    Conversation.id.in_(wanted), Conversation.workspace == workspace
                )
            )
        }
        next_seq = dict(
            session.execute(
                select(Message.conversation_id, func.max(Message.seq))
                .where(Message.conversation_id.in_(wanted), Message.workspace == workspace)
                .group_by(Message.conversation_id)
            ).all()
        )
        now = datetime.now(UTC)
        new_convs: dict[str, dict[str, Any]] = {}
        touched: dict[str, tuple[int, datetime]] = {}
        messages: list[dict[str, Any]] = []
        for i, ((row, (conv_id, client_id)), m) in enumerate(
            zip(todo, prepared.masked, strict=True)
        ):
            f = row.fields
            when = f["timestamp"] or now
            if conv_id not in convs and conv_id not in new_convs:
                new_convs[conv_id] = {
                    "id": conv_id,
                    "workspace": workspace,
                    "channel": f["channel"],
                    "customer_id": f["customer_id"],
                    "product_id": f["product_id"],
                    "category": f["category"],
                    "agent_id": f["agent_id"],
                    "meta": {"source": source, "imported": True}
                    | ({"rating": f["rating"]} if f["rating"] is not None else {}),
                    "state": {},
                    "status": "closed",
                    "message_count": 0,
                    "created_at": when,
                    "updated_at": when,
                }
            seq = int(next_seq.get(conv_id) or 0) + 1
            next_seq[conv_id] = seq
            analysis = analysis_record(cols, i, m.text)
            if f["rating"] is not None:
                analysis["rating"] = f["rating"]
            messages.append(
                {
                    "id": new_id(),
                    "conversation_id": conv_id,
                    "workspace": workspace,
                    "seq": seq,
                    "client_message_id": client_id,
                    "role": f["role"],
                    "text": m.text,
                    "raw_text": None,
                    "language": analysis["language"],
                    "polarity": analysis["polarity"],
                    "score": analysis["score"],
                    "emotion": analysis["emotion"],
                    "analysis": analysis,
                    "state": None,
                    "pii": m.counts,
                    "model_version": analysis["model"],
                    "sent_at": f["timestamp"],
                    "created_at": when,
                }
            )
            prev = touched.get(conv_id)
            touched[conv_id] = (seq, max(when, prev[1]) if prev else when)
        if new_convs:
            for c in new_convs.values():
                c["message_count"], c["updated_at"] = touched[c["id"]]
            session.execute(insert(Conversation), list(new_convs.values()))
        for conv_id, conv in convs.items():
            if conv_id in touched:
                seq, last = touched[conv_id]
                conv.message_count = seq
                prev_last = to_utc(conv.updated_at)
                if prev_last is None or last > prev_last:
                    conv.updated_at = last
        session.execute(insert(Message), messages)
        session.commit()
        report.imported += len(todo)


def count_rows(path: Path, fmt: str) -> int:
    """Data rows in the file (for the progress bar's total)."""
    n = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return max(0, n - 1) if fmt == "csv" else n
