"""Normalisation that keeps emotional signal.

``normalize`` is applied to every message before any model sees it, in
training and at inference alike (models record the settings they were trained
with):

* Unicode NFKC: full-width letters, digits and punctuation become half-width
  (``ＧＯＯＤ！`` -> ``GOOD!``), compatibility forms fold.
* Traditional Chinese characters become simplified (``質量很差`` -> ``质量很差``),
  character by character with zhconv's table (phrase-level conversion does
  not matter for sentiment and would cost a dictionary walk per message).
* URLs become ``URL`` and @mentions ``@user``: they carry no feeling but make
  every message look different.
* Emoji, emoticons (``:(``, ``T_T``) and Weibo tags (``[怒]``) are kept:
  they are some of the strongest signals there are.
* Characters repeated more than three times are cut to three
  (``!!!!!!!`` -> ``!!!``, ``好好好好好`` -> ``好好好``): the intensity
  stays, the sparsity goes.
* Control characters, the replacement character and lone surrogates (what
  binary garbage and wrong encodings leave behind) are dropped; whitespace
  runs collapse to one space.
* Very long inputs are truncated to ``max_chars`` (default
  :data:`DEFAULT_MAX_CHARS`) keeping the head and the tail, where reviews
  state their verdict; :func:`prepare` says when it did so.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from emotiondesk.config import MAX_TEXT_CHARS

DEFAULT_MAX_CHARS = MAX_TEXT_CHARS
_TAIL_SHARE = 0.25

_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<![\w@])@[\w\-.]{1,30}")
_REPEAT_RE = re.compile(r"(.)\1{3,}", re.DOTALL)
_WS_RE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """One-character traditional -> simplified map from zhconv's dictionary."""
    from zhconv import zhconv  # pure Python; imported on first use only

    table: dict[int, str] = {}
    for src, dst in zhconv.getdict("zh-hans").items():
        if len(src) == 1 and len(dst) == 1 and src != dst:
            table[ord(src)] = dst
    return table


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters to simplified ones.

    Example:
        >>> to_simplified("這個質量還不錯")
        '这个质量还不错'
    """
    return text.translate(_t2s_table())


def _clean_char(ch: str) -> bool:
    cat = unicodedata.category(ch)
    if cat == "Cc":
        return ch in "\t\n\r"
    if cat == "Cs" or ch == "\ufffd":
        return False
    # Format characters other than the zero-width joiner (emoji sequences).
    return not (cat == "Cf" and ch not in "\u200d\ufe0f")


def normalize(text: str, *, max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """Return the normalised form of ``text`` (see the module docs).

    Example:
        >>> normalize("  ＧＯＯＤ！！！！！ 質量很好 😀 http://x.cn/a  ")
        'GOOD!!! 质量很好 😀 URL'
    """
    return prepare(text, max_chars=max_chars).text


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A normalised text and what normalisation had to do to it."""

    text: str
    original_length: int
    truncated: bool


def prepare(text: str, *, max_chars: int | None = DEFAULT_MAX_CHARS) -> NormalizedText:
    """Normalise ``text`` and report whether it was truncated.

    Raises:
        TypeError: ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    original_length = len(text)
    truncated = False
    # Cut very long inputs before the expensive steps (keep slack for
    # whitespace that collapses); the exact cut comes at the end.
    if max_chars is not None and len(text) > 4 * max_chars:
        head = int(4 * max_chars * (1 - _TAIL_SHARE))
        text = text[:head] + " " + text[-(4 * max_chars - head) :]
        truncated = True
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = "".join(ch for ch in text if _clean_char(ch))
        text = to_simplified(text)
    else:
        text = "".join(ch for ch in text if ch >= " " or ch in "\t\n\r")
    text = _URL_RE.sub("URL", text)
    text = _MENTION_RE.sub("@user", text)
    text = _REPEAT_RE.sub(r"\1\1\1", text)
    text = _WS_RE.sub(" ", text).strip()
    if max_chars is not None and len(text) > max_chars:
        head = int(max_chars * (1 - _TAIL_SHARE))
        tail = max_chars - head - 1
        text = text[:head] + " " + text[-tail:] if tail > 0 else text[:max_chars]
        truncated = True
    return NormalizedText(text=text, original_length=original_length, truncated=truncated)


@dataclass(frozen=True, slots=True)
class OffsetText:
    """A normalised text and, per character, the span of the original it came from.

    ``spans[i]`` is ``(start, end)`` in the original text for character ``i``
    of ``text`` (a replacement such as ``URL`` maps each of its characters to
    the whole URL; the space joining a truncated head and tail maps to the cut).
    """

    text: str
    spans: tuple[tuple[int, int], ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original offsets covering normalised characters ``start:end``."""
        if not self.spans or end <= start:
            return (0, 0)
        return (self.spans[start][0], self.spans[end - 1][1])


