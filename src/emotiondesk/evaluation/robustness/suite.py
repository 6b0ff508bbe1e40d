"""A behavioural test suite in the manner of CheckList (Ribeiro et al., ACL 2020).

Accuracy on a test set hides the failures a customer-service team notices
first. The suite generates cases from templates and lexicons (YAML files in
``data/``, one per language) and checks three kinds of behaviour:

* **MFT** (minimum functionality): each case must read as expected
  (``expect: {polarity: ...}`` or ``{emotion: ...}``, or the polarity given by
  the lexicon a template's slot comes from, ``expect_from_slot``).
* **INV** (invariance): a perturbation that should not matter (a typo,
  another name, product or order number, punctuation, full-width forms,
  traditional characters, a decorative emoji, PII masks) must keep the
  polarity label.
* **DIR** (directional): a change with a known effect (a negation, an
  intensifier, an appended complaint) must move the score that way.

Example:
    >>> suite = load_suite("en")
    >>> cases = suite.generate(limit=5)
    >>> sorted({c.test for c in cases})[:2]
    ['dir_append_complaint', 'dir_intensifier']
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from emotiondesk.errors import InvalidInputError

__all__ = [
    "TARGETS",
    "Case",
    "Suite",
    "TestSpec",
    "load_suite",
    "run_suite",
    "suite_languages",
]

#: Failure-rate targets per test type (issue 18), for the default pack.
TARGETS: dict[str, float] = {"MFT": 0.05, "INV": 0.03, "DIR": 0.10}

_SLOT_RE = re.compile(r"\{(~?[a-z_]+)\}")
_NEGATORS_ZH = set("不没别未无非否莫勿")
_PROTECTED_EN = {"not", "never", "no", "don't", "doesn't", "isn't", "didn't", "won't", "nothing"}
_FINAL_PUNCT = "。！？.!?"


@dataclass(frozen=True)
class TestSpec:
    """One test of a suite file."""

    name: str
    type: str
    description: str
    n: int
    templates: tuple[str, ...] = ()
    expect: dict[str, str] = field(default_factory=dict)
    expect_from_slot: dict[str, str] = field(default_factory=dict)
    base: tuple[str, ...] = ()
    perturb: Any = None
    extra_templates: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str, str], ...] = ()
    tolerance: float = 0.0


@dataclass(frozen=True)
class Case:
    """One generated case: a text (and, for INV/DIR, its changed twin)."""

    test: str
    type: str
    text: str
    other: str | None = None
    expect: dict[str, str] = field(default_factory=dict)
    direction: str | None = None
    tolerance: float = 0.0


@dataclass
class _Fill:
    template: str
    values: dict[str, list[str]]

    def render(self, override: dict[str, str] | None = None) -> str:
        counters: dict[str, int] = {}

        def sub(m: re.Match[str]) -> str:
            slot = m.group(1)
            if override and slot in override:
                return override[slot]
            k = counters.get(slot, 0)
            counters[slot] = k + 1
            return self.values[slot][k]

        return _SLOT_RE.sub(sub, self.template)


class Suite:
    """The tests and lexicons of one language."""

    def __init__(
        self, language: str, lexicons: dict[str, list[str]], tests: dict[str, TestSpec]
    ) -> None:
        self.language = language
        self.lexicons = lexicons
        self.tests = tests

    # -- generation -------------------------------------------------------------------

    def _rng(self, name: str, seed: int) -> random.Random:
        return random.Random(zlib.crc32(f"{self.language}/{name}/{seed}".encode()))

    def _fill(self, template: str, rng: random.Random) -> _Fill:
        values: dict[str, list[str]] = {}
        for slot in _SLOT_RE.findall(template):
            if slot.startswith("~"):
                continue
            if slot not in self.lexicons:
                raise InvalidInputError(
                    f"suite {self.language}: template {template!r} uses unknown lexicon {slot!r}"
                )
            values.setdefault(slot, []).append(rng.choice(self.lexicons[slot]))
        return _Fill(template, values)

    def _sample(self, templates: Sequence[str], n: int, rng: random.Random) -> list[_Fill]:
        seen: set[str] = set()
        out: list[_Fill] = []
        for _ in range(n * 20):
            if len(out) >= n:
                break
            fill = self._fill(rng.choice(templates), rng)
            text = fill.render()
            if text not in seen:
                seen.add(text)
                out.append(fill)
        return out

    def _mft(self, spec: TestSpec, seed: int) -> tuple[list[Case], list[_Fill]]:
        fills = self._sample(spec.templates, spec.n, self._rng(spec.name, seed))
        cases = []
        for fill in fills:
            expect = dict(spec.expect)
            for slot, polarity in spec.expect_from_slot.items():
                if slot in fill.values:
                    expect = {"polarity": polarity}
                    break
            if not expect:
                raise InvalidInputError(f"suite {self.language}: {spec.name} has no expectation")
            cases.append(Case(spec.name, "MFT", fill.render(), expect=expect))
        return cases, fills

    def _perturb(self, spec: TestSpec, fill: _Fill, rng: random.Random) -> str | None:
        text = fill.render()
        kind = spec.perturb
        if isinstance(kind, dict) and "swap" in kind:
            slot = kind["swap"]
            if slot not in fill.values:
                return None
            others = [v for v in self.lexicons[slot] if v not in fill.values[slot]]
            return fill.render({slot: rng.choice(others)}) if others else None
        if kind == "typo":
            return _typo(text, rng, self.language)
        if kind == "punctuation":
            if text and text[-1] in _FINAL_PUNCT:
                return text[:-1]
            return text + ("。" if self.language == "zh" else ".")
        if kind == "fullwidth":
            return _fullwidth(text)
        if kind == "traditional":
            from zhconv import convert

            return str(convert(text, "zh-hant"))
        if kind == "emoji_decoration":
            emoji = rng.choice(self.lexicons["neutral_emoji"])
            return f"{emoji} {text}" if rng.random() < 0.5 else f"{text} {emoji}"
        if kind == "pii_mask":
            from emotiondesk.text.pii import mask_pii

            return mask_pii(text)
        raise InvalidInputError(f"suite {self.language}: unknown perturbation {kind!r}")

    def generate(self, *, seed: int = 0, limit: int | None = None) -> list[Case]:
        """All cases of the suite (``limit``: at most that many per test)."""
        cases: list[Case] = []
        base_fills: dict[str, list[_Fill]] = {}
        for spec in self.tests.values():
            if spec.type == "MFT":
                mft, fills = self._mft(spec, seed)
                base_fills[spec.name] = fills
                cases.extend(mft[:limit])
        for spec in self.tests.values():
            rng = self._rng(spec.name, seed)
            if spec.type == "INV":
                pool = [f for name in spec.base for f in base_fills.get(name, [])]
                if spec.extra_templates:
                    pool += self._sample(spec.extra_templates, spec.n, rng)
                rng.shuffle(pool)
                inv: list[Case] = []
                seen: set[str] = set()
                for fill in pool:
                    if len(inv) >= min(spec.n, limit or spec.n):
                        break
                    text = fill.render()
                    changed = self._perturb(spec, fill, rng)
                    if changed is None or changed == text or text in seen:
                        continue
                    seen.add(text)
                    inv.append(Case(spec.name, "INV", text, other=changed))
                cases.extend(inv)
            elif spec.type == "DIR":
                dir_cases: list[Case] = []
                seen = set()
                for _ in range(spec.n * 20):
                    if len(dir_cases) >= min(spec.n, limit or spec.n):
                        break
                    fill = self._fill(rng.choice(spec.templates), rng)
                    before, after, direction = rng.choice(spec.pairs)
                    pair_slot = next(s for s in _SLOT_RE.findall(fill.template) if s[0] == "~")
                    text = fill.render({pair_slot: before})
                    if text in seen:
                        continue
                    seen.add(text)
                    dir_cases.append(
                        Case(
                            spec.name,
                            "DIR",
                            text,
                            other=fill.render({pair_slot: after}),
                            direction=direction,
                            tolerance=spec.tolerance,
                        )
                    )
                cases.extend(dir_cases)
        return cases


def _typo(text: str, rng: random.Random, language: str) -> str | None:
    """Swap two adjacent letters (en: inside a word of 4+; zh: two Han characters)."""
    if language == "zh":
        spots = [
            i
            for i in range(len(text) - 1)
            if "\u4e00" <= text[i] <= "\u9fff"
            and "\u4e00" <= text[i + 1] <= "\u9fff"
            and not ({text[i], text[i + 1]} & _NEGATORS_ZH)
            and text[i] != text[i + 1]
        ]
        if not spots:
            return None
        i = rng.choice(spots)
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    words = list(re.finditer(r"[A-Za-z]{4,}", text))
    words = [m for m in words if m.group().lower() not in _PROTECTED_EN]
    if not words:
        return None
    m = rng.choice(words)
    j = rng.randrange(m.start() + 1, m.end() - 2)
    if text[j] == text[j + 1]:
        return None
    return text[:j] + text[j + 1] + text[j] + text[j + 2 :]


def _fullwidth(text: str) -> str:
    return "".join(
        chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ("\u3000" if ch == " " else ch)
        for ch in text
    )


def _data_dir() -> Path:
    return Path(str(resources.files("emotiondesk.evaluation.robustness") / "data"))


def suite_languages() -> list[str]:
    """Languages with a shipped suite file."""
    return sorted(p.stem for p in _data_dir().glob("*.yaml"))


def load_suite(language_or_path: str | Path) -> Suite:
    """Load a suite: a shipped language (``"zh"``, ``"en"``) or a YAML file of the same format."""
    path = Path(language_or_path)
    if not path.suffix:
        path = _data_dir() / f"{language_or_path}.yaml"
    if not path.is_file():
        raise InvalidInputError(
            f"no behavioural suite {str(language_or_path)!r}; use one of {suite_languages()}"
        )
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    lexicons = {k: [str(v) for v in vs] for k, vs in raw.get("lexicons", {}).items()}
    tests: dict[str, TestSpec] = {}
    for name, t in raw.get("tests", {}).items():
        if t.get("type") not in TARGETS:
            raise InvalidInputError(f"{path.name}: test {name!r} has type {t.get('type')!r}")
        tests[name] = TestSpec(
            name=name,
            type=t["type"],
            description=str(t.get("description", "")),
            n=int(t.get("n", 100)),
            templates=tuple(str(x) for x in t.get("templates", ())),
            expect={k: str(v) for k, v in (t.get("expect") or {}).items()}
            if isinstance(t.get("expect"), dict)
            else {},
            expect_from_slot={k: str(v) for k, v in t.get("expect_from_slot", {}).items()},
            base=tuple(t.get("base", ())),
            perturb=t.get("perturb"),
            extra_templates=tuple(str(x) for x in t.get("extra_templates", ())),
            pairs=tuple((str(a), str(b), str(d)) for a, b, d in t.get("pairs", ())),
            tolerance=float(t.get("tolerance", 0.0)),
        )
    return Suite(str(raw.get("language", path.stem)), lexicons, tests)


# -- running ---------------------------------------------------------------------------

#: a DIR "down" case also passes when the first text already reads this negative
_DIR_FLOOR = 0.05


def _passes(case: Case, first: Any, second: Any | None) -> bool:
    if case.type == "MFT":
        return all(getattr(first, k) == v for k, v in case.expect.items())
    assert second is not None
    if case.type == "INV":
        return bool(first.polarity == second.polarity)
    s1, s2, tol = first.score, second.score, case.tolerance
    if case.direction == "down":
        return bool(s2 < s1 - tol or s2 <= _DIR_FLOOR)
    if case.direction == "up":
        return bool(s2 > s1 + tol or s2 >= 1 - _DIR_FLOOR)
    if case.direction == "stronger":
        return bool(s2 >= s1 - tol) if s1 >= 0.5 else bool(s2 <= s1 + tol)
    raise InvalidInputError(f"unknown direction {case.direction!r} in {case.test}")


def run_suite(
    analyze: Callable[[list[str]], list[Any]],
    languages: Iterable[str] = ("zh", "en"),
    *,
    seed: int = 0,
    limit: int | None = None,
    batch_size: int = 256,
    progress: Callable[[int], object] | None = None,
    examples: int = 3,
) -> dict[str, Any]:
    """Run the suites of ``languages`` through ``analyze`` (a batch of texts -> results).

    Returns ``{language: {test: {type, description, n, failures, failure_rate,
    target, met, examples}}}``; ``examples`` are a few failing cases.
    """
    report: dict[str, Any] = {}
    for lang in languages:
        suite = load_suite(lang)
        cases = suite.generate(seed=seed, limit=limit)
        texts: list[str] = []
        for c in cases:
            texts.append(c.text)
            if c.other is not None:
                texts.append(c.other)
        unique = list(dict.fromkeys(texts))
        results: dict[str, Any] = {}
        for start in range(0, len(unique), batch_size):
            batch = unique[start : start + batch_size]
            results.update(zip(batch, analyze(batch), strict=True))
            if progress is not None:
                progress(len(batch))
        tests: dict[str, Any] = {}
        for name, spec in suite.tests.items():
            mine = [c for c in cases if c.test == name]
            failed = []
            for c in mine:
                first = results[c.text]
                second = results[c.other] if c.other is not None else None
                if not _passes(c, first, second):
                    failed.append((c, first, second))
            n = len(mine)
            rate = len(failed) / n if n else 0.0
            tests[name] = {
                "type": spec.type,
                "description": spec.description,
                "n": n,
                "failures": len(failed),
                "failure_rate": round(rate, 4),
                "target": TARGETS[spec.type],
                "met": rate <= TARGETS[spec.type],
                "examples": [_example(c, a, b) for c, a, b in failed[:examples]],
            }
        report[lang] = tests
    return report


def _example(case: Case, first: Any, second: Any | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "text": case.text,
        "got": {"polarity": first.polarity, "emotion": first.emotion, "score": first.score},
    }
    if case.expect:
        out["expected"] = dict(case.expect)
    if second is not None:
        out["changed"] = case.other
        out["changed_got"] = {
            "polarity": second.polarity,
            "emotion": second.emotion,
            "score": second.score,
        }
    if case.direction:
        out["direction"] = case.direction
    return out


def count_cases(languages: Iterable[str] = ("zh", "en"), *, seed: int = 0) -> int:
    """How many cases the suites of ``languages`` generate."""
    return sum(len(load_suite(lang).generate(seed=seed)) for lang in languages)
