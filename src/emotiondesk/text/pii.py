"""PII masking: what identifies a person is replaced before anything is stored or logged.

Masked: phone numbers (mainland China mobiles and landlines, international
numbers written with ``+`` or in North-American form), e-mail addresses,
Chinese resident identity numbers (18 digits, checksum verified; 15-digit old
form with a valid birth date), bank card numbers (13-19 digits, Luhn verified),
street addresses where their shape is recognisable (zh: ... 路/街/巷 12 号 ...,
en: 12 Baker Street, Apt 4), messaging accounts after a cue (微信号, QQ, 支付宝,
WeChat ID), and names after an explicit cue ("my name is", "我叫", "收件人").

Detection runs on a normalised copy of the text (NFKC, so full-width digits
and letters count, and zero-width / invisible characters removed); the masks
are applied to the original text, whose offsets the spans report.

Order and tracking numbers are kept, because the service team needs them and
they identify a parcel, not a person: the one token right after a number cue
(订单号, 运单号, order number, order #, tracking number, ...) is never
masked. After a bare noun cue (订单, 包裹, order, case, ticket, ...) the token
is kept too, unless it has an unambiguous personal shape: a mainland mobile
number, a valid ID number or an e-mail address.

Example:
    >>> mask_pii("我的手机是13812345678，邮箱 li.wei@example.com")
    '我的手机是[PHONE]，邮箱 [EMAIL]'
    >>> mask_pii("Order #4012888888881881 never arrived, call +44 20 7946 0958")
    'Order #4012888888881881 never arrived, call [PHONE]'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = [
    "PII_KINDS",
    "MaskResult",
    "PiiSpan",
    "find_pii",
    "mask_json",
    "mask_pii",
    "mask_pii_detailed",
    "normalise_for_detection",
    "without_pii",
]

#: Entity kinds and the placeholder each is replaced with.
PII_KINDS: dict[str, str] = {
    "email": "[EMAIL]",
    "id_number": "[ID]",
    "bank_card": "[CARD]",
    "phone": "[PHONE]",
    "address": "[ADDRESS]",
    "account": "[ACCOUNT]",
    "name": "[NAME]",
}


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One detected entity: its kind and character span in the input (never its value)."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class MaskResult:
    """A masked text and what was masked in it."""

    text: str
    spans: tuple[PiiSpan, ...]

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for span in self.spans:
            out[span.kind] = out.get(span.kind, 0) + 1
        return out


# -- validators ---------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        born = date(y, m, d)
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date(2100, 1, 1)


def is_valid_cn_id(number: str) -> bool:
    """A Chinese resident identity number: 18 chars with a valid birth date and checksum.

    The 15-digit first-generation form (no checksum) is accepted when its
    birth date (19YYMMDD) is valid.
    """
    n = number.upper()
    if len(n) == 18 and n[:17].isdigit() and (n[17].isdigit() or n[17] == "X"):
        if n[0] not in "12345678":
            return False
        if not _valid_date(int(n[6:10]), int(n[10:12]), int(n[12:14])):
            return False
        total = sum(int(c) * w for c, w in zip(n[:17], _ID_WEIGHTS, strict=True))
        return _ID_CHECK[total % 11] == n[17]
    if len(n) == 15 and n.isdigit():
        return n[0] in "12345678" and _valid_date(1900 + int(n[6:8]), int(n[8:10]), int(n[10:12]))
    return False


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check that bank card numbers carry."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# -- normalisation ------------------------------------------------------------------------

#: Characters that render as nothing (zero-width spaces and joiners, the BOM, the
#: soft hyphen, direction marks and isolates): removed before detection.
INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u200b\u200c\u200d"
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067"
    "\u2068\u2069\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"
)


def normalise_for_detection(text: str) -> tuple[str, list[int] | None]:
    """``text`` under NFKC with invisible characters removed, and where each character came from.

    Returns ``(normalised, origin)``: ``origin[i]`` is the index in ``text`` of
    the character that produced ``normalised[i]`` (``None`` when nothing
    changed, so offsets are the same).
    """
    if text.isascii() or (
        unicodedata.is_normalized("NFKC", text) and not INVISIBLE.intersection(text)
    ):
        return text, None
    out: list[str] = []
    origin: list[int] = []
    for i, c in enumerate(text):
        if c in INVISIBLE:
            continue
        n = c if c.isascii() else unicodedata.normalize("NFKC", c)
        out.append(n)
        origin.extend([i] * len(n))
    return "".join(out), origin


# -- patterns -----------------------------------------------------------------------------

_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z_])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z_])"

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)
# Internationalised addresses (李伟@例子.中国): any word characters, and a top-level
# domain that is ASCII letters or one of the common non-ASCII ones.
_IDN_TLDS = (
    "中国|中國|公司|网络|網絡|在线|在線|中文网|网址|網址|商城|商店|集团|香港|台湾|台灣|澳門|新加坡|"
    "我爱你|手机|移动|政务|公益|时尚|购物|网店|游戏|信息|广东|佛山|рф|한국|みんな"
)
_EMAIL_IDN = re.compile(
    r"(?<![\w.+-])([\w.+-]{1,64})@((?:[\w-]{1,63}\.)+(?:[A-Za-z]{2,24}|" + _IDN_TLDS + r"))"
    r"(?![A-Za-z0-9-])"
)
_EMAIL_CUE = re.compile(r".*(?:邮箱|邮件|电邮|信箱|邮址|地址|发到|发送到|寄到|联系|是|为|給|给|至)")
_ID18 = re.compile(_NOT_ALNUM_BEFORE + r"(\d{17}[\dXx]|\d{15})" + _NOT_ALNUM_AFTER)
# An ID number written in groups: 6-8-4 (region, birth date, sequence) or 6-4-4-4.
_ID_GROUPED = re.compile(
    _NOT_ALNUM_BEFORE
    + r"(\d{6}[ -]\d{8}[ -]?\d{3}[\dXx]|\d{6}\d{8}[ -]\d{3}[\dXx]|\d{6}[ -]\d{4}[ -]\d{4}[ -]\d{3}[\dXx])"
    + _NOT_ALNUM_AFTER
)
# 13-19 digits, either contiguous or in groups separated by single spaces/dashes.
_CARD = re.compile(r"(?<![0-9A-Za-z_+])(\d{13,19}|\d{4}(?:[ -]\d{3,6}){2,4})" + _NOT_ALNUM_AFTER)
_CARD_CUE = re.compile(r"卡|card|visa|amex|american express", re.IGNORECASE)


def _card_issuer_ok(digits: str) -> bool:
    """The issuer ranges by length: 13 digits Visa (4); 14 Diners (3); 15 Amex (3);
    16-19 Visa, Mastercard, JCB, UnionPay, Discover (3-6), and Mastercard's
    2-series (2221-2720, 16 digits)."""
    n, first = len(digits), digits[0]
    if first == "2":
        return n == 16 and 2221 <= int(digits[:4]) <= 2720
    if n == 13:
        return first == "4"
    if n in (14, 15):
        return first == "3"
    return first in "3456"


# A +86 / 0086 phone written without separators looks like a card number.
_CN_PHONE_DIGITS = re.compile(r"(?:00)?86(?:1[3-9]\d{9}|0\d{9,11})")
# A mobile may touch letters ("stuff13812345678call me"), never another digit.
_CN_MOBILE = re.compile(r"(?<![0-9+])(?:(?:\+|00)86[ .-]?)?1[3-9]\d(?:[ .-]?\d{4}){2}(?!\d)")
_CN_LANDLINE = re.compile(
    r"(?<![\d+])(?<!(?<!\d)\d{4}[ -])(?:(?:\+|00)86[ -]?)?(?:\(0\d{2,3}\)|0\d{2,3})[ -]?(?:\d{7,8}|\d{3,4}[ -]\d{4})"
    r"(?:-\d{1,5})?(?![ -]?\d)" + _NOT_ALNUM_AFTER
)
# International: '+' then country code and 6-14 more digits, with spaces, dashes,
# dots or a bracketed area code between groups.
_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}" + _NOT_ALNUM_AFTER)
# North-American form without '+': (415) 555-0123, 415-555-0123, 415.555.0123.
_NANP = re.compile(
    _NOT_ALNUM_BEFORE + r"(?:1[ .-])?(?:\(\d{3}\)\s?|\d{3}[.-])\d{3}[.-]\d{4}" + _NOT_ALNUM_AFTER
)
# Upper-case letters glued to a number make it a code (SO-13812345678, SF1381...).
_CODE_PREFIX = re.compile(r"[A-Z]{2,}-?$")

# Order / tracking numbers. A number cue ("订单号", "order number", "order #") makes
# the next token an order number whatever it looks like; a bare noun cue
# ("订单", "包裹", "order", "case") only against weak shapes (see find_pii).
_NUMBER_CUE = (
    r"订单编号|订单号码?|单号|运单号?|快递单号|快递号|物流单号|物流号|包裹号|退款单号|退款号|"
    r"售后单号|工单号|发票号|"
    r"order\s*(?:no\b\.?|number|num\b|id\b|#)|tracking(?:\s*(?:no\b\.?|number|id\b|code|#))?|"
    r"waybill(?:\s*(?:no\b\.?|number))?|invoice(?:\s*(?:no\b\.?|number|#))?|"
    r"(?:ticket|case|parcel|shipment|package)\s*(?:no\b\.?|number|id\b|#)|"
    r"ref(?:erence)?(?:\s*(?:no\b\.?|number|#))?|rma|awb"
)
_BARE_CUE = r"订单|快递|物流|包裹|退款|工单|售后|order|shipment|parcel|package|ticket|case"
_ORDER = re.compile(
    r"(?<![A-Za-z])(?:(?P<number>" + _NUMBER_CUE + r")|(?P<bare>" + _BARE_CUE + r"))"
    r"[\s:#.]{0,4}(?:(?:是|为|為|is|was|:)[\s:#]{0,3})?"
    r"(?P<token>(?=[A-Za-z0-9_/-]*\d)[A-Za-z0-9](?:[A-Za-z0-9_/-]*[A-Za-z0-9])?)",
    re.IGNORECASE,
)

# zh street addresses: an optional chain of administrative areas, a road/street
# name, a number (Arabic or Chinese numerals) with 号, then optional
# building/unit/room parts.
_ZH_STOP = "是的在到寄送往我你他她它们址了吗呢吧把给从和与及请将让被就都也还要想说个这那"
_ZH_CHAR = rf"(?:(?![{_ZH_STOP}])[\u4e00-\u9fff])"
_ZH_NUMERAL = "一二三四五六七八九十百零〇两"
_ZH_ADDRESS = re.compile(
    rf"(?:{_ZH_CHAR}{{2,8}}(?:省|自治区|市|区|县|镇|乡|街道))*"
    rf"{_ZH_CHAR}{{1,10}}(?:大街|大道|路|街|巷|弄|胡同|里)\s*"
    rf"(?:\d{{1,5}}|[{_ZH_NUMERAL}]{{1,4}})\s*(?:号|號|弄)"
    r"(?:\s*(?:[\u4e00-\u9fffA-Za-z]{0,12}?\s*[\dA-Za-z一二三四五六七八九十]{1,5}\s*"
    r"(?:号楼|栋|幢|座|单元|楼|层|室|号|户)|[-#]\d{1,5}))*"
)
# en street addresses: number, up to four capitalised words, a street type; then
# optionally an apartment/unit and a ", City, ST 12345" tail.
_EN_STREET_TYPES = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Close|Crescent|Square|Sq|Highway|Hwy|Parkway|Pkwy"
)
_EN_ADDRESS = re.compile(
    _NOT_ALNUM_BEFORE
    + r"\d{1,6}[A-Za-z]?\s+(?:[A-Z][A-Za-z'-]*\s+){1,4}(?:"
    + _EN_STREET_TYPES
    + r")\.?(?![A-Za-z])"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Room|#)\.?\s*[\dA-Za-z-]{1,6})?"
    r"(?:,\s*[A-Z][A-Za-z .'-]{1,30},\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"
)
_EN_NAME = re.compile(
    r"(?:\b[Mm]y name is|\b[Mm]y name's|\bI am called|\bI'm called|\b[Tt]his is)\s+"
    r"((?:Mr|Mrs|Ms|Dr)\.?\s+)?([A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2})"
)
_ZH_NAME = re.compile(
    r"(?:我叫|我的名字是|本人姓名|姓名[:：]?|收件人[:：]?|收货人[:：]?|联系人[:：]?)\s*"
    r"([\u4e00-\u9fff]{2,4}?)(?=[，,。.！!？?\s、；;：:]|电话|手机|$)"
)
# Messaging accounts named by a cue: WeChat ids, QQ numbers, Alipay accounts.
_ACCOUNT = re.compile(
    r"(?:微信号?|vx|VX|wx|WeChat(?:\s+ID)?|QQ号?|qq号?|支付宝(?:账号)?)\s*(?:是|is\b|[:：])?\s*"
    r"([A-Za-z][-_A-Za-z0-9]{5,19}|\d{5,11})(?![-_A-Za-z0-9])"
)
_EN_NAME_NOT = frozenset({"The", "This", "That", "It", "Your", "My", "A", "An", "Not"})


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


@dataclass(frozen=True, slots=True)
class _Candidate:
    kind: str
    start: int
    end: int
    #: An unambiguous personal shape (mobile, valid ID, e-mail): masked even as the
    #: token after a bare noun cue ("包裹 13812345678").
    strong: bool = False


def _protected(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, after a number cue) of each token right after an order cue."""
    return [(*m.span("token"), m.group("number") is not None) for m in _ORDER.finditer(text)]


