"""Aspect-level sentiment for product reviews, in Chinese and English.

Which aspects (price, quality, logistics, service, packaging, size/fit,
battery, taste, ...) a review praises or complains about. The method is
transparent and fast, so it runs on every imported review:

1. split the review into clauses (punctuation and contrast words such as
   但是 / 不过 / but / however);
2. find aspect terms in each clause (a lexicon per aspect, per language;
   the lexicon's ``category_aspects`` narrows the aspects to those that make
   sense for a product category);
3. find opinion words (a general lexicon plus aspect-specific senses: 贵 and
   "expensive" are bad for price; 快 and "fast" are good for delivery;
   "cheap" is good for price and bad for quality), flip those preceded by a
   negator within a short window (不 / 没有 / 并不 ..., not / never / n't ...),
   and give each opinion to the nearest aspect term in its clause;
4. a clause's aspect polarity is the sign of its summed opinions; a clause
   with an aspect but no opinion word is neutral, or is labelled by
   ``polarity_fn`` (e.g. the analyzer) when one is given.

The lexicons are data, ``aspects_lexicon.yaml`` beside this module, loaded
on first use by :func:`aspect_lexicon` (cached). A team extends or replaces
them with its own YAML file: the setting ``aspect_lexicon_file``
(``EMOTIONDESK_ASPECT_LEXICON_FILE``), see :func:`load_lexicon`. The accuracy of this on a hand-labelled sample is in
``docs/BENCHMARKS.md`` (``benchmarks/aspects.py``).

Example:
    >>> [(m.aspect, m.polarity) for m in extract_aspects(["物流很快，但是包装太简陋了"])[0]]
    [('logistics', 'positive'), ('packaging', 'negative')]
    >>> [(m.aspect, m.polarity) for m in extract_aspects(["Great price but the battery is not good"])[0]]
    [('price', 'positive'), ('battery', 'negative')]
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml

from emotiondesk.errors import ConfigError, InvalidInputError
from emotiondesk.text import detect_language, to_simplified

PolarityFn = Callable[[list[str]], list[str]]

#: The shipped lexicons, as data beside this module.
LEXICON_FILE = "aspects_lexicon.yaml"
#: The sections of a lexicon file (a user file also takes ``mode``).
SECTIONS = (
    "aspect_terms",
    "aspect_names",
    "category_aspects",
    "opinions",
    "term_senses",
    "aspect_senses",
    "implicit",
    "negators",
    "contrast",
)
#: Sections a file may leave out, even with ``mode: replace`` (empty then).
OPTIONAL_SECTIONS = ("negated_phrases", "not_negators", "questions")
LANGUAGES = ("zh", "en")

_CLAUSE_SPLIT = re.compile(r"[，。！？；、,.!?;:：~～\n\r…]+|\s-\s")
_EN_TOKEN = re.compile(r"[a-z]+(?:[-'][a-z]+)*|n't")
_ZH_NEG_WINDOW = 4
_EN_NEG_WINDOW = 3


@dataclass(frozen=True, slots=True)
class OpinionSpan:
    """An opinion about an aspect: its words (with the negator, if any) and offsets.

    ``polarity`` is the opinion's reading after negation (没有破损: positive);
    ``negated`` says a negator turned it (没有破损, 不贵, "not bad at all").
    ``start``/``end`` are character offsets into the text as given.
    """

    text: str
    start: int
    end: int
    polarity: str
    negated: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "polarity": self.polarity,
            "negated": self.negated,
        }


@dataclass(frozen=True, slots=True)
class AspectMention:
    """One aspect mentioned in one clause of one text.

    ``start``/``end``: the aspect term's offsets in the text (-1: not located,
    e.g. an implicit aspect); ``opinion_spans``: its opinions with offsets.
    """

    aspect: str
    polarity: str
    score: float
    term: str
    clause: str
    text_index: int
    opinions: tuple[str, ...] = ()
    start: int = -1
    end: int = -1
    opinion_spans: tuple[OpinionSpan, ...] = ()

    @property
    def negated(self) -> bool:
        """Some opinion about the aspect is negated."""
        return any(o.negated for o in self.opinion_spans)

    def to_dict(self) -> dict[str, object]:
        return {
            "aspect": self.aspect,
            "polarity": self.polarity,
            "score": self.score,
            "term": self.term,
            "clause": self.clause,
            "text_index": self.text_index,
            "opinions": list(self.opinions),
            "start": self.start,
            "end": self.end,
            "negated": self.negated,
            "opinion_spans": [o.to_dict() for o in self.opinion_spans],
        }


@dataclass(frozen=True, slots=True)
class AspectSummary:
    """Counts and examples for one aspect over many texts."""

    aspect: str
    n: int
    positive: int
    negative: int
    neutral: int
    positive_examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()

    @property
    def net(self) -> float:
        """(positive - negative) / mentions, in [-1, 1]."""
        return (self.positive - self.negative) / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "aspect": self.aspect,
            "name": aspect_lexicon().aspect_names.get(
                self.aspect, {"en": self.aspect, "zh": self.aspect}
            ),
            "n": self.n,
            "positive": self.positive,
            "negative": self.negative,
            "neutral": self.neutral,
            "net": self.net,
            "positive_examples": list(self.positive_examples),
            "negative_examples": list(self.negative_examples),
        }


@dataclass
class _Lexicon:
    terms: list[tuple[str, str]]  # (term, aspect), longest first
    opinions: list[tuple[str, float]]  # longest first
    general: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Lexicon:
    """The aspect lexicon in use: the shipped one, or a user's file over it or instead of it.

    Build one with :func:`load_lexicon`; :func:`aspect_lexicon` is the one the
    settings name (cached).
    """

    #: Aspect -> language -> terms that name it.
    aspect_terms: dict[str, dict[str, tuple[str, ...]]]
    #: Aspect -> language -> display name.
    aspect_names: dict[str, dict[str, str]]
    #: Product category -> the aspects reported for it (an unknown category gets all).
    category_aspects: dict[str, tuple[str, ...]]
    #: Senses tied to one aspect term (性价比高 is good although 价格高 is bad).
    term_senses: dict[str, dict[str, float]]
    #: Aspect-specific senses that override the general lexicon.
    aspect_senses: dict[str, dict[str, float]]
    #: Opinion phrases that name their aspect themselves.
    implicit: dict[str, list[tuple[str, tuple[str, float]]]]
    zh_negators: tuple[str, ...]
    en_negators: frozenset[str]
    zh_contrast: tuple[str, ...]
    en_contrast: tuple[str, ...]
    by_language: dict[str, _Lexicon]
    source: str = LEXICON_FILE
    #: Phrases whose negator makes the opinion (不错, 不行, "not bad"): negated.
    negated_phrases: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Words holding a negator character that negate nothing (特别, 别家).
    zh_not_negators: tuple[str, ...] = ()
    #: Per language: what marks a question, and what marks a rhetorical complaint.
    questions: dict[str, re.Pattern[str] | None] = field(default_factory=dict)
    rhetorical: dict[str, re.Pattern[str] | None] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = LEXICON_FILE) -> Lexicon:
        """A lexicon from a complete, parsed lexicon mapping (checked: see :func:`load_lexicon`)."""
        _check_lexicon(data, source)
        terms = {
            a: {lang: tuple(by_lang.get(lang) or ()) for lang in LANGUAGES}
            for a, by_lang in data["aspect_terms"].items()
        }
        by_language = {}
        for lang in LANGUAGES:
            ops = data["opinions"].get(lang) or {}
            general = (
                {w: 1.0 for w in ops.get("positive") or ()}
                | {w: -1.0 for w in ops.get("negative") or ()}
                | {k: float(v) for k, v in (ops.get("phrases") or {}).items()}
            )
            by_language[lang] = _Lexicon(
                terms=sorted(
                    ((t, a) for a, by_lang in terms.items() for t in by_lang[lang]),
                    key=lambda x: -len(x[0]),
                ),
                opinions=sorted(general.items(), key=lambda x: -len(x[0])),
                general=general,
            )
        return cls(
            aspect_terms=terms,
            aspect_names={a: dict(n) for a, n in data["aspect_names"].items()},
            category_aspects={c: tuple(v) for c, v in data["category_aspects"].items()},
            term_senses={
                t: {w: float(x) for w, x in v.items()} for t, v in data["term_senses"].items()
            },
            aspect_senses={
                a: {w: float(x) for w, x in v.items()} for a, v in data["aspect_senses"].items()
            },
            implicit={
                lang: [(w, (a, float(x))) for w, a, x in data["implicit"].get(lang) or ()]
                for lang in LANGUAGES
            },
            zh_negators=tuple(data["negators"].get("zh") or ()),
            en_negators=frozenset(data["negators"].get("en") or ()),
            zh_contrast=tuple(data["contrast"].get("zh") or ()),
            en_contrast=tuple(data["contrast"].get("en") or ()),
            by_language=by_language,
            source=source,
            negated_phrases={
                lang: frozenset((data.get("negated_phrases") or {}).get(lang) or ())
                for lang in LANGUAGES
            },
            zh_not_negators=tuple((data.get("not_negators") or {}).get("zh") or ()),
            questions=_question_patterns(data.get("questions") or {}, ""),
            rhetorical=_question_patterns(data.get("questions") or {}, "rhetorical_"),
        )


def _question_patterns(data: Mapping[str, Any], prefix: str) -> dict[str, re.Pattern[str] | None]:
    """zh: any of the words; en: a clause starting with one of them (``None``: no words)."""
    out: dict[str, re.Pattern[str] | None] = {}
    for lang in LANGUAGES:
        words = data.get(prefix + lang) or ()
        alts = "|".join(re.escape(w) for w in words)
        if not words:
            out[lang] = None
        elif lang == "zh":
            out[lang] = re.compile(alts)
        else:
            out[lang] = re.compile(rf"^(?:{alts})\b", re.IGNORECASE)
    return out


def _shipped_data() -> dict[str, Any]:
    text = resources.files("emotiondesk.analytics").joinpath(LEXICON_FILE).read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return dict(yaml.load(text, Loader=loader))


def _merge(base: Any, extra: Any) -> Any:
    """``extra`` over ``base``: mappings merged key by key, lists extended, scalars replaced."""
    if isinstance(base, Mapping) and isinstance(extra, Mapping):
        out = dict(base)
        for k, v in extra.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    if isinstance(base, list) and isinstance(extra, list):
        return base + [x for x in extra if x not in base]
    return extra


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """The shipped lexicon or, with ``path``, a user's YAML lexicon over it.

    The file has the sections of the shipped ``aspects_lexicon.yaml`` (any of
    them) and an optional ``mode``: ``extend`` (the default) adds to the
    shipped lexicon (mappings merged, lists extended: new aspects, terms,
    opinion words, categories); ``replace`` makes the file the whole lexicon
    (every section required). A file that breaks the shape fails with
    :class:`~emotiondesk.errors.ConfigError` naming the file, the entry and
    what is wrong.
    """
    shipped = _shipped_data()
    if path is None:
        return Lexicon.from_mapping(shipped)
    p = Path(path)
    source = str(p)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"aspect lexicon {source}: cannot be read ({exc.strerror or exc})"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"aspect lexicon {source}: not UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(f"aspect lexicon {source}{line}: not valid YAML ({problem})") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"aspect lexicon {source}: expected a mapping of sections")
    data = dict(data)
    mode = data.pop("mode", "extend")
    if mode not in ("extend", "replace"):
        raise ConfigError(f"aspect lexicon {source}: mode must be extend or replace, not {mode!r}")
    unknown = sorted(set(data) - set(SECTIONS) - set(OPTIONAL_SECTIONS))
    if unknown:
        raise ConfigError(
            f"aspect lexicon {source}: unknown section(s) {unknown}; "
            f"use mode and {', '.join(SECTIONS + OPTIONAL_SECTIONS)}"
        )
    if mode == "replace":
        missing = [k for k in SECTIONS if k not in data]
        if missing:
            raise ConfigError(
                f"aspect lexicon {source}: mode replace needs every section; missing {missing}"
            )
        merged = data
    else:
        for key, value in data.items():
            if not isinstance(value, Mapping):
                raise ConfigError(f"aspect lexicon {source}: {key} must be a mapping")
        merged = _merge(shipped, data)
    return Lexicon.from_mapping(merged, source=source)


@lru_cache(maxsize=4)
def _cached_lexicon(path: str | None) -> Lexicon:
    return load_lexicon(path)


def aspect_lexicon(path: str | Path | None = None) -> Lexicon:
    """The lexicon in use, loaded once per file: ``path``, else the setting
    ``aspect_lexicon_file`` (``EMOTIONDESK_ASPECT_LEXICON_FILE``), else the shipped one."""
    if path is None:
        from emotiondesk.config import get_settings

        path = get_settings().aspect_lexicon_file
    return _cached_lexicon(str(Path(path).resolve()) if path is not None else None)


def _check_lexicon(data: Mapping[str, Any], source: str) -> None:
    """Fail with a ConfigError naming the entry when ``data`` is not a lexicon."""

    def fail(where: str, what: str) -> ConfigError:
        return ConfigError(f"aspect lexicon {source}: {where}: {what}")

    def mapping(value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise fail(where, "must be a mapping")
        return value

    def strings(value: Any, where: str) -> None:
        if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
            raise fail(where, "must be a list of non-empty strings (quote yes/no/on/off)")

    def number(value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(where, f"must be a number, not {value!r}")

    def languages(value: Any, where: str) -> Mapping[str, Any]:
        m = mapping(value, where)
        bad = sorted(set(m) - set(LANGUAGES))
        if bad:
            raise fail(where, f"unknown language(s) {bad}; use zh and en")
        return m

    for key in SECTIONS:
        if key not in data:
            raise fail(key, "missing")
    aspects = set(mapping(data["aspect_terms"], "aspect_terms"))
    if not aspects:
        raise fail("aspect_terms", "needs at least one aspect")
    for a, by_lang in data["aspect_terms"].items():
        for lang, terms in languages(by_lang, f"aspect_terms.{a}").items():
            strings(terms, f"aspect_terms.{a}.{lang}")

    def known(aspect: Any, where: str) -> None:
        if aspect not in aspects:
            raise fail(where, f"unknown aspect {aspect!r} (not in aspect_terms)")

    for a, names in mapping(data["aspect_names"], "aspect_names").items():
        known(a, f"aspect_names.{a}")
        for lang, name in languages(names, f"aspect_names.{a}").items():
            if not isinstance(name, str) or not name:
                raise fail(f"aspect_names.{a}.{lang}", "must be a non-empty string")
    for c, listed in mapping(data["category_aspects"], "category_aspects").items():
        strings(listed, f"category_aspects.{c}")
        for a in listed:
            known(a, f"category_aspects.{c}")
    for lang, ops in languages(data["opinions"], "opinions").items():
        ops = mapping(ops, f"opinions.{lang}")
        bad = sorted(set(ops) - {"positive", "negative", "phrases"})
        if bad:
            raise fail(f"opinions.{lang}", f"unknown key(s) {bad}; use positive, negative, phrases")
        for pol in ("positive", "negative"):
            if pol in ops:
                strings(ops[pol], f"opinions.{lang}.{pol}")
        for w, x in mapping(ops.get("phrases") or {}, f"opinions.{lang}.phrases").items():
            number(x, f"opinions.{lang}.phrases.{w}")
    for t, senses in mapping(data["term_senses"], "term_senses").items():
        for w, x in mapping(senses, f"term_senses.{t}").items():
            number(x, f"term_senses.{t}.{w}")
    for a, senses in mapping(data["aspect_senses"], "aspect_senses").items():
        known(a, f"aspect_senses.{a}")
        for w, x in mapping(senses, f"aspect_senses.{a}").items():
            number(x, f"aspect_senses.{a}.{w}")
    for lang, items in languages(data["implicit"], "implicit").items():
        if not isinstance(items, list):
            raise fail(f"implicit.{lang}", "must be a list of [phrase, aspect, weight]")
        for n, item in enumerate(items, start=1):
            where = f"implicit.{lang} #{n}"
            if not isinstance(item, list) or len(item) != 3 or not isinstance(item[0], str):
                raise fail(where, f"must be [phrase, aspect, weight], not {item!r}")
            known(item[1], where)
            number(item[2], where)
    for key in ("negators", "contrast", "negated_phrases", "not_negators"):
        for lang, words in languages(data.get(key) or {}, key).items():
            strings(words, f"{key}.{lang}")
    question_keys = {f"{p}{lang}" for p in ("", "rhetorical_") for lang in LANGUAGES}
    for key, words in mapping(data.get("questions") or {}, "questions").items():
        if key not in question_keys:
            raise fail("questions", f"unknown key {key!r}; use {sorted(question_keys)}")
        strings(words, f"questions.{key}")


def __getattr__(name: str) -> Any:
    """``ASPECT_TERMS``, ``ASPECT_NAMES``, ``CATEGORY_ASPECTS``: those of the lexicon in use."""
    fields = {
        "ASPECT_TERMS": "aspect_terms",
        "ASPECT_NAMES": "aspect_names",
        "CATEGORY_ASPECTS": "category_aspects",
    }
    if name in fields:
        return getattr(aspect_lexicon(), fields[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def split_clauses(text: str, language: str, lexicon: Lexicon | None = None) -> list[str]:
    """Clauses of a review: punctuation boundaries, then contrast words (但是, but, ...)."""
    lex = lexicon if lexicon is not None else aspect_lexicon()
    parts = [p.strip() for p in _CLAUSE_SPLIT.split(text) if p and p.strip()]
    out: list[str] = []
    for part in parts:
        if language == "zh":
            pattern = "|".join(re.escape(w) for w in lex.zh_contrast)
            pieces = re.split(f"(?=(?:{pattern}))", part)
        else:
            pattern = "|".join(re.escape(w) for w in lex.en_contrast)
            pieces = re.split(rf"\b(?=(?:{pattern})\b)", part, flags=re.IGNORECASE)
        out.extend(p.strip() for p in pieces if p.strip())
    return out


@lru_cache(maxsize=512)
def _pattern(
    entries: tuple[tuple[str, object], ...], words: bool
) -> tuple[re.Pattern[str], dict[str, object]]:
    """One alternation of all terms, longest first (leftmost-longest matching)."""
    values: dict[str, object] = {}
    for term, value in entries:
        values.setdefault(term, value)
    alts = "|".join(re.escape(t) for t in sorted(values, key=lambda t: (-len(t), t)))
    if words:
        return re.compile(rf"(?<![a-z])(?:{alts})(?![a-z])"), values
    return re.compile(f"(?:{alts})"), values


def _find_spans(
    text: str,
    entries: Iterable[tuple[str, object]],
    *,
    words: bool,
    taken: list[bool] | None = None,
) -> list[tuple[int, int, str, object]]:
    """Non-overlapping matches (leftmost, longest), as (start, end, term, value).

    ``taken`` marks characters already matched (updated in place); they are
    masked out before matching.
    """
    entries = tuple(entries)
    if not entries or not text:
        return []
    taken = taken if taken is not None else [False] * len(text)
    pattern, values = _pattern(entries, words)
    masked = (
        "".join("\x00" if t else ch for ch, t in zip(text, taken, strict=True))
        if any(taken)
        else text
    )
    spans = []
    for m in pattern.finditer(masked):
        s, e = m.span()
        for i in range(s, e):
            taken[i] = True
        spans.append((s, e, m.group(), values[m.group()]))
    return spans


_ZH_COMPARATIVE_NEG = re.compile(
    r"(没有|没|不如|不像|并非)[^，。！？]{0,8}?(那么|那样|这么|想象中|想象的|宣传的|描述的|说的)"
)


def _negated_zh(
    lex: Lexicon, clause: str, start: int, term: str, other: Sequence[tuple[int, int]] = ()
) -> bool:
    if term.startswith(("不", "没", "无")):
        return False  # the phrase carries its own negation (不错, 没问题)
    lo = max(0, start - _ZH_NEG_WINDOW)
    # characters of other matched opinions (不大不小正合适) do not negate
    window = "".join(
        ch for i, ch in enumerate(clause[lo:start], lo) if not any(a <= i < b for a, b in other)
    )
    # "不太好" / "并不快"; but not "不但" / "不仅" / "不少", nor 别 in 特别 / 别家 / 区别
    for w in ("不但", "不仅", "不少", "无论", "不管", *lex.zh_not_negators):
        window = window.replace(w, "")
    if any(n in window for n in lex.zh_negators):
        return True
    # "没有想象中好" / "并没有宣传的那么好"
    return bool(_ZH_COMPARATIVE_NEG.search(clause[:start]))


def _negated_en(lex: Lexicon, tokens: list[tuple[int, int, str]], start: int, term: str) -> bool:
    if term.split()[0] in lex.en_negators:
        return False
    before = [t for s, _e, t in tokens if s < start][-_EN_NEG_WINDOW:]
    return any(t in lex.en_negators or t.endswith("n't") for t in before)


#: Opinions an aspect-less clause may pass on to the aspect of the clause before it
#: (包装很严实，没有破损: the damage is the packaging's).
_FOLLOW_ON: dict[str, set[str]] = {
    "packaging": {"破损", "压坏", "变形", "完好", "严实", "damaged", "crushed", "dented", "intact"},
    "logistics": {"破损", "压坏", "丢件", "damaged", "lost", "late", "delayed"},
}

#: (clause-local start, end, polarity label, negated) of one opinion.
_OpSpan = tuple[int, int, str, bool]


def _negator_start(
    lex: Lexicon, low: str, tokens: list[tuple[int, int, str]], start: int, lang: str
) -> int:
    """Where the negator of the opinion at ``start`` begins (``start`` if none is found)."""
    if lang == "zh":
        lo = max(0, start - _ZH_NEG_WINDOW)
        best = -1
        for n in lex.zh_negators:
            k = low.rfind(n, lo, start)
            if k >= 0 and (best < 0 or k < best):
                best = k
        if best >= 0:
            return best
        m = _ZH_COMPARATIVE_NEG.search(low[:start])
        return m.start() if m else start
    before = [(s, t) for s, _e, t in tokens if s < start][-_EN_NEG_WINDOW:]
    for s, t in before:
        if t in lex.en_negators or t.endswith("n't"):
            return s
    return start


def _self_negated(lex: Lexicon, term: str, value: float, lang: str) -> bool:
    """A phrase that carries its own negator over an opinion word (没有破损, 不贵, "not bad")."""
    if term in lex.negated_phrases.get(lang, ()):
        return True
    general = lex.by_language[lang].general
    if lang == "zh":
        for n in sorted(lex.zh_negators, key=len, reverse=True):
            if term.startswith(n) and len(term) > len(n):
                rest = term[len(n) :]
                base = general.get(rest)
                if base is None:
                    base = next(
                        (v.get(rest) for v in lex.aspect_senses.values() if rest in v), None
                    )
                return base is not None and base * value < 0
        return False
    words = term.split()
    if len(words) > 1 and words[0] in lex.en_negators:
        base = general.get(words[1])
        return base is not None and base * value < 0
    return False


def _base_word(lex: Lexicon, term: str, lang: str) -> str:
    """An opinion phrase without its leading negator (没有破损 -> 破损, "not bad" -> bad)."""
    if lang == "zh":
        for n in sorted(lex.zh_negators, key=len, reverse=True):
            if term.startswith(n) and len(term) > len(n):
                return term[len(n) :]
        return term
    words = term.split()
    return words[-1] if len(words) > 1 and words[0] in lex.en_negators else term


def _clause_mentions(
    lex: Lexicon, clause: str, language: str, allowed: set[str] | None
) -> list[tuple[str, str, float, list[str]]]:
    """(aspect, term, summed opinion, opinion words) for the aspects named in ``clause``."""
    return [m[:4] for m in _clause_mentions_located(lex, clause, language, allowed)]  # type: ignore[misc]


def _clause_mentions_located(
    lexicon: Lexicon, clause: str, language: str, allowed: set[str] | None
) -> list[tuple[str, str, float, list[str], tuple[int, int], list[_OpSpan]]]:
    """As :func:`_clause_mentions`, with the term's and the opinions' clause offsets."""
    lex = lexicon.by_language[language]
    low = clause.lower() if language == "en" else clause
    words = language == "en"
    taken = [False] * len(low)
    implicit = [
        sp
        for sp in _find_spans(low, lexicon.implicit[language], words=words, taken=taken)
        if allowed is None or sp[3][0] in allowed  # type: ignore[index]
    ]
    aspect_spans = [
        sp
        for sp in _find_spans(low, lex.terms, words=words, taken=taken)
        if allowed is None or sp[3] in allowed
    ]
    if not aspect_spans and not implicit:
        return []
    opinion_entries = list(lex.opinions)
    # aspect-specific single words, matched too so that e.g. 高 / "cheap" are seen
    extra = {
        w for a in {sp[3] for sp in aspect_spans} for w in lexicon.aspect_senses.get(str(a), {})
    }
    extra |= {w for sp in aspect_spans for w in lexicon.term_senses.get(sp[2], {})}
    opinion_entries += sorted(
        ((w, 0.0) for w in extra if w not in lex.general), key=lambda x: -len(x[0])
    )
    opinion_spans = (
        _find_spans(low, opinion_entries, words=words, taken=taken) if aspect_spans else []
    )
    tokens = [(m.start(), m.end(), m.group()) for m in _EN_TOKEN.finditer(low)] if words else []
    result: dict[str, tuple[str, float, list[str]]] = {}
    where: dict[str, tuple[int, int]] = {}
    located: dict[str, list[_OpSpan]] = defaultdict(list)
    for _s, _e, term, aspect in aspect_spans:
        result.setdefault(str(aspect), (term, 0.0, []))
        where.setdefault(str(aspect), (_s, _e))
    for s, e, term, value in implicit:
        aspect, weight = cast(tuple[str, float], value)
        others = [(a, b) for a, b, _t, _v in implicit if (a, b) != (s, e)]
        negated = (
            _negated_zh(lexicon, low, s, term, others)
            if language == "zh"
            else _negated_en(lexicon, tokens, s, term)
        )
        w = -weight if negated else weight
        where.setdefault(aspect, (s, e))
        start = _negator_start(lexicon, low, tokens, s, language) if negated else s
        located[aspect].append(
            (start, e, _label(w), negated or _self_negated(lexicon, term, w, language))
        )
        t, total, ops = result.get(aspect, (term, 0.0, []))
        result[aspect] = (
            t,
            total + w,
            [*ops, ("不" if language == "zh" else "not ") + term if negated else term],
        )
    for s, e, term, value in opinion_spans:
        # nearest aspect term; zh opinions usually follow their aspect, en ones precede or follow
        def distance(sp: tuple[int, int, str, object], s: int = s, e: int = e) -> tuple[int, int]:
            gap = s - sp[1] if sp[1] <= s else sp[0] - e
            after = 0 if sp[1] <= s else 1
            return (gap, after)

        best = min(aspect_spans, key=distance)
        aspect = str(best[3])
        weight = lexicon.term_senses.get(best[2], {}).get(
            term,
            lexicon.aspect_senses.get(aspect, {}).get(term, float(value)),  # type: ignore[arg-type]
        )
        if weight == 0.0:
            continue
        others = [(a, b) for a, b, _t, _v in [*opinion_spans, *implicit] if (a, b) != (s, e)]
        negated = (
            _negated_zh(lexicon, low, s, term, others)
            if language == "zh"
            else _negated_en(lexicon, tokens, s, term)
        )
        if negated:
            weight = -weight
        start = _negator_start(lexicon, low, tokens, s, language) if negated else s
        located[aspect].append(
            (start, e, _label(weight), negated or _self_negated(lexicon, term, weight, language))
        )
        t, total, ops = result[aspect]
        result[aspect] = (
            t,
            total + weight,
            [*ops, ("不" if language == "zh" else "not ") + term if negated else term],
        )
    return [
        (a, t, total, ops, where.get(a, (-1, -1)), located.get(a, []))
        for a, (t, total, ops) in result.items()
    ]


def _clause_polarity(lexicon: Lexicon, clause: str, language: str) -> tuple[float, list[str]]:
    """Summed general opinion of a clause that names no aspect (for carrying over)."""
    total, ops, _spans = _clause_polarity_located(lexicon, clause, language)
    return total, ops


def _clause_polarity_located(
    lexicon: Lexicon, clause: str, language: str
) -> tuple[float, list[str], list[tuple[int, int, str, bool, str, float]]]:
    """:func:`_clause_polarity` with each opinion's (start, end, label, negated, term, value)."""
    lex = lexicon.by_language[language]
    low = clause.lower() if language == "en" else clause
    spans = _find_spans(low, lex.opinions, words=language == "en")
    tokens = (
        [(m.start(), m.end(), m.group()) for m in _EN_TOKEN.finditer(low)]
        if language == "en"
        else []
    )
    total, ops = 0.0, []
    located = []
    for s, e, term, value in spans:
        others = [(a, b) for a, b, _t, _v in spans if (a, b) != (s, e)]
        neg = (
            _negated_zh(lexicon, low, s, term, others)
            if language == "zh"
            else _negated_en(lexicon, tokens, s, term)
        )
        v = -float(value) if neg else float(value)  # type: ignore[arg-type]
        total += v
        ops.append(("不" if language == "zh" else "not ") + term if neg else term)
        start = _negator_start(lexicon, low, tokens, s, language) if neg else s
        located.append(
            (start, e, _label(v), neg or _self_negated(lexicon, term, v, language), term, v)
        )
    return total, ops, located


