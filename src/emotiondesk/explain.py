"""Evidence spans: the words and phrases that drove a message's polarity and emotion.

For each message and each task (polarity, emotion) :func:`explain` returns the
few spans of the ORIGINAL text (character offsets into the text as given,
through the normalisation's offset map) that moved the predicted label, each
with a signed weight (positive: towards the label; negative: against it).

Two methods, both deterministic (same input, same explanation) and batched:

* ``linear`` (the n-gram tier, :class:`~emotiondesk.models.ngram.NgramClassifier`):
  exact contributions. Each n-gram's TF-IDF value times its weight for the
  label, centred over the labels (so the contributions of a text plus the
  centred intercept sum to the label's centred logit), is spread evenly over
  the characters it covers; a word's weight is the sum over its characters.
* ``occlusion`` (every other model kind: USE head, ensemble, transformer,
  onnx): erasure of segmenter-defined words (jieba for Chinese, word and
  punctuation tokens for other languages). Every copy of every message with one
  word removed is scored in one batch per model; a word's weight is the drop
  in the label's probability when it is removed. Messages with more than
  :data:`MAX_UNITS` words are erased in as many equal runs of words.

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
    in logit units), ``occlusion`` (weights are drops in the label's
    probability), or ``none`` (nothing to explain: empty text, or a romanised
    message read in characters). ``units``: the words (or runs of words) that
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
            for word, start, end in _jieba().tokenize(text)
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


_PREPROCESSED: dict[tuple[Any, ...], tuple[str, str]] = {}


def _preprocess(featurizer: Any, text: str) -> str:
    """``featurizer.preprocess(text)``, remembered for the next model with the same settings."""
    key = featurizer._settings_key()
    last = _PREPROCESSED.get(key)
    if last is not None and last[0] == text:
        return last[1]
    out: str = featurizer.preprocess(text)
    _PREPROCESSED[key] = (text, out)
    return out


@lru_cache(maxsize=1024)
def _occurrences(settings: tuple[Any, ...], text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The n-grams of a preprocessed text as the featurizer makes them, with their offsets.

    Cached per featurizer setting, so a language's polarity and emotion models
    split a message once.
    """
    char_range, word_range = settings[0], settings[1]
    grams: list[str] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    if char_range:
        for n in range(char_range[0], char_range[1] + 1):
            if n == 1:
                idx = np.array([i for i, ch in enumerate(text) if ch != " "], dtype=np.int64)
                grams.extend(text.replace(" ", ""))
                starts.append(idx)
                ends.append(idx + 1)
            else:
                k = max(len(text) - n + 1, 0)
                grams += [text[i : i + n] for i in range(k)]
                idx = np.arange(k, dtype=np.int64)
                starts.append(idx)
                ends.append(idx + n)
    if word_range:
        words = [(m.group(0), m.start(), m.end()) for m in _WORD_RE.finditer(text)]
        for n in range(word_range[0], word_range[1] + 1):
            k = max(len(words) - n + 1, 0)
            grams.extend(_WORD_MARK + " ".join(w for w, _, _ in words[i : i + n]) for i in range(k))
            starts.append(np.array([words[i][1] for i in range(k)], dtype=np.int64))
            ends.append(np.array([words[i + n - 1][2] for i in range(k)], dtype=np.int64))
    if not starts:
        return grams, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return grams, np.concatenate(starts), np.concatenate(ends)


