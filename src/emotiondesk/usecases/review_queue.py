"""The review queue (active learning): which stored messages are most worth an agent's label.

Each uncorrected customer message gets a priority in [0, 1], a weighted sum of
signals (:data:`WEIGHTS`), each in [0, 1]:

- ``uncertain``: how unsure the calibrated probabilities the analyzer stored
  are: the mean of (1 - margin between the two most probable labels) and the
  normalised entropy, averaged over polarity and emotion;
- ``tiers_disagree``: where the pack's route is an ensemble of a fast (n-gram)
  and a deeper tier, how much its members disagree (Jensen-Shannon distance,
  and whether their top labels differ), averaged over the two tasks; routes
  served by one model give no such signal (weight 0 for that message);
- ``rare_class``: how rare the message's predicted labels are among the
  corrections and the candidates (classes the feedback has few of);
- ``rare_product``: how few of the message's product's (or category's)
  messages were corrected, against the most corrected product.

Likely label errors in the feedback itself are found with cleanlab
(confident learning) on out-of-sample probabilities: a character n-gram
logistic regression, cross-validated over the corrections
(:func:`label_issues`). Flagged corrections join the queue (kind
``label_issue``, priority 1 - cleanlab's label quality) with the label given
and the one suggested; corrections that could not be checked are counted in
the queue's ``label_check`` with the reason, never dropped silently.

Every item lists the signals that picked it (``reasons``), strongest first.

Example:
    >>> queue = build_review_queue(session, analyzer, limit=20)   # doctest: +SKIP
    >>> queue.items[0].reasons[0].code                             # doctest: +SKIP
    'uncertain'
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from emotiondesk.analyzer import Analyzer
from emotiondesk.errors import InvalidInputError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS
from emotiondesk.storage import feedback as store

logger = logging.getLogger(__name__)

#: How much each signal weighs in the priority (they sum to 1).
WEIGHTS: dict[str, float] = {
    "uncertain": 0.45,
    "tiers_disagree": 0.30,
    "rare_class": 0.15,
    "rare_product": 0.10,
}
#: A signal at or above this value is named as a reason (the strongest is always named).
REASON_AT = 0.5
SCHEMES: dict[str, tuple[str, ...]] = {
    "polarity": tuple(POLARITY_LABELS),
    "emotion": tuple(EMOTION_LABELS),
}
#: The label-error check needs at least this many corrections of a task ...
MIN_CHECK_ROWS = 10
#: ... and at least two classes with this many corrections each (the folds need them).
MIN_CLASS_ROWS = 2


# -- the signals (pure functions on probability arrays) -----------------------------------


def uncertainty(proba: np.ndarray) -> np.ndarray:
    """Per row: mean of (1 - top-two margin) and entropy / log(k), in [0, 1]."""
    p = np.clip(np.asarray(proba, dtype=np.float64), 0.0, 1.0)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InvalidInputError("uncertainty needs a (rows, classes >= 2) probability array")
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    top = np.sort(p, axis=1)
    margin = top[:, -1] - top[:, -2]
    entropy = -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(axis=1) / np.log(p.shape[1])
    return np.clip(0.5 * (1.0 - margin) + 0.5 * entropy, 0.0, 1.0)


def disagreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row: mean of the Jensen-Shannon distance (base 2) and top-label mismatch, in [0, 1]."""
    p = np.clip(np.asarray(a, dtype=np.float64), 1e-12, 1.0)
    q = np.clip(np.asarray(b, dtype=np.float64), 1e-12, 1.0)
    p /= p.sum(axis=1, keepdims=True)
    q /= q.sum(axis=1, keepdims=True)
    m = 0.5 * (p + q)
    js = 0.5 * (p * np.log2(p / m)).sum(axis=1) + 0.5 * (q * np.log2(q / m)).sum(axis=1)
    distance = np.sqrt(np.clip(js, 0.0, 1.0))
    mismatch = (p.argmax(axis=1) != q.argmax(axis=1)).astype(np.float64)
    return 0.5 * distance + 0.5 * mismatch


def rarity(groups: Sequence[str | None], counts: Mapping[str, float]) -> np.ndarray:
    """Per row: 1 - count(group) / max count (a group never counted is 1; ``None`` is 0)."""
    top = max(counts.values(), default=0.0)
    out = np.zeros(len(groups))
    for i, g in enumerate(groups):
        if g is None:
            continue
        out[i] = 1.0 if top <= 0 else 1.0 - float(counts.get(g, 0.0)) / top
    return out