def _label(total: float) -> str:
    return "positive" if total > 0 else "negative" if total < 0 else "neutral"


def is_question(lex: Lexicon, clause: str, following: str, language: str) -> bool:
    """A clause that asks (请问…吗？, "does it…?") rather than judges: not an opinion.

    ``following``: the text right after the clause (its punctuation). A
    rhetorical complaint (为什么还没发货？, "why is it so slow?") is no question here.
    """
    text = clause.strip()
    rhetorical, question = lex.rhetorical.get(language), lex.questions.get(language)
    if rhetorical is not None and rhetorical.search(text):
        return False
    asked = following.lstrip()[:1] in ("?", "？")
    found = question is not None and bool(question.search(text))
    if language == "zh":
        return asked or text.endswith(("吗", "么")) or found
    return found and (asked or not following.strip())


_SENTENCE_END = ".!?。！？"


def _sentence_asks(lex: Lexicon, text: str, start: int, language: str) -> bool:
    """The sentence holding ``text[start]`` is a question ("Hi, does it …?"): its
    clauses are no opinions. One of its clauses asks (:func:`is_question`)."""
    lo = max(text.rfind(c, 0, start) for c in _SENTENCE_END) + 1
    ends = [i for i in (text.find(c, start) for c in _SENTENCE_END) if i >= 0]
    hi = min(ends) if ends else len(text)
    terminal = text[hi : hi + 1]
    parts = [p for p in split_clauses(text[lo:hi], language, lex) if p.strip()]
    return any(is_question(lex, p, terminal, language) for p in parts)


