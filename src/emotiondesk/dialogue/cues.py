"""Lexical cues of a customer turn, in Chinese and English.

Models read how a message feels; some things a service team acts on are said
outright and are better read with a list: a request for a human agent, a
complaint, a refund, a message repeated because nobody answered it, a
goodbye. The lists are short and hand-written for e-commerce service.

Example:
    >>> sorted(explicit_requests("我要投诉，马上给我转人工"))
    ['complaint', 'human']
    >>> sorted(explicit_requests("I want a refund or let me talk to a human"))
    ['human', 'refund']
"""

from __future__ import annotations

import re
from functools import lru_cache

#: kind -> (Chinese substrings, English patterns matched on word boundaries)
REQUEST_CUES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "human": (
        ("转人工", "人工客服", "人工服务", "找人工", "要人工", "真人", "活人", "接人工"),
        (
            r"talk to (?:a |an )?(?:real )?(?:human|person|agent|someone)",
            r"speak (?:to|with) (?:a |an )?(?:real )?(?:human|person|agent|someone)",
            r"real person",
            r"human agent",
            r"live agent",
            r"(?:customer service )?representative",
            r"transfer me",
        ),
    ),
    "manager": (
        ("经理", "主管", "领导", "负责人", "上级"),
        (r"manager", r"supervisor", r"someone in charge"),
    ),
    "complaint": (
        ("投诉", "12315", "消协", "差评", "曝光", "举报"),
        (r"complaint", r"complain", r"report (?:you|this)", r"bad review", r"file a claim"),
    ),
    "refund": (
        ("退款", "退钱", "退货", "赔偿", "赔钱"),
        (r"refund", r"money back", r"reimburse\w*", r"compensat\w*", r"return (?:it|this|the)"),
    ),
    "cancel": (
        ("取消订单", "不要了", "取消"),
        (r"cancel\w*",),
    ),
}

#: Phrases that close a conversation (a goodbye, thanks for the help).
CLOSING_CUES: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "谢谢",
        "多谢",
        "感谢",
        "没问题了",
        "没有问题了",
        "再见",
        "拜拜",
        "好的",
        "明白了",
        "解决了",
        "太好了",
    ),
    (
        r"thanks?",
        r"thank you",
        r"bye",
        r"goodbye",
        r"that'?s all",
        r"that helps",
        r"all set",
        r"perfect",
        r"great",
        r"solved",
        r"that works",
    ),
)

#: Words of a reply that could not help (used on the agent's previous turn).
UNHELPFUL_CUES: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("抱歉", "对不起", "无法", "不能", "没有找到", "没有", "暂时不", "不支持", "请稍等"),
    (
        r"sorry",
        r"unfortunately",
        r"unable",
        r"can ?not",
        r"can't",
        r"no (?:results?|matches|availability|trains?|restaurants?|hotels?)",
        r"not available",
        r"there (?:are|is) no",
        r"(?:i )?could ?n[o']t find",
        r"fully booked",
    ),
)

#: Words of a customer turn that says the last answer did not help.
FRUSTRATION_CUES: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "还是",
        "又",
        "到底",
        "怎么还",
        "说过了",
        "已经说了",
        "不是这个",
        "不对",
        "没用",
        "什么意思",
        "多少次",
    ),
    (
        r"still",
        r"again",
        r"already (?:told|said|asked)",
        r"not what i",
        r"that'?s wrong",
        r"wrong",
        r"useless",
        r"ridiculous",
        r"how many times",
        r"what\?",
        r"no,",
    ),
)


@lru_cache(maxsize=64)
def _compile(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


def _matches(text: str, cues: tuple[tuple[str, ...], tuple[str, ...]]) -> bool:
    zh, en = cues
    if any(word in text for word in zh):
        return True
    pattern = _compile(en)
    return bool(pattern and pattern.search(text))


def explicit_requests(text: str) -> set[str]:
    """Kinds of explicit request in ``text``: human, manager, complaint, refund, cancel."""
    found = set()
    for kind, cues in REQUEST_CUES.items():
        if _matches(text, cues):
            found.add(kind)
    return found


def is_closing(text: str) -> bool:
    """Whether ``text`` sounds like the customer wrapping up (thanks, bye, solved)."""
    return _matches(text, CLOSING_CUES)


def is_unhelpful(text: str) -> bool:
    """Whether an agent's reply says it could not help (sorry, unavailable, no results)."""
    return _matches(text, UNHELPFUL_CUES)


def is_frustrated(text: str) -> bool:
    """Whether a customer turn says the last answer missed (still, again, wrong)."""
    return _matches(text, FRUSTRATION_CUES)


_NEGATION_EN = re.compile(
    r"^\W*(?:no|nope|nah|not)\b|\b(?:don'?t|do not|not now|not yet|no thanks?)\b", re.IGNORECASE
)
_NEGATION_ZH = ("不用", "不要", "不需要", "不是", "没有", "算了", "不行")


def is_negation(text: str) -> bool:
    """Whether a turn declines or contradicts ("No, not now", "不用了", "算了")."""
    stripped = text.strip()
    return (
        bool(_NEGATION_EN.search(stripped))
        or stripped.startswith(("不", "没"))
        or any(w in stripped for w in _NEGATION_ZH)
    )


_QUESTION_START_EN = re.compile(
    r"^\W*(?:what|where|when|which|who|how|can|could|do|does|did|is|are|will|would|should|may)\b",
    re.IGNORECASE,
)


def is_plain_question(text: str) -> bool:
    """A question with no sign of frustration ("我的快递到哪了？", "Can I change the address?").

    Not plain: exclamation marks, frustration cues ("still", "到底", "怎么还"),
    explicit requests (complaint, refund, a human).
    """
    t = text.strip()
    if not t or "!" in t or "！" in t or is_frustrated(t) or explicit_requests(t):
        return False
    asks = t.endswith(("?", "？", "吗", "呢")) or t.startswith(("请问", "请教", "想问"))
    return asks or bool(_QUESTION_START_EN.search(t))


def shingles(text: str, n: int = 3) -> frozenset[str]:
    """Character n-grams of a lower-cased, space-collapsed text (language-agnostic)."""
    t = re.sub(r"\s+", " ", text.lower()).strip()
    if len(t) <= n:
        return frozenset([t]) if t else frozenset()
    return frozenset(t[i : i + n] for i in range(len(t) - n + 1))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two shingle sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def keyword_hits(text: str, keywords: tuple[str, ...] | list[str]) -> list[str]:
    """Keywords found in ``text`` (case-insensitive substring match)."""
    low = text.lower()
    return [k for k in keywords if k.lower() in low]
