"""One tokeniser for the bag-of-words parts: FAQ retrieval (BM25) and complaint topics.

A :class:`Tokenizer` cuts a text into Han tokens and Latin words and drops
stop words (one list per language, ``data/stopwords.yaml``). The two users
need different Han tokens, so that is a parameter, not a second tokeniser:

* ``zh="chars"``: characters and character bigrams. No dictionary to load,
  robust to a shop's own product names, and a short query still shares
  tokens with an FAQ question. Used by BM25 (:data:`RETRIEVAL`).
* ``zh="words"``: jieba words of two or more characters. Topics are named by
  their top terms, and 物流 names a theme where 物 and 流 do not. Used by
  complaint topics (:data:`TOPICS`).

``benchmarks/tokenize_quality.py`` measures both users with each setting
(figures in ``docs/BENCHMARKS.md``).

Example:
    >>> RETRIEVAL("退款多久到账", "zh")[:4]
    ['退', '款', '多', '久']
    >>> RETRIEVAL("When will my refunds arrive?", "en")
    ['refund', 'arrive']
    >>> TOPICS("物流太慢了，等了一周", "zh")
    ['物流', '太慢', '一周']
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml

from emotiondesk.text.language import detect_language
from emotiondesk.text.normalize import to_simplified

STOPWORDS_FILE = "stopwords.yaml"

_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_LETTERS = re.compile(r"[a-z]+(?:'[a-z]+)?")


@lru_cache(maxsize=1)
def stop_words() -> dict[str, dict[str, frozenset[str]]]:
    """The shipped stop-word sets (``common``, ``topics``), per language (read once)."""
    text = resources.files("emotiondesk.text").joinpath("data", STOPWORDS_FILE).read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    out: dict[str, dict[str, frozenset[str]]] = {}
    for name, by_lang in data.items():
        out[name] = {}
        for lang, words in by_lang.items():
            bad = [w for w in words if not isinstance(w, str)]
            if bad:  # e.g. an unquoted `no`, which YAML reads as false
                raise ValueError(f"{STOPWORDS_FILE}: {name}.{lang}: quote these: {bad}")
            out[name][lang] = frozenset(words)
    return out


@lru_cache(maxsize=8)
def _stop_union(sets: tuple[str, ...]) -> dict[str, frozenset[str]]:
    shipped = stop_words()
    unknown = [s for s in sets if s not in shipped]
    if unknown:
        raise ValueError(f"unknown stop-word set(s) {unknown}; known: {sorted(shipped)}")
    langs = {lang for s in sets for lang in shipped[s]}
    return {
        lang: frozenset().union(*(shipped[s].get(lang, frozenset()) for s in sets))
        for lang in langs
    }


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


@dataclass(frozen=True)
class Tokenizer:
    """Han tokens and Latin words of a text, without stop words.

    Args:
        zh: ``chars`` (characters + bigrams) or ``words`` (jieba words).
        min_zh_word: the shortest jieba word kept (``words`` only).
        min_latin: the shortest Latin word kept.
        digits: Latin tokens may hold digits (order numbers, 12315); off: letters only.
        plural: fold a plural ``s`` (``refunds`` -> ``refund``; words longer than 4).
        mixed: keep both scripts in every language; otherwise a ``zh`` text
            keeps only its Han tokens and an ``en`` text only its Latin words.
        simplify: traditional characters are simplified first.
        stop_sets: the shipped stop-word sets to drop (``common``, ``topics``).
        stop: stop words per language instead of the shipped sets.
    """

    zh: Literal["chars", "words"] = "chars"
    min_zh_word: int = 2
    min_latin: int = 2
    digits: bool = True
    plural: bool = False
    mixed: bool = True
    simplify: bool = False
    stop_sets: tuple[str, ...] = ("common",)
    stop: Mapping[str, frozenset[str]] | None = field(default=None, compare=False)

    def __call__(self, text: str, language: str = "auto") -> list[str]:
        text = to_simplified(text or "") if self.simplify else (text or "")
        lang = detect_language(text) if language == "auto" else language
        low = text.lower()
        stop = self.stop if self.stop is not None else _stop_union(self.stop_sets)
        tokens: list[str] = []
        if self.mixed or lang == "zh":
            tokens += self._han(low, stop.get("zh", frozenset()))
        if self.mixed or lang != "zh":
            tokens += self._latin(low, stop.get("en", frozenset()))
        return tokens

    def _han(self, low: str, stop: frozenset[str]) -> list[str]:
        out: list[str] = []
        if self.zh == "chars":
            for run in _HAN_RUN.findall(low):
                out.extend(c for c in run if c not in stop)
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
            return out
        return [
            w
            for w in _jieba().lcut(low)
            if len(w) >= self.min_zh_word and _HAN.search(w) and w not in stop
        ]

    def _latin(self, low: str, stop: frozenset[str]) -> list[str]:
        out: list[str] = []
        for word in (_LATIN if self.digits else _LETTERS).findall(low):
            word = word.replace("'", "")
            if len(word) < self.min_latin or word in stop:
                continue
            if self.plural and len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
                word = word[:-1]
            out.append(word)
        return out


#: BM25 over the FAQ: characters + bigrams, both scripts, plural folding, common stop words.
RETRIEVAL = Tokenizer(zh="chars", plural=True)
#: Complaint topics: jieba words, the text's own script, words of 3+ letters,
#: common and theme-less stop words.
TOPICS = Tokenizer(
    zh="words",
    min_latin=3,
    digits=False,
    mixed=False,
    simplify=True,
    stop_sets=("common", "topics"),
)
