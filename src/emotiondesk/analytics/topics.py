"""Complaint topics: the recurring themes of negative messages, with counts and examples.

Words are cut by :data:`emotiondesk.text.tokens.TOPICS` (jieba words for
Chinese, a word pattern for English, stop words dropped), very rare or
ubiquitous terms dropped, and each text becomes a TF-IDF vector.
Topics are found by spherical k-means (cosine) with a deterministic
farthest-point start, in numpy; each topic is named by its top terms, and
reported with its size and the texts nearest its centre.

Example:
    >>> texts = ["物流太慢了", "快递太慢，等了一周", "物流慢得要死", "质量太差", "质量差，坏了"]
    >>> [t.size for t in complaint_topics(texts, k=2, min_df=2)]
    [3, 2]
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emotiondesk.errors import InvalidInputError
from emotiondesk.text.tokens import TOPICS, Tokenizer

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Topic:
    """One complaint theme."""

    terms: tuple[str, ...]
    size: int
    share: float
    examples: tuple[str, ...]

    @property
    def label(self) -> str:
        return " / ".join(self.terms[:3])

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "terms": list(self.terms),
            "size": self.size,
            "share": self.share,
            "examples": list(self.examples),
        }


def _kmeans(
    x: np.ndarray, k: int, *, iters: int = 30, restarts: int = 4, seed: int = 0
) -> np.ndarray:
    """Spherical k-means (k-means++ starts, fixed seed, best of ``restarts`` by cohesion)."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    best_assign, best_score = np.zeros(n, dtype=int), -np.inf
    for _r in range(restarts):
        centres = [int(rng.integers(n))]
        dist = 1.0 - x @ x[centres[0]]
        for _ in range(1, k):
            p = np.clip(dist, 0, None) ** 2
            nxt = int(rng.choice(n, p=p / p.sum())) if p.sum() > 0 else int(rng.integers(n))
            centres.append(nxt)
            dist = np.minimum(dist, 1.0 - x @ x[nxt])
        c = x[centres].copy()
        assign = np.full(n, -1)
        for _ in range(iters):
            new = np.argmax(x @ c.T, axis=1)
            if np.array_equal(new, assign):
                break
            assign = new
            for j in range(k):
                members = x[assign == j]
                if len(members):
                    v = members.sum(axis=0)
                    c[j] = v / (np.linalg.norm(v) or 1.0)
        score = float((x @ c.T)[np.arange(n), assign].sum())
        if score > best_score:
            best_assign, best_score = assign, score
    return best_assign


def complaint_topics(
    texts: Sequence[str],
    *,
    k: int | None = None,
    min_df: int = 2,
    max_df: float = 0.5,
    max_terms: int = 2000,
    examples: int = 3,
    language: str = "auto",
    exclude: Sequence[str] = (),
    tokenizer: Tokenizer = TOPICS,
) -> list[Topic]:
    """Cluster (negative) texts into themes, largest first.

    Args:
        texts: the messages to group (pass the negative ones for complaint topics).
        k: number of topics; default ``round(sqrt(n / 2))`` clipped to 2..12.
        min_df: a term must occur in at least this many texts.
        max_df: terms in more than this share of texts are dropped (ubiquitous).
        max_terms: vocabulary size cap (most frequent kept).
        examples: example texts per topic (nearest to the topic's centre).
        language: ``auto``, ``zh`` or ``en``.
        exclude: terms never used (e.g. the category or product name itself).
        tokenizer: how texts are cut into terms (default: jieba words, see ``text/tokens.py``).
    """
    if k is not None and k < 1:
        raise InvalidInputError("k must be >= 1")
    drop = set(exclude)
    docs = [[w for w in tokenizer(t, language) if w not in drop] for t in texts]
    df = Counter(w for d in docs for w in set(d))
    n_docs = len(docs)
    vocab = [
        w
        for w, c in df.most_common()
        if c >= min_df and (n_docs < 10 or c / max(n_docs, 1) <= max_df)
    ][:max_terms]
    if not vocab:
        return []
    index = {w: i for i, w in enumerate(vocab)}
    keep = [i for i, d in enumerate(docs) if any(w in index for w in d)]
    if not keep:
        return []
    x = np.zeros((len(keep), len(vocab)), dtype=np.float32)
    idf = np.array([math.log((1 + n_docs) / (1 + df[w])) + 1.0 for w in vocab], dtype=np.float32)
    for row, i in enumerate(keep):
        for w, c in Counter(docs[i]).items():
            j = index.get(w)
            if j is not None:
                x[row, j] = 1.0 + math.log(c)
    x *= idf
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    if k is None:
        k = int(min(12, max(2, round(math.sqrt(len(keep) / 2)))))
    k = min(k, len(keep))
    assign = _kmeans(x, k)
    topics = []
    for j in range(k):
        rows = np.flatnonzero(assign == j)
        if not len(rows):
            continue
        centre = x[rows].mean(axis=0)
        # name by terms frequent in the cluster relative to the rest
        inside = (x[rows] > 0).mean(axis=0)
        outside = (np.delete(x, rows, axis=0) > 0).mean(axis=0) if len(rows) < len(keep) else 0.0
        weight = inside * np.log((inside + 0.01) / (outside + 0.01))
        top = [vocab[t] for t in np.argsort(-weight)[:5] if inside[t] > 0]
        shown: list[str] = []  # nearest to the centre first, each text once
        for r in rows[np.argsort(-(x[rows] @ centre))]:
            if len(shown) == examples:
                break
            if texts[keep[r]] not in shown:
                shown.append(texts[keep[r]])
        topics.append(
            Topic(
                terms=tuple(top),
                size=len(rows),
                share=len(rows) / len(texts) if texts else 0.0,
                examples=tuple(shown),
            )
        )
    return sorted(topics, key=lambda t: (-t.size, t.label))
