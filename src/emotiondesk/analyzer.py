"""The analyzer: the one entry point for message analysis.

Example:
    >>> from emotiondesk import load_analyzer
    >>> analyzer = load_analyzer()                      # doctest: +SKIP
    >>> r = analyzer.analyze(["物流太慢了", "Great, thanks!"])  # doctest: +SKIP
    >>> r[0].polarity, r[0].emotion                     # doctest: +SKIP
    ('negative', 'anger')
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS, POLARITY_VALUES
from emotiondesk.models.base import TextClassifier, load_model
from emotiondesk.pack import LANGUAGES, default_pack_dir, read_pack
from emotiondesk.text import DEFAULT_MAX_CHARS, detect_language, prepare
from emotiondesk.text.chunks import chunk_spans
from emotiondesk.text.pii import without_pii
from emotiondesk.text.pinyin import is_pinyin, read_pinyin
from emotiondesk.text.signals import SignalLexicon, apply_signals, load_signals
from emotiondesk.text.spelling import SpellingCorrector, load_speller

logger = logging.getLogger(__name__)

_POLARITY_VALUES = np.array([POLARITY_VALUES[label] for label in POLARITY_LABELS])
_NEG = POLARITY_LABELS.index("negative")

#: Long texts are read in chunks of this many characters, overlapping by CHUNK_OVERLAP.
CHUNK_CHARS = 400
CHUNK_OVERLAP = 80
#: A chunk that reads negative with at least this probability decides a long text.
DECIDING_NEGATIVE = 0.5
#: A pinyin message whose reading is unsure keeps this share of the models' probabilities.
UNSURE_PINYIN_WEIGHT = 0.4


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """How one message reads.

    ``score`` is the expected polarity in [0, 1] (0 very negative, 0.5
    neutral, 1 very positive). ``polarity_scores`` and ``emotion_scores``
    hold calibrated probabilities over the full canonical schemes.
    ``truncated`` says the text was longer than the analyzer reads.
    ``decided_by`` (texts read in several chunks): ``{"chunk", "chunks",
    "start", "end"}``, the chunk whose reading decided (character offsets in
    the normalised text; ``chunk`` is ``None`` when no chunk read negative
    and the chunks were averaged). ``signals``: the lexical signals that
    adjusted the models' reading (``emoji``, ``threat``, ``sarcasm``, ...).
    ``read_as``: a romanised (pinyin) message as read in Chinese characters.
    """

    text: str
    language: str
    polarity: str
    polarity_scores: dict[str, float]
    score: float
    emotion: str
    emotion_scores: dict[str, float]
    truncated: bool = False
    model: str = ""
    decided_by: dict[str, int | None] | None = None
    signals: tuple[str, ...] = ()
    read_as: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``analyze --json`` and ``/v1/analyze`` shape)."""
        # Written out rather than dataclasses.asdict (which deep-copies field by
        # field): this is on the service's per-request path.
        return {
            "text": self.text,
            "language": self.language,
            "polarity": self.polarity,
            "polarity_scores": dict(self.polarity_scores),
            "score": self.score,
            "emotion": self.emotion,
            "emotion_scores": dict(self.emotion_scores),
            "truncated": self.truncated,
            "model": self.model,
            "decided_by": dict(self.decided_by) if self.decided_by is not None else None,
            "signals": list(self.signals),
            "read_as": self.read_as,
        }


@dataclass(frozen=True, slots=True)
class Reading:
    """What the analyzer read from a batch, as arrays (rows follow the input)."""

    polarity: np.ndarray
    emotion: np.ndarray
    languages: list[str]
    truncated: list[bool]
    extras: list[tuple[dict[str, int | None] | None, tuple[str, ...], str | None]]


def _to_scheme(proba: np.ndarray, model_labels: Sequence[str], scheme: Sequence[str]) -> np.ndarray:
    """Reorder a model's columns onto a canonical scheme (absent labels get 0)."""
    if list(model_labels) == list(scheme):
        return proba
    out = np.zeros((proba.shape[0], len(scheme)), dtype=np.float64)
    index = {label: i for i, label in enumerate(scheme)}
    for j, label in enumerate(model_labels):
        if label not in index:
            raise ModelError(f"model label {label!r} is not in the scheme {tuple(scheme)}")
        out[:, index[label]] = proba[:, j]
    return out


