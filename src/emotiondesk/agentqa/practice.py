"""Practice with virtual customers: scripted scenarios whose emotion reacts to the rubric.

A scenario (``scenarios/*.yaml``, zh + en) gives the customer's lines by
situation (opening, worse, same, better, resolved, escalate, leave), the
emotion it voices and the starting anger. Every agent reply is scored with
the rubric; the verdicts move the customer's anger (``scenarios/practice.yaml``:
blame and dismissal raise it, acknowledgement and a concrete step lower it,
scaled by the difficulty). When anger reaches the difficulty's patience the
customer escalates (or, in a scenario that ``leaves``, walks away); when it
falls below ``calm_below`` after a reply that took a step or answered, the
case is resolved. The session ends with a report: the rubric per turn, the
emotion curve and what to practise next.

Example:
    >>> s = PracticeSession(load_scenario("late_delivery"), language="en", seed=1)
    >>> s.opening.startswith(("I ordered", "My order"))
    True
    >>> step = s.reply("Calm down, delays are normal. Just wait.")
    >>> step.anger > s.curve[0]
    True
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from emotiondesk.agentqa.scorer import (
    FAIL,
    PASS,
    AgentScorer,
    CustomerTurn,
    ReplyScore,
    summarize,
)
from emotiondesk.errors import ConfigError, InvalidInputError

LINE_KINDS = ("opening", "worse", "same", "better", "resolved", "escalate", "leave")
DIFFICULTIES = ("easy", "normal", "hard")
OUTCOMES = ("resolved", "escalated", "left", "unresolved")


@dataclass(frozen=True)
class Scenario:
    id: str
    titles: Mapping[str, str]
    emotion: str
    anger: float
    leaves: bool
    lines: Mapping[str, Mapping[str, tuple[str, ...]]]

    def title(self, language: str) -> str:
        return self.titles.get(language) or self.titles.get("en") or self.id

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.lines))


def parse_scenario(data: Any, source: str) -> Scenario:
    if not isinstance(data, Mapping) or not data.get("id"):
        raise ConfigError(f"{source}: a scenario needs an 'id'")
    lines_raw = data.get("lines")
    if not isinstance(lines_raw, Mapping) or not lines_raw:
        raise ConfigError(f"{source}: a scenario needs 'lines' per language (zh, en)")
    lines: dict[str, dict[str, tuple[str, ...]]] = {}
    for lang, kinds in lines_raw.items():
        if lang not in ("zh", "en") or not isinstance(kinds, Mapping):
            raise ConfigError(f"{source}: lines.{lang} must be zh or en, mapping kinds to lines")
        for kind in LINE_KINDS:
            options = kinds.get(kind)
            if not options or not isinstance(options, list):
                raise ConfigError(f"{source}: lines.{lang}.{kind} needs at least one line")
        lines[str(lang)] = {k: tuple(str(x) for x in kinds[k]) for k in LINE_KINDS}
    try:
        anger = float(data.get("anger", 0.5))
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: anger must be a number in [0, 1]") from None
    if not 0 <= anger <= 1:
        raise ConfigError(f"{source}: anger must be a number in [0, 1]")
    titles = data.get("title") or {}
    return Scenario(
        id=str(data["id"]),
        titles={str(k): str(v) for k, v in titles.items()} if isinstance(titles, Mapping) else {},
        emotion=str(data.get("emotion", "anger")),
        anger=anger,
        leaves=bool(data.get("leaves", False)),
        lines=lines,
    )


def _scenario_files() -> dict[str, Any]:
    folder = resources.files("emotiondesk.agentqa").joinpath("scenarios")
    return {
        f.name[:-5]: f
        for f in folder.iterdir()
        if f.name.endswith(".yaml") and f.name != "practice.yaml"
    }


@lru_cache(maxsize=1)
def practice_settings() -> dict[str, Any]:
    text = (
        resources.files("emotiondesk.agentqa")
        .joinpath("scenarios", "practice.yaml")
        .read_text("utf-8")
    )
    data = yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise ConfigError("practice.yaml must be a mapping")
    return dict(data)


def list_scenarios() -> list[Scenario]:
    """The shipped scenarios, by id."""
    return [load_scenario(name) for name in sorted(_scenario_files())]


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by id, or a scenario YAML file."""
    files = _scenario_files()
    if str(name_or_path) in files:
        res = files[str(name_or_path)]
        return parse_scenario(yaml.safe_load(res.read_text("utf-8")), res.name)
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return parse_scenario(yaml.safe_load(p.read_text("utf-8")), str(p))
    raise InvalidInputError(
        f"unknown scenario {str(name_or_path)!r}: use one of {', '.join(sorted(files))} "
        "or a scenario .yaml file"
    )


