"""Evidence spans: the words and phrases that drove a message's polarity and emotion.

For each message and each task (polarity, emotion) :func:`explain` returns the
few spans of the ORIGINAL text (character offsets into the text as given,
through the normalisation's offset map) that moved the predicted label, each
with a signed weight (positive: towards the label; negative: against it).

Three methods, all deterministic (same input, same explanation) and batched:

* ``linear`` (the n-gram tier, :class:`~emotiondesk.models.ngram.NgramClassifier`):
  exact contributions. Each n-gram's TF-IDF value times its weight for the
  label, centred over the labels (so the contributions of a text plus the
  centred intercept sum to the label's centred logit), is spread evenly over
  the characters it covers; a word's weight is the sum over its characters.
* ``grouped`` (every other model kind by default: ensembles, USE head,
  transformer, onnx): occlusion of at most :data:`MAX_GROUPS` groups of
  words (clauses, merged or cut in halves to that number; see
  :func:`word_groups`), so a model scores at most ``MAX_GROUPS + 1`` copies
  of a message: the cost is bounded by construction. A group's weight is the
  drop in the label's probability when it is erased; within the group it is
  shared among the words that push the same way, in proportion to the exact
  contributions of the model's n-gram member (:func:`linear_part`), evenly
  over the characters when there is none. The copies of all messages of a
  language are scored in one batch, and every model in it runs once for both
  tasks (the default pack's e5 model serves polarity and emotion from one
  forward pass).
* ``occlusion`` (``method="occlusion"``): erasure of every segmenter-defined
  word (jieba for Chinese, word and punctuation tokens for other languages);
  a word's weight is the drop in the label's probability when it is removed.
  Messages with more than :data:`MAX_UNITS` words are erased in as many equal
  runs of words. Its cost grows with the length of the message.

Adjacent selected words of the same sign merge into phrases; the
:data:`TOP_SPANS` largest by absolute weight are returned, largest first.

Example:
    >>> from emotiondesk import load_analyzer                   # doctest: +SKIP
    >>> analyzer = load_analyzer()                              # doctest: +SKIP
    >>> results = analyzer.analyze(["物流太慢了，气死我了"])      # doctest: +SKIP
    >>> explain(analyzer, results)[0].to_dict()["polarity"]     # doctest: +SKIP
    {'label': 'negative', 'spans': [{'text': '气死', 'start': 6, 'end': 8, ...}, ...]}
"""

from __future__ import annotations

import heapq
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from typing import Any

import numpy as np

from emotiondesk.analyzer import AnalysisResult, Analyzer
from emotiondesk.models.base import TextClassifier
from emotiondesk.models.ensemble import EnsembleClassifier, combine, to_labels
from emotiondesk.models.multitask import TaskView
from emotiondesk.models.ngram import _WORD_MARK, _WORD_RE, NgramClassifier
from emotiondesk.text.normalize import OffsetText, prepare_with_offsets

logger = logging.getLogger(__name__)

TASKS = ("polarity", "emotion")
#: Spans returned per task.
TOP_SPANS = 5
#: Words considered before merging into phrases.
TOP_WORDS = 8
#: Occlusion erases at most this many units per message (longer ones in runs of words).
MAX_UNITS = 48
#: Grouped occlusion erases at most this many groups of words per message: a
#: model scores at most ``MAX_GROUPS + 1`` copies of each message.
MAX_GROUPS = 3
_TOKEN_RE = re.compile(r"[\w']+|[^\w\s]+")


@dataclass(frozen=True, slots=True)
class Span:
    """A span of the original text and its signed weight for the label."""

    text: str
    start: int
    end: int
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end, "weight": self.weight}


