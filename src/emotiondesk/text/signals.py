"""Lexical signals read on top of the models: emoji, emoticons, threats, sneers, sarcasm.

The shipped models learned from public reviews, tweets and Weibo posts; some
things customers write to a shop are rare there and are better read with a
list: an emoji on its own (👍, 😡), a threat to go to a regulator (12315,
"the BBB", a chargeback), a sneer (呵呵, 好评，下次还敢), thanks or praise
next to a complaint of fact ("Thanks a lot for losing my package"), a message
shouted in capitals, a plain question. The lists are data
(``data/signals.yaml``, user-overridable); this module only matches them.

A signal that fires pulls the probabilities towards its label:
``p = (1 - strength) * p + strength * onehot(label)``: the label gets at
least ``strength``. Punctuation alone carries nothing: a text with no words,
digits or known emoji reads neutral.

Example:
    >>> lex = load_signals()
    >>> [s.id for s in lex.match("I will be reporting this to the BBB.", "en")]
    ['threat']
    >>> lex.emoji_votes("👍👍")
    [('positive', 'joy'), ('positive', 'joy')]
    >>> lex.has_content("!!!")
    False
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from emotiondesk.errors import InvalidInputError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS

__all__ = ["Signal", "SignalLexicon", "apply_signals", "load_signals"]

_WORD_RE = re.compile(r"[0-9A-Za-z\u00c0-\u024f\u3400-\u9fff\uf900-\ufaff]")
_QUESTION_START_EN = re.compile(
    r"^\W*(?:hi|hello|hey)?\W*(?:what|where|when|which|who|how|can|could|do|does|did|is|are|"
    r"will|would|should|may|any|anyone)\b",
    re.IGNORECASE,
)
_TRAILING_RE = re.compile(r"[\s.。…~～]+$")
#: A negation right before a word (at most one word between, in English).
_NEGATED_BEFORE = {
    "en": re.compile(r"(?:\b(?:not|no|never|nothing|without)|n't)\s+(?:[a-z]+\s+)?$"),
    "zh": re.compile(r"(?<!是)(?:不|没|没有|不是|并非|并没有|无|未)$"),
}


_TOKEN_RE = re.compile(r"(?<![a-z])[a-z]{4,}(?![a-z])")
#: Not corrected to: a swap in them often makes another real word ("from" / "form").
_FUNCTION_WORDS = frozenset(
    [
        "this",
        "that",
        "than",
        "from",
        "what",
        "your",
        "just",
        "much",
        "came",
        "been",
        "back",
        "even",
        "there",
        "other",
        "really",
        "still",
        "again",
        "another",
        "though",
        "however",
        "except",
        "apart",
        "didn",
        "hasn",
        "haven",
        "want",
        "made",
        "item",
        "size",
        "ship",
        "post",
        "card",
        "week",
        "sick",
        "heart",
        "they",
        "them",
        "then",
        "when",
        "with",
        "have",
        "were",
        "will",
    ]
)


def _transpositions(words: set[str]) -> dict[str, str]:
    """Each word's spellings with two neighbouring letters swapped -> the word.

    The first letter stays (typing slips rarely move it, and most real-word
    collisions do: "form" / "from"); in a four-letter word the last one stays
    too ("lost" / "lots"). A spelling that is itself a lexicon word, or that two
    words share, is left alone.
    """
    out: dict[str, str] = {}
    clash: set[str] = set()
    for w in words:
        last = len(w) - 1 if len(w) > 4 else len(w) - 2
        for i in range(1, last):
            if w[i] == w[i + 1]:
                continue
            v = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
            if v in words:
                continue
            if v in out and out[v] != w:
                clash.add(v)
            out[v] = w
    for v in clash:
        del out[v]
    return out


def _swapped_han(words: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern for the Chinese phrases of ``words`` typed with two neighbouring
    characters swapped: inside the phrase (还没货发 for 还没发货) or across its edge
    (少了发 for 少发了, 态员度恶劣 for 态度恶劣: a swap with the character next to it).

    Only phrases of four or more characters: a two-character one with a
    character between (没.到) matches other words (没想到), and a three-character
    one swapped is too often a word of its own that means something else (说好的
    -> 说的好 "well said", 不能用 -> 能不用, 不通知 -> 不用通知).
    """
    variants: set[str] = set()
    for w in words:
        if len(w) < 4 or not all("\u4e00" <= c <= "\u9fff" for c in w):
            continue
        for i in range(len(w) - 1):
            if w[i] != w[i + 1]:
                variants.add(re.escape(w[:i] + w[i + 1] + w[i] + w[i + 2 :]))
        variants.add(re.escape(w[0]) + "[\u4e00-\u9fff]" + re.escape(w[1:]))
        variants.add(re.escape(w[:-1]) + "[\u4e00-\u9fff]" + re.escape(w[-1]))
    variants -= {re.escape(w) for w in words}
    if not variants:
        return None
    return re.compile("|".join(sorted(variants, key=len, reverse=True)))


