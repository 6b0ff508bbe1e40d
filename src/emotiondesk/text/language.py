"""Per-message language detection: ``zh``, ``en`` or ``other``.

Customer messages are short and often mixed ("这个size偏小, 退货refund要多久"),
so the detector counts scripts instead of running a statistical model trained
on long documents: any real share of Han characters makes a message Chinese
(the Chinese models read Latin fragments fine), Latin letters make it English,
and other scripts (kana, Hangul, Cyrillic, Arabic, ...) make it ``other``.
Texts with no letters at all (emoji, punctuation, digits) are ``other`` too;
the analyzer routes ``other`` to its fallback language.
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "en", "other"]

_HAN_RANGES = (
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x2FA1F),  # Extensions B..F, compatibility supplement
)
_KANA_HANGUL_RANGES = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0x1100, 0x11FF),
)


def _in(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in ranges)


# The same counts with regexes (the analyzer's hot path): Han and kana/Hangul
# by range, ASCII letters directly; only the few remaining non-ASCII
# characters (punctuation, emoji, accented letters) go through the loop.
_HAN_RE = re.compile(f"[{_char_class(_HAN_RANGES)}]")
_KANA_HANGUL_RE = re.compile(f"[{_char_class(_KANA_HANGUL_RANGES)}]")
_ASCII_ALPHA_RE = re.compile(r"[A-Za-z]")
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")


def script_counts(text: str) -> tuple[int, int, int]:
    """Count (Han, Latin letters, other letters) in ``text``."""
    latin = len(_ASCII_ALPHA_RE.findall(text))
    if text.isascii():
        return 0, latin, 0
    han = len(_HAN_RE.findall(text))
    other = len(_KANA_HANGUL_RE.findall(text))
    rest = _NON_ASCII_RE.findall(_KANA_HANGUL_RE.sub("", _HAN_RE.sub("", text)))
    for ch in rest:
        if ch.isalpha():
            if ord(ch) <= 0x024F:
                latin += 1
            else:
                other += 1
    return han, latin, other


def _script_counts_reference(text: str) -> tuple[int, int, int]:
    """The plain per-character definition of :func:`script_counts` (kept for tests)."""
    han = latin = other = 0
    for ch in text:
        cp = ord(ch)
        if cp < 128:
            if ch.isalpha():
                latin += 1
            continue
        if _in(cp, _HAN_RANGES):
            han += 1
        elif _in(cp, _KANA_HANGUL_RANGES):
            other += 1
        elif ch.isalpha():
            # Latin-1 / Latin Extended letters (é, ü, ...) count as Latin.
            if cp <= 0x024F:
                latin += 1
            else:
                other += 1
    return han, latin, other


def detect_language(text: str) -> Language:
    """Detect the language of one message.

    Example:
        >>> detect_language("物流太慢了")
        'zh'
        >>> detect_language("The parcel never arrived")
        'en'
        >>> detect_language("这个size偏小")
        'zh'
    """
    han, latin, other = script_counts(text)
    # Japanese mixes kana with Han; any kana or Hangul beyond noise is "other".
    if other and other >= max(2, (han + latin) // 4):
        return "other"
    # Two Han characters already make a Chinese word; a single one wins only
    # against a few Latin letters (a lone 好 in an English sentence does not).
    if han >= 2 or (han == 1 and latin <= 8):
        return "zh"
    if latin >= 2:
        return "en"
    return "other"