def linear_char_scores(model: NgramClassifier, text: str, label_index: int) -> np.ndarray | None:
    """Per character of the normalised ``text``: its share of the label's centred logit.

    The scores plus the centred intercept sum to ``logit[label] - mean(logits)``
    exactly (up to float rounding). ``None`` when the model's own
    preprocessing changes the text's length (then occlusion is used).
    """
    featurizer = model.featurizer_
    mt = _preprocess(featurizer, text)
    if len(mt) != len(text):
        return None
    grams, starts, ends = _occurrences(featurizer._settings_key(), mt)
    vocab = featurizer.vocabulary
    ids = np.fromiter(map(vocab.get, grams, repeat(-1)), dtype=np.int64, count=len(grams))
    scores = np.zeros(len(text), dtype=np.float64)
    known = ids >= 0
    if not known.any():
        return scores
    cols, inverse, counts_int = np.unique(ids[known], return_inverse=True, return_counts=True)
    counts = counts_int.astype(np.float64)
    # Computed as the featurizer does: float32 TF-IDF, L2-normalised.
    values = ((1.0 + np.log(counts.astype(np.float32))) * featurizer.idf[cols]).astype(np.float32)
    norm = float(np.sqrt(np.sum(values.astype(np.float64) ** 2))) or 1.0
    coef = model.coef_[cols].astype(np.float64)
    centred = coef[:, label_index] - coef.mean(axis=1)
    per_occurrence = (values / norm * centred / counts)[inverse]
    lo, hi = starts[known], ends[known]
    per_char = per_occurrence / (hi - lo)
    # Spread each occurrence over its characters: a difference array, then a running sum.
    size = len(text) + 1
    diff = np.bincount(lo, weights=per_char, minlength=size) - np.bincount(
        hi, weights=per_char, minlength=size
    )
    scores[:] = np.cumsum(diff[:-1])
    return scores


# -- spans ------------------------------------------------------------------------------


def top_spans(
    units: Sequence[tuple[int, int]],
    weights: Sequence[float],
    mapped: OffsetText,
    original: str,
    base: int = 0,
) -> tuple[Span, ...]:
    """The largest-weight units, adjacent same-sign ones merged, as spans of ``original``."""
    order = sorted(
        (k for k, w in enumerate(weights) if abs(w) > 1e-9),
        key=lambda k: (-abs(weights[k]), k),
    )[:TOP_WORDS]
    chosen = sorted(order)
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


def explain(
    analyzer: Analyzer, results: Sequence[AnalysisResult], *, method: str = "auto"
) -> list[Evidence]:
    """Evidence for each analysed message (``results`` from ``analyzer.analyze``).

    Args:
        method: ``auto`` (linear for n-gram models, occlusion for the rest),
            or ``occlusion`` for every model (the benchmark compares both).
    """
    if method not in ("auto", "occlusion"):
        raise ValueError(f"method must be auto or occlusion, not {method!r}")
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
    out: list[Evidence | None] = [None] * len(results)
    per_task: dict[str, dict[int, TaskEvidence]] = {t: {} for t in TASKS}
    for task in TASKS:
        # Occlusion copies of every message served by one model go in one batch.
        batches: dict[int, tuple[TextClassifier, list[tuple[_Job, list[tuple[int, int]]]]]] = {}
        for job in jobs:
            if job is None:
                continue
            r = results[job.index]
            label = r.polarity if task == "polarity" else r.emotion
            model = analyzer.models[job.lang][task]
            if method == "auto" and isinstance(model, NgramClassifier) and label in model.labels_:
                chars = linear_char_scores(model, job.text, model.labels_.index(label))
                if chars is not None:
                    weights = [float(chars[s:e].sum()) for s, e in job.units]
                    spans = top_spans(job.units, weights, job.mapped, r.text, job.base)
                    per_task[task][job.index] = TaskEvidence(label, spans, "linear")
                    continue
            units = group_units(job.units, MAX_UNITS)
            batches.setdefault(id(model), (model, []))[1].append((job, units))
        for model, items in batches.values():
            texts: list[str] = []
            for job, units in items:
                texts += _occlude(job.text, units)
            proba = model.predict_proba(texts)
            pos = 0
            for job, units in items:
                r = results[job.index]
                label = r.polarity if task == "polarity" else r.emotion
                block = proba[pos : pos + 1 + len(units)]
                pos += 1 + len(units)
                if label not in model.labels_:
                    per_task[task][job.index] = TaskEvidence(label, (), "occlusion")
                    continue
                c = model.labels_.index(label)
                weights = (block[0, c] - block[1:, c]).tolist()
                spans = top_spans(units, weights, job.mapped, r.text, job.base)
                per_task[task][job.index] = TaskEvidence(label, spans, "occlusion")
    for i, r in enumerate(results):
        job = jobs[i]
        if job is None:
            out[i] = _none(r)
            continue
        out[i] = Evidence(
            polarity=per_task["polarity"][i], emotion=per_task["emotion"][i], units=job.units
        )
    return [e for e in out if e is not None]
