"""PII masking: what identifies a person is replaced before anything is stored or logged.

Masked: phone numbers (mainland China mobiles and landlines, international
numbers written with ``+`` or in North-American form), e-mail addresses,
Chinese resident identity numbers (18 digits, checksum verified; 15-digit old
form with a valid birth date), bank card numbers (13-19 digits, Luhn verified),
street addresses where their shape is recognisable (zh: ... 路/街/巷 12 号 ...,
en: 12 Baker Street, Apt 4), messaging accounts after a cue (微信号, QQ, 支付宝,
WeChat ID), and names after an explicit cue ("my name is", "我叫", "收件人"). Order and tracking numbers are kept: a number introduced by
订单/单号/运单/快递/order/tracking/... is never masked, because the service team
needs it and it identifies a parcel, not a person.

Example:
    >>> mask_pii("我的手机是13812345678，邮箱 li.wei@example.com")
    '我的手机是[PHONE]，邮箱 [EMAIL]'
    >>> mask_pii("Order #4012888888881881 never arrived, call +44 20 7946 0958")
    'Order #4012888888881881 never arrived, call [PHONE]'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

__all__ = ["PII_KINDS", "MaskResult", "PiiSpan", "find_pii", "mask_pii", "mask_pii_detailed"]

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


# -- patterns -----------------------------------------------------------------------------

_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z_])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z_])"

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)
_ID18 = re.compile(_NOT_ALNUM_BEFORE + r"(\d{17}[\dXx]|\d{15})" + _NOT_ALNUM_AFTER)
# 13-19 digits, either contiguous or in groups separated by single spaces/dashes.
_CARD = re.compile(_NOT_ALNUM_BEFORE + r"(\d{13,19}|\d{4}(?:[ -]\d{3,6}){2,4})" + _NOT_ALNUM_AFTER)
# A mobile may touch letters ("stuff13812345678call me"), never another digit.
_CN_MOBILE = re.compile(r"(?<![0-9+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_CN_LANDLINE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)86[ -]?)?(?:\(0\d{2,3}\)|0\d{2,3})[ -]?\d{7,8}(?:-\d{1,5})?"
    + _NOT_ALNUM_AFTER
)
# International: '+' then country code and 6-14 more digits, with spaces, dashes,
# dots or a bracketed area code between groups.
_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}" + _NOT_ALNUM_AFTER)
# North-American form without '+': (415) 555-0123, 415-555-0123, 415.555.0123.
_NANP = re.compile(
    _NOT_ALNUM_BEFORE + r"(?:1[ .-])?(?:\(\d{3}\)\s?|\d{3}[.-])\d{3}[.-]\d{4}" + _NOT_ALNUM_AFTER
)

# Order / tracking numbers: a cue word, a few separator characters, then the code.
_ORDER = re.compile(
    r"(?:订单编号|订单号|订单|单号|运单号?|快递单?号?|物流单?号?|包裹|退款单?号?|工单号?"
    r"|order(?:\s+(?:no\.?|number|id))?|tracking(?:\s+(?:no\.?|number|id|code))?|"
    r"shipment|parcel|waybill|invoice|ticket|case|ref(?:erence)?|rma|awb)"
    r"[\s:：#＃是为号.-]{0,6}([A-Za-z]{0,4}\d[\dA-Za-z -]{4,40}[\dA-Za-z])",
    re.IGNORECASE,
)

# zh street addresses: an optional chain of administrative areas, a road/street
# name, a number with 号, then optional building/unit/room parts.
_ZH_STOP = "是的在到寄送往我你他她它们址了吗呢吧把给从和与及请将让被就都也还要想说个这那"
_ZH_CHAR = rf"(?:(?![{_ZH_STOP}])[\u4e00-\u9fff])"
_ZH_ADDRESS = re.compile(
    rf"(?:{_ZH_CHAR}{{2,8}}(?:省|自治区|市|区|县|镇|乡|街道))*"
    rf"{_ZH_CHAR}{{1,10}}(?:大街|大道|路|街|巷|弄|胡同|里)\s*\d{{1,5}}\s*(?:号|號|弄)"
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


def _protected(text: str) -> list[tuple[int, int]]:
    return [m.span(1) for m in _ORDER.finditer(text)]


def _iter_candidates(text: str) -> Iterator[PiiSpan]:
    for m in _EMAIL.finditer(text):
        yield PiiSpan("email", *m.span())
    for m in _ID18.finditer(text):
        if is_valid_cn_id(m.group(1)):
            yield PiiSpan("id_number", *m.span(1))
    for m in _CARD.finditer(text):
        digits = _digits(m.group(1))
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            yield PiiSpan("bank_card", *m.span(1))
    for pattern in (_CN_MOBILE, _CN_LANDLINE, _NANP):
        for m in pattern.finditer(text):
            yield PiiSpan("phone", *m.span())
    for m in _INTL.finditer(text):
        n = len(_digits(m.group()))
        if 7 <= n <= 15:
            yield PiiSpan("phone", *m.span())
    for m in _ZH_ADDRESS.finditer(text):
        yield PiiSpan("address", *m.span())
    for m in _EN_ADDRESS.finditer(text):
        yield PiiSpan("address", *m.span())
    for m in _ACCOUNT.finditer(text):
        yield PiiSpan("account", *m.span(1))
    for m in _EN_NAME.finditer(text):
        first = m.group(2).split()[0]
        if first not in _EN_NAME_NOT:
            yield PiiSpan("name", *m.span(2))
    for m in _ZH_NAME.finditer(text):
        yield PiiSpan("name", *m.span(1))


_PRIORITY = {kind: i for i, kind in enumerate(PII_KINDS)}


def find_pii(text: str) -> list[PiiSpan]:
    """Non-overlapping PII spans in ``text``, in order (order/tracking numbers excluded).

    Where detectors overlap, the higher-priority kind wins (e-mail, ID number,
    bank card, phone, address, name), then the longer span.
    """
    if not text:
        return []
    keep = _protected(text)

    def inside_protected(span: PiiSpan) -> bool:
        return any(span.start < e and s < span.end for s, e in keep)

    candidates = sorted(
        (c for c in _iter_candidates(text) if not inside_protected(c)),
        key=lambda c: (_PRIORITY[c.kind], -(c.end - c.start), c.start),
    )
    chosen: list[PiiSpan] = []
    for cand in candidates:
        if all(cand.end <= c.start or c.end <= cand.start for c in chosen):
            chosen.append(cand)
    return sorted(chosen, key=lambda c: c.start)


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


def mask_pii(text: str) -> str:
    """``text`` with phone numbers, e-mails, ID and card numbers, addresses and cued names masked.

    Example:
        >>> mask_pii("身份证号11010519491231002X，卡号4111 1111 1111 1111")
        '身份证号[ID]，卡号[CARD]'
    """
    return mask_pii_detailed(text).text
