"""Complaint topics: the recurring themes of negative messages, with counts and examples.

Words are cut by :data:`emotiondesk.text.tokens.TOPICS` (jieba words for
Chinese, a word pattern for English, stop words dropped), very rare or
ubiquitous terms dropped, and each text becomes a TF-IDF vector.
Topics are found by spherical k-means (cosine) with a deterministic
farthest-point start, in numpy; each topic is named by its top terms, and
reported with its size and the texts nearest its centre.

Near-duplicate themes merge, twice over: before clustering, the terms of a
small curated e-commerce synonym map (:data:`SYNONYMS`: 物流/快递/配送,
太慢/好慢/迟迟, delivery/shipping/courier, slow/late, ...) count as one
feature, so 物流太慢 and 快递太慢 share their terms; after clustering, topics
whose top terms name the same theme up to synonyms are merged (counts summed) and named by the most frequent phrasing of their
members. Questions (请问…吗？, "does it …?") are no complaints and are left
out, and each example is shown once (compared without case, spaces and
punctuation).

Example:
    >>> texts = ["物流太慢了", "快递太慢，等了一周", "物流慢得要死", "质量太差", "质量差，坏了"]
    >>> [t.size for t in complaint_topics(texts, k=2, min_df=2)]
    [3, 2]
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from emotiondesk.errors import InvalidInputError
from emotiondesk.text.language import detect_language
from emotiondesk.text.tokens import TOPICS, Tokenizer

logger = logging.getLogger(__name__)

SYNONYMS_FILE = "topic_synonyms.yaml"


@lru_cache(maxsize=1)
def _shipped_synonyms() -> dict[str, tuple[str, ...]]:
    text = resources.files("emotiondesk.analytics").joinpath(SYNONYMS_FILE).read_text("utf-8")
    data = yaml.safe_load(text) or {}
    out: dict[str, tuple[str, ...]] = {}
    for head, by_lang in data.items():
        words = [w for lang in ("zh", "en") for w in (by_lang.get(lang) or [])]
        bad = [w for w in words if not isinstance(w, str)]
        if bad:
            raise ValueError(f"{SYNONYMS_FILE}: {head}: quote these: {bad}")
        out[str(head)] = tuple(words)
    return out


#: Near-synonyms of the e-commerce domain, per theme (``topic_synonyms.yaml``
#: beside this module): every term of a group is one feature when clustering
#: and one term when comparing topics.
SYNONYMS: dict[str, tuple[str, ...]] = _shipped_synonyms()

#: Two topics merge when this share of their top terms (up to synonyms) is the same.
MERGE_TERM_OVERLAP = 0.5
#: ... or, when set, the character n-gram TF-IDF cosine of their centroids reaches
#: this. Off (None): it did not separate the hand-labelled pairs (docs/BENCHMARKS.md).
MERGE_SIMILARITY: float | None = None
#: How many top terms of a topic are compared.
MERGE_TOP_TERMS = 3

_SHOWN_KEY = re.compile(r"[\W_]+", re.UNICODE)


def _canonical_map(synonyms: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for head, words in synonyms.items():
        for w in words:
            out.setdefault(w.lower(), head)
    return out


def _same_example(text: str) -> str:
    """What two examples are compared by: no case, spaces or punctuation."""
    return _SHOWN_KEY.sub("", text.casefold())


def _asks_only(text: str, language: str) -> bool:
    """Every sentence of ``text`` asks (a pre-sales or how-to question): no complaint.

    A rhetorical complaint (为什么还没发货？, "why is it so slow?") is no question.
    """
    from emotiondesk.analytics.aspects import _sentence_asks, aspect_lexicon

    lex = aspect_lexicon()
    lang = detect_language(text) if language == "auto" else language
    if lang not in ("zh", "en"):
        return False
    stripped = text.strip()
    if not stripped:
        return False
    starts = [0] + [m.end() for m in re.finditer(r"[.!?。！？]+\s*", stripped)]
    starts = [i for i in starts if i < len(stripped)]
    return all(_sentence_asks(lex, stripped, i, lang) for i in starts)


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def merge_groups(
    groups: Sequence[Sequence[str]],
    top_terms: Sequence[Sequence[str]],
    *,
    term_overlap: float = MERGE_TERM_OVERLAP,
    similarity: float | None = MERGE_SIMILARITY,
    synonyms: dict[str, tuple[str, ...]] | None = None,
) -> list[int]:
    """Which groups of texts are one theme: a root index per group (union-find).

    Top terms are read through ``synonyms`` (物流 and 快递 are one term). Two
    groups merge when

    * their themes are the same: the synonym groups among their top terms are
      the same set, and each group's first term is one of them (物流/太慢 and
      快递/太慢; not 酒店/房间/服务 and 客服/态度); or
    * their top terms overlap by ``term_overlap`` (Jaccard); or
    * ``similarity`` is set and the cosine of their centroids as character
      1-3-gram TF-IDF vectors (scikit-learn) reaches it. Off by default: on the
      hand-labelled pairs it does not separate same-theme from other pairs
      (docs/BENCHMARKS.md, issue 15).
    """
    n = len(groups)
    union = _Union(n)
    if n < 2:
        return list(range(n))
    table = SYNONYMS if synonyms is None else synonyms
    canon = _canonical_map(table)
    read = [[canon.get(t.lower(), t.lower()) for t in terms] for terms in top_terms]
    heads = [set(r) for r in read]
    themes = [{t for t in r if t in table} for r in read]
    sims = _centroid_similarity(groups) if similarity is not None else None
    for a in range(n):
        for b in range(a + 1, n):
            same_theme = (
                bool(themes[a])
                and themes[a] == themes[b]
                and read[a][0] in themes[a]
                and read[b][0] in themes[b]
            )
            shared = len(heads[a] & heads[b]) / max(len(heads[a] | heads[b]), 1)
            alike = sims is not None and similarity is not None and sims[a, b] >= similarity
            if same_theme or (heads[a] and shared >= term_overlap) or alike:
                union.union(a, b)
    return [union.find(j) for j in range(n)]


def _centroid_similarity(groups: Sequence[Sequence[str]]) -> np.ndarray:
    """Cosine of the groups' centroids as character 1-3-gram TF-IDF vectors."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [t for g in groups for t in g]
    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True).fit_transform(
        texts
    )
    centres = np.zeros((len(groups), x.shape[1]), dtype=np.float64)
    at = 0
    for j, g in enumerate(groups):
        if g:
            centres[j] = np.asarray(x[at : at + len(g)].mean(axis=0)).ravel()
        at += len(g)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True) + 1e-12
    return centres @ centres.T