def extract_aspects(
    texts: Sequence[str],
    *,
    language: str = "auto",
    category: str | None = None,
    polarity_fn: PolarityFn | None = None,
    lexicon: Lexicon | None = None,
) -> list[list[AspectMention]]:
    """Aspect mentions per text (one list per input, in order).

    Args:
        texts: reviews or messages.
        language: ``zh``, ``en`` or ``auto`` (detected per text).
        category: a product category; if the lexicon lists it (``category_aspects``),
            only its aspects are reported.
        polarity_fn: labels clauses that name an aspect but hold no opinion word
            (e.g. ``lambda cl: [r.polarity for r in analyzer.analyze(cl)]``);
            without it such clauses are neutral.
        lexicon: the lexicon (default: :func:`aspect_lexicon`, the one the settings name).
    """
    if language not in ("auto", "zh", "en"):
        raise InvalidInputError(f"unknown language {language!r}; use auto, zh or en")
    lex = lexicon if lexicon is not None else aspect_lexicon()
    cats = lex.category_aspects
    allowed = set(cats[category]) if category is not None and category in cats else None
    out: list[list[AspectMention]] = []
    undecided: list[tuple[int, int]] = []  # (text index, mention index)
    for i, raw in enumerate(texts):
        original = raw or ""
        text = to_simplified(original)
        lang = detect_language(text) if language == "auto" else language
        lang = lang if lang in ("zh", "en") else "en"
        mentions: list[AspectMention] = []
        cursor = 0
        previous: list[int] = []  # the mentions of the clause just before
        for clause in split_clauses(text, lang, lex):
            base = text.find(clause, cursor)
            if base < 0:  # pragma: no cover - clauses are pieces of the text, in order
                base = cursor
            cursor = base + len(clause)

            def spans(
                located: Iterable[tuple[int, int, str, bool]],
                base: int = base,
                original: str = original,
            ) -> tuple[OpinionSpan, ...]:
                return tuple(
                    OpinionSpan(original[base + a : base + b], base + a, base + b, pol, neg)
                    for a, b, pol, neg in located
                )

            found = _clause_mentions_located(lex, clause, lang, allowed)
            asked = bool(found) and _sentence_asks(lex, text, base, lang)
            if asked:
                # questions are not opinions: the aspects asked about, neutral
                found = [(a, t, 0.0, [], where, []) for a, t, _s, _o, where, _l in found]
            if len(found) > 1:
                # "卖家发货很快": the seller doing another aspect's work is no opinion on service
                found = [f for f in found if not (f[0] == "service" and not f[3])] or found
            if not found:
                after, previous = previous, []
                # "尺寸和描述的一样，很合适": an opinion clause right after an aspect
                # clause that had none carries over to that aspect
                if mentions and mentions[-1].text_index == i and not mentions[-1].opinions:
                    total, ops, located = _clause_polarity_located(lex, clause, lang)
                    if ops:
                        extra = spans((a, b, pol, neg) for a, b, pol, neg, _t, _v in located)
                        for k in range(len(mentions) - 1, -1, -1):
                            m = mentions[k]
                            if m.opinions or m.clause != mentions[-1].clause:
                                break
                            mentions[k] = replace(
                                m,
                                polarity=_label(total),
                                score=total,
                                clause=f"{m.clause}，{clause}"
                                if lang == "zh"
                                else f"{m.clause}, {clause}",
                                opinions=tuple(ops),
                                opinion_spans=m.opinion_spans + extra,
                            )
                    continue
                if len(after) == 1:
                    # "包装很严实，没有破损": opinions that belong to the aspect just named
                    m = mentions[after[0]]
                    follow = _FOLLOW_ON.get(m.aspect, set())
                    _total, _ops, located = _clause_polarity_located(lex, clause, lang)
                    kept = [x for x in located if _base_word(lex, x[4], lang) in follow]
                    if kept:
                        score = m.score + sum(x[5] for x in kept)
                        mentions[after[0]] = replace(
                            m,
                            polarity=_label(score),
                            score=score,
                            clause=f"{m.clause}，{clause}"
                            if lang == "zh"
                            else f"{m.clause}, {clause}",
                            opinions=m.opinions + tuple(x[4] for x in kept),
                            opinion_spans=m.opinion_spans
                            + spans((a, b, pol, neg) for a, b, pol, neg, _t, _v in kept),
                        )
                continue
            previous = []
            for aspect, term, total, ops, (ts, te), op_located in found:
                if not ops and polarity_fn is not None and not asked:
                    undecided.append((i, len(mentions)))
                previous.append(len(mentions))
                mentions.append(
                    AspectMention(
                        aspect=aspect,
                        polarity=_label(total),
                        score=total,
                        term=term,
                        clause=clause,
                        text_index=i,
                        opinions=tuple(ops),
                        start=base + ts if ts >= 0 else -1,
                        end=base + te if ts >= 0 else -1,
                        opinion_spans=spans(sorted(op_located)),
                    )
                )
        out.append(mentions)
    if undecided and polarity_fn is not None:
        labels = polarity_fn([out[i][j].clause for i, j in undecided])
        for (i, j), label in zip(undecided, labels, strict=True):
            m = out[i][j]
            out[i][j] = replace(m, polarity=label)
    return out


def summarize_aspects(
    mentions: Iterable[Iterable[AspectMention]], *, examples: int = 3
) -> list[AspectSummary]:
    """Per-aspect counts (positive / negative / neutral) and example clauses, most mentioned first."""
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: {"positive": 0, "negative": 0, "neutral": 0}
    )
    ex: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"positive": [], "negative": []})
    for per_text in mentions:
        for m in per_text:
            counts[m.aspect][m.polarity] += 1
            bucket = ex[m.aspect].get(m.polarity)
            if bucket is not None and len(bucket) < examples and m.clause not in bucket:
                bucket.append(m.clause)
    out = [
        AspectSummary(
            aspect=a,
            n=sum(c.values()),
            positive=c["positive"],
            negative=c["negative"],
            neutral=c["neutral"],
            positive_examples=tuple(ex[a]["positive"]),
            negative_examples=tuple(ex[a]["negative"]),
        )
        for a, c in counts.items()
    ]
    return sorted(out, key=lambda s: (-s.n, s.aspect))
