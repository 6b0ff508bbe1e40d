"""Fast n-gram classifiers: TF-IDF n-grams, a linear model, temperature-scaled softmax.

The featurizer and the forward pass are plain numpy/scipy, written here, so
inference never imports scikit-learn (only ``fit`` does, from the ``[train]``
extra). Features:

* Chinese (``language="zh"``): character n-grams (default 1-3) of the
  normalised, lower-cased text.
* English (``language="en"``): word n-grams (default 1-2; words, emoticons and
  punctuation runs are tokens) plus character n-grams (default 2-4).

Each feature weighs ``(1 + log tf) * idf`` and every row is L2-normalised
(sublinear TF-IDF). A multinomial logistic regression is fitted on them; its
logits are divided by a temperature fitted on a held-out part of the training
data (temperature scaling), so the probabilities are calibrated. Then the
vocabulary is pruned to the features with the largest weights, the model is
refitted on that vocabulary, and the weights are stored as int8 (per-class
scale) or float16 to keep each model at a few MB.

Artifact (``save_pretrained``): ``config.json`` (model_type ``ngram``,
labels, preprocessing and featurizer settings, temperature, training info,
version), ``vocab.json`` (the n-grams in feature order) and
``weights.safetensors`` (weights, scales, bias, idf). No pickle anywhere.

Example:
    >>> clf = NgramClassifier(language="en").fit(
    ...     ["great, thanks", "awful delay", "love it", "very bad"] * 5,
    ...     ["positive", "negative", "positive", "negative"] * 5)
    >>> clf.predict(["thanks, great"])
    ['positive']
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from emotiondesk._version import __version__
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.models.base import CONFIG_NAME, EstimatorParams, read_config, register
from emotiondesk.models.probability import fit_temperature, softmax
from emotiondesk.text.normalize import DEFAULT_MAX_CHARS, normalize

logger = logging.getLogger(__name__)

MODEL_TYPE = "ngram"
FORMAT_VERSION = 1
VOCAB_NAME = "vocab.json"
WEIGHTS_NAME = "weights.safetensors"

#: Word tokens: words (letters, digits, apostrophes), or runs of other
#: non-space characters (punctuation, emoticons, emoji).
_WORD_RE = re.compile(r"[\w']+|[^\w\s]+")
#: Prefix that keeps word n-grams apart from character n-grams (normalised
#: text never contains control characters, so no character n-gram starts so).
_WORD_MARK = "\x01"


#: featurizer settings -> (last batch of texts, their n-grams); see ``batch_ngrams``.
_LAST_BATCH: dict[tuple[Any, ...], tuple[tuple[str, ...], list[list[str]]]] = {}


class NgramFeaturizer:
    """Text -> n-gram strings, and n-gram strings -> a sparse TF-IDF matrix.

    Stateless apart from ``vocabulary`` and ``idf`` (set by :meth:`build` or
    on load). Used identically in training and inference.
    """

    def __init__(
        self,
        *,
        char_ngram_range: tuple[int, int] | None = (1, 3),
        word_ngram_range: tuple[int, int] | None = None,
        lowercase: bool = True,
        max_chars: int | None = DEFAULT_MAX_CHARS,
    ) -> None:
        self.char_ngram_range = tuple(char_ngram_range) if char_ngram_range else None
        self.word_ngram_range = tuple(word_ngram_range) if word_ngram_range else None
        self.lowercase = lowercase
        self.max_chars = max_chars
        self.vocabulary: dict[str, int] = {}
        self.idf: np.ndarray = np.zeros(0, dtype=np.float32)
        #: (the vocabulary it was built for, a SharedLookup, this vocabulary's column
        #: map): set by :func:`share_lookups`, used only while that vocabulary stands.
        self._shared: tuple[dict[str, int], SharedLookup, np.ndarray] | None = None

    # -- text -> n-grams ----------------------------------------------------------------

    def preprocess(self, text: str) -> str:
        text = normalize(text, max_chars=self.max_chars)
        return text.lower() if self.lowercase else text

    def ngrams(self, text: str) -> list[str]:
        """The n-grams of one *preprocessed* text (with repeats)."""
        grams: list[str] = []
        if self.char_ngram_range:
            lo, hi = self.char_ngram_range
            n_chars = len(text)
            for n in range(lo, hi + 1):
                if n == 1:
                    grams.extend(text.replace(" ", ""))  # a str extends by its characters
                else:
                    grams += [text[i : i + n] for i in range(n_chars - n + 1)]
        if self.word_ngram_range:
            lo, hi = self.word_ngram_range
            words = _WORD_RE.findall(text)
            for n in range(lo, hi + 1):
                if n == 1:
                    grams += [_WORD_MARK + w for w in words]
                else:
                    grams.extend(
                        _WORD_MARK + " ".join(words[i : i + n]) for i in range(len(words) - n + 1)
                    )
        return grams

    # -- vocabulary ---------------------------------------------------------------------

    def build(
        self, texts: Sequence[str], *, min_df: int = 2, max_features: int | None = None
    ) -> list[list[str]]:
        """Build the vocabulary and idf from preprocessed texts; return their n-grams."""
        df: Counter[str] = Counter()
        all_grams = []
        for text in texts:
            grams = self.ngrams(text)
            all_grams.append(grams)
            df.update(set(grams))
        items = [(g, c) for g, c in df.items() if c >= min_df]
        items.sort(key=lambda gc: (-gc[1], gc[0]))
        if max_features is not None:
            items = items[:max_features]
        self.vocabulary = {g: i for i, (g, _) in enumerate(items)}
        n_docs = len(texts)
        counts = np.array([c for _, c in items], dtype=np.float64)
        idf = np.log((1.0 + n_docs) / (1.0 + counts)) + 1.0
        # Stored as float16: round now so training sees what inference will.
        self.idf = idf.astype(np.float16).astype(np.float32)
        return all_grams

    def restrict(self, keep: np.ndarray) -> None:
        """Keep only the features at indices ``keep`` (in that order)."""
        inverse = list(self.vocabulary)
        self.vocabulary = {inverse[j]: i for i, j in enumerate(keep.tolist())}
        self.idf = self.idf[keep]

    # -- n-grams -> matrix --------------------------------------------------------------

    def counts(self, grams_per_text: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Raw counts (rows = texts, columns = vocabulary), out-of-vocabulary dropped."""
        n_rows = len(grams_per_text)
        lengths = np.fromiter(map(len, grams_per_text), dtype=np.int64, count=n_rows)
        total = int(lengths.sum())
        shared = self._shared
        if shared is not None and shared[0] is self.vocabulary:
            # The batch's n-grams were looked up once for every featurizer sharing it.
            ids = shared[2][shared[1].ids(grams_per_text, total)]
        else:
            # One C-level pass over every n-gram of the batch (no Python loop per n-gram).
            flat = chain.from_iterable(grams_per_text)
            ids = np.fromiter(
                map(self.vocabulary.get, flat, repeat(-1)), dtype=np.int64, count=total
            )
        known = ids >= 0
        rows = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)[known]
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        mat = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), ids[known].astype(np.int32), indptr),
            shape=(n_rows, len(self.vocabulary)),
        )
        mat.sum_duplicates()
        return mat

    def weigh(self, counts: sp.csr_matrix, idf: np.ndarray | None = None) -> sp.csr_matrix:
        """Sublinear TF-IDF with L2-normalised rows (in place on a copy)."""
        mat = counts.astype(np.float32, copy=True)
        np.log(mat.data, out=mat.data)
        mat.data += 1.0
        mat.data *= (self.idf if idf is None else idf)[mat.indices]
        row_of = np.repeat(np.arange(mat.shape[0]), np.diff(mat.indptr))
        norms = np.sqrt(np.bincount(row_of, weights=mat.data * mat.data, minlength=mat.shape[0]))
        norms[norms == 0] = 1.0
        mat.data /= norms[row_of].astype(np.float32)
        return mat

    def batch_ngrams(self, texts: Sequence[str]) -> list[list[str]]:
        """The n-grams of each raw text (normalised first).

        The last batch's n-grams are kept per featurizer setting, so the
        polarity and emotion models of one language (same settings, same
        batch, as the analyzer calls them) normalise and split it once.
        """
        key = self._settings_key()
        batch = tuple(texts)
        cached = _LAST_BATCH.get(key)
        if cached is not None and cached[0] == batch:
            return cached[1]
        grams = [self.ngrams(self.preprocess(t)) for t in batch]
        _LAST_BATCH[key] = (batch, grams)
        return grams

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Raw texts -> TF-IDF matrix (normalises each text first)."""
        return self.weigh(self.counts(self.batch_ngrams(texts)))

    def _settings_key(self) -> tuple[Any, ...]:
        return (self.char_ngram_range, self.word_ngram_range, self.lowercase, self.max_chars)

    def settings(self) -> dict[str, Any]:
        return {
            "char_ngram_range": list(self.char_ngram_range) if self.char_ngram_range else None,
            "word_ngram_range": list(self.word_ngram_range) if self.word_ngram_range else None,
            "lowercase": self.lowercase,
            "max_chars": self.max_chars,
            "normalize": "emotiondesk.text.normalize",
        }


class SharedLookup:
    """One dictionary lookup per n-gram for several featurizers with the same settings.

    A language's polarity and emotion models split a batch into the same
    n-grams (``batch_ngrams`` shares them) but look them up in two
    vocabularies; with vocabularies of 10^5 entries each lookup is mostly
    cache misses. This holds the union of the vocabularies (the same string
    objects) and, per vocabulary, a column map from union ids to its own ids
    (-1 where absent; the extra last slot maps "unknown" to -1), so a batch is
    looked up once and each model gathers its ids with one numpy index.
    The ids are exactly ``vocabulary.get(gram, -1)``.
    """

    def __init__(self, vocabularies: Sequence[dict[str, int]]) -> None:
        index: dict[str, int] = {}
        for vocab in vocabularies:
            for gram in vocab:
                if gram not in index:
                    index[gram] = len(index)
        self.index = index
        self.columns: list[np.ndarray] = []
        for vocab in vocabularies:
            column = np.full(len(index) + 1, -1, dtype=np.int64)
            column[[index[g] for g in vocab]] = list(vocab.values())
            self.columns.append(column)
        self._last: tuple[Sequence[Sequence[str]], np.ndarray] | None = None

    def ids(self, grams_per_text: Sequence[Sequence[str]], total: int) -> np.ndarray:
        """Union ids (-1 unknown) of the batch's n-grams; the last batch is remembered."""
        last = self._last
        if last is not None and last[0] is grams_per_text:
            return last[1]
        flat = chain.from_iterable(grams_per_text)
        ids = np.fromiter(map(self.index.get, flat, repeat(-1)), dtype=np.int64, count=total)
        self._last = (grams_per_text, ids)
        return ids


