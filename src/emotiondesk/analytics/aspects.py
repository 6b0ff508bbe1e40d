"""Aspect-level sentiment for product reviews, in Chinese and English.

Which aspects (price, quality, logistics, service, packaging, size/fit,
battery, taste, ...) a review praises or complains about. The method is
transparent and fast, so it runs on every imported review:

1. split the review into clauses (punctuation and contrast words such as
   但是 / 不过 / but / however);
2. find aspect terms in each clause (a lexicon per aspect, per language;
   :data:`CATEGORY_ASPECTS` narrows the aspects to those that make sense for a
   product category);
3. find opinion words (a general lexicon plus aspect-specific senses: 贵 and
   "expensive" are bad for price; 快 and "fast" are good for delivery;
   "cheap" is good for price and bad for quality), flip those preceded by a
   negator within a short window (不 / 没有 / 并不 ..., not / never / n't ...),
   and give each opinion to the nearest aspect term in its clause;
4. a clause's aspect polarity is the sign of its summed opinions; a clause
   with an aspect but no opinion word is neutral, or is labelled by
   ``polarity_fn`` (e.g. the analyzer) when one is given.

The lexicons are data, ``aspects_lexicon.yaml`` beside this module, read
once at import. The accuracy of this on a hand-labelled sample is in
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any, cast

import yaml

from emotiondesk.errors import InvalidInputError
from emotiondesk.text import detect_language, to_simplified

PolarityFn = Callable[[list[str]], list[str]]

#: The lexicons, as data beside this module (read once, at import).
LEXICON_FILE = "aspects_lexicon.yaml"


@lru_cache(maxsize=1)
def _lexicon_data() -> dict[str, Any]:
    text = resources.files("emotiondesk.analytics").joinpath(LEXICON_FILE).read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return dict(yaml.load(text, Loader=loader))


_DATA = _lexicon_data()
#: Aspect -> language -> terms that name it.
ASPECT_TERMS: dict[str, dict[str, tuple[str, ...]]] = {
    a: {lang: tuple(terms) for lang, terms in by_lang.items()}
    for a, by_lang in _DATA["aspect_terms"].items()
}
#: Aspect -> language -> display name.
ASPECT_NAMES: dict[str, dict[str, str]] = {a: dict(n) for a, n in _DATA["aspect_names"].items()}
#: Product category -> the aspects reported for it (an unknown category gets all).
CATEGORY_ASPECTS: dict[str, tuple[str, ...]] = {
    c: tuple(v) for c, v in _DATA["category_aspects"].items()
}
_ZH_POS: list[str] = list(_DATA["opinions"]["zh"]["positive"])
_ZH_NEG: list[str] = list(_DATA["opinions"]["zh"]["negative"])
_EN_POS: list[str] = list(_DATA["opinions"]["en"]["positive"])
_EN_NEG: list[str] = list(_DATA["opinions"]["en"]["negative"])
_ZH_PHRASES: dict[str, float] = {k: float(v) for k, v in _DATA["opinions"]["zh"]["phrases"].items()}
_EN_PHRASES: dict[str, float] = {k: float(v) for k, v in _DATA["opinions"]["en"]["phrases"].items()}
#: Senses tied to one aspect term (性价比高 is good although 价格高 is bad).
_TERM_SENSES: dict[str, dict[str, float]] = {
    t: {w: float(x) for w, x in v.items()} for t, v in _DATA["term_senses"].items()
}
#: Aspect-specific senses that override the general lexicon.
_ASPECT_SENSES: dict[str, dict[str, float]] = {
    a: {w: float(x) for w, x in v.items()} for a, v in _DATA["aspect_senses"].items()
}
#: Opinion phrases that name their aspect themselves, longest first.
_IMPLICIT: dict[str, list[tuple[str, tuple[str, float]]]] = {
    lang: [(w, (a, float(x))) for w, a, x in items] for lang, items in _DATA["implicit"].items()
}
_ZH_NEGATORS: tuple[str, ...] = tuple(_DATA["negators"]["zh"])
_ZH_NOT_NEGATORS: tuple[str, ...] = tuple(_DATA["not_negators"]["zh"])
#: Phrases whose negator makes the opinion (不错, 不行, "not bad"): negated.
_NEGATED_PHRASES: dict[str, set[str]] = {k: set(v) for k, v in _DATA["negated_phrases"].items()}
_QUESTION: dict[str, re.Pattern[str]] = {
    "zh": re.compile("|".join(_DATA["questions"]["zh"])),
    "en": re.compile(r"^(?:" + "|".join(_DATA["questions"]["en"]) + r")\b", re.IGNORECASE),
}
_RHETORICAL: dict[str, re.Pattern[str]] = {
    "zh": re.compile("|".join(_DATA["questions"]["rhetorical_zh"])),
    "en": re.compile(
        r"^(?:" + "|".join(_DATA["questions"]["rhetorical_en"]) + r")\b", re.IGNORECASE
    ),
}
_EN_NEGATORS: set[str] = set(_DATA["negators"]["en"])
_ZH_CONTRAST: tuple[str, ...] = tuple(_DATA["contrast"]["zh"])
_EN_CONTRAST: tuple[str, ...] = tuple(_DATA["contrast"]["en"])

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
            "name": ASPECT_NAMES.get(self.aspect, {"en": self.aspect, "zh": self.aspect}),
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


def _build_lexicon(lang: str) -> _Lexicon:
    terms = sorted(
        ((t, a) for a, by_lang in ASPECT_TERMS.items() for t in by_lang[lang]),
        key=lambda x: -len(x[0]),
    )
    if lang == "zh":
        general = {w: 1.0 for w in _ZH_POS} | {w: -1.0 for w in _ZH_NEG} | _ZH_PHRASES
    else:
        general = {w: 1.0 for w in _EN_POS} | {w: -1.0 for w in _EN_NEG} | _EN_PHRASES
    opinions = sorted(general.items(), key=lambda x: -len(x[0]))
    return _Lexicon(terms=terms, opinions=opinions, general=general)


_LEXICONS = {lang: _build_lexicon(lang) for lang in ("zh", "en")}


def split_clauses(text: str, language: str) -> list[str]:
    """Clauses of a review: punctuation boundaries, then contrast words (但是, but, ...)."""
    parts = [p.strip() for p in _CLAUSE_SPLIT.split(text) if p and p.strip()]
    out: list[str] = []
    for part in parts:
        if language == "zh":
            pattern = "|".join(re.escape(w) for w in _ZH_CONTRAST)
            pieces = re.split(f"(?=(?:{pattern}))", part)
        else:
            pattern = "|".join(_EN_CONTRAST)
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


def _negated_zh(clause: str, start: int, term: str, other: Sequence[tuple[int, int]] = ()) -> bool:
    if term.startswith(("不", "没", "无")):
        return False  # the phrase carries its own negation (不错, 没问题)
    lo = max(0, start - _ZH_NEG_WINDOW)
    # characters of other matched opinions (不大不小正合适) do not negate
    window = "".join(
        ch for i, ch in enumerate(clause[lo:start], lo) if not any(a <= i < b for a, b in other)
    )
    # "不太好" / "并不快"; but not "不但" / "不仅" / "不少"
    # and 别 in 特别 / 别家 / 区别 is no negator
    for w in ("不但", "不仅", "不少", "无论", "不管", *_ZH_NOT_NEGATORS):
        window = window.replace(w, "")
    if any(n in window for n in _ZH_NEGATORS):
        return True
    # "没有想象中好" / "并没有宣传的那么好"
    return bool(_ZH_COMPARATIVE_NEG.search(clause[:start]))


def _negated_en(tokens: list[tuple[int, int, str]], start: int, term: str) -> bool:
    if term.split()[0] in _EN_NEGATORS:
        return False
    before = [t for s, _e, t in tokens if s < start][-_EN_NEG_WINDOW:]
    return any(t in _EN_NEGATORS or t.endswith("n't") for t in before)


#: Opinions an aspect-less clause may pass on to the aspect of the clause before it
#: (包装很严实，没有破损: the damage is the packaging's).
_FOLLOW_ON: dict[str, set[str]] = {
    "packaging": {"破损", "压坏", "变形", "完好", "严实", "damaged", "crushed", "dented", "intact"},
    "logistics": {"破损", "压坏", "丢件", "damaged", "lost", "late", "delayed"},
}

#: (clause-local start, end, polarity label, negated) of one opinion.
_OpSpan = tuple[int, int, str, bool]


def _negator_start(low: str, tokens: list[tuple[int, int, str]], start: int, lang: str) -> int:
    """Where the negator of the opinion at ``start`` begins (``start`` if none is found)."""
    if lang == "zh":
        lo = max(0, start - _ZH_NEG_WINDOW)
        best = -1
        for n in _ZH_NEGATORS:
            k = low.rfind(n, lo, start)
            if k >= 0 and (best < 0 or k < best):
                best = k
        if best >= 0:
            return best
        m = _ZH_COMPARATIVE_NEG.search(low[:start])
        return m.start() if m else start
    before = [(s, t) for s, _e, t in tokens if s < start][-_EN_NEG_WINDOW:]
    for s, t in before:
        if t in _EN_NEGATORS or t.endswith("n't"):
            return s
    return start


def _self_negated(term: str, value: float, lang: str) -> bool:
    """A phrase that carries its own negator over an opinion word (没有破损, 不贵, "not bad")."""
    if term in _NEGATED_PHRASES[lang]:
        return True
    general = _LEXICONS[lang].general
    if lang == "zh":
        for n in sorted(_ZH_NEGATORS, key=len, reverse=True):
            if term.startswith(n) and len(term) > len(n):
                rest = term[len(n) :]
                base = general.get(rest)
                if base is None:
                    base = next((v.get(rest) for v in _ASPECT_SENSES.values() if rest in v), None)
                return base is not None and base * value < 0
        return False
    words = term.split()
    if len(words) > 1 and words[0] in _EN_NEGATORS:
        base = general.get(words[1])
        return base is not None and base * value < 0
    return False


def _base_word(term: str, lang: str) -> str:
    """An opinion phrase without its leading negator (没有破损 -> 破损, "not bad" -> bad)."""
    if lang == "zh":
        for n in sorted(_ZH_NEGATORS, key=len, reverse=True):
            if term.startswith(n) and len(term) > len(n):
                return term[len(n) :]
        return term
    words = term.split()
    return words[-1] if len(words) > 1 and words[0] in _EN_NEGATORS else term


def _clause_mentions(
    clause: str, language: str, allowed: set[str] | None
) -> list[tuple[str, str, float, list[str]]]:
    """(aspect, term, summed opinion, opinion words) for the aspects named in ``clause``."""
    return [m[:4] for m in _clause_mentions_located(clause, language, allowed)]  # type: ignore[misc]


def _clause_mentions_located(
    clause: str, language: str, allowed: set[str] | None
) -> list[tuple[str, str, float, list[str], tuple[int, int], list[_OpSpan]]]:
    """As :func:`_clause_mentions`, with the term's and the opinions' clause offsets."""
    lex = _LEXICONS[language]
    low = clause.lower() if language == "en" else clause
    words = language == "en"
    taken = [False] * len(low)
    implicit = [
        sp
        for sp in _find_spans(low, _IMPLICIT[language], words=words, taken=taken)
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
    extra = {w for a in {sp[3] for sp in aspect_spans} for w in _ASPECT_SENSES.get(str(a), {})}
    extra |= {w for sp in aspect_spans for w in _TERM_SENSES.get(sp[2], {})}
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
            _negated_zh(low, s, term, others) if language == "zh" else _negated_en(tokens, s, term)
        )
        w = -weight if negated else weight
        where.setdefault(aspect, (s, e))
        start = _negator_start(low, tokens, s, language) if negated else s
        located[aspect].append((start, e, _label(w), negated or _self_negated(term, w, language)))
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
        weight = _TERM_SENSES.get(best[2], {}).get(
            term,
            _ASPECT_SENSES.get(aspect, {}).get(term, float(value)),  # type: ignore[arg-type]
        )
        if weight == 0.0:
            continue
        others = [(a, b) for a, b, _t, _v in [*opinion_spans, *implicit] if (a, b) != (s, e)]
        negated = (
            _negated_zh(low, s, term, others) if language == "zh" else _negated_en(tokens, s, term)
        )
        if negated:
            weight = -weight
        start = _negator_start(low, tokens, s, language) if negated else s
        located[aspect].append(
            (start, e, _label(weight), negated or _self_negated(term, weight, language))
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


def _clause_polarity(clause: str, language: str) -> tuple[float, list[str]]:
    """Summed general opinion of a clause that names no aspect (for carrying over)."""
    total, ops, _spans = _clause_polarity_located(clause, language)
    return total, ops


def _clause_polarity_located(
    clause: str, language: str
) -> tuple[float, list[str], list[tuple[int, int, str, bool, str, float]]]:
    """:func:`_clause_polarity` with each opinion's (start, end, label, negated, term, value)."""
    lex = _LEXICONS[language]
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
            _negated_zh(low, s, term, others) if language == "zh" else _negated_en(tokens, s, term)
        )
        v = -float(value) if neg else float(value)  # type: ignore[arg-type]
        total += v
        ops.append(("不" if language == "zh" else "not ") + term if neg else term)
        start = _negator_start(low, tokens, s, language) if neg else s
        located.append((start, e, _label(v), neg or _self_negated(term, v, language), term, v))
    return total, ops, located