def priorities(signals: Mapping[str, np.ndarray | None]) -> np.ndarray:
    """The weighted sum of the signals present (:data:`WEIGHTS`), renormalised per row.

    A signal given as ``None``, or NaN on a row, is absent there: the other
    weights are scaled up so that every priority stays in [0, 1].
    """
    n = next(len(v) for v in signals.values() if v is not None)
    total = np.zeros(n)
    weight = np.zeros(n)
    for name, values in signals.items():
        if values is None:
            continue
        v = np.asarray(values, dtype=np.float64)
        present = ~np.isnan(v)
        total[present] += WEIGHTS[name] * v[present]
        weight[present] += WEIGHTS[name]
    return np.where(weight > 0, total / np.maximum(weight, 1e-12), 0.0)


# -- label errors in the feedback (cleanlab) ----------------------------------------------


@dataclass(frozen=True)
class LabelIssue:
    """A correction whose label looks wrong to a model cross-validated on the others."""

    index: int
    label: str
    suggested: str
    quality: float


@dataclass
class LabelCheck:
    """What the label-error check did for one task."""

    task: str
    status: str  # "checked" | "skipped"
    checked: int = 0
    flagged: int = 0
    not_checked: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "status": self.status,
            "checked": self.checked,
            "flagged": self.flagged,
            "not_checked": self.not_checked,
            "reason": self.reason,
        }