def share_lookups(models: Sequence[Any]) -> int:
    """Let the n-gram featurizers of ``models`` (one language's) share their lookups.

    Featurizers with the same settings (so the same n-grams) but different
    vocabularies get one :class:`SharedLookup`; n-gram members of ensembles
    (``models_``) count too. Results are unchanged. Returns the number of
    featurizers linked.
    """
    groups: dict[tuple[Any, ...], dict[int, NgramFeaturizer]] = {}
    stack = list(models)
    while stack:
        model = stack.pop()
        featurizer = getattr(model, "featurizer_", None)
        if isinstance(featurizer, NgramFeaturizer) and featurizer.vocabulary:
            groups.setdefault(featurizer._settings_key(), {})[id(featurizer)] = featurizer
        stack.extend(getattr(model, "models_", ()))
    linked = 0
    for by_id in groups.values():
        featurizers = [f for f in by_id.values()]
        vocabularies = {id(f.vocabulary): f.vocabulary for f in featurizers}
        if len(vocabularies) < 2:
            continue
        lookup = SharedLookup(list(vocabularies.values()))
        column_of = dict(zip(vocabularies, lookup.columns, strict=True))
        for f in featurizers:
            f._shared = (f.vocabulary, lookup, column_of[id(f.vocabulary)])
            linked += 1
    return linked


