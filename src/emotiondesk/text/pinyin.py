"""Romanised Chinese (toneless pinyin): detection and a best reading in Chinese characters.

Customers type pinyin when their keyboard has no Chinese input ("tai cha le,
tuikuan!!"). Read as English it means nothing; read as Chinese it is
"太差了，退款!!". The detector splits every Latin word into pinyin syllables;
a message whose words all split (and are not mostly short English words that
happen to be syllables: "a man", "hang on") is pinyin. The reader segments
the syllables into the most likely words of a word list
(``data/pinyin.json``, built from jieba's word frequencies and
customer-service phrases by ``benchmarks/build_pinyin_lexicon.py``) and says
how sure it is: ``reliable`` when every syllable falls in a word whose
reading is clear (the chosen word has most of the frequency of its pinyin).

Example:
    >>> is_pinyin("tai cha le, tuikuan!!")
    True
    >>> is_pinyin("The parcel never arrived")
    False
    >>> r = read_pinyin("tai cha le, tuikuan!!")
    >>> r.text, r.reliable
    ('太差了,退款!!', True)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["PinyinReading", "is_pinyin", "read_pinyin", "split_syllables"]

_TOKEN_RE = re.compile(r"[A-Za-z]+")
_RUN_RE = re.compile(r"[A-Za-z]+(?:[\s']+[A-Za-z]+)*")
#: Short English words that are also pinyin syllables; a message made mostly of them is English.
_ENGLISH = frozenset(
    [
        "a",
        "an",
        "in",
        "on",
        "he",
        "me",
        "long",
        "man",
        "men",
        "pan",
        "fan",
        "ban",
        "can",
        "bang",
        "sang",
        "hang",
        "gang",
        "gong",
        "ping",
        "pong",
        "song",
        "lie",
        "die",
        "tie",
        "zen",
        "yo",
        "yes",
        "ha",
        "hi",
        "pa",
        "bye",
        "wow",
        "nope",
        "mi",
        "mo",
        "di",
        "tan",
        "dang",
        "wan",
        "ran",
        "lan",
        "sun",
        "shin",
        "chin",
        "chi",
        "go",
        "no",
        "so",
        "to",
        "do",
        "be",
        "we",
        "she",
        "ok",
        "hey",
        "time",
        "see",
        "game",
        "tea",
        "pie",
        "shame",
        "name",
        "dance",
        "china",
        "tina",
        "dean",
        "sean",
        "chen",
    ]
)
#: Reliability: the least share of its pinyin's frequency a chosen word must have.
_MIN_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class PinyinReading:
    """A pinyin message read as Chinese."""

    text: str
    reliable: bool
    confidence: float


@lru_cache(maxsize=1)
def _lexicon() -> tuple[frozenset[str], dict[str, tuple[str, float, float]]]:
    path = Path(str(resources.files("emotiondesk.text") / "data" / "pinyin.json"))
    raw = json.loads(path.read_text(encoding="utf-8"))
    words = {k: (str(v[0]), float(v[1]), float(v[2])) for k, v in raw["words"].items()}
    return frozenset(raw["syllables"]), words


def split_syllables(word: str) -> list[str] | None:
    """Split one Latin word into pinyin syllables (fewest syllables), or ``None``.

    Example:
        >>> split_syllables("tuikuan")
        ['tui', 'kuan']
        >>> split_syllables("refund") is None
        True
    """
    syllables, _ = _lexicon()
    w = word.lower()
    n = len(w)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(i + 1, min(n, i + 6) + 1):
            if w[i:j] in syllables:
                cand = [*best[i], w[i:j]]  # type: ignore[misc]
                if best[j] is None or len(cand) < len(best[j]):  # type: ignore[arg-type]
                    best[j] = cand
    return best[n]


def is_pinyin(text: str) -> bool:
    """Whether the Latin words of ``text`` read as toneless pinyin (see the module docs)."""
    tokens = [t.lower() for t in _TOKEN_RE.findall(text)]
    if not tokens or sum(map(len, tokens)) < 4:
        return False
    if any(split_syllables(t) is None for t in tokens):
        return False
    if len(tokens) == 1:
        # One word: only a known word of two or more syllables ("tuikuan", "xiexie"),
        # not any name that happens to split ("China" = chi na).
        syl = split_syllables(tokens[0]) or []
        return len(syl) >= 2 and " ".join(syl) in _lexicon()[1]
    words = _lexicon()[1]
    for t in tokens:
        syl = split_syllables(t) or []
        entry = words.get(" ".join(syl)) if len(t) >= 5 and len(syl) >= 2 else None
        if entry is not None and entry[1] >= 0.9:
            return True  # a clear word of several syllables written as one ("xianhuo")
    english = sum(t in _ENGLISH for t in tokens)
    return english * 2 < len(tokens)


def _segment(syllables: list[str]) -> list[tuple[str, float, int]]:
    """Most likely words for a syllable run: (word, share, syllables) each."""
    _, words = _lexicon()
    n = len(syllables)
    # score = sum of log relative frequency minus a per-word cost (fewer, longer words win)
    best: list[tuple[float, list[tuple[str, float, int]]] | None] = [None] * (n + 1)
    best[0] = (0.0, [])
    for i in range(n):
        if best[i] is None:
            continue
        base, path = best[i]  # type: ignore[misc]
        for k in range(1, min(4, n - i) + 1):
            entry = words.get(" ".join(syllables[i : i + k]))
            if entry is None:
                continue
            word, share, rel = entry
            score = base + math.log(max(rel, 1e-6)) - 3.0
            if best[i + k] is None or score > best[i + k][0]:  # type: ignore[index]
                best[i + k] = (score, [*path, (word, share, k)])
        if best[i + 1] is None:  # an unknown syllable: keep it as is
            best[i + 1] = (base - 20.0, [*path, (syllables[i], 0.0, 1)])
    return best[n][1]  # type: ignore[index]


def read_pinyin(text: str) -> PinyinReading:
    """Read a pinyin message as Chinese characters; punctuation and digits are kept."""
    pieces: list[str] = []
    covered = 0.0
    total = 0
    in_words = 0
    last = 0
    for m in _RUN_RE.finditer(text):
        pieces.append(text[last : m.start()].strip())
        syllables: list[str] = []
        for tok in _TOKEN_RE.findall(m.group()):
            syllables.extend(split_syllables(tok) or [tok.lower()])
        for word, share, k in _segment(syllables):
            pieces.append(word)
            total += k
            in_words += k if k > 1 else 0
            covered += k * (1.0 if share >= _MIN_SHARE else share)
        last = m.end()
    pieces.append(text[last:].strip())
    confidence = covered / total if total else 0.0
    # Reliable: every syllable clear, and most of them inside words of two or more.
    reliable = confidence >= 0.85 and total > 0 and in_words * 2 >= total
    return PinyinReading(text="".join(pieces), reliable=reliable, confidence=round(confidence, 3))
