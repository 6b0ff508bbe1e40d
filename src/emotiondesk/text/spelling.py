"""Typo-tolerant reading of English: one-slip spelling correction of unknown words.

Customers type fast: "the lapotp arrived brkoe", "qulaity is bad", "thnaks".
A swapped or mistyped letter turns a word the models know into one they never
saw (and breaks every character n-gram across it), so a clear complaint can
read neutral. Before the English models read a message, each word that is
not in an English word list is replaced by the most frequent listed word one
typing slip away, when there is one.

The word list and its frequencies are pyspellchecker's English dictionary
(a well-kept package; its list comes from a large subtitle corpus); this
module only chooses *which* corrections to make, conservatively:

* only words of 4+ letters that neither the list nor the models know (the
  analyzer passes the word vocabulary of its English n-gram models as
  ``known``: "lol", "memes", "hella", "wasnt", names from the training
  tweets are features there, not typos); lower-case or UPPER-CASE, and
  Capitalised only at the start of a sentence (inside one it is a name:
  "Zayn", "Rahul"); mixed case is a product or brand ("iPhone"); not a
  hashtag, an @mention, a word glued to digits or an apostrophe;
* a swap of two neighbouring letters first ("brkoe" -> "broke"): the letters
  are all there, which is strong evidence. The first letter never moves,
  and in a 4-letter word the last stays too (short words have many real
  neighbours: "Tron" / "torn"); in a 4-letter word nothing else is tried;
* otherwise, in a word of 5+ letters, one key press (never the first letter):
  a letter replaced by a neighbour on the keyboard ("qualuty" -> "quality";
  QWERTY), a doubled letter typed once too often ("terrrible"), a letter left
  out ("terible"). A letter typed too much is removed only when it doubles
  its neighbour: that is how apostrophe-less contractions and chat words are
  spelled ("wasnt" minus a letter is "want", "didnt" is "dint"), and
  dropping the negation of a complaint is worse than missing a typo;
* the chosen word must be common (``min_count`` in the list's counts), and
  a few chat spellings are never touched (``KEEP``).

Example:
    >>> speller = load_speller()
    >>> speller.correct("The lapotp arrived brkoe, qulaity is awful")
    'The laptop arrived broke, quality is awful'
    >>> speller.correct("lol didnt work, iPhone")
    'lol didnt work, iPhone'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

__all__ = ["KEEP", "SpellingCorrector", "load_speller"]

#: Chat spellings and apostrophe-less contractions never corrected (the word list
#: does not know them; a slip away from them lies another word).
KEEP = frozenset(
    [
        "dont",
        "didnt",
        "doesnt",
        "isnt",
        "wasnt",
        "werent",
        "arent",
        "hasnt",
        "havent",
        "hadnt",
        "wont",
        "cant",
        "couldnt",
        "shouldnt",
        "wouldnt",
        "aint",
        "youre",
        "theyre",
        "thats",
        "whats",
        "ive",
        "youve",
        "weve",
        "theyve",
        "ill",
        "youll",
        "lmao",
        "lmfao",
        "haha",
        "hahaha",
        "hehe",
        "lolol",
        "omfg",
        "smdh",
        "yall",
        "gotta",
        "gonna",
        "wanna",
        "kinda",
        "sorta",
        "thnx",
        "thx",
        "pls",
        "plz",
        "tysm",
        "ppl",
        "cuz",
        "coz",
        "bday",
    ]
)
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _keyboard_neighbours() -> dict[str, str]:
    """Each letter's neighbours on a QWERTY keyboard: beside it in its row, and the two
    touching it in the row above ("s": "w", "e") and below ("s": "z", "x")."""
    pos = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
    out: dict[str, str] = {}
    for c, (r, i) in pos.items():
        near = []
        for d, (r2, i2) in pos.items():
            if d == c:
                continue
            if (
                (r2 == r and abs(i2 - i) == 1)
                or (r2 == r - 1 and i2 - i in (0, 1))
                or (r2 == r + 1 and i2 - i in (-1, 0))
            ):
                near.append(d)
        out[c] = "".join(near)
    return out


_NEIGHBOURS = _keyboard_neighbours()
#: A run of letters that is a word of its own (not part of a hashtag, a mention,
#: a code like ``A12B``, or the head of a contraction like ``couldn't``).
_WORD_RE = re.compile(r"(?<![A-Za-z0-9_#@'’])[A-Za-z]{4,}(?![A-Za-z0-9_'’])")


class SpellingCorrector:
    """Correct one typing slip in words a word list does not know.

    Args:
        counts: word -> frequency (lower-case words).
        known: more words that are no typo (the models' word vocabulary).
        min_count: least frequency of a word a typo is corrected to.
        keep: spellings never corrected.
    """

    def __init__(
        self,
        counts: Mapping[str, int],
        *,
        known: Iterable[str] = (),
        min_count: int = 100,
        keep: Iterable[str] = KEEP,
    ) -> None:
        self.counts = counts
        self.min_count = min_count
        self.keep = frozenset(keep) | frozenset(w.lower() for w in known)
        self._cache: dict[str, str | None] = {}

    def _common(self, word: str) -> int:
        n = self.counts.get(word, 0)
        return n if n >= self.min_count else 0

    def suggest(self, word: str) -> str | None:
        """The correction of a lower-case ``word``, or ``None`` (known, or no clear fix)."""
        if word in self._cache:
            return self._cache[word]
        fix = self._suggest(word)
        if len(self._cache) < 50_000:
            self._cache[word] = fix
        return fix

    def _suggest(self, word: str) -> str | None:
        if len(word) < 4 or word in self.keep or word in self.counts:
            return None
        best, best_n = None, 0
        last = len(word) - 1 if len(word) > 4 else len(word) - 2
        for i in range(1, last):
            if word[i] == word[i + 1]:
                continue
            cand = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
            n = self._common(cand)
            if n > best_n:
                best, best_n = cand, n
        if best is not None or len(word) < 5:
            return best
        for cand in self._one_key_slips(word):
            n = self._common(cand)
            if n > best_n:
                best, best_n = cand, n
        return best

    @staticmethod
    def _one_key_slips(word: str) -> Iterable[str]:
        """Spellings one key press away, the first letter kept: a letter replaced by a
        keyboard neighbour, a doubled letter typed once more, a letter left out."""
        for i in range(1, len(word)):
            for c in _NEIGHBOURS.get(word[i], ""):
                yield word[:i] + c + word[i + 1 :]
            if word[i] == word[i - 1]:
                yield word[:i] + word[i + 1 :]  # "terrrible" -> "terrible"
        for i in range(1, len(word) + 1):
            for c in _LETTERS:
                yield word[:i] + c + word[i:]  # "terible" -> "terrible"

    def _fix(self, m: re.Match[str]) -> str:
        token = m.group()
        low = token.lower()
        if token == low:
            shape = "lower"
        elif token == token.upper():
            shape = "upper"
        elif token[0].isupper() and token[1:] == low[1:] and _sentence_start(m):
            shape = "title"
        else:
            return token  # mixed case: a brand or product name
        fix = self.suggest(low)
        if fix is None:
            return token
        if shape == "upper":
            return fix.upper()
        return fix.capitalize() if shape == "title" else fix

    def correct(self, text: str) -> str:
        """``text`` with each unknown word's typing slip put right; the rest unchanged."""
        return _WORD_RE.sub(self._fix, text)


def _sentence_start(m: re.Match[str]) -> bool:
    """Whether the word of ``m`` starts its text or a sentence."""
    before = m.string[: m.start()].rstrip(" \t\"'(")
    return not before or before[-1] in ".!?\n"


@lru_cache(maxsize=1)
def _counts() -> Mapping[str, int]:
    from spellchecker import SpellChecker  # pyspellchecker; its list loads in about a second

    return SpellChecker(language="en", distance=1).word_frequency.dictionary  # type: ignore[no-any-return]


def load_speller(known: Iterable[str] = ()) -> SpellingCorrector:
    """The English corrector over pyspellchecker's word frequencies (loaded once a process).

    Args:
        known: more words that are no typo (the analyzer passes its English
            n-gram models' word vocabulary).
    """
    return SpellingCorrector(_counts(), known=known)
