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

logger = logging.getLogger(__name__)

_POLARITY_VALUES = np.array([POLARITY_VALUES[label] for label in POLARITY_LABELS])


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """How one message reads.

    ``score`` is the expected polarity in [0, 1] (0 very negative, 0.5
    neutral, 1 very positive). ``polarity_scores`` and ``emotion_scores``
    hold calibrated probabilities over the full canonical schemes.
    ``truncated`` says the text was longer than the analyzer reads.
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
        }


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
        max_chars: longest text read; longer ones keep head and tail.
    """

    def __init__(
        self,
        models: Mapping[str, Mapping[str, TextClassifier]],
        *,
        fallback_language: str = "en",
        version: str = "",
        max_chars: int = DEFAULT_MAX_CHARS,
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
    ) -> list[AnalysisResult]:
        scores = pol @ _POLARITY_VALUES
        pol_idx = pol.argmax(axis=1)
        emo_idx = emo.argmax(axis=1)
        results = []
        for i, text in enumerate(texts):
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
        normed, langs, truncated = self.preprocess(texts)
        if language is not None:
            langs = [language] * len(langs)
        pol, emo = self.forward(normed, langs)
        return self.postprocess(texts, langs, truncated, pol, emo)


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


def load_analyzer(pack: str | Path | None = None, *, max_chars: int | None = None) -> Analyzer:
    """Load an analyzer from a model pack (default: the shipped pack).

    Args:
        pack: a pack directory (with ``pack.json``); ``None`` or ``"default"``
            for the shipped pack (or ``EMOTIONDESK_MODEL_DIR``).
        max_chars: longest text read (default: settings, 2000).
    """
    from emotiondesk.config import get_settings
    from emotiondesk.models.ngram import share_lookups

    root = default_pack_dir() if pack in (None, "default") else Path(str(pack))
    spec = read_pack(root)
    loaded: dict[str, TextClassifier] = {}
    models: dict[str, dict[str, TextClassifier]] = {}
    for lang, tasks in spec.routes.items():
        if lang not in LANGUAGES:
            logger.warning("pack %s routes unknown language %r; ignored", root, lang)
            continue
        for task, rel in tasks.items():
            key = str(root / rel)
            if key not in loaded:  # a multi-task model serves several routes
                loaded[key] = open_model(root / rel)
            models.setdefault(lang, {})[task] = task_head(loaded[key], task)
    for served in models.values():
        # A language's n-gram models look each n-gram of a batch up once, together.
        share_lookups(list(served.values()))
    return Analyzer(
        models,
        fallback_language=spec.fallback_language,
        version=f"{spec.name}-{spec.version}",
        max_chars=max_chars if max_chars is not None else get_settings().max_chars,
    )