def _emotion_word(emotion: str, language: str) -> str:
    from emotiondesk.agentqa.coach import EMOTION_WORDS

    return EMOTION_WORDS.get(language, EMOTION_WORDS["en"]).get(emotion, emotion)


@dataclass(frozen=True)
class PracticeStep:
    """What one agent reply did: its scorecard, the anger it left, the customer's answer."""

    turn: int
    customer: str
    customer_emotion: str
    agent: str
    scorecard: dict[str, Any]
    anger_before: float
    anger: float
    reply: str | None
    outcome: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "customer": self.customer,
            "customer_emotion": self.customer_emotion,
            "agent": self.agent,
            "score": self.scorecard.get("score"),
            "scorecard": self.scorecard,
            "anger_before": self.anger_before,
            "anger": self.anger,
            "reply": self.reply,
            "outcome": self.outcome,
        }


class PracticeSession:
    """One practice conversation with a virtual customer.

    Args:
        scenario: the scenario.
        language: ``zh`` or ``en``.
        difficulty: ``easy``, ``normal`` or ``hard``.
        seed: picks the customer's lines (the same seed and replies give the same session).
        scorer: the rubric scorer (default: shipped rubric).
        llm: an optional :class:`emotiondesk.replies.llm.LLMBackend` that varies the lines.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        language: str = "en",
        difficulty: str = "normal",
        seed: int = 0,
        scorer: AgentScorer | None = None,
        llm: Any = None,
    ) -> None:
        if language not in scenario.lines:
            raise InvalidInputError(
                f"scenario {scenario.id!r} has no {language!r} lines: use one of "
                f"{', '.join(scenario.languages)}"
            )
        settings = practice_settings()
        levels = settings.get("difficulty") or {}
        if difficulty not in levels:
            raise InvalidInputError(
                f"difficulty {difficulty!r} is not one of {', '.join(sorted(levels))}"
            )
        self.scenario = scenario
        self.language = language
        self.difficulty = difficulty
        self.seed = seed
        self.scorer = scorer if scorer is not None else AgentScorer()
        self.llm = llm
        self.level = dict(levels[difficulty])
        self.reactions: Mapping[str, Mapping[str, float]] = settings.get("reactions") or {}
        self.impatience = float(settings.get("impatience", 0.04))
        self.calm_below = float(settings.get("calm_below", 0.25))
        self.anger = scenario.anger
        self.curve: list[float] = [round(self.anger, 3)]
        self.steps: list[PracticeStep] = []
        self._scores: list[ReplyScore] = []
        self.outcome: str | None = None
        self.llm_error: str | None = None
        self.opening = self._line("opening", 0)
        self._last_customer = self.opening

    # -- state -------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.outcome is not None

    def customer_emotion(self) -> str:
        """The emotion the customer's current line voices."""
        if self.scenario.emotion == "neutral":
            return "anger" if self.anger >= 0.45 else "neutral"
        return self.scenario.emotion if self.anger >= 0.25 else "neutral"

    def _line(self, kind: str, turn: int) -> str:
        options = self.scenario.lines[self.language][kind]
        rng = random.Random(f"{self.scenario.id}:{self.seed}:{turn}:{kind}")
        line = options[rng.randrange(len(options))]
        if self.llm is not None:
            try:
                line = self._vary(line)
            except Exception as exc:  # the scripted line is kept on any LLM failure
                self.llm_error = str(exc) or type(exc).__name__
        return line

    def _vary(self, line: str) -> str:
        lang = "Simplified Chinese" if self.language == "zh" else "English"
        messages = [
            {
                "role": "system",
                "content": "You play a customer of an online shop in a training role-play. "
                f"Rephrase the customer's line in {lang}, same meaning and same mood, one or "
                "two sentences; answer with the line only.",
            },
            {"role": "user", "content": line},
        ]
        return str(self.llm.complete(messages, max_tokens=120)).strip() or line

    # -- a turn --------------------------------------------------------------------------------
    def reply(self, text: str) -> PracticeStep:
        """Score the agent's reply, update the customer's anger and answer (or end)."""
        if self.done:
            raise InvalidInputError(f"the session has ended ({self.outcome}): start a new one")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("the reply is empty: type what you would send the customer")
        turn = len(self.steps) + 1
        emotion = self.customer_emotion()
        customer = CustomerTurn(
            self._last_customer,
            emotion=emotion,
            polarity="negative" if emotion != "neutral" else "neutral",
            language=self.language,
            index=2 * (turn - 1),
        )
        score = self.scorer.score_reply(
            text,
            customer=customer,
            first_reply=turn == 1,
            language=self.language,
            index=2 * turn - 1,
        )
        before = self.anger
        rise = fall = 0.0
        for r in score.results:
            delta = float((self.reactions.get(r.criterion) or {}).get(r.verdict, 0.0))
            if delta > 0:
                rise += delta
            else:
                fall += delta
        sensitivity = float(self.level.get("sensitivity", 1.0))
        change = rise * sensitivity + fall / sensitivity + self.impatience
        self.anger = round(min(1.0, max(0.0, self.anger + change)), 3)
        self.curve.append(self.anger)
        progressed = any(
            r.criterion in ("next_step", "answers_question") and r.verdict == PASS
            for r in score.results
        )
        patience = float(self.level.get("patience", 0.85))
        outcome: str | None = None
        if self.anger >= patience:
            outcome = "left" if self.scenario.leaves else "escalated"
            line = self._line("leave" if self.scenario.leaves else "escalate", turn)
        elif self.anger <= self.calm_below and progressed:
            outcome = "resolved"
            line = self._line("resolved", turn)
        elif turn >= int(self.level.get("max_turns", 8)):
            outcome = "unresolved"
            line = self._line("leave", turn)
        else:
            kind = (
                "worse"
                if self.anger > before + 0.02
                else "better"
                if self.anger < before
                else "same"
            )
            line = self._line(kind, turn)
        self.outcome = outcome
        step = PracticeStep(
            turn=turn,
            customer=self._last_customer,
            customer_emotion=emotion,
            agent=text,
            scorecard=score.to_dict(),
            anger_before=round(before, 3),
            anger=self.anger,
            reply=line,
            outcome=outcome,
        )
        self.steps.append(step)
        self._scores.append(score)
        self._last_customer = line
        return step

    # -- the report ----------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """The rubric per turn, the emotion curve, the outcome and what to practise next."""
        summary = summarize(self._scores)
        fails: Counter[str] = Counter()
        for s in self._scores:
            fails.update(r.criterion for r in s.results if r.verdict == FAIL)
        weights = {c.id: c.weight for c in self.scorer.rubric.criteria}
        weakest = sorted(fails, key=lambda c: (-fails[c], -weights.get(c, 0.0)))[:3]
        suggestions = practice_settings().get("practise_next") or {}
        advice = []
        for c in weakest[:2]:
            crit = self.scorer.rubric.criterion(c)
            advice.append(
                {
                    "criterion": c,
                    "name": crit.name(self.language),
                    "failed": fails[c],
                    "advice": (
                        crit.advice.get(self.language) or crit.advice.get("en") or ""
                    ).replace("{emotion}", _emotion_word(self.scenario.emotion, self.language)),
                    "scenario": suggestions.get(c),
                }
            )
        return {
            "scenario": self.scenario.id,
            "title": self.scenario.title(self.language),
            "language": self.language,
            "difficulty": self.difficulty,
            "seed": self.seed,
            "opening": self.opening,
            "outcome": self.outcome or "in_progress",
            "turns": len(self.steps),
            "score": summary.score,
            "emotion_curve": list(self.curve),
            "steps": [s.to_dict() for s in self.steps],
            "by_criterion": {k: dict(v) for k, v in summary.by_criterion.items()},
            "weakest": weakest,
            "practise_next": advice,
            "llm_error": self.llm_error,
        }

    # -- storage ---------------------------------------------------------------------------------
    def replies(self) -> list[str]:
        return [s.agent for s in self.steps]

    @classmethod
    def replay(
        cls,
        scenario: Scenario,
        replies: Sequence[str],
        *,
        language: str,
        difficulty: str,
        seed: int,
        scorer: AgentScorer | None = None,
    ) -> PracticeSession:
        """Rebuild a stored session from its settings and the agent's replies (deterministic)."""
        session = cls(scenario, language=language, difficulty=difficulty, seed=seed, scorer=scorer)
        for text in replies:
            session.reply(text)
        return session