def _sub_spans(
    chars: list[str], spans: list[tuple[int, int]], pattern: re.Pattern[str], repl: Any
) -> tuple[list[str], list[tuple[int, int]]]:
    """``pattern.sub(repl)`` on a character list, carrying each character's original span."""
    text = "".join(chars)
    out_c: list[str] = []
    out_s: list[tuple[int, int]] = []
    pos = 0
    for m in pattern.finditer(text):
        out_c.extend(chars[pos : m.start()])
        out_s.extend(spans[pos : m.start()])
        new = m.expand(repl) if isinstance(repl, str) else repl(m)
        if m.end() > m.start():
            whole = (spans[m.start()][0], spans[m.end() - 1][1])
        else:
            whole = (spans[m.start()][0], spans[m.start()][0]) if m.start() < len(spans) else (0, 0)
        if new == m.group(0)[: len(new)]:
            # A shortened copy (repeats cut): each kept character keeps its own span.
            out_s.extend(spans[m.start() : m.start() + len(new)])
        else:
            out_s.extend([whole] * len(new))
        out_c.extend(new)
        pos = m.end()
    out_c.extend(chars[pos:])
    out_s.extend(spans[pos:])
    return out_c, out_s


def _charwise_spans(text: str, expected: str) -> tuple[tuple[int, int], ...] | None:
    """The spans when normalisation mapped ``text`` character for character (the usual case).

    That is: ``expected`` is the stripped text with each character NFKC-normalised
    and simplified one to one (full-width punctuation, traditional characters).
    ``None`` when it is not (repeats cut, URLs replaced, spaces collapsed, ...).
    """
    core = text.strip()
    if len(core) != len(expected):
        return None
    if core != expected:
        # Each character on its own (a str.translate is one to one; per-character
        # NFKC only where the text is not already in NFKC).
        if not unicodedata.is_normalized("NFKC", core):
            core = "".join(map(partial(unicodedata.normalize, "NFKC"), core))
        if len(core) != len(expected) or core.translate(_t2s_table()) != expected:
            return None
    lead = len(text) - len(text.lstrip())
    return tuple(
        zip(range(lead, lead + len(core)), range(lead + 1, lead + len(core) + 1), strict=True)
    )


def prepare_with_offsets(text: str, *, max_chars: int | None = DEFAULT_MAX_CHARS) -> OffsetText:
    """:func:`normalize` ``text``, keeping for each output character its original span.

    The text is the same as :func:`normalize` gives (checked; on the rare
    input where the step-by-step mapping differs, e.g. NFKC composing across
    characters, the spans fall back to a proportional map).
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    expected = prepare(text, max_chars=max_chars).text
    fast = _charwise_spans(text, expected)
    if fast is not None:
        return OffsetText(text=expected, spans=fast)
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    # NFKC per cluster (a character and the combining marks after it).
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        piece = unicodedata.normalize("NFKC", text[i:j])
        chars.extend(piece)
        spans.extend([(i, j)] * len(piece))
        i = j
    if not text.isascii():
        keep = [k for k, ch in enumerate(chars) if _clean_char(ch)]
        table = _t2s_table()
        chars = [chars[k].translate(table) for k in keep]
        spans = [spans[k] for k in keep]
    else:
        keep = [k for k, ch in enumerate(chars) if ch >= " " or ch in "\t\n\r"]
        chars = [chars[k] for k in keep]
        spans = [spans[k] for k in keep]
    chars, spans = _sub_spans(chars, spans, _URL_RE, "URL")
    chars, spans = _sub_spans(chars, spans, _MENTION_RE, "@user")
    chars, spans = _sub_spans(chars, spans, _REPEAT_RE, r"\1\1\1")
    chars, spans = _sub_spans(chars, spans, _WS_RE, " ")
    while chars and chars[0] == " ":
        chars, spans = chars[1:], spans[1:]
    while chars and chars[-1] == " ":
        chars, spans = chars[:-1], spans[:-1]
    if max_chars is not None and len(chars) > max_chars:
        head = int(max_chars * (1 - _TAIL_SHARE))
        tail = max_chars - head - 1
        if tail > 0:
            cut = (spans[head - 1][1], spans[-tail][0])
            chars = [*chars[:head], " ", *chars[-tail:]]
            spans = [*spans[:head], cut, *spans[-tail:]]
        else:
            chars, spans = chars[:max_chars], spans[:max_chars]
    out = "".join(chars)
    if out != expected or len(spans) != len(out):
        # Fallback: spread the normalised characters evenly over the original.
        m = max(len(expected), 1)
        spans = [(k * n // m, max((k + 1) * n // m, k * n // m + 1)) for k in range(len(expected))]
        out = expected
    return OffsetText(text=out, spans=tuple(spans))