class Analyzer:
    """Routes each text by language to that language's polarity and emotion models.

    Args:
        models: ``{language: {"polarity": clf, "emotion": clf}}``.
        fallback_language: where texts of other languages (or none) go.
        version: the pack version, reported with every result.
        max_chars: longest text read (whole, in chunks); longer ones keep head and tail.
        signals: the lexical signals read on top of the models (``None``: none).
        chunk_chars, chunk_overlap: the chunks a long text is read in (``chunk_chars``
            0: one piece).
        pinyin: read romanised Chinese with the Chinese models.
        pii_neutral: the models and signals read each text without its PII and PII
            placeholders (``13812345678`` and ``[PHONE]`` carry no feeling but are
            n-gram features; removing both makes a masked message read as the raw one).
        spelling: English texts are read with one-slip typos in unknown words put right
            (``None``: as typed); see :mod:`emotiondesk.text.spelling`.
    """

    def __init__(
        self,
        models: Mapping[str, Mapping[str, TextClassifier]],
        *,
        fallback_language: str = "en",
        version: str = "",
        max_chars: int = DEFAULT_MAX_CHARS,
        signals: SignalLexicon | None = None,
        chunk_chars: int = CHUNK_CHARS,
        chunk_overlap: int = CHUNK_OVERLAP,
        pinyin: bool = True,
        pii_neutral: bool = True,
        spelling: SpellingCorrector | None = None,
    ) -> None:
        if fallback_language not in models:
            raise ModelError(f"fallback language {fallback_language!r} has no models")
        for lang, tasks in models.items():
            missing = {"polarity", "emotion"} - set(tasks)
            if missing:
                raise ModelError(f"language {lang!r} lacks models for {sorted(missing)}")
        self.models = {lang: dict(tasks) for lang, tasks in models.items()}
        self.fallback_language = fallback_language
        self.version = version
        self.max_chars = max_chars
        self.signals = signals
        self.chunk_chars = chunk_chars
        self.chunk_overlap = chunk_overlap
        self.pinyin = pinyin
        self.pii_neutral = pii_neutral
        self.spelling = spelling

    @property
    def languages(self) -> list[str]:
        return list(self.models)

    # -- preprocess -> forward -> postprocess -------------------------------------------

    def preprocess(self, texts: Iterable[str]) -> tuple[list[str], list[str], list[bool]]:
        """Normalise every text; return (normalised texts, languages, truncated flags)."""
        normed: list[str] = []
        langs: list[str] = []
        truncated: list[bool] = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInputError(f"text #{i} is a {type(text).__name__}, not a string")
            prepared = prepare(text, max_chars=self.max_chars)
            normed.append(prepared.text)
            langs.append(detect_language(prepared.text))
            truncated.append(prepared.truncated)
        return normed, langs, truncated

    def route(self, language: str) -> str:
        """The model language that serves ``language``."""
        return language if language in self.models else self.fallback_language

    def forward(self, normed: Sequence[str], langs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Polarity and emotion probabilities over the canonical schemes, one batch per language."""
        n = len(normed)
        pol = np.zeros((n, len(POLARITY_LABELS)))
        emo = np.zeros((n, len(EMOTION_LABELS)))
        groups: dict[str, list[int]] = {}
        for i, (text, lang) in enumerate(zip(normed, langs, strict=True)):
            if text:
                groups.setdefault(self.route(lang), []).append(i)
        for lang, idx in groups.items():
            batch = [normed[i] for i in idx]
            pmodel = self.models[lang]["polarity"]
            emodel = self.models[lang]["emotion"]
            pol[idx] = _to_scheme(pmodel.predict_proba(batch), pmodel.labels_, POLARITY_LABELS)
            emo[idx] = _to_scheme(emodel.predict_proba(batch), emodel.labels_, EMOTION_LABELS)
        # Nothing to read (empty, whitespace, control characters only): neutral.
        empty = [i for i, text in enumerate(normed) if not text]
        if empty:
            pol[empty] = np.eye(len(POLARITY_LABELS))[POLARITY_LABELS.index("neutral")]
            emo[empty] = np.eye(len(EMOTION_LABELS))[EMOTION_LABELS.index("neutral")]
        return pol, emo

    def postprocess(
        self,
        texts: Sequence[str],
        langs: Sequence[str],
        truncated: Sequence[bool],
        pol: np.ndarray,
        emo: np.ndarray,
        extras: Sequence[tuple[dict[str, int | None] | None, tuple[str, ...], str | None]]
        | None = None,
    ) -> list[AnalysisResult]:
        scores = pol @ _POLARITY_VALUES
        pol_idx = pol.argmax(axis=1)
        emo_idx = emo.argmax(axis=1)
        results = []
        for i, text in enumerate(texts):
            decided_by, signals, read_as = extras[i] if extras is not None else (None, (), None)
            results.append(
                AnalysisResult(
                    text=text,
                    language=langs[i],
                    polarity=POLARITY_LABELS[pol_idx[i]],
                    polarity_scores={
                        label: round(float(p), 6)
                        for label, p in zip(POLARITY_LABELS, pol[i], strict=True)
                    },
                    score=round(float(scores[i]), 6),
                    emotion=EMOTION_LABELS[emo_idx[i]],
                    emotion_scores={
                        label: round(float(p), 6)
                        for label, p in zip(EMOTION_LABELS, emo[i], strict=True)
                    },
                    truncated=truncated[i],
                    model=self.version,
                    decided_by=decided_by,
                    signals=signals,
                    read_as=read_as,
                )
            )
        return results

    def analyze(
        self, texts: Sequence[str] | str, *, language: str | None = None
    ) -> list[AnalysisResult]:
        """Analyse a batch of messages; a single string is a batch of one.

        Args:
            texts: the messages.
            language: ``"zh"`` or ``"en"`` to skip detection and use that
                language's models for every text; ``None`` detects per text.

        Returns one :class:`AnalysisResult` per input, in order.
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if language is not None and language not in self.models:
            raise InvalidInputError(
                f"language {language!r} is not served by this pack; use one of {self.languages}"
            )
        if not texts:
            return []
        reading = self.read_texts(texts, language=language)
        return self.postprocess(
            texts,
            reading.languages,
            reading.truncated,
            reading.polarity,
            reading.emotion,
            reading.extras,
        )

    def read_texts(self, texts: Sequence[str], *, language: str | None = None) -> Reading:
        """Everything ``analyze`` reads, as arrays (what evaluation scores).

        Normalisation, language detection, pinyin, chunks, models and signals;
        no result objects.
        """
        normed, langs, truncated = self.preprocess(texts)
        if language is not None:
            langs = [language] * len(langs)
        read_as: list[str | None] = [None] * len(normed)
        unsure: list[int] = []
        if language is None and self.pinyin and "zh" in self.models:
            # Romanised Chinese: read it in characters with the Chinese models.
            for i, (text, lang) in enumerate(zip(normed, langs, strict=True)):
                if lang != "zh" and text and text.isascii() and is_pinyin(text):
                    pinyin_reading = read_pinyin(text)
                    langs[i], read_as[i] = "zh", pinyin_reading.text
                    if not pinyin_reading.reliable:
                        unsure.append(i)
        model_texts = [r if r is not None else t for r, t in zip(read_as, normed, strict=True)]
        pol, emo, decided, used = self.read(model_texts, langs)
        for i in unsure:
            # Not sure of the reading: say so with a low confidence.
            pol[i] = UNSURE_PINYIN_WEIGHT * pol[i] + (1 - UNSURE_PINYIN_WEIGHT) / pol.shape[1]
            emo[i] = UNSURE_PINYIN_WEIGHT * emo[i] + (1 - UNSURE_PINYIN_WEIGHT) / emo.shape[1]
            used[i] = (*used[i], "pinyin_unsure")
        extras = [(decided[i], used[i], read_as[i]) for i in range(len(normed))]
        return Reading(pol, emo, langs, truncated, extras)

    def read(
        self, normed: Sequence[str], langs: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, int | None] | None], list[tuple[str, ...]]]:
        """Read whole texts: chunks of long ones, signals, and the chunks' aggregate.

        A text longer than ``chunk_chars`` is read in overlapping chunks; the
        chunk that reads most negative decides when it reads negative (one
        angry paragraph in a long, friendly message is not averaged away),
        otherwise the chunks' probabilities are averaged.

        Returns polarity and emotion probabilities, ``decided_by`` and the
        signals used, per text.
        """
        units: list[str] = []
        unit_langs: list[str] = []
        owners: list[list[int]] = []
        spans: list[list[tuple[int, int]]] = []
        for text, lang in zip(normed, langs, strict=True):
            text_spans = (
                chunk_spans(text, size=self.chunk_chars, overlap=self.chunk_overlap)
                if self.chunk_chars > 0
                else [(0, len(text))]
            )
            owners.append(list(range(len(units), len(units) + len(text_spans))))
            spans.append(text_spans)
            units.extend(text[s:e] for s, e in text_spans)
            unit_langs.extend([lang] * len(text_spans))
        if self.pii_neutral:
            units = [without_pii(u) for u in units]
        if self.spelling is not None:
            units = [
                self.spelling.correct(u) if self.route(lang) == "en" else u
                for u, lang in zip(units, unit_langs, strict=True)
            ]
        upol, uemo = self.forward(units, unit_langs)
        unit_signals: list[tuple[str, ...]] = [()] * len(units)
        if self.signals is not None:
            for k, unit in enumerate(units):
                if unit:
                    upol[k], uemo[k], fired = apply_signals(
                        self.signals, unit, self.route(unit_langs[k]), upol[k], uemo[k]
                    )
                    unit_signals[k] = tuple(fired)
        n = len(normed)
        pol = np.zeros((n, upol.shape[1]))
        emo = np.zeros((n, uemo.shape[1]))
        decided: list[dict[str, int | None] | None] = [None] * n
        used: list[tuple[str, ...]] = [()] * n
        for i, ks in enumerate(owners):
            if len(ks) == 1:
                pol[i], emo[i], used[i] = upol[ks[0]], uemo[ks[0]], unit_signals[ks[0]]
                continue
            j = int(np.argmax(upol[ks, _NEG]))
            k = ks[j]
            start, end = spans[i][j]
            if upol[k, _NEG] >= DECIDING_NEGATIVE and int(np.argmax(upol[k])) == _NEG:
                pol[i], emo[i], used[i] = upol[k], uemo[k], unit_signals[k]
                decided[i] = {"chunk": j, "chunks": len(ks), "start": start, "end": end}
            else:
                pol[i], emo[i] = upol[ks].mean(axis=0), uemo[ks].mean(axis=0)
                used[i] = tuple(dict.fromkeys(s for kk in ks for s in unit_signals[kk]))
                decided[i] = {"chunk": None, "chunks": len(ks), "start": 0, "end": len(normed[i])}
        return pol, emo, decided, used