def _iter_candidates(text: str) -> Iterator[_Candidate]:
    for m in _EMAIL.finditer(text):
        yield _Candidate("email", *m.span(), strong=True)
    for m in _EMAIL_IDN.finditer(text):
        local, domain = m.group(1), m.group(2)
        start = m.start(1)
        if not local.isascii():
            # "邮箱li.wei@例子.中国": the address starts where its ASCII tail does;
            # "邮箱李伟@例子.中国": after the cue word before it.
            tail = re.search(r"[A-Za-z0-9._%+-]+$", local)
            cue = _EMAIL_CUE.match(local)
            if tail is not None and tail.start() > 0:
                start += tail.start()
            elif cue is not None and cue.end() < len(local):
                start += cue.end()
        if not (local + domain).isascii():
            yield _Candidate("email", start, m.end(), strong=True)
    for pattern in (_ID18, _ID_GROUPED):
        for m in pattern.finditer(text):
            number = _digits(m.group(1)) + ("X" if m.group(1)[-1] in "Xx" else "")
            if not is_valid_cn_id(number):
                continue
            if (
                len(number) == 15
                and luhn_ok(number)
                and _CARD_CUE.search(text, max(0, m.start() - 16), m.start())
            ):
                continue  # a 15-digit card (American Express) named as one
            yield _Candidate("id_number", *m.span(1), strong=True)
    for m in _CARD.finditer(text):
        digits = _digits(m.group(1))
        if (
            13 <= len(digits) <= 19
            and _card_issuer_ok(digits)
            and luhn_ok(digits)
            and len(set(digits)) > 1
            and not _CN_PHONE_DIGITS.fullmatch(digits)
        ):
            yield _Candidate("bank_card", *m.span(1))
    for m in _CN_MOBILE.finditer(text):
        if not _CODE_PREFIX.search(text, max(0, m.start() - 8), m.start()):
            yield _Candidate("phone", *m.span(), strong=True)
    for pattern in (_CN_LANDLINE, _NANP):
        for m in pattern.finditer(text):
            yield _Candidate("phone", *m.span())
    for m in _INTL.finditer(text):
        n = len(_digits(m.group()))
        if 7 <= n <= 15:
            yield _Candidate("phone", *m.span())
    for m in _ZH_ADDRESS.finditer(text):
        yield _Candidate("address", *m.span())
    for m in _EN_ADDRESS.finditer(text):
        yield _Candidate("address", *m.span())
    for m in _ACCOUNT.finditer(text):
        yield _Candidate("account", *m.span(1))
    for m in _EN_NAME.finditer(text):
        first = m.group(2).split()[0]
        if first not in _EN_NAME_NOT:
            yield _Candidate("name", *m.span(2))
    for m in _ZH_NAME.finditer(text):
        yield _Candidate("name", *m.span(1))


