"""Complaint topics: the recurring themes of negative messages, with counts and examples.

Words are cut with jieba (Chinese) or a word pattern (English), stop words and
very rare or ubiquitous terms dropped, and each text becomes a TF-IDF vector.
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
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from emotiondesk.errors import InvalidInputError
from emotiondesk.text import detect_language, to_simplified

logger = logging.getLogger(__name__)

_ZH_STOP = set(
    [
        "的",
        "了",
        "是",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "这",
        "那",
        "就",
        "都",
        "也",
        "还",
        "又",
        "很",
        "太",
        "非常",
        "真",
        "真的",
        "特别",
        "比较",
        "有点",
        "一个",
        "一下",
        "没有",
        "没",
        "不",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "哦",
        "嗯",
        "在",
        "和",
        "与",
        "跟",
        "给",
        "把",
        "被",
        "对",
        "从",
        "到",
        "说",
        "要",
        "会",
        "能",
        "可以",
        "让",
        "用",
        "买",
        "东西",
        "什么",
        "怎么",
        "为什么",
        "已经",
        "还是",
        "但是",
        "不过",
        "可是",
        "而且",
        "因为",
        "所以",
        "如果",
        "这个",
        "那个",
        "这样",
        "那样",
        "自己",
        "我们",
        "你们",
        "他们",
        "一",
        "二",
        "两",
        "个",
        "次",
        "点",
        "些",
        "上",
        "下",
        "里",
        "后",
        "前",
        "多",
        "少",
        "好",
        "啦",
        "吧",
        "么",
        "嘛",
        "哈",
        "呵",
        "呢",
        "着",
        "过",
        "得",
        "地",
        "之",
        "其",
        "或",
        "及",
        "等",
        "并",
        "再",
        "才",
        "只",
        "而",
        "但",
        "却",
        "被",
        "让",
        "它们",
        "一直",
        "一样",
        "感觉",
        "觉得",
        "知道",
        "看",
        "看到",
        "时候",
        "现在",
        "今天",
        "昨天",
        "收到",
        "买的",
        "京东",
        "不能",
        "只是",
        "几个",
        "不是",
        "不会",
        "不要",
        "还有",
        "就是",
        "一点",
        "这么",
        "那么",
        "这次",
        "以后",
        "以前",
        "然后",
        "问题",
        "实在",
        "反正",
        "东东",
        "一般",
        "比较",
        "其他",
        "其实",
        "可能",
        "出现",
        "无法",
        "开始",
        "发现",
        "需要",
        "应该",
        "一次",
        "第一次",
        "一天",
        "几天",
        "根本",
        "完全",
        "总是",
        "本来",
        "结果",
    ]
)
_EN_STOP = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "they",
        "them",
        "their",
        "his",
        "her",
        "not",
        "no",
        "very",
        "too",
        "just",
        "really",
        "also",
        "than",
        "there",
        "here",
        "what",
        "which",
        "who",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "some",
        "can",
        "could",
        "would",
        "should",
        "will",
        "did",
        "do",
        "does",
        "done",
        "have",
        "has",
        "had",
        "get",
        "got",
        "again",
        "still",
        "only",
        "even",
        "more",
        "most",
        "much",
        "one",
        "two",
        "about",
        "after",
        "before",
        "into",
        "out",
        "over",
        "up",
        "down",
        "off",
        "am",
        "im",
        "ive",
        "dont",
        "didnt",
        "doesnt",
        "cant",
        "wont",
        "isnt",
        "wasnt",
        "order",
        "ordered",
        "item",
        "product",
        "bought",
        "buy",
        "thing",
        "things",
        "like",
    ]
)
_EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_ZH_KEEP = re.compile(r"[\u4e00-\u9fff]")


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


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def tokenize(text: str, language: str = "auto") -> list[str]:
    """Content words of ``text`` (jieba for Chinese, lower-cased words for English)."""
    text = to_simplified(text or "")
    lang = detect_language(text) if language == "auto" else language
    if lang == "zh":
        return [
            w
            for w in _jieba().lcut(text)
            if len(w) >= 2 and _ZH_KEEP.search(w) and w not in _ZH_STOP
        ]
    return [
        w.replace("'", "")
        for w in _EN_WORD.findall(text.lower())
        if len(w) >= 3 and w.replace("'", "") not in _EN_STOP
    ]


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
    """
    if k is not None and k < 1:
        raise InvalidInputError("k must be >= 1")
    drop = set(exclude)
    docs = [[w for w in tokenize(t, language) if w not in drop] for t in texts]
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
        near = rows[np.argsort(-(x[rows] @ centre))][:examples]
        topics.append(
            Topic(
                terms=tuple(top),
                size=len(rows),
                share=len(rows) / len(texts) if texts else 0.0,
                examples=tuple(texts[keep[r]] for r in near),
            )
        )
    return sorted(topics, key=lambda t: (-t.size, t.label))