def open_model(directory: str | Path, *, prefer_onnx: bool = True) -> TextClassifier:
    """Open a model directory, preferring its exported ONNX artifact (``onnx/``) when present."""
    path = Path(directory)
    if prefer_onnx and (path / "onnx" / "config.json").is_file():
        return load_model(path / "onnx")
    return load_model(path)


def task_head(model: TextClassifier, task: str) -> TextClassifier:
    """The view of a multi-task model that serves ``task`` (a single-task model as is)."""
    for_task = getattr(model, "for_task", None)
    return for_task(task) if callable(for_task) else model  # type: ignore[no-any-return]


def load_analyzer(
    pack: str | Path | None = None,
    *,
    max_chars: int | None = None,
    signals: str | Path | bool | None = True,
) -> Analyzer:
    """Load an analyzer from a model pack (default: the shipped pack).

    Args:
        pack: a pack directory (with ``pack.json``); ``None`` or ``"default"``
            for the shipped pack (or ``EMOTIONDESK_MODEL_DIR``).
        max_chars: longest text read (default: settings, 20,000).
        signals: the lexical signals read on top of the models: ``True`` for
            the shipped lexicon (or ``EMOTIONDESK_SIGNALS_FILE``; none when
            ``EMOTIONDESK_SIGNALS=false``), a path to a lexicon file of the
            same format, ``False``/``None`` for none.
    """
    from emotiondesk.config import get_settings
    from emotiondesk.models.ngram import known_words, share_lookups

    root = default_pack_dir() if pack in (None, "default") else Path(str(pack))
    spec = read_pack(root)
    loaded: dict[str, TextClassifier] = {}
    models: dict[str, dict[str, TextClassifier]] = {}
    for lang, tasks in spec.routes.items():
        if lang not in LANGUAGES:
            logger.warning("pack %s routes unknown language %r; ignored", root, lang)
            continue
        for task, rel in tasks.items():
            key = str(spec.root / rel)  # spec.root: a registry's champion version
            if key not in loaded:  # a multi-task model serves several routes
                loaded[key] = open_model(spec.root / rel)
            models.setdefault(lang, {})[task] = task_head(loaded[key], task)
    for served in models.values():
        # A language's n-gram models look each n-gram of a batch up once, together.
        share_lookups(list(served.values()))
    return Analyzer(
        models,
        fallback_language=spec.fallback_language,
        version=f"{spec.name}-{spec.version}",
        max_chars=max_chars if max_chars is not None else get_settings().max_chars,
        signals=_signals(signals if get_settings().signals else False, get_settings().signals_file),
        chunk_chars=get_settings().chunk_chars,
        pinyin=get_settings().pinyin,
        pii_neutral=get_settings().pii_neutral,
        spelling=(
            load_speller(known_words(list(models["en"].values())))
            if get_settings().spelling and "en" in models
            else None
        ),
    )


def _signals(choice: str | Path | bool | None, configured: str | None) -> SignalLexicon | None:
    if choice is None or choice is False:
        return None
    if choice is True:
        return load_signals(configured)
    return load_signals(choice)