_PRIORITY = {kind: i for i, kind in enumerate(PII_KINDS)}


def _find(text: str) -> list[PiiSpan]:
    keep = _protected(text)

    def kept(c: _Candidate) -> bool:
        # Only a candidate inside the token after the cue is an order number.
        return any(
            s <= c.start and c.end <= e and (number or not c.strong) for s, e, number in keep
        )

    candidates = sorted(
        (c for c in _iter_candidates(text) if not kept(c)),
        key=lambda c: (_PRIORITY[c.kind], -(c.end - c.start), c.start),
    )
    chosen: list[_Candidate] = []
    for cand in candidates:
        if all(cand.end <= c.start or c.end <= cand.start for c in chosen):
            chosen.append(cand)
    return [PiiSpan(c.kind, c.start, c.end) for c in sorted(chosen, key=lambda c: c.start)]


def find_pii(text: str) -> list[PiiSpan]:
    """Non-overlapping PII spans of ``text`` (offsets in ``text``), in order.

    Detection runs on the NFKC form without invisible characters (so
    ``１３８１２３４５６７８`` and a number split by zero-width spaces are found);
    the spans point into the original text. Order/tracking numbers right after
    their cue are excluded. Where detectors overlap, the higher-priority kind
    wins (e-mail, ID number, bank card, phone, address, account, name), then
    the longer span.
    """
    if not text:
        return []
    norm, origin = normalise_for_detection(text)
    spans = _find(norm)
    if origin is None:
        return spans
    return [PiiSpan(s.kind, origin[s.start], origin[s.end - 1] + 1) for s in spans]