@dataclass(frozen=True, slots=True)
class TaskEvidence:
    """The spans that moved one task's predicted label."""

    label: str
    spans: tuple[Span, ...]
    method: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "method": self.method,
            "spans": [s.to_dict() for s in self.spans],
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a message reads as it does.

    Each task's ``method``: ``linear`` (exact n-gram contributions, weights
    in logit units), ``ngram_member`` (the same for an ensemble's n-gram
    member), ``occlusion`` (weights are drops in the label's probability), or
    ``none`` (nothing to explain: empty text, a romanised message read in
    characters, or no n-gram model with the ``linear`` method). ``units``: the words (or runs of words) that
    were scored, in normalised offsets.
    """

    polarity: TaskEvidence
    emotion: TaskEvidence
    units: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "polarity": self.polarity.to_dict(),
            "emotion": self.emotion.to_dict(),
        }


# -- segmentation -----------------------------------------------------------------------


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def segment(text: str, language: str) -> list[tuple[int, int]]:
    """Word spans of ``text`` (jieba for Chinese; words and punctuation runs otherwise).

    Whitespace is never a word. Example:
        >>> segment("The battery is great!", "en")
        [(0, 3), (4, 11), (12, 14), (15, 20), (20, 21)]
    """
    if language == "zh":
        spans = [
            (start, end)
            for word, start, end in _jieba().tokenize(text, HMM=False)
            if word.strip()  # jieba returns spaces as words
        ]
        return spans
    return [m.span() for m in _TOKEN_RE.finditer(text)]


def group_units(words: Sequence[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """At most ``limit`` units: consecutive words joined in equal runs when there are more."""
    if len(words) <= limit:
        return list(words)
    size = math.ceil(len(words) / limit)
    return [
        (words[i][0], words[min(i + size, len(words)) - 1][1]) for i in range(0, len(words), size)
    ]


# -- linear (n-gram) --------------------------------------------------------------------


@dataclass
class _Grams:
    """The n-grams of a batch of preprocessed texts, as a featurizer makes them, located.

    The texts are joined by ``"\\n"`` (never in normalised text, and a word
    boundary) into one string; ``start``/``end`` are the offsets of each
    n-gram in it and ``owner`` the text it comes from (n-grams never cross texts).
    """

    grams: list[str]
    owner: np.ndarray
    start: np.ndarray
    end: np.ndarray
    base: np.ndarray  # offset of each text in the joined string
    size: int  # length of the joined string
    lookups: dict[int, np.ndarray] = field(default_factory=dict)  # SharedLookup id -> ids


def _locate_grams(settings: tuple[Any, ...], texts: Sequence[str]) -> _Grams:
    """Every n-gram of ``texts`` for a featurizer's settings, with offsets, in one pass.

    The same n-grams (with repeats) as ``NgramFeaturizer.ngrams`` gives per
    text, in another order (which TF-IDF ignores).
    """
    char_range, word_range = settings[0], settings[1]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    base = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=base[1:])
    joined = "\n".join(texts) + "\n"
    size = len(joined)
    grams: list[str] = []
    owners: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    if char_range:
        owner_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)
        text_end = (base + lengths)[owner_of]
        pos = np.arange(size, dtype=np.int64)
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        for n in range(char_range[0], char_range[1] + 1):
            ok = pos + n <= text_end
            if n == 1:
                ok &= codes != ord(" ")
            at = pos[ok]
            grams.extend([joined[i : i + n] for i in at.tolist()])
            owners.append(owner_of[at])
            starts.append(at)
            ends.append(at + n)
    if word_range:
        found = [(m.group(0), m.start()) for m in _WORD_RE.finditer(joined)]
        words = [w for w, _ in found]
        w_start = np.fromiter((s for _, s in found), dtype=np.int64, count=len(found))
        w_end = w_start + np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        w_owner = np.searchsorted(base, w_start, side="right") - 1
        for n in range(word_range[0], word_range[1] + 1):
            k = max(len(words) - n + 1, 0)
            first = np.flatnonzero(w_owner[:k] == w_owner[n - 1 : n - 1 + k])
            if n == 1:
                grams.extend([_WORD_MARK + words[i] for i in first.tolist()])
            else:
                grams.extend([_WORD_MARK + " ".join(words[i : i + n]) for i in first.tolist()])
            owners.append(w_owner[first])
            starts.append(w_start[first])
            ends.append(w_end[first + n - 1])
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return _Grams(grams, empty, empty, empty, base, size)
    return _Grams(
        grams, np.concatenate(owners), np.concatenate(starts), np.concatenate(ends), base, size
    )


def _vocabulary_ids(featurizer: Any, located: _Grams) -> np.ndarray:
    """Each located n-gram's column in the featurizer's vocabulary (-1: unknown).

    Featurizers that share a lookup (a language's polarity and emotion models)
    look the batch up once.
    """
    vocab = featurizer.vocabulary
    shared = featurizer._shared
    if shared is not None and shared[0] is vocab:
        lookup, column = shared[1], shared[2]
        ids = located.lookups.get(id(lookup))
        if ids is None:
            ids = np.fromiter(
                map(lookup.index.get, located.grams, repeat(-1)),
                dtype=np.int64,
                count=len(located.grams),
            )
            located.lookups[id(lookup)] = ids
        out: np.ndarray = column[ids]
        return out
    return np.fromiter(
        map(vocab.get, located.grams, repeat(-1)), dtype=np.int64, count=len(located.grams)
    )


def _linear_scores(model: NgramClassifier, located: _Grams, labels: np.ndarray) -> np.ndarray:
    """Per character of the joined texts: its share of its text's label's centred logit.

    ``labels[t]`` is the label column explained for text ``t`` (-1: none; its
    characters score 0). Each text's scores plus the centred intercept sum to
    ``logit[label] - mean(logits)`` exactly (up to float rounding): the TF-IDF
    values are computed as the featurizer does (float32, L2-normalised rows),
    for the whole batch at once.
    """
    featurizer = model.featurizer_
    ids = _vocabulary_ids(featurizer, located)
    keep = (ids >= 0) & (labels[located.owner] >= 0)
    owner, cols = located.owner[keep], ids[keep]
    n_cols = max(len(featurizer.vocabulary), 1)
    uniq, inverse, counts_int = np.unique(
        owner * n_cols + cols, return_inverse=True, return_counts=True
    )
    u_owner, u_col = uniq // n_cols, uniq % n_cols
    counts = counts_int.astype(np.float32)
    values = ((1.0 + np.log(counts)) * featurizer.idf[u_col]).astype(np.float32)
    norms = np.sqrt(
        np.bincount(u_owner, weights=values.astype(np.float64) ** 2, minlength=len(located.base))
    )
    norms[norms == 0] = 1.0
    coef = model.coef_[u_col].astype(np.float64)
    centred = coef[np.arange(len(u_col)), labels[u_owner]] - coef.mean(axis=1)
    per_occurrence = (values / norms[u_owner] * centred / counts)[inverse.reshape(-1)]
    lo, hi = located.start[keep], located.end[keep]
    per_char = per_occurrence / (hi - lo)
    # Spread each occurrence over its characters: a difference array, then a running sum.
    diff = np.bincount(lo, weights=per_char, minlength=located.size + 1) - np.bincount(
        hi, weights=per_char, minlength=located.size + 1
    )
    scores: np.ndarray = np.cumsum(diff[:-1])
    return scores


def linear_char_scores(model: NgramClassifier, text: str, label_index: int) -> np.ndarray | None:
    """Per character of the normalised ``text``: its share of the label's centred logit.

    The scores plus the centred intercept sum to ``logit[label] - mean(logits)``
    exactly (up to float rounding). ``None`` when the model's own
    preprocessing changes the text's length (then occlusion is used).
    :func:`explain` does the same for a whole batch at once.
    """
    featurizer = model.featurizer_
    prepared = featurizer.preprocess(text)
    if len(prepared) != len(text):
        return None
    located = _locate_grams(featurizer._settings_key(), [prepared])
    return _linear_scores(model, located, np.array([label_index]))[: len(text)]


# -- spans ------------------------------------------------------------------------------


def top_spans(
    units: Sequence[tuple[int, int]],
    weights: Sequence[float],
    mapped: OffsetText,
    original: str,
    base: int = 0,
) -> tuple[Span, ...]:
    """The largest-weight units, adjacent same-sign ones merged, as spans of ``original``."""
    magnitude = list(map(abs, weights))
    # The largest first, ties in text order (nlargest is stable).
    order = heapq.nlargest(TOP_WORDS, range(len(magnitude)), key=magnitude.__getitem__)
    chosen = sorted(k for k in order if magnitude[k] > 1e-9)
    merged: list[tuple[int, int, float]] = []  # (start, end, weight) in normalised offsets
    last = -2
    for k in chosen:
        s, e = units[k]
        w = float(weights[k])
        if merged and k == last + 1 and (merged[-1][2] > 0) == (w > 0):
            ps, _, pw = merged[-1]
            merged[-1] = (ps, e, pw + w)
        else:
            merged.append((s, e, w))
        last = k
    merged.sort(key=lambda t: (-abs(t[2]), t[0]))
    out = []
    for s, e, w in merged[:TOP_SPANS]:
        os_, oe = mapped.original_span(base + s, base + e)
        out.append(Span(text=original[os_:oe], start=os_, end=oe, weight=round(w, 4)))
    return tuple(out)


# -- the entry point --------------------------------------------------------------------


@dataclass
class _Job:
    index: int
    mapped: OffsetText
    base: int  # offset of the explained text in the normalised text (a deciding chunk)
    text: str  # the explained (normalised) text
    lang: str  # the model language
    units: list[tuple[int, int]]


def _none(result: AnalysisResult) -> Evidence:
    return Evidence(
        polarity=TaskEvidence(result.polarity, ()),
        emotion=TaskEvidence(result.emotion, ()),
    )


def _occlude(text: str, units: Sequence[tuple[int, int]]) -> list[str]:
    out = [text]
    for s, e in units:
        out.append(re.sub(r"\s+", " ", text[:s] + " " + text[e:]).strip())
    return out


def linear_part(
    model: TextClassifier, *, members: bool = True
) -> tuple[NgramClassifier, str] | None:
    """The n-gram model whose exact contributions explain ``model``, and the method's name.

    An n-gram model is its own (``linear``); with ``members``, an ensemble's
    n-gram member with the largest weight (in nested ensembles too) stands for it (``ngram_member``:
    exact for that member, an approximation for the ensemble); ``None`` when
    there is none.
    """
    if isinstance(model, NgramClassifier):
        return model, "linear"
    if not members:
        return None
    found: list[tuple[float, NgramClassifier]] = []

    def walk(m: Any, share: float) -> None:  # nested ensembles: the default pack's blends
        if isinstance(m, NgramClassifier):
            found.append((share, m))
            return
        subs, weights = getattr(m, "models_", ()), getattr(m, "weights", ())
        total = float(sum(w for w in weights if w > 0)) or 1.0
        for sub, w in zip(subs, weights, strict=False):
            if w > 0:
                walk(sub, share * float(w) / total)

    walk(model, 1.0)
    if not found:
        return None
    return max(found, key=lambda wm: wm[0])[1], "ngram_member"


def _linear_unit_weights(
    model: NgramClassifier,
    jobs: list[_Job],
    task: str,
    results: Sequence[AnalysisResult],
    prepared: dict[tuple[Any, ...], tuple[list[_Job], _Grams]],
) -> dict[int, list[float]]:
    """Exact contributions of each job's words (one batch), by job index.

    Jobs the model's preprocessing changes the length of, or whose label the
    model lacks, are left out.
    """
    featurizer = model.featurizer_
    key = (*featurizer._settings_key(), tuple(job.index for job in jobs))
    if key not in prepared:
        texts = [featurizer.preprocess(job.text) for job in jobs]
        fits = [len(t) == len(job.text) for t, job in zip(texts, jobs, strict=True)]
        kept = [job for job, ok in zip(jobs, fits, strict=True) if ok]
        located = _locate_grams(
            featurizer._settings_key(), [t for t, ok in zip(texts, fits, strict=True) if ok]
        )
        prepared[key] = (kept, located)
    kept, located = prepared[key]
    labels = [_label(results[j.index], task) for j in kept]
    columns = np.array(
        [model.labels_.index(label) if label in model.labels_ else -1 for label in labels],
        dtype=np.int64,
    )
    scores = _linear_scores(model, located, columns)
    # A unit's weight: the sum of its characters' scores (differences of a running sum).
    running = np.concatenate(([0.0], np.cumsum(scores)))
    counts = [len(job.units) for job in kept]
    flat = np.array([u for job in kept for u in job.units], dtype=np.int64).reshape(-1, 2)
    shift = np.repeat(located.base, counts)
    weights = (running[flat[:, 1] + shift] - running[flat[:, 0] + shift]).tolist()
    out: dict[int, list[float]] = {}
    pos = 0
    for job, column, n in zip(kept, columns.tolist(), counts, strict=True):
        if column >= 0:
            out[job.index] = weights[pos : pos + n]
        pos += n
    return out


def _explain_linear(
    model: NgramClassifier,
    tag: str,
    jobs: list[_Job],
    task: str,
    results: Sequence[AnalysisResult],
    out: dict[int, TaskEvidence],
    prepared: dict[tuple[Any, ...], tuple[list[_Job], _Grams]],
) -> list[_Job]:
    """Exact contributions for ``jobs`` (one batch); returns the jobs it cannot explain."""
    weights = _linear_unit_weights(model, jobs, task, results, prepared)
    for job in jobs:
        if job.index in weights:
            spans = top_spans(
                job.units, weights[job.index], job.mapped, results[job.index].text, job.base
            )
            out[job.index] = TaskEvidence(_label(results[job.index], task), spans, tag)
    return [job for job in jobs if job.index not in weights]


# -- grouped occlusion (the transformer tier) -------------------------------------------


def _is_break(text: str) -> bool:
    """A clause ends after a word of punctuation only."""
    return not any(ch.isalnum() for ch in text)


def word_groups(text: str, words: Sequence[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """At most ``limit`` runs of consecutive words ``[i, j)`` that cover ``words``.

    Clauses (words up to a punctuation word) first: while there are more than
    ``limit``, the two adjacent runs with the fewest words together merge;
    while there are fewer, the run with the most words (two or more, not
    counting punctuation) is cut in the middle of them. The leftmost wins
    ties, so the groups depend on the text alone.

    Example:
        >>> t = "the box was fine, but delivery was a joke"
        >>> [t[segment(t, "en")[i][0] : segment(t, "en")[j - 1][1]]
        ...  for i, j in word_groups(t, segment(t, "en"), 4)]
        ['the box', 'was fine,', 'but delivery', 'was a joke']
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    n = len(words)
    if n == 0:
        return []
    runs: list[tuple[int, int]] = []
    start = 0
    for k, (s, e) in enumerate(words):
        if (
            _is_break(text[s:e])
            and k + 1 < n
            and not _is_break(text[words[k + 1][0] : words[k + 1][1]])
        ):
            runs.append((start, k + 1))
            start = k + 1
    runs.append((start, n))
    while len(runs) > limit:
        k = min(range(len(runs) - 1), key=lambda i: (runs[i + 1][1] - runs[i][0], i))
        runs[k : k + 2] = [(runs[k][0], runs[k + 1][1])]
    content = [not _is_break(text[s:e]) for s, e in words]
    while len(runs) < limit:
        # Cut the run of the most words (punctuation not counted) in the middle of them.
        inner = [[k for k in range(i, j) if content[k]] for i, j in runs]
        k = max(range(len(runs)), key=lambda r: (len(inner[r]), -r))
        if len(inner[k]) < 2:
            break
        i, j = runs[k]
        cut = inner[k][len(inner[k]) // 2]
        runs[k : k + 1] = [(i, cut), (cut, j)]
    return runs


def _proba(model: TextClassifier, texts: list[str], memo: dict[int, Any]) -> np.ndarray:
    """``model.predict_proba(texts)``, each model of a nested ensemble run once per batch.

    ``memo`` (one per batch of texts) holds what was computed: a multi-task
    model read by the polarity and the emotion routes (the default pack's e5
    model) runs one forward pass for both.
    """
    key = id(model)
    if key in memo:
        out: np.ndarray = memo[key]
        return out
    if type(model) is EnsembleClassifier and hasattr(model, "models_"):
        pairs = [
            (m, w)
            for m, w in zip(model.models_, model.weights, strict=True)
            if w > 0 or len(model.models_) == 1
        ]
        probas = [to_labels(_proba(m, texts, memo), m.labels_, model.labels_) for m, _ in pairs]
        active = [w for w in model.weights if w > 0] or model.weights
        out = combine(probas, active, model.temperature)
    elif isinstance(model, TaskView):
        whole = id(model.model)
        if whole not in memo:
            memo[whole] = model.model.predict_proba_all(texts)
        out = memo[whole][model.task]
    else:
        out = model.predict_proba(texts)
    memo[key] = out
    return out


def _grouped_weights(
    job: _Job, groups: list[tuple[int, int]], drops: Sequence[float], share: Sequence[float] | None
) -> list[float]:
    """Each word's part of its group's drop: by the n-gram contributions of the drop's sign.

    Within a group whose erasure lowers the label's probability by ``d``, the
    words that push towards the label (``share`` > 0, exact n-gram
    contributions) get ``d`` in proportion to their push; with none, the
    group's characters share it evenly. A group that raises it does the same
    with the words that push against the label.
    """
    weights = [0.0] * len(job.units)
    for (i, j), d in zip(groups, drops, strict=True):
        sign = 1.0 if d >= 0 else -1.0
        parts = [max(sign * share[k], 0.0) for k in range(i, j)] if share is not None else []
        total = sum(parts)
        if total <= 1e-12:
            parts = [float(job.units[k][1] - job.units[k][0]) for k in range(i, j)]
            total = sum(parts) or 1.0
        for k, part in zip(range(i, j), parts, strict=True):
            weights[k] = d * part / total
    return weights


def _label(result: AnalysisResult, task: str) -> str:
    return result.polarity if task == "polarity" else result.emotion


def explain(
    analyzer: Analyzer,
    results: Sequence[AnalysisResult],
    *,
    method: str = "auto",
    max_groups: int = MAX_GROUPS,
) -> list[Evidence]:
    """Evidence for each analysed message (``results`` from ``analyzer.analyze``).

    Args:
        method: ``auto`` (linear for n-gram models, grouped occlusion for the
            rest), ``grouped`` or ``occlusion`` (every word erased) for every
            model (the benchmark compares them), or ``linear``: the cheap path
            for every message (what ingestion stores): n-gram models exactly,
            an ensemble through its n-gram member (``ngram_member``), other
            models not at all (``none``).
        max_groups: grouped occlusion scores each message with at most this
            many groups of words erased (plus the message itself).
    """
    if method not in ("auto", "grouped", "occlusion", "linear"):
        raise ValueError(f"method must be auto, grouped, occlusion or linear, not {method!r}")
    if max_groups < 1:
        raise ValueError(f"max_groups must be at least 1, got {max_groups}")
    jobs: list[_Job | None] = []
    for i, r in enumerate(results):
        if r.read_as is not None:
            jobs.append(None)
            continue
        mapped = prepare_with_offsets(r.text, max_chars=analyzer.max_chars)
        text, base = mapped.text, 0
        if r.decided_by and r.decided_by.get("chunk") is not None:
            base = int(r.decided_by["start"] or 0)
            text = mapped.text[base : int(r.decided_by["end"] or len(mapped.text))]
        if not text:
            jobs.append(None)
            continue
        lang = analyzer.route(r.language)
        jobs.append(_Job(i, mapped, base, text, lang, segment(text, lang)))
    per_task: dict[str, dict[int, TaskEvidence]] = {t: {} for t in TASKS}
    # Per featurizer setting and group of messages: the model's preprocessing and
    # the located n-grams, shared by a language's polarity and emotion models.
    prepared: dict[tuple[Any, ...], tuple[list[_Job], _Grams]] = {}
    # What is scored: per kind ("grouped" / "occlusion") and list of messages, the
    # (task, model) pairs. A language's polarity and emotion models serve the same
    # messages, so they score the same copies, one after the other.
    work: dict[tuple[str, tuple[int, ...]], list[tuple[str, TextClassifier]]] = {}
    members: dict[tuple[str, tuple[int, ...]], list[_Job]] = {}

    def plan(kind: str, task: str, model: TextClassifier, group: list[_Job]) -> None:
        key = (kind, tuple(job.index for job in group))
        members[key] = group
        work.setdefault(key, []).append((task, model))

    for task in TASKS:
        linear: dict[int, tuple[NgramClassifier, str, list[_Job]]] = {}
        scored: dict[int, tuple[TextClassifier, list[_Job]]] = {}
        for job in jobs:
            if job is None:
                continue
            label = _label(results[job.index], task)
            model = analyzer.models[job.lang][task]
            if method in ("auto", "linear"):
                part = linear_part(model, members=method == "linear")
                if part is not None and label in part[0].labels_:
                    linear.setdefault(id(part[0]), (part[0], part[1], []))[2].append(job)
                    continue
                if method == "linear":  # nothing cheap to explain it with
                    per_task[task][job.index] = TaskEvidence(label, (), "none")
                    continue
            scored.setdefault(id(model), (model, []))[1].append(job)
        for model, group in scored.values():
            plan("occlusion" if method == "occlusion" else "grouped", task, model, group)
        for model, tag, group in linear.values():
            left = _explain_linear(model, tag, group, task, results, per_task[task], prepared)
            if left:
                # The model's preprocessing changed the text's length: occlusion (of
                # the n-gram model itself, which is cheap).
                plan("occlusion", task, model, left)
    for (kind, _), pairs in work.items():
        group = members[(kind, _)]
        if kind == "grouped":
            parts = [word_groups(job.text, job.units, max_groups) for job in group]
            erased = [
                [(job.units[i][0], job.units[j - 1][1]) for i, j in g]
                for job, g in zip(group, parts, strict=True)
            ]
        else:
            parts = []
            erased = [group_units(job.units, MAX_UNITS) for job in group]
        texts: list[str] = []
        speller = getattr(analyzer, "spelling", None)
        for job, spans_ in zip(group, erased, strict=True):
            variants = _occlude(job.text, spans_)
            if speller is not None and job.lang == "en":  # read as analyze read it
                variants = [speller.correct(v) for v in variants]
            texts += variants
        memo: dict[int, Any] = {}  # one forward pass per model for every task
        for task, model in pairs:
            proba = _proba(model, texts, memo)
            share: dict[int, list[float]] = {}
            if kind == "grouped":
                part = linear_part(model)
                if part is not None:
                    share = _linear_unit_weights(part[0], group, task, results, prepared)
            pos = 0
            for n_job, (job, spans_) in enumerate(zip(group, erased, strict=True)):
                r = results[job.index]
                label = _label(r, task)
                block = proba[pos : pos + 1 + len(spans_)]
                pos += 1 + len(spans_)
                if label not in model.labels_:
                    per_task[task][job.index] = TaskEvidence(label, (), kind)
                    continue
                c = model.labels_.index(label)
                drops = (block[0, c] - block[1:, c]).tolist()
                if kind == "grouped":
                    weights = _grouped_weights(job, parts[n_job], drops, share.get(job.index))
                    spans = top_spans(job.units, weights, job.mapped, r.text, job.base)
                else:
                    spans = top_spans(spans_, drops, job.mapped, r.text, job.base)
                per_task[task][job.index] = TaskEvidence(label, spans, kind)
    out: list[Evidence] = []
    for i, r in enumerate(results):
        job = jobs[i]
        if job is None:
            out.append(_none(r))
            continue
        out.append(
            Evidence(
                polarity=per_task["polarity"][i], emotion=per_task["emotion"][i], units=job.units
            )
        )
    return out
