"""``emotiondesk learn``: a candidate model version from the champion plus the agents' corrections.

The fast tier: for every language and task with enough corrections, a
:class:`~emotiondesk.models.corrected.CorrectedClassifier` stacked on the
champion's model (the champion's own base when the champion is already a
correction, so corrections do not pile up: each learn refits on every
correction so far). It needs only the champion and the feedback rows (plus
any base training rows given with ``--data``), never the public datasets, and
takes seconds to minutes.

A deterministic slice of the feedback is held back and never trained on: a
row is held back when a hash of its normalised text falls in the first
``holdback`` fraction (a text, not an id, so a message corrected twice or the
same text sent twice never lands on both sides). The gate scores it.

Rows whose text is in the customer-service turn set are dropped (that set is
evaluation only; see :mod:`emotiondesk.training.heldout`).

The candidate is a new registry version (``versions/vN``, a pack: the
champion's models with the corrected routes replaced) with ``card.json`` and
``MODEL_CARD.md``: the parent version, the base models, the feedback ids
trained on and held back, the extra data and the fitted figures. It becomes
the registry's challenger.

Example:
    >>> result = build_candidate(Registry("registry"), rows, by="ops")  # doctest: +SKIP
    >>> result.version, result.trained_ids[:3]                            # doctest: +SKIP
    ('v2', [1, 2, 4])
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emotiondesk.data import LabelledData
from emotiondesk.errors import InvalidInputError
from emotiondesk.labels import SCHEMES
from emotiondesk.models.base import load_model, read_config
from emotiondesk.models.corrected import CorrectedClassifier
from emotiondesk.pack import LANGUAGES, read_pack
from emotiondesk.registry import (
    CARD_FILE,
    CARD_MARKDOWN,
    Registry,
    copy_pack,
    current_user,
    now,
    write_json,
)
from emotiondesk.text import detect_language
from emotiondesk.text.normalize import normalize
from emotiondesk.training.heldout import is_heldout

logger = logging.getLogger(__name__)

#: Share of the feedback held back for the gate (by a hash of the text).
HOLDBACK_FRACTION = 0.2
#: A language/task needs at least this many training rows to get a correction model.
MIN_ROWS = 5
TIER = "fast: n-gram correction stacked on the champion's model (models/corrected.py)"

#: Called at the start of each route (``"zh/polarity: reading"``) and before each fit.
Progress = Callable[[str], None]


@dataclass(frozen=True)
class FeedbackRow:
    """One message's corrected labels (``None``: that task was not corrected).

    ``ids``: the feedback rows behind it (a message corrected twice: the
    latest correction of each task counts, see ``storage.learning``).
    """

    id: int
    message_id: str
    text: str
    language: str | None
    polarity: str | None = None
    emotion: str | None = None
    ids: tuple[int, ...] = ()

    @property
    def feedback_ids(self) -> tuple[int, ...]:
        return self.ids or (self.id,)

    def label(self, task: str) -> str | None:
        return self.polarity if task == "polarity" else self.emotion


@dataclass(frozen=True)
class ExtraData:
    """Base training rows for one task (``--data TASK:FILE``)."""

    task: str
    data: LabelledData


@dataclass
class LearnResult:
    """What :func:`build_candidate` made."""

    version: str
    path: Path
    parent: str
    card: dict[str, Any]
    trained_ids: list[int] = field(default_factory=list)
    held_back_ids: list[int] = field(default_factory=list)


def is_held_back(text: str, fraction: float = HOLDBACK_FRACTION) -> bool:
    """Whether a feedback text belongs to the held-back slice (deterministic)."""
    digest = hashlib.sha256(("holdback\x00" + normalize(text)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < fraction


def split_feedback(
    rows: Sequence[FeedbackRow], fraction: float = HOLDBACK_FRACTION
) -> tuple[list[FeedbackRow], list[FeedbackRow]]:
    """``(train, held back)``."""
    train, held = [], []
    for row in rows:
        (held if is_held_back(row.text, fraction) else train).append(row)
    return train, held


def row_language(row: FeedbackRow, fallback: str) -> str:
    lang = row.language if row.language in LANGUAGES else detect_language(row.text)
    return lang if lang in LANGUAGES else fallback


def build_candidate(
    registry: Registry,
    feedback: Sequence[FeedbackRow],
    *,
    data: Sequence[ExtraData] = (),
    anchors: Sequence[tuple[str, str | None]] = (),
    holdback: float = HOLDBACK_FRACTION,
    min_rows: int = MIN_ROWS,
    by: str = "",
    progress: Progress | None = None,
) -> LearnResult:
    """Fit correction models on the feedback and register them as a new version (the challenger).

    ``anchors``: ``(text, language)`` of stored messages nobody corrected; the
    candidate keeps the champion's reading of them as far as the corrections
    allow (see :class:`~emotiondesk.models.corrected.CorrectedClassifier`).

    Raises:
        InvalidInputError: no language/task has ``min_rows`` rows to learn from.
    """
    if not 0.0 <= holdback < 1.0:
        raise InvalidInputError(f"holdback must be in [0, 1), got {holdback}")
    parent = registry.champion
    parent_dir = registry.version_dir(parent)
    spec = read_pack(parent_dir)
    train, held = split_feedback(feedback, holdback)
    in_turn_set = [r for r in train if is_heldout(r.text)]
    if in_turn_set:
        logger.warning(
            "%d feedback rows are texts of the customer-service turn set: not trained on",
            len(in_turn_set),
        )
        train = [r for r in train if not is_heldout(r.text)]
    extra_rows: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for extra in data:
        for text, label in zip(extra.data.texts, extra.data.labels, strict=True):
            if is_heldout(text):
                continue
            lang = detect_language(text)
            lang = lang if lang in spec.routes else spec.fallback_language
            extra_rows.setdefault((lang, extra.task), []).append((text, label))

    corrected = {r.text for r in feedback}
    anchor_texts: dict[str, list[str]] = {}
    for text, language in anchors:
        if text in corrected or is_heldout(text):
            continue
        lang = language if language in LANGUAGES else detect_language(text)
        lang = lang if lang in spec.routes else spec.fallback_language
        anchor_texts.setdefault(lang, []).append(text)

    fitted: dict[tuple[str, str], tuple[CorrectedClassifier, list[int]]] = {}
    skipped: dict[str, str] = {}
    bases: dict[str, str] = {}
    for lang, tasks in spec.routes.items():
        for task, rel in tasks.items():
            key = f"{lang}/{task}"
            if progress:
                progress(f"{key}: reading")
            rows = [
                r
                for r in train
                if r.label(task) and row_language(r, spec.fallback_language) == lang
            ]
            texts = [r.text for r in rows] + [t for t, _ in extra_rows.get((lang, task), [])]
            labels = [str(r.label(task)) for r in rows] + [
                y for _, y in extra_rows.get((lang, task), [])
            ]
            if not rows:
                skipped[key] = "no corrections"
                continue
            if len(texts) < min_rows:
                skipped[key] = f"{len(texts)} rows < {min_rows}"
                continue
            routed = (spec.root / rel).resolve()
            base_dir = routed
            cfg = read_config(routed)
            if cfg.get("model_type") == "corrected":  # refit on the champion's own base
                base_dir = (routed.parent / str(cfg["base"])).resolve()
            if progress:
                progress(f"{key}: fitting on {len(texts)} rows (base {base_dir.name})")
            base_model = load_model(base_dir)
            unknown = sorted(set(labels) - set(SCHEMES[task]))
            if unknown:
                raise InvalidInputError(f"unknown {task} labels in the feedback: {unknown}")
            clf = CorrectedClassifier(base_dir.name, language=lang, labels=SCHEMES[task])
            clf.set_base(base_model).fit(texts, labels, anchors=anchor_texts.get(lang, []))
            fitted[(lang, task)] = (clf, [i for r in rows for i in r.feedback_ids])
            bases[key] = base_dir.name
    if not fitted:
        reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "no routes"
        raise InvalidInputError(f"nothing to learn from ({reasons})")

    trained_ids = sorted({i for _, ids in fitted.values() for i in ids})
    with registry.new_version() as (version, staging):
        replace: dict[tuple[str, str], str] = {}
        models: dict[str, Any] = {}
        for (lang, task), (clf, ids) in fitted.items():
            name = f"{lang}-{task}-{version}"
            clf.save_pretrained(staging / name)
            replace[(lang, task)] = name
            models[f"{lang}/{task}"] = {
                "model": name,
                "base": bases[f"{lang}/{task}"],
                "feedback_rows": len(ids),
                "extra_rows": len(extra_rows.get((lang, task), [])),
                **clf.training_info_,
            }
        copy_pack(
            parent_dir,
            staging,
            version=version,
            name=spec.name,
            replace=replace,
            extra={"parent": parent},
        )
        card = {
            "version": version,
            "parent": parent,
            "parent_model": f"{spec.name}-{spec.version}",
            "created": now(),
            "by": by or current_user(),
            "tier": TIER,
            "models": models,
            "unchanged": skipped,
            "feedback": {
                "rows": len(feedback),
                "train_ids": trained_ids,
                "held_back_ids": sorted(i for r in held for i in r.feedback_ids),
                "holdback_fraction": holdback,
                "holdback_rule": "sha256 of the normalised text < fraction (never trained on)",
                "dropped_in_turn_set": sorted(i for r in in_turn_set for i in r.feedback_ids),
            },
            "data": [{"task": e.task, "source": e.data.source, "rows": len(e.data)} for e in data],
        }
        write_json(staging / CARD_FILE, card)
        (staging / CARD_MARKDOWN).write_text(card_markdown(card), encoding="utf-8")
    registry.set_challenger(version, by=card["by"], reason=f"learned from {parent}")
    return LearnResult(
        version=version,
        path=registry.version_dir(version),
        parent=parent,
        card=card,
        trained_ids=trained_ids,
        held_back_ids=card["feedback"]["held_back_ids"],
    )


def card_markdown(card: dict[str, Any]) -> str:
    """The model card in words."""
    fb = card["feedback"]
    extra = ", ".join(f"{d['source']} ({d['task']}, {d['rows']} rows)" for d in card["data"])
    lines = [
        f"# Model version {card['version']}",
        "",
        f"- parent: {card['parent']} ({card['parent_model']})",
        f"- created: {card['created']} by {card['by']}",
        f"- tier: {card['tier']}",
        f"- feedback rows: {fb['rows']} read, {len(fb['train_ids'])} trained on, "
        f"{len(fb['held_back_ids'])} held back for the gate ({fb['holdback_rule']}), "
        f"{len(fb['dropped_in_turn_set'])} dropped (customer-service turn set texts)",
        f"- extra data: {extra or 'none'}",
        "",
        "| route | model | base | feedback rows | extra rows | C | train acc. base -> corrected |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for route, m in card["models"].items():
        lines.append(
            f"| {route} | {m['model']} | {m['base']} | {m['feedback_rows']} | {m['extra_rows']} "
            f"| {m['C']} | {m['train_accuracy_base']} -> {m['train_accuracy']} |"
        )
    if card["unchanged"]:
        lines += ["", "Unchanged routes (the parent's model): "]
        lines += [f"- {route}: {why}" for route, why in card["unchanged"].items()]
    lines += ["", f"Feedback ids trained on: {fb['train_ids']}", ""]
    return "\n".join(lines)
