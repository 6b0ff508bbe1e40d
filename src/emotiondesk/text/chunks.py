"""Overlapping chunks of a long text, cut at sentence ends where one is near.

Example:
    >>> chunk_spans("a" * 10, size=20, overlap=5)
    [(0, 10)]
    >>> chunk_spans("x" * 250, size=100, overlap=20)
    [(0, 100), (80, 180), (160, 250)]
"""

from __future__ import annotations

import re

__all__ = ["chunk_spans"]

_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s)")


def chunk_spans(text: str, *, size: int = 400, overlap: int = 80) -> list[tuple[int, int]]:
    """``(start, end)`` spans of at most ``size`` characters covering ``text``.

    Consecutive spans share ``overlap`` characters (so a sentence cut by one
    chunk is whole in the next); a chunk ends after the last sentence end in
    its final 40 % when there is one.
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got {size}, {overlap}")
    n = len(text)
    if n <= size:
        return [(0, n)]
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = start + size
        if end >= n:
            spans.append((start, n))
            return spans
        lo = start + int(size * 0.6)
        cut = None
        for m in _SENTENCE_END.finditer(text, lo, end):
            cut = m.end()
        end = cut if cut is not None and cut - overlap > start else end
        spans.append((start, end))
        start = end - overlap