_CLAUSE_END_RE = re.compile(r"[，,。.！!？?；;～~\n]+|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def _clauses(text: str) -> int:
    """How many clauses ``text`` has (pieces between commas and sentence ends)."""
    return sum(1 for piece in _CLAUSE_END_RE.split(text) if piece.strip())


def _names(raw: Any) -> tuple[str, ...]:
    """A word-list name or a list of them (``requires`` / ``excludes``)."""
    if not raw:
        return ()
    return (str(raw),) if isinstance(raw, str) else tuple(str(x) for x in raw)


@dataclass(frozen=True)
class Signal:
    """One rule of the lexicon (see ``data/signals.yaml``)."""

    id: str
    language: str
    polarity: str | None
    emotion: str | None
    strength: float
    contains: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    question: bool = False
    shouting: bool = False
    #: fire only while the models read each of these polarities below the bound
    model_below: tuple[tuple[str, float], ...] = ()
    #: fire only on a message of at most this many clauses (0: any): a local verdict
    #: ("物流没问题") does not decide a long review of several aspects
    max_clauses: int = 0
    #: not when one of these signals fired before it (a weaker cue of the same kind)
    unless_fired: tuple[str, ...] = ()
    #: the signal's emotion beats a neutral reading: when neutral is still on top after
    #: the pull, the two swap places (another emotion of the models stays)
    over_neutral: bool = False


def _is_shouting(text: str) -> bool:
    letters = [c for c in text if c.isascii() and c.isalpha()]
    if len(letters) < 8:
        return False
    upper = sum(c.isupper() for c in letters)
    return upper / len(letters) >= 0.7 and ("??" in text or "!!" in text or "?!" in text)


def _is_question(text: str, language: str) -> bool:
    t = _TRAILING_RE.sub("", text.strip())
    if not t or "!" in t or "！" in t or "??" in t or "？？" in t:
        return False
    if language == "zh":
        return t.endswith(("?", "？", "吗", "呢", "么")) or t.startswith(
            ("请问", "在吗", "你好，请问")
        )
    return t.endswith("?") or bool(_QUESTION_START_EN.search(t))


class SignalLexicon:
    """Emoji, emoticons and phrase signals of one lexicon file."""

    def __init__(self, raw: dict[str, Any], *, source: str = "signals.yaml") -> None:
        self.source = source
        try:
            self.emoji_strength = float(raw.get("emoji_strength", 0.35))
            self.emoji_only_strength = float(raw.get("emoji_only_strength", 0.8))
            self.emoji: dict[str, tuple[str, str]] = {
                k.replace("\ufe0f", ""): (str(v[0]), str(v[1]))
                for k, v in (raw.get("emoji") or {}).items()
            }
            self.emoticons: dict[str, tuple[str, str]] = {
                str(k): (str(v[0]), str(v[1])) for k, v in (raw.get("emoticons") or {}).items()
            }
            self.lists: dict[str, dict[str, tuple[str, ...]]] = {
                name: {
                    lang: tuple(str(x).lower() for x in words) for lang, words in by_lang.items()
                }
                for name, by_lang in (raw.get("word_lists") or {}).items()
            }
            self.signals = [self._signal(s) for s in raw.get("signals") or []]
        except (KeyError, TypeError, IndexError, ValueError, re.error) as exc:
            raise InvalidInputError(f"invalid signal lexicon {source}: {exc}") from exc
        for pol, emo in [*self.emoji.values(), *self.emoticons.values()]:
            self._check(pol, emo, "emoji")
        ids = {sig.id for sig in self.signals}
        for sig in self.signals:
            unknown = sorted(set(sig.unless_fired) - ids)
            if unknown:
                raise InvalidInputError(
                    f"invalid signal lexicon {source}: signal {sig.id!r}: unless_fired names "
                    f"no signal {unknown}"
                )
        self._typos = _transpositions(self._english_words())
        self._zh_swaps = {
            name: _swapped_han(by_lang.get("zh", ())) for name, by_lang in self.lists.items()
        }
        # Emoticons: longest first, not inside a word (":D" in "http:D" does not count).
        alts = "|".join(re.escape(e) for e in sorted(self.emoticons, key=len, reverse=True))
        self._emoticon_re = (
            re.compile(rf"(?<![A-Za-z0-9])(?:{alts})(?![A-Za-z0-9])") if alts else None
        )

    def _english_words(self) -> set[str]:
        """The English words the lists and patterns name (what a typo is corrected to)."""
        words: set[str] = set()
        for by_lang in self.lists.values():
            for w in by_lang.get("en", ()):
                words.update(re.findall(r"[a-z]{4,}", w))
        for sig in self.signals:
            if sig.language in ("en", "any"):
                for c in sig.contains:
                    words.update(re.findall(r"[a-z]{4,}", c))
                for p in sig.patterns:
                    # literal words of the pattern (not the letters of an escape like \bxyz)
                    literal = re.sub(r"\\[a-zA-Z]", " ", p.pattern.lower())
                    words.update(re.findall(r"(?<![a-z])[a-z]{5,}(?![a-z])", literal))
        return words - _FUNCTION_WORDS

    def untypo(self, text: str) -> str:
        """``text`` (lower-cased) with a lexicon word's one swapped pair of letters put back
        ("brkoe" -> "broke", "wrnog" -> "wrong"); the first letter never moves."""
        if not self._typos:
            return text
        return _TOKEN_RE.sub(lambda m: self._typos.get(m.group(), m.group()), text)

    def _check(self, polarity: str, emotion: str, where: str) -> None:
        if polarity not in POLARITY_LABELS or emotion not in EMOTION_LABELS:
            raise InvalidInputError(
                f"invalid signal lexicon {self.source}: {where} label "
                f"({polarity!r}, {emotion!r}) is not a canonical polarity / emotion"
            )

    def _pattern(self, pattern: str, signal_id: str) -> re.Pattern[str]:
        bad = [c for c in str(pattern) if ord(c) < 32 and c not in "\t\n"]
        if bad:
            raise InvalidInputError(
                f"invalid signal lexicon {self.source}: signal {signal_id!r}: pattern "
                f"{pattern!r} holds the control character {bad[0]!r} (in a double-quoted YAML "
                "string \\b is a backspace: quote patterns with single quotes)"
            )
        return re.compile(str(pattern), re.IGNORECASE)

    def _signal(self, s: dict[str, Any]) -> Signal:
        sig = Signal(
            id=str(s["id"]),
            language=str(s.get("language", "any")),
            polarity=str(s["polarity"]) if s.get("polarity") is not None else None,
            emotion=str(s["emotion"]) if s.get("emotion") is not None else None,
            strength=float(s["strength"]),
            contains=tuple(str(x).lower() for x in s.get("contains", ())),
            patterns=tuple(self._pattern(p, str(s["id"])) for p in s.get("patterns", ())),
            requires=_names(s.get("requires")),
            excludes=_names(s.get("excludes")),
            question=bool(s.get("question", False)),
            shouting=bool(s.get("shouting", False)),
            model_below=tuple((str(k), float(v)) for k, v in (s.get("model_below") or {}).items()),
            max_clauses=int(s.get("max_clauses", 0)),
            unless_fired=_names(s.get("unless_fired")),
            over_neutral=bool(s.get("over_neutral", False)),
        )
        for label, _ in sig.model_below:
            self._check(label, "neutral", f"signal {sig.id!r} model_below")
        self._check(sig.polarity or "neutral", sig.emotion or "neutral", f"signal {sig.id!r}")
        if not 0.0 <= sig.strength <= 1.0:
            raise InvalidInputError(f"invalid signal lexicon {self.source}: strength of {sig.id!r}")
        return sig

    # -- matching -----------------------------------------------------------------------

    def emoji_votes(self, text: str) -> list[tuple[str, str]]:
        """(polarity, emotion) of every known emoji and emoticon in ``text``, in order."""
        votes: list[tuple[str, str]] = []
        if self._emoticon_re is not None and any(c in text for c in ":;=<^()[TQo-_"):
            votes.extend(self.emoticons[m.group()] for m in self._emoticon_re.finditer(text))
        if not text.isascii():
            votes.extend(self.emoji[ch] for ch in text if ch in self.emoji)
        return votes

    def strip_symbols(self, text: str) -> str:
        """``text`` without emoticons and Weibo tags (what is left to read as words)."""
        if self._emoticon_re is None:
            return text
        return self._emoticon_re.sub(" ", text)

    def has_content(self, text: str) -> bool:
        """Whether ``text`` has words or digits once emoticons and tags are removed."""
        return bool(_WORD_RE.search(self.strip_symbols(text)))

    def _has(self, name: str, low: str, language: str) -> bool:
        """Whether ``low`` holds a word of list ``name`` that no negation precedes
        ("not broken", 没有破损 and 不是假货 are no complaint)."""
        if name not in self.lists:
            raise InvalidInputError(f"invalid signal lexicon {self.source}: no word list {name!r}")
        negated = _NEGATED_BEFORE.get(language)
        for w in self.lists[name].get(language, ()):
            at = low.find(w)
            while at != -1:
                if negated is None or not negated.search(low, max(0, at - 24), at):
                    return True
                at = low.find(w, at + 1)
        swaps = self._zh_swaps.get(name) if language == "zh" else None
        if swaps is not None:  # a phrase typed with two characters swapped (少了发)
            for m in swaps.finditer(low):
                if negated is None or not negated.search(low, max(0, m.start() - 24), m.start()):
                    return True
        return False

    def match(self, text: str, language: str) -> list[Signal]:
        """The phrase signals that fire on ``text`` (language ``zh`` or ``en``)."""
        low = text.lower()
        searched = text  # what the patterns read
        if language == "en":
            fixed = self.untypo(low)
            if fixed != low:
                low = searched = fixed
        fired: list[Signal] = []
        seen: set[str] = set()
        for sig in self.signals:
            if sig.language not in ("any", language) or sig.id in seen:
                continue
            if sig.max_clauses and _clauses(text) > sig.max_clauses:
                continue
            if sig.unless_fired and seen.intersection(sig.unless_fired):
                continue
            if sig.question:
                # Only when nothing negative fired before: a threat phrased as a question stays one.
                if fired or not _is_question(text, language):
                    continue
            elif sig.shouting:
                if not _is_shouting(text):
                    continue
            elif (
                (sig.contains or sig.patterns)
                and not (
                    any(c in low for c in sig.contains)
                    or any(p.search(searched) for p in sig.patterns)
                )
            ) or not (sig.contains or sig.patterns or sig.requires):
                continue
            if any(not self._has(name, low, language) for name in sig.requires):
                continue
            if any(self._has(name, low, language) for name in sig.excludes):
                continue
            fired.append(sig)
            seen.add(sig.id)
        return fired


_NEUTRAL_EMOTION = EMOTION_LABELS.index("neutral")


def _pull(p: np.ndarray, labels: Sequence[str], label: str, strength: float) -> np.ndarray:
    target = np.zeros_like(p)
    target[labels.index(label)] = 1.0
    return (1.0 - strength) * p + strength * target


def apply_signals(
    lexicon: SignalLexicon, text: str, language: str, pol: np.ndarray, emo: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Adjust one text's polarity and emotion probabilities; return them and the signals used.

    ``text`` is the normalised text; ``language`` the models' language.
    """
    used: list[str] = []
    votes = lexicon.emoji_votes(text)
    if not lexicon.has_content(text):
        if not votes:
            # Punctuation, symbols, unknown emoji: nothing to read.
            return (
                np.eye(len(POLARITY_LABELS))[POLARITY_LABELS.index("neutral")],
                np.eye(len(EMOTION_LABELS))[EMOTION_LABELS.index("neutral")],
                ["no_content"],
            )
        pol = np.full(len(POLARITY_LABELS), 1.0 / len(POLARITY_LABELS))
        emo = np.full(len(EMOTION_LABELS), 1.0 / len(EMOTION_LABELS))
        strength = lexicon.emoji_only_strength
        used.append("emoji_only")
    else:
        strength = lexicon.emoji_strength
    if votes:
        pol_votes = np.zeros(len(POLARITY_LABELS))
        emo_votes = np.zeros(len(EMOTION_LABELS))
        for p_label, e_label in votes:
            pol_votes[POLARITY_LABELS.index(p_label)] += 1
            emo_votes[EMOTION_LABELS.index(e_label)] += 1
        pol = (1 - strength) * pol + strength * pol_votes / pol_votes.sum()
        emo = (1 - strength) * emo + strength * emo_votes / emo_votes.sum()
        if "emoji_only" not in used:
            used.append("emoji")
    if used and used[0] == "emoji_only":
        return pol, emo, used
    for sig in lexicon.match(text, language):
        if any(pol[POLARITY_LABELS.index(lab)] >= bound for lab, bound in sig.model_below):
            continue
        if sig.polarity is not None:
            pol = _pull(pol, POLARITY_LABELS, sig.polarity, sig.strength)
        if sig.emotion is not None:
            emo = _pull(emo, EMOTION_LABELS, sig.emotion, sig.strength)
            if sig.over_neutral and int(np.argmax(emo)) == _NEUTRAL_EMOTION:
                cue = EMOTION_LABELS.index(sig.emotion)
                emo[[cue, _NEUTRAL_EMOTION]] = emo[[_NEUTRAL_EMOTION, cue]]
        used.append(sig.id)
    return pol, emo, used


def _default_path() -> Path:
    return Path(str(resources.files("emotiondesk.text") / "data" / "signals.yaml"))


@lru_cache(maxsize=8)
def _load(path: str) -> SignalLexicon:
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read signal lexicon {p.name}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInputError(f"invalid signal lexicon {p.name}: not a mapping")
    return SignalLexicon(raw, source=p.name)


def load_signals(path: str | Path | None = None) -> SignalLexicon:
    """Load a signal lexicon (default: the shipped ``data/signals.yaml``)."""
    return _load(str(Path(path) if path is not None else _default_path()))
