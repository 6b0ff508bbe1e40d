"""Texts that must never be trained on: the customer-service turn set.

``benchmarks/data/cs_turns.csv`` is the project's dev and evaluation set of
customer-service turns (model selection, reported figures). Training must not
see its rows, not even by accident through a public corpus that happens to
contain 好的，谢谢 or "Ok, thank you.". The package ships a hash of every
normalised text of that file (``heldout_texts.txt``: the first 16 hex digits of
the SHA-256 of :func:`emotiondesk.text.normalize` of the text, one per line),
so the check works without the benchmark file at run time, and every training
entry point drops matching rows with a warning.

Example:
    >>> is_heldout("好评，下次还敢")
    True
    >>> is_heldout("a sentence nobody wrote for the set")
    False
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources

from emotiondesk.data import LabelledData
from emotiondesk.text import normalize

logger = logging.getLogger(__name__)

HASH_FILE = "heldout_texts.txt"
_DIGITS = 16


def text_hash(text: str) -> str:
    """The hash the held-out list stores for ``text`` (normalised first)."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()[:_DIGITS]


def hash_lines(texts: Iterable[str]) -> list[str]:
    """The content of ``heldout_texts.txt`` for ``texts``: sorted unique hashes."""
    return sorted({text_hash(t) for t in texts if normalize(t)})


@lru_cache(maxsize=1)
def heldout_hashes() -> frozenset[str]:
    """The hashes shipped with the package."""
    text = resources.files("emotiondesk.training").joinpath(HASH_FILE).read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def is_heldout(text: str) -> bool:
    """Whether ``text`` (after normalisation) is a row of the customer-service turn set."""
    return text_hash(text) in heldout_hashes()


def heldout_mask(texts: Sequence[str]) -> list[bool]:
    """``is_heldout`` for every text."""
    hashes = heldout_hashes()
    return [text_hash(t) in hashes for t in texts]


def drop_heldout_pairs(
    texts: Sequence[str], labels: Sequence[str], *, source: str = "training data"
) -> tuple[list[str], list[str]]:
    """``(texts, labels)`` without the held-out rows; warns with the count when it drops any."""
    mask = heldout_mask(texts)
    dropped = sum(mask)
    if dropped:
        logger.warning(
            "%s: dropped %d row(s) whose text is in the customer-service turn set "
            "(benchmarks/data/cs_turns.csv, an evaluation set that is never trained on)",
            source,
            dropped,
        )
    keep = [i for i, m in enumerate(mask) if not m]
    return [texts[i] for i in keep], [labels[i] for i in keep]


def drop_heldout(data: LabelledData) -> LabelledData:
    """``data`` without the rows whose text is in the customer-service turn set.

    The count dropped is added to ``report["heldout_dropped"]`` and logged.
    """
    mask = heldout_mask(data.texts)
    dropped = sum(mask)
    if not dropped:
        return data
    logger.warning(
        "%s: dropped %d row(s) whose text is in the customer-service turn set "
        "(benchmarks/data/cs_turns.csv, an evaluation set that is never trained on)",
        data.source or "training data",
        dropped,
    )
    kept = data.subset([i for i, m in enumerate(mask) if not m])
    kept.report.update(data.report)
    kept.report["heldout_dropped"] = dropped
    return kept