def mask_pii_detailed(text: str, *, placeholder: Callable[[str], str] | None = None) -> MaskResult:
    """Mask PII in ``text`` and report the spans (of the input) that were masked.

    Args:
        text: any message.
        placeholder: ``kind -> replacement``; default ``[PHONE]``, ``[EMAIL]``, ...
    """
    spans = find_pii(text)
    if not spans:
        return MaskResult(text, ())
    repl = placeholder or PII_KINDS.__getitem__
    parts: list[str] = []
    pos = 0
    for span in spans:
        parts.append(text[pos : span.start])
        parts.append(repl(span.kind))
        pos = span.end
    parts.append(text[pos:])
    return MaskResult("".join(parts), tuple(spans))


_PLACEHOLDER_RE = re.compile(
    "|".join(re.escape(v) for v in sorted(PII_KINDS.values(), key=len, reverse=True))
)
# Cheap gate: every detector needs a digit, an "@", a name or account cue.
_MAYBE_PII_RE = re.compile(
    r"\d|@|\[[A-Z]+\]|我叫|名字|姓名|收件人|收货人|联系人|微信|支付宝|QQ|qq|vx|VX|wx|WeChat"
    r"|[Nn]ame|called|This is"
)


def without_pii(text: str) -> str:
    """``text`` with its PII and PII placeholders removed: what a model should read.

    A phone number and the ``[PHONE]`` that masks it carry no feeling, but an
    n-gram model reads digits and bracketed capitals as features; removing both
    makes the raw and the masked message one text.

    Example:
        >>> without_pii("手机13812345678，质量很差") == without_pii("手机[PHONE]，质量很差")
        True
    """
    if not _MAYBE_PII_RE.search(text):
        return text
    spans = find_pii(text)
    if spans:
        parts: list[str] = []
        pos = 0
        for span in spans:
            parts.append(text[pos : span.start])
            pos = span.end
        parts.append(text[pos:])
        text = "".join(parts)
    return _PLACEHOLDER_RE.sub("", text)


def mask_pii(text: str) -> str:
    """``text`` with phone numbers, e-mails, ID and card numbers, addresses and cued names masked.

    Example:
        >>> mask_pii("身份证号11010519491231002X，卡号4111 1111 1111 1111")
        '身份证号[ID]，卡号[CARD]'
        >>> mask_pii("手机１３８１２３４５６７８")
        '手机[PHONE]'
    """
    return mask_pii_detailed(text).text


def mask_json(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with PII masked in every string.

    Keys are masked too. Used for the free-form fields that are stored
    (conversation metadata, ...).
    """
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {mask_pii(str(k)): mask_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_json(v) for v in value]
    return value