def _label(total: float) -> str:
    return "positive" if total > 0 else "negative" if total < 0 else "neutral"


def is_question(clause: str, following: str, language: str) -> bool:
    """A clause that asks (请问…吗？, "does it…?") rather than judges: not an opinion.

    ``following``: the text right after the clause (its punctuation). A
    rhetorical complaint (为什么还没发货？, "why is it so slow?") is no question here.
    """
    text = clause.strip()
    if _RHETORICAL[language].search(text):
        return False
    asked = following.lstrip()[:1] in ("?", "？")
    if language == "zh":
        return bool(asked or text.endswith(("吗", "么")) or _QUESTION["zh"].search(text))
    return bool(_QUESTION["en"].search(text)) and (asked or not following.strip())


def extract_aspects(
    texts: Sequence[str],
    *,
    language: str = "auto",
    category: str | None = None,
    polarity_fn: PolarityFn | None = None,
) -> list[list[AspectMention]]:
    """Aspect mentions per text (one list per input, in order).

    Args:
        texts: reviews or messages.
        language: ``zh``, ``en`` or ``auto`` (detected per text).
        category: a product category; if it is in :data:`CATEGORY_ASPECTS`, only its
            aspects are reported.
        polarity_fn: labels clauses that name an aspect but hold no opinion word
            (e.g. ``lambda cl: [r.polarity for r in analyzer.analyze(cl)]``);
            without it such clauses are neutral.
    """
    if language not in ("auto", "zh", "en"):
        raise InvalidInputError(f"unknown language {language!r}; use auto, zh or en")
    allowed = set(CATEGORY_ASPECTS[category]) if category in CATEGORY_ASPECTS else None
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
        for clause in split_clauses(text, lang):
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

            found = _clause_mentions_located(clause, lang, allowed)
            if found and is_question(clause, text[cursor : cursor + 2], lang):
                # questions are not opinions: the aspects asked about, neutral
                found = [(a, t, 0.0, [], where, []) for a, t, _s, _o, where, _l in found]
                asked = True
            else:
                asked = False
            if len(found) > 1:
                # "卖家发货很快": the seller doing another aspect's work is no opinion on service
                found = [f for f in found if not (f[0] == "service" and not f[3])] or found
            if not found:
                after, previous = previous, []
                # "尺寸和描述的一样，很合适": an opinion clause right after an aspect
                # clause that had none carries over to that aspect
                if mentions and mentions[-1].text_index == i and not mentions[-1].opinions:
                    total, ops, located = _clause_polarity_located(clause, lang)
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
                    _total, _ops, located = _clause_polarity_located(clause, lang)
                    kept = [x for x in located if _base_word(x[4], lang) in follow]
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
