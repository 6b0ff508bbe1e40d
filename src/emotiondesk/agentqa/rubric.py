"""The agent-quality rubric: criteria, weights, when each applies, and the cues that decide it.

The rubric is data (``default_rubric.yaml``, zh + en); a user copy is loaded
with :func:`load_rubric` (``EMOTIONDESK_RUBRIC_FILE`` in the service). A broken
file fails at load naming the file and the criterion.

Example:
    >>> rubric = load_rubric()
    >>> [c.id for c in rubric.criteria][:3]
    ['greeting', 'empathy', 'apology']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from emotiondesk.errors import ConfigError

LANGUAGES = ("zh", "en")

#: When a criterion applies (see the rubric file's header).
APPLIES = (
    "always",
    "first_reply",
    "customer_negative",
    "company_at_fault",
    "customer_issue",
    "customer_question",
    "customer_closing",
    "timed",
)


@dataclass(frozen=True)
class Cues:
    """Compiled regular expressions per language."""

    patterns: Mapping[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)

    def find(self, text: str, language: str, unless: Cues | None = None) -> tuple[int, int] | None:
        """The first (leftmost) match's character offsets, or ``None``.

        With ``unless``, a match that overlaps one of its matches does not count
        (the negated form: "not your fault" unsays "your fault").
        """
        masks = unless.spans(text, language) if unless else []
        best: tuple[int, int] | None = None
        for p in self.patterns.get(language, ()):
            for m in p.finditer(text):
                if m.end() <= m.start():
                    continue
                if any(m.start() < e and s < m.end() for s, e in masks):
                    continue
                if best is None or m.start() < best[0]:
                    best = (m.start(), m.end())
                break
        return best

    def spans(self, text: str, language: str) -> list[tuple[int, int]]:
        """Every match's character offsets."""
        return [
            (m.start(), m.end())
            for p in self.patterns.get(language, ())
            for m in p.finditer(text)
            if m.end() > m.start()
        ]

    def __bool__(self) -> bool:
        return any(self.patterns.values())


@dataclass(frozen=True)
class QuestionType:
    """A kind of question (``ask``: cues on the customer turn) and the kind of answer that
    answers it (``answer``: cues on the reply), e.g. *when* and a time."""

    id: str
    ask: Cues
    answer: Cues
    names: Mapping[str, str] = field(default_factory=dict)
    #: other types whose answers answer this one too (an arrival time answers "where?")
    also: tuple[str, ...] = ()

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.id


@dataclass(frozen=True)
class Criterion:
    id: str
    weight: float
    applies: str
    automatic: bool
    names: Mapping[str, str]
    advice: Mapping[str, str]
    pass_cues: Cues
    fail_cues: Cues
    #: negated or excusing forms that unsay a fail cue they overlap
    fail_unless: Cues = field(default_factory=Cues)
    max_seconds: float | None = None
    pass_if_words: Mapping[str, int] = field(default_factory=dict)
    fail_with: tuple[str, ...] = ()
    #: kinds of question and their answers (``answers_question``): when the customer
    #: asks one of them, only an answer of an asked kind passes
    question_types: tuple[QuestionType, ...] = ()

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.id


def _question_types(source: str, where: str, raw: Any) -> tuple[QuestionType, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: {where}.question_types must map a type to ask / answer")
    out = []
    for qid, spec in raw.items():
        here = f"{where}.question_types.{qid}"
        if not isinstance(spec, Mapping) or "ask" not in spec or "answer" not in spec:
            raise ConfigError(f"{source}: {here} needs 'ask' and 'answer' patterns")
        out.append(
            QuestionType(
                id=str(qid),
                ask=_compile(source, f"{here}.ask", spec["ask"]),
                answer=_compile(source, f"{here}.answer", spec["answer"]),
                names=_texts(source, f"{here}.name", spec.get("name")),
                also=tuple(str(x) for x in spec.get("also") or ()),
            )
        )
    ids = {qt.id for qt in out}
    for qt in out:
        unknown = [x for x in qt.also if x not in ids]
        if unknown:
            raise ConfigError(f"{source}: {where}.question_types.{qt.id}: also names {unknown}")
    return tuple(out)


@dataclass(frozen=True)
class Rubric:
    """Criteria plus the customer-side cues and the coach's sentences."""

    criteria: tuple[Criterion, ...]
    negative_emotions: frozenset[str]
    customer: Mapping[str, Cues]
    coach: Mapping[str, Any]
    source: str = "default_rubric.yaml"
    #: a customer turn read with one of these emotions reports a fault of the shop
    #: (unless the customer owns the slip), even when no fault cue matches
    fault_emotions: frozenset[str] = frozenset()

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.criteria)