def known_words(models: Sequence[Any]) -> set[str]:
    """The words (unigram features of letters only) the n-gram models of ``models`` know.

    Members of ensembles (``models_``) count too. What the spelling corrector
    must not take for a typo: a word the models learned is read as it is.
    """
    words: set[str] = set()
    stack = list(models)
    seen: set[int] = set()
    while stack:
        model = stack.pop()
        if id(model) in seen:
            continue
        seen.add(id(model))
        featurizer = getattr(model, "featurizer_", None)
        if isinstance(featurizer, NgramFeaturizer) and featurizer.word_ngram_range:
            words.update(
                g[1:] for g in featurizer.vocabulary if g[:1] == _WORD_MARK and g[1:].isalpha()
            )
        stack.extend(getattr(model, "models_", ()))
    return words


_LANGUAGE_DEFAULTS: dict[str, dict[str, tuple[int, int] | None]] = {
    "zh": {"char_ngram_range": (1, 3), "word_ngram_range": None},
    "en": {"char_ngram_range": (2, 4), "word_ngram_range": (1, 2)},
}


@register(MODEL_TYPE)
class NgramClassifier(EstimatorParams):
    """Sublinear TF-IDF n-grams + multinomial logistic regression, temperature-calibrated.

    Args:
        language: ``"zh"`` or ``"en"``; picks the default n-gram ranges.
        char_ngram_range: character n-gram sizes (``None`` for the language default).
        word_ngram_range: word n-gram sizes (``None`` for the language default;
            ``(0, 0)`` for none).
        min_df: an n-gram must occur in this many training texts.
        max_features: n-grams kept before fitting (most frequent first).
        keep_features: n-grams kept after fitting (largest weights first);
            the model is refitted on them. ``None`` keeps all.
        C: inverse L2 regularisation strength of the logistic regression.
        class_weight: ``None`` or ``"balanced"``.
        calibration_fraction: share of the training data held out to fit the
            temperature (0 disables calibration); the final model is refitted
            on all the data and keeps that temperature.
        weight_dtype: ``"int8"``, ``"float16"`` or ``"float32"`` (stored weights).
        max_iter: iterations of the solver.
        random_state: seed of the calibration split.
    """

    def __init__(
        self,
        language: str = "zh",
        *,
        char_ngram_range: tuple[int, int] | None = None,
        word_ngram_range: tuple[int, int] | None = None,
        min_df: int = 2,
        max_features: int | None = 400_000,
        keep_features: int | None = 120_000,
        C: float = 4.0,
        class_weight: str | None = None,
        calibration_fraction: float = 0.1,
        weight_dtype: str = "int8",
        max_iter: int = 200,
        random_state: int = 0,
    ) -> None:
        self.language = language
        self.char_ngram_range = char_ngram_range
        self.word_ngram_range = word_ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.keep_features = keep_features
        self.C = C
        self.class_weight = class_weight
        self.calibration_fraction = calibration_fraction
        self.weight_dtype = weight_dtype
        self.max_iter = max_iter
        self.random_state = random_state

    # -- scikit-learn contract ----------------------------------------------------------

    def _make_featurizer(self) -> NgramFeaturizer:
        if self.language not in _LANGUAGE_DEFAULTS:
            raise InvalidInputError(
                f"language must be one of {sorted(_LANGUAGE_DEFAULTS)}, not {self.language!r}"
            )
        defaults = _LANGUAGE_DEFAULTS[self.language]
        char = self.char_ngram_range or defaults["char_ngram_range"]
        word = self.word_ngram_range or defaults["word_ngram_range"]
        if word is not None and tuple(word) == (0, 0):
            word = None
        if char is not None and tuple(char) == (0, 0):
            char = None
        return NgramFeaturizer(char_ngram_range=char, word_ngram_range=word)

    def _fit_linear(
        self,
        x: sp.csr_matrix,
        y: np.ndarray,
        n_classes: int,
        init: tuple[np.ndarray, np.ndarray] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fit the logistic regression; return (coef [F, C], intercept [C]).

        ``init`` (a previous result, same features) warm-starts the solver.
        """
        try:
            from sklearn.linear_model import LogisticRegression
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ModelError(
                "training n-gram models needs scikit-learn: pip install 'emotiondesk[train]'"
            ) from exc
        clf = LogisticRegression(
            C=self.C,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            solver="lbfgs",
            warm_start=init is not None,
        )
        if init is not None:
            w0, b0 = init
            if n_classes == 2:
                clf.coef_ = (w0[:, 1] - w0[:, 0])[None, :].astype(np.float64)
                clf.intercept_ = np.array([b0[1] - b0[0]], dtype=np.float64)
            else:
                clf.coef_ = w0.T.astype(np.float64)
                clf.intercept_ = b0.astype(np.float64)
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x, y, sample_weight=sample_weight)
        coef = clf.coef_
        intercept = clf.intercept_
        if n_classes == 2:  # binary: sklearn keeps one row; make it a symmetric pair
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return coef.T.astype(np.float32), intercept.astype(np.float32)

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        sample_weight: Sequence[float] | np.ndarray | None = None,
    ) -> NgramClassifier:
        """Fit on raw texts and label names; returns ``self``.

        ``sample_weight`` (one non-negative weight per row, as in scikit-learn)
        weighs the rows in the logistic regression and in the temperature fit.
        Soft targets are written as one row per class, weighted by the
        target's probability: the loss is then the cross-entropy against
        them (how ``benchmarks/distill.py`` distils a teacher model).
        """
        texts = list(texts)
        labels = [str(label) for label in labels]
        if len(texts) != len(labels):
            raise InvalidInputError(f"{len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise InvalidInputError("cannot fit on no data")
        sw: np.ndarray | None = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            if sw.shape != (len(texts),):
                raise InvalidInputError(
                    f"sample_weight needs one weight per text ({len(texts)}), got shape {sw.shape}"
                )
            if not np.all(np.isfinite(sw)) or (sw < 0).any() or sw.sum() <= 0:
                raise InvalidInputError("sample_weight must be finite, >= 0 and not all zero")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise InvalidInputError(f"need at least two labels to fit, got {classes}")
        start = time.perf_counter()
        featurizer = self._make_featurizer()
        prepped = [featurizer.preprocess(t) for t in texts]
        grams = featurizer.build(prepped, min_df=self.min_df, max_features=self.max_features)
        if not featurizer.vocabulary:
            raise InvalidInputError("no n-gram occurs in min_df texts; lower min_df or add data")
        raw = featurizer.counts(grams)
        del grams
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[label] for label in labels])
        n_vocab = len(featurizer.vocabulary)

        # 1. prune: fit on everything, keep the n-grams with the largest weights.
        x_all = featurizer.weigh(raw)
        if self.keep_features is not None and n_vocab > self.keep_features:
            w, b = self._fit_linear(x_all, y, len(classes), sample_weight=sw)
            strength = np.abs(w).max(axis=1)
            keep = np.sort(np.argsort(-strength, kind="stable")[: self.keep_features])
            featurizer.restrict(keep)
            x_all = featurizer.weigh(raw[:, keep])
            init = (w[keep], b)
        else:
            init = None

        # 2. temperature: fit without a stratified held-out part, calibrate on it.
        temperature = 1.0
        rng = np.random.default_rng(self.random_state)
        holdout = np.zeros(len(y), dtype=bool)
        if self.calibration_fraction > 0 and len(y) >= 50:
            for c in range(len(classes)):
                members = np.flatnonzero(y == c)
                k = round(len(members) * self.calibration_fraction)
                if 0 < k < len(members):
                    holdout[rng.choice(members, size=k, replace=False)] = True
        if holdout.any():
            wh, bh = self._fit_linear(
                x_all[~holdout],
                y[~holdout],
                len(classes),
                init,
                sample_weight=None if sw is None else sw[~holdout],
            )
            init = (wh, bh)
            temperature = fit_temperature(
                np.asarray(x_all[holdout] @ wh) + bh,
                y[holdout],
                sample_weight=None if sw is None else sw[holdout],
            )

        # 3. the final fit on everything (keeps the temperature of step 2).
        w, b = self._fit_linear(x_all, y, len(classes), init, sample_weight=sw)

        self.labels_ = classes
        self.featurizer_ = featurizer
        self.temperature_ = temperature
        self._set_weights(w, b)
        self.training_info_ = {
            "n_train": len(texts),
            "label_counts": {c: int((y == i).sum()) for i, c in enumerate(classes)},
            **(
                {}
                if sw is None
                else {
                    "label_weights": {
                        c: round(float(sw[y == i].sum()), 1) for i, c in enumerate(classes)
                    }
                }
            ),
            "n_features_seen": n_vocab,
            "n_features": len(featurizer.vocabulary),
            "calibration_rows": int(holdout.sum()),
            "fit_seconds": round(time.perf_counter() - start, 1),
        }
        return self

    # -- weights ------------------------------------------------------------------------

    def _set_weights(self, w: np.ndarray, b: np.ndarray) -> None:
        """Quantise ``w`` as ``weight_dtype`` and keep the float32 view used in forward."""
        if self.weight_dtype == "int8":
            scale = np.abs(w).max(axis=0) / 127.0
            scale[scale == 0] = 1.0
            q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
            self.weights_stored_ = q
            self.weight_scale_ = scale.astype(np.float32)
        elif self.weight_dtype in ("float16", "float32"):
            self.weights_stored_ = w.astype(self.weight_dtype)
            self.weight_scale_ = np.ones(w.shape[1], dtype=np.float32)
        else:
            raise InvalidInputError(
                f"weight_dtype must be int8, float16 or float32, not {self.weight_dtype!r}"
            )
        self.bias_ = b.astype(np.float32)
        # What forward multiplies by: dequantised, with the temperature folded in.
        self.coef_ = (
            self.weights_stored_.astype(np.float32) * self.weight_scale_ / self.temperature_
        )
        self.intercept_ = self.bias_ / self.temperature_

    # -- inference ----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ModelError("this NgramClassifier is not fitted: call fit() or from_pretrained()")

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated logits (temperature applied), shape ``(n, len(labels_))``."""
        self._check_fitted()
        if isinstance(texts, str):
            texts = [texts]
        x = self.featurizer_.transform(texts)
        return np.asarray(x @ self.coef_, dtype=np.float64) + self.intercept_

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities; columns follow ``labels_``."""
        return softmax(self.decision_function(texts), dtype=None)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        proba = self.predict_proba(texts)
        return [self.labels_[i] for i in proba.argmax(axis=1)]

    # -- artifact -----------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "model_type": MODEL_TYPE,
            "format_version": FORMAT_VERSION,
            "version": __version__,
            "language": self.language,
            "labels": list(self.labels_),
            "preprocessing": self.featurizer_.settings(),
            "temperature": self.temperature_,
            "weight_dtype": self.weight_dtype,
            "params": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()
            },
            "training": dict(getattr(self, "training_info_", {})),
        }

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json``, ``vocab.json`` and ``weights.safetensors`` to ``directory``."""
        from safetensors.numpy import save_file

        self._check_fitted()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        cfg = self.config()
        (path / CONFIG_NAME).write_text(
            json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        vocab = sorted(self.featurizer_.vocabulary, key=self.featurizer_.vocabulary.__getitem__)
        (path / VOCAB_NAME).write_text(
            json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
        save_file(
            {
                "weight": np.ascontiguousarray(self.weights_stored_),
                "weight_scale": self.weight_scale_,
                "bias": self.bias_,
                "idf": self.featurizer_.idf.astype(np.float16),
            },
            str(path / WEIGHTS_NAME),
            metadata={"format": "emotiondesk-ngram", "format_version": str(FORMAT_VERSION)},
        )
        return path

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> NgramClassifier:
        """Open a directory written by :meth:`save_pretrained` (reads JSON and safetensors only)."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(directory)
        cfg = read_config(path)
        if cfg.get("model_type") != MODEL_TYPE:
            raise ModelError(f"{path} holds a {cfg.get('model_type')!r} model, not {MODEL_TYPE!r}")
        try:
            vocab = json.loads((path / VOCAB_NAME).read_text(encoding="utf-8"))
            arrays = load_file(str(path / WEIGHTS_NAME))
        except (OSError, json.JSONDecodeError, SafetensorError) as exc:
            raise ModelError(f"cannot read the n-gram model in {path}: {exc}") from exc
        params = dict(cfg.get("params", {}))
        for key in ("char_ngram_range", "word_ngram_range"):
            if params.get(key) is not None:
                params[key] = tuple(params[key])
        known = set(cls(language="zh").get_params())
        model = cls(**{k: v for k, v in params.items() if k in known})
        pre = cfg.get("preprocessing", {})
        featurizer = NgramFeaturizer(
            char_ngram_range=tuple(pre["char_ngram_range"])
            if pre.get("char_ngram_range")
            else None,
            word_ngram_range=tuple(pre["word_ngram_range"])
            if pre.get("word_ngram_range")
            else None,
            lowercase=bool(pre.get("lowercase", True)),
            max_chars=pre.get("max_chars", DEFAULT_MAX_CHARS),
        )
        if not isinstance(vocab, list) or len(vocab) != arrays["weight"].shape[0]:
            raise ModelError(f"{path}: vocabulary and weights disagree in size")
        featurizer.vocabulary = {g: i for i, g in enumerate(vocab)}
        featurizer.idf = arrays["idf"].astype(np.float32)
        labels = list(cfg["labels"])
        if arrays["weight"].shape[1] != len(labels):
            raise ModelError(
                f"{path}: weights have {arrays['weight'].shape[1]} columns for {len(labels)} labels"
            )
        model.labels_ = labels
        model.featurizer_ = featurizer
        model.temperature_ = float(cfg.get("temperature", 1.0))
        model.training_info_ = dict(cfg.get("training", {}))
        model.weights_stored_ = arrays["weight"]
        model.weight_scale_ = arrays["weight_scale"].astype(np.float32)
        model.bias_ = arrays["bias"].astype(np.float32)
        model.coef_ = (
            model.weights_stored_.astype(np.float32) * model.weight_scale_ / model.temperature_
        )
        model.intercept_ = model.bias_ / model.temperature_
        return model

    def __repr__(self) -> str:
        return f"NgramClassifier(language={self.language!r}, C={self.C})"