@dataclass(frozen=True, slots=True)
class Topic:
    """One complaint theme."""

    terms: tuple[str, ...]
    size: int
    share: float
    examples: tuple[str, ...]
    #: The labels of the clusters merged into this topic (empty: none merged).
    merged_from: tuple[str, ...] = ()

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
            "merged_from": list(self.merged_from),
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
    synonyms: dict[str, tuple[str, ...]] | None = None,
    merge: bool = True,
    drop_questions: bool = True,
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
        synonyms: near-synonym groups counted as one term (default :data:`SYNONYMS`;
            ``{}`` for none).
        merge: merge near-duplicate topics after clustering (:func:`merge_groups`).
        drop_questions: leave out texts whose every sentence asks (no complaint).
    """
    if k is not None and k < 1:
        raise InvalidInputError("k must be >= 1")
    drop = set(exclude)
    canon = _canonical_map(SYNONYMS if synonyms is None else synonyms)
    asked = [drop_questions and _asks_only(t, language) for t in texts]
    surface = [
        [] if q else [w for w in tokenizer(t, language) if w not in drop]
        for t, q in zip(texts, asked, strict=True)
    ]
    # one feature per synonym group; the words as written name the topic
    docs = [[canon.get(w, w) for w in d] for d in surface]
    df = Counter(w for d in docs for w in set(d))
    # ubiquity is judged on the words as written: 物流 and 快递 together in most
    # complaints is the theme, not a term to drop
    widest: dict[str, int] = {}
    for w, c in Counter(w for d in surface for w in set(d)).items():
        key = canon.get(w, w)
        widest[key] = max(widest.get(key, 0), c)
    n_docs = len(docs)
    vocab = [
        w
        for w, c in df.most_common()
        if c >= min_df and (n_docs < 10 or widest.get(w, c) / max(n_docs, 1) <= max_df)
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
    clusters = [j for j in range(k) if (assign == j).any()]
    named = {j: _top_terms(x, vocab, np.flatnonzero(assign == j)) for j in clusters}
    # each cluster's label as its customers wrote it (not a synonym group's name)
    written = {
        j: " / ".join(
            _surface(t, np.flatnonzero(assign == j), keep, surface, canon) for t in named[j][:3]
        )
        for j in clusters
    }
    merged_from: dict[int, list[str]] = {j: [written[j]] for j in clusters}
    if merge and len(clusters) > 1:
        roots = merge_groups(
            [[texts[keep[r]] for r in np.flatnonzero(assign == j)] for j in clusters],
            [named[j][:MERGE_TOP_TERMS] for j in clusters],
            synonyms=synonyms,
        )
        new = {j: clusters[roots[i]] for i, j in enumerate(clusters)}
        merged_from = {}
        for j in clusters:
            merged_from.setdefault(new[j], []).append(written[j])
        assign = np.array([new[int(a)] for a in assign])
        clusters = sorted(set(new.values()))
    share_of = sum(1 for q in asked if not q)
    topics = []
    for j in clusters:
        rows = np.flatnonzero(assign == j)
        centre = x[rows].mean(axis=0)
        terms = [_surface(t, rows, keep, surface, canon) for t in _top_terms(x, vocab, rows)]
        shown: list[str] = []  # nearest to the centre first, each text once
        seen: set[str] = set()
        for r in rows[np.argsort(-(x[rows] @ centre), kind="stable")]:
            if len(shown) == examples:
                break
            key = _same_example(texts[keep[r]]) or texts[keep[r]]
            if key not in seen:
                seen.add(key)
                shown.append(texts[keep[r]])
        topics.append(
            Topic(
                terms=tuple(dict.fromkeys(terms)),
                size=len(rows),
                share=len(rows) / share_of if share_of else 0.0,
                examples=tuple(shown),
                merged_from=tuple(merged_from[j]) if len(merged_from[j]) > 1 else (),
            )
        )
    return sorted(topics, key=lambda t: (-t.size, t.label))


def _top_terms(x: np.ndarray, vocab: list[str], rows: np.ndarray) -> list[str]:
    """Terms frequent in the cluster ``rows`` relative to the rest (top 5)."""
    inside = (x[rows] > 0).mean(axis=0)
    outside = (np.delete(x, rows, axis=0) > 0).mean(axis=0) if len(rows) < len(x) else 0.0
    weight = inside * np.log((inside + 0.01) / (outside + 0.01))
    return [vocab[t] for t in np.argsort(-weight, kind="stable")[:5] if inside[t] > 0]


def _surface(
    term: str, rows: np.ndarray, keep: list[int], surface: list[list[str]], canon: dict[str, str]
) -> str:
    """The most frequent phrasing, in the cluster, of a (synonym-group) term."""
    counts = Counter(
        w for r in rows for w in surface[keep[int(r)]] if w == term or canon.get(w) == term
    )
    return counts.most_common(1)[0][0] if counts else term