def _compile(source: str, where: str, raw: Any) -> Cues:
    if raw is None:
        return Cues({})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: {where} must map a language (zh, en) to a list of patterns")
    out: dict[str, tuple[re.Pattern[str], ...]] = {}
    for lang, pats in raw.items():
        if lang not in LANGUAGES:
            raise ConfigError(f"{source}: {where}: language {lang!r} is not one of zh, en")
        if isinstance(pats, str):
            pats = [pats]
        if not isinstance(pats, Sequence):
            raise ConfigError(f"{source}: {where}.{lang} must be a list of patterns")
        compiled = []
        for p in pats:
            bad = [c for c in str(p) if ord(c) < 32 and c not in "\t\n"]
            if bad:
                raise ConfigError(
                    f"{source}: {where}.{lang}: pattern {p!r} holds the control character "
                    f"{bad[0]!r} (in a double-quoted YAML string \\b is a backspace: "
                    "quote patterns with single quotes)"
                )
            try:
                compiled.append(re.compile(str(p), re.IGNORECASE))
            except re.error as exc:
                raise ConfigError(f"{source}: {where}.{lang}: bad pattern {p!r} ({exc})") from None
        out[str(lang)] = tuple(compiled)
    return Cues(out)


def _texts(source: str, where: str, raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: {where} must map zh / en to a text")
    return {str(k): str(v) for k, v in raw.items()}


def parse_rubric(data: Any, source: str = "<rubric>") -> Rubric:
    """A :class:`Rubric` from the parsed YAML (raises :class:`ConfigError` naming what is wrong)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("criteria"), list):
        raise ConfigError(f"{source}: a rubric needs a 'criteria' list")
    criteria: list[Criterion] = []
    seen: set[str] = set()
    for n, raw in enumerate(data["criteria"], start=1):
        if not isinstance(raw, Mapping) or not raw.get("id"):
            raise ConfigError(f"{source}: criterion #{n} needs an 'id'")
        cid = str(raw["id"])
        where = f"criterion {cid!r}"
        if cid in seen:
            raise ConfigError(f"{source}: duplicate {where}")
        seen.add(cid)
        applies = str(raw.get("applies", "always"))
        if applies not in APPLIES:
            raise ConfigError(
                f"{source}: {where}: applies {applies!r} is not one of {', '.join(APPLIES)}"
            )
        try:
            weight = float(raw.get("weight", 1.0))
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {where}: weight must be a number") from None
        if weight < 0:
            raise ConfigError(f"{source}: {where}: weight must not be negative")
        pass_cues = _compile(source, f"{where}.pass", raw.get("pass"))
        fail_cues = _compile(source, f"{where}.fail", raw.get("fail"))
        fail_unless = _compile(source, f"{where}.fail_unless", raw.get("fail_unless"))
        if applies != "timed" and not pass_cues and not fail_cues:
            raise ConfigError(f"{source}: {where} needs 'pass' or 'fail' patterns")
        max_seconds = raw.get("max_seconds")
        if applies == "timed" and max_seconds is None:
            raise ConfigError(f"{source}: {where}: a timed criterion needs 'max_seconds'")
        criteria.append(
            Criterion(
                id=cid,
                weight=weight,
                applies=applies,
                automatic=bool(raw.get("automatic", True)),
                names=_texts(source, f"{where}.name", raw.get("name")),
                advice=_texts(source, f"{where}.advice", raw.get("advice")),
                pass_cues=pass_cues,
                fail_cues=fail_cues,
                fail_unless=fail_unless,
                max_seconds=float(max_seconds) if max_seconds is not None else None,
                pass_if_words={str(k): int(v) for k, v in (raw.get("pass_if_words") or {}).items()},
                fail_with=tuple(str(x) for x in raw.get("fail_with") or ()),
                question_types=_question_types(source, where, raw.get("question_types")),
            )
        )
    if not criteria:
        raise ConfigError(f"{source}: the rubric has no criteria")
    for c in criteria:
        for other in c.fail_with:
            if other not in seen:
                raise ConfigError(
                    f"{source}: criterion {c.id!r}: fail_with names unknown {other!r}"
                )
    cust = data.get("customer") or {}
    if not isinstance(cust, Mapping):
        raise ConfigError(f"{source}: 'customer' must be a mapping")
    customer = {
        key: _compile(source, f"customer.{key}", cust.get(key))
        for key in ("fault", "own_fault", "request", "question", "closing")
    }
    coach = data.get("coach") or {}
    if not isinstance(coach, Mapping):
        raise ConfigError(f"{source}: 'coach' must be a mapping")
    return Rubric(
        criteria=tuple(criteria),
        negative_emotions=frozenset(
            cust.get("negative_emotions") or ("anger", "disgust", "sadness", "fear")
        ),
        customer=customer,
        coach=dict(coach),
        source=source,
        fault_emotions=frozenset(str(e) for e in cust.get("fault_emotions") or ()),
    )


@lru_cache(maxsize=1)
def default_rubric() -> Rubric:
    """The shipped rubric (parsed once)."""
    text = resources.files("emotiondesk.agentqa").joinpath("default_rubric.yaml").read_text("utf-8")
    return parse_rubric(yaml.safe_load(text), "default_rubric.yaml")


def load_rubric(path: str | Path | None = None) -> Rubric:
    """The rubric at ``path`` or, with ``None``, the shipped default."""
    if path is None:
        return default_rubric()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"rubric file {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"invalid rubric file {p}{line}: {exc}") from None
    return parse_rubric(data, str(p))