def out_of_sample_proba(
    texts: Sequence[str], labels: Sequence[str], *, folds: int = 5, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """Cross-validated probabilities (every row predicted by a model that never saw it).

    A character 1-3-gram TF-IDF logistic regression per fold; returns the
    probabilities and their column labels.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    classes = sorted(set(labels))
    smallest = min(Counter(labels).values())
    k = max(2, min(folds, smallest))
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(C=4.0, class_weight="balanced", max_iter=500),
    )
    y = np.array([classes.index(label) for label in labels])
    proba = cross_val_predict(
        model,
        list(texts),
        y,
        cv=StratifiedKFold(n_splits=k, shuffle=True, random_state=seed),
        method="predict_proba",
    )
    return np.asarray(proba, dtype=np.float64), classes


def label_issues(
    texts: Sequence[str], labels: Sequence[str], *, task: str, folds: int = 5, seed: int = 0
) -> tuple[list[LabelIssue], LabelCheck]:
    """Likely label errors among corrections (cleanlab's ``find_label_issues``).

    Classes with fewer than :data:`MIN_CLASS_ROWS` corrections cannot be
    cross-validated: their rows are left out of the check and counted in
    ``not_checked`` (with the reason), not flagged and not dropped.
    """
    counts = Counter(labels)
    usable = {c for c, n in counts.items() if n >= MIN_CLASS_ROWS}
    idx = [i for i, label in enumerate(labels) if label in usable]
    left_out = len(labels) - len(idx)
    if len(idx) < MIN_CHECK_ROWS or len(usable) < 2:
        return [], LabelCheck(
            task=task,
            status="skipped",
            not_checked=len(labels),
            reason=f"needs at least {MIN_CHECK_ROWS} corrections in 2 or more labels with "
            f"{MIN_CLASS_ROWS} or more each (has {len(labels)}: {dict(counts)})",
        )
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    sub_texts = [texts[i] for i in idx]
    sub_labels = [labels[i] for i in idx]
    proba, classes = out_of_sample_proba(sub_texts, sub_labels, folds=folds, seed=seed)
    y = np.array([classes.index(label) for label in sub_labels])
    flagged = find_label_issues(y, proba, filter_by="prune_by_noise_rate", n_jobs=1)
    quality = get_label_quality_scores(y, proba)
    issues = [
        LabelIssue(
            index=idx[j],
            label=sub_labels[j],
            suggested=classes[int(proba[j].argmax())],
            quality=float(quality[j]),
        )
        for j in np.flatnonzero(flagged)
    ]
    issues.sort(key=lambda x: x.quality)
    rare = sorted(c for c in counts if c not in usable)
    return issues, LabelCheck(
        task=task,
        status="checked",
        checked=len(idx),
        flagged=len(issues),
        not_checked=left_out,
        reason=(
            f"labels with fewer than {MIN_CLASS_ROWS} corrections not checked: {', '.join(rare)}"
            if rare
            else None
        ),
    )


# -- the queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str  # uncertain | tiers_disagree | rare_class | rare_product | label_issue
    value: float
    detail: str


@dataclass(frozen=True)
class QueueItem:
    message_id: str
    conversation_id: str
    text: str
    language: str | None
    product: str | None
    kind: str  # "unlabelled" | "label_issue"
    priority: float
    polarity: str | None
    emotion: str | None
    polarity_scores: dict[str, float]
    emotion_scores: dict[str, float]
    reasons: list[Reason]
    #: label issues: {"task", "label" (given), "suggested", "quality", "feedback_id"}
    correction: dict[str, Any] | None = None


@dataclass
class ReviewQueue:
    items: list[QueueItem]
    total: int
    candidates: int
    label_check: list[LabelCheck] = field(default_factory=list)
    tiers: str = ""


def _scores(analysis: Mapping[str, Any], key: str, scheme: Sequence[str]) -> np.ndarray:
    raw = analysis.get(key) or {}
    row = np.array([float(raw.get(label, 0.0)) for label in scheme])
    if row.sum() <= 0:  # no stored probabilities: a uniform reading (maximally unsure)
        row = np.full(len(scheme), 1.0 / len(scheme))
    return row


def tier_probabilities(
    analyzer: Analyzer, texts: Sequence[str], languages: Sequence[str | None], task: str
) -> np.ndarray | None:
    """Per text, the disagreement of the route's ensemble members (NaN: a one-model route).

    ``None`` when no route of the pack is an ensemble.
    """
    scheme = SCHEMES[task]
    out = np.full(len(texts), np.nan)
    groups: dict[str, list[int]] = {}
    for i, lang in enumerate(languages):
        groups.setdefault(analyzer.route(lang or analyzer.fallback_language), []).append(i)
    any_ensemble = False
    for lang, idx in groups.items():
        model = analyzer.models[lang][task]
        members = getattr(model, "member_probas", None)
        if members is None:
            continue
        normed, _, _ = analyzer.preprocess([texts[i] for i in idx])
        probas = members(normed)
        if len(probas) < 2:
            continue
        any_ensemble = True
        labels = list(model.labels_)
        order = [labels.index(label) if label in labels else None for label in scheme]

        def onto(p: np.ndarray, order: list[int | None] = order) -> np.ndarray:
            cols = [p[:, j] if j is not None else np.zeros(len(p)) for j in order]
            return np.stack(cols, axis=1)

        # the first member is the faster tier (the n-gram model; in the default pack's
        # e5 blends, the pack-v2 route); the others are compared with it
        fast = onto(probas[0])
        deep = onto(np.mean(probas[1:], axis=0))
        out[idx] = disagreement(fast, deep)
    return out if any_ensemble else None


def _reasons(row: Mapping[str, float], details: Mapping[str, str]) -> list[Reason]:
    present = {k: v for k, v in row.items() if not np.isnan(v)}
    ranked = sorted(present.items(), key=lambda kv: -WEIGHTS[kv[0]] * kv[1])
    picked = [kv for kv in ranked if kv[1] >= REASON_AT] or ranked[:1]
    return [Reason(code=k, value=round(float(v), 4), detail=details[k]) for k, v in picked]


def rank_candidates(
    candidates: Sequence[store.Candidate],
    *,
    label_counts: Mapping[str, Mapping[str, int]],
    product_counts: Mapping[str, int],
    tiers: Mapping[str, np.ndarray | None] | None = None,
) -> list[QueueItem]:
    """Score uncorrected messages (see the module docstring), highest priority first.

    ``label_counts``: per task, corrections per label; ``product_counts``:
    corrected messages per product; ``tiers``: per task, the fast/deep
    disagreement per candidate (NaN or ``None``: not available).
    """
    if not candidates:
        return []
    pol = np.stack(
        [_scores(c.analysis, "polarity_scores", SCHEMES["polarity"]) for c in candidates]
    )
    emo = np.stack([_scores(c.analysis, "emotion_scores", SCHEMES["emotion"]) for c in candidates])
    unsure = 0.5 * (uncertainty(pol) + uncertainty(emo))
    tiers = tiers or {}
    parts = [t for t in (tiers.get("polarity"), tiers.get("emotion")) if t is not None]
    disagree = np.nanmean(np.stack(parts), axis=0) if parts else None
    pol_pred = [SCHEMES["polarity"][i] for i in pol.argmax(axis=1)]
    emo_pred = [SCHEMES["emotion"][i] for i in emo.argmax(axis=1)]
    rare: list[np.ndarray] = []
    for task, pred in (("polarity", pol_pred), ("emotion", emo_pred)):
        counts: Counter[str] = Counter(pred)  # traffic: the candidates' predictions
        counts.update(dict(label_counts.get(task, {})))  # plus what the feedback holds
        rare.append(rarity(pred, counts))
    rare_class = np.maximum(rare[0], rare[1])
    products = [c.product for c in candidates]
    # a message of no product has no such signal (NaN), rather than a zero
    rare_product = np.where(
        [p is None for p in products], np.nan, rarity(products, dict(product_counts))
    )
    signals = {
        "uncertain": unsure,
        "tiers_disagree": disagree,
        "rare_class": rare_class,
        "rare_product": rare_product,
    }
    prio = priorities(signals)
    items: list[QueueItem] = []
    for i, c in enumerate(candidates):
        row = {k: float(v[i]) for k, v in signals.items() if v is not None}
        details = {
            "uncertain": f"top-two margin {_margin(pol[i]):.2f} (polarity), "
            f"{_margin(emo[i]):.2f} (emotion)",
            "tiers_disagree": "the fast and the deep tier read it differently",
            "rare_class": f"few corrections of {pol_pred[i]} / {emo_pred[i]} so far",
            "rare_product": f"few corrections for {c.product} so far",
        }
        items.append(
            QueueItem(
                message_id=c.message_id,
                conversation_id=c.conversation_id,
                text=c.text,
                language=c.language,
                product=c.product,
                kind="unlabelled",
                priority=round(float(prio[i]), 4),
                polarity=c.polarity or pol_pred[i],
                emotion=c.emotion or emo_pred[i],
                polarity_scores=dict(zip(SCHEMES["polarity"], map(float, pol[i]), strict=True)),
                emotion_scores=dict(zip(SCHEMES["emotion"], map(float, emo[i]), strict=True)),
                reasons=_reasons(row, details),
            )
        )
    items.sort(key=lambda it: (-it.priority, it.message_id))
    return items


def _margin(p: np.ndarray) -> float:
    top = np.sort(p)
    return float(top[-1] - top[-2])


def build_review_queue(
    session: Session,
    analyzer: Analyzer | None,
    *,
    workspace: str | None,
    language: str | None = None,
    window: int = 500,
    limit: int = 50,
    offset: int = 0,
    check_labels: bool = True,
) -> ReviewQueue:
    """The review queue over the newest ``window`` uncorrected customer messages, plus the
    corrections cleanlab flags as likely label errors; one page of it.

    ``analyzer``: the served analyzer, for the tier-disagreement signal (``None``: no
    such signal). ``workspace``: whose messages and corrections (``None``: every
    workspace's, for operator commands only).
    """
    candidates = store.review_candidates(
        session, workspace=workspace, language=language, window=window
    )
    label_counts: dict[str, dict[str, int]] = {}
    issue_items: list[QueueItem] = []
    checks: list[LabelCheck] = []
    for task in SCHEMES:
        rows = store.training_rows(session, workspace=workspace, task=task, language=language)
        label_counts[task] = dict(Counter(r.label for r in rows))
        if not check_labels:
            continue
        issues, check = label_issues([r.text for r in rows], [r.label for r in rows], task=task)
        checks.append(check)
        for issue in issues:
            r = rows[issue.index]
            issue_items.append(
                QueueItem(
                    message_id=r.message_id,
                    conversation_id=r.conversation_id,
                    text=r.text,
                    language=r.language,
                    product=None,
                    kind="label_issue",
                    priority=round(1.0 - issue.quality, 4),
                    polarity=None,
                    emotion=None,
                    polarity_scores={},
                    emotion_scores={},
                    reasons=[
                        Reason(
                            code="label_issue",
                            value=round(1.0 - issue.quality, 4),
                            detail=f"corrected to {issue.label} by {r.author or 'someone'}; a "
                            f"model cross-validated on the other corrections reads "
                            f"{issue.suggested}",
                        )
                    ],
                    correction={
                        "task": task,
                        "label": issue.label,
                        "suggested": issue.suggested,
                        "quality": round(issue.quality, 4),
                        "feedback_id": r.feedback_id,
                        "author": r.author,
                    },
                )
            )
    tiers: dict[str, np.ndarray | None] = {}
    tier_note = "no analyzer: tier disagreement not scored"
    if analyzer is not None and candidates:
        texts = [c.text for c in candidates]
        langs = [c.language for c in candidates]
        for task in SCHEMES:
            tiers[task] = tier_probabilities(analyzer, texts, langs, task)
        if all(v is None for v in tiers.values()):
            tier_note = "the pack serves one model per route: tier disagreement not scored"
        else:
            tier_note = (
                "ensemble routes: the first member (the faster tier: the n-gram model, or "
                "in an e5 blend the pack-v2 route) against the other members"
            )
    ranked = rank_candidates(
        candidates,
        label_counts=label_counts,
        product_counts=(
            store.corrections_by_product(session, workspace=workspace) if candidates else {}
        ),
        tiers=tiers,
    )
    everything = sorted(issue_items + ranked, key=lambda it: (-it.priority, it.message_id))
    return ReviewQueue(
        items=everything[offset : offset + limit],
        total=len(everything),
        candidates=len(candidates),
        label_check=checks,
        tiers=tier_note,
    )
