"""Agent quality journeys: the scorecard of an ingested agent turn, the conversation's
score, per-agent figures, coaching a draft, and stored practice sessions.

The rubric scoring itself lives in :mod:`emotiondesk.agentqa` (no storage, no
service); these functions join it with the analyzer (customer turns the
caller did not label) and with storage.

Example:
    >>> quality = AgentQuality.from_settings()                       # doctest: +SKIP
    >>> out = quality.coach(messages=[("customer", "Still no parcel!!")],
    ...     draft="Delays are normal.", analyze=analyzer.analyze)    # doctest: +SKIP
    >>> [m["criterion"] for m in out.missing][:2]                    # doctest: +SKIP
    ['greeting', 'empathy']
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from emotiondesk.agentqa import (
    AgentScorer,
    Coach,
    CoachResult,
    PracticeSession,
    Turn,
    load_rubric,
    load_scenario,
    score_stored_turn,
)
from emotiondesk.agentqa.scorer import AGENT_ROLES, CUSTOMER_ROLES, NA, PASS
from emotiondesk.analyzer import AnalysisResult
from emotiondesk.errors import InvalidInputError
from emotiondesk.storage import quality as store
from emotiondesk.storage.tables import Message

AnalyzeFn = Callable[[list[str]], Sequence[AnalysisResult]]

#: Longest conversation a coach request may send (the last turns matter).
MAX_COACH_TURNS = 50
#: Customer-turn readings the coach keeps (an agent coaches several drafts per turn).
COACH_CACHE_SIZE = 4096


class TurnReader:
    """Reads the customer turns the coach scores a draft against (emotion, polarity),
    with its own model pack (default: the shipped n-gram tier) and a bounded cache.

    Args:
        model: ``fast`` (the shipped ``models/fast`` pack), ``service`` (use the
            ``analyze`` function the caller passes: the service's own pack) or a pack
            directory. The pack is loaded on first use.
        cache_size: readings kept, least recently used dropped first.
    """

    def __init__(self, model: str = "fast", cache_size: int = COACH_CACHE_SIZE) -> None:
        self.model = model
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._analyzer: Any = None

    def _own(self) -> Any:
        if self.model == "service":
            return None
        with self._lock:
            if self._analyzer is None:
                from emotiondesk.analyzer import load_analyzer
                from emotiondesk.pack import shipped_pack_dir

                pack = shipped_pack_dir() / "fast" if self.model == "fast" else Path(self.model)
                self._analyzer = load_analyzer(pack)
            return self._analyzer

    def read(self, texts: Sequence[str], analyze: AnalyzeFn) -> list[tuple[str | None, str | None]]:
        """(emotion, polarity) of each text: cached, else read by this reader's pack (or
        by ``analyze`` when the reader is ``service``)."""
        with self._lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        todo = list(dict.fromkeys(t for t in texts if t not in known))
        if todo:
            own = self._own()
            results = own.analyze(todo) if own is not None else analyze(todo)
            fresh = {t: (r.emotion, r.polarity) for t, r in zip(todo, results, strict=True)}
            with self._lock:
                for t, reading in fresh.items():
                    self._cache[t] = reading
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            known.update(fresh)
        return [known[t] for t in texts]


@dataclass
class AgentQuality:
    """The rubric scorer and the coach the service runs (one rubric, one FAQ, one LLM)."""

    scorer: AgentScorer
    coach_: Coach
    reader: TurnReader = field(default_factory=TurnReader)

    @classmethod
    def from_settings(cls, settings: Any = None) -> AgentQuality:
        """Rubric, FAQ and optional LLM backend from :class:`emotiondesk.config.Settings`."""
        from emotiondesk.config import get_settings
        from emotiondesk.replies.knowledge import FaqIndex
        from emotiondesk.replies.llm import LLMBackend

        s = settings if settings is not None else get_settings()
        faq = FaqIndex.load(s.faq_file)
        scorer = AgentScorer(load_rubric(s.rubric_file), faq=faq)
        return cls(
            scorer=scorer,
            coach_=Coach(scorer, faq=faq, llm=LLMBackend.from_settings(s)),
            reader=TurnReader(s.coach_model),
        )

    # -- ingestion --------------------------------------------------------------------------
    def score_turn(
        self, *, history: Sequence[Mapping[str, Any]], turn: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The scorecard stored with an agent turn (``None`` for a customer turn)."""
        return score_stored_turn(self.scorer, history=history, turn=turn)

    # -- coaching ----------------------------------------------------------------------------
    def coach(
        self,
        *,
        messages: Sequence[tuple[str, str] | tuple[str, str, str | None]],
        draft: str,
        analyze: AnalyzeFn,
        language: str | None = None,
    ) -> CoachResult:
        """Coach ``draft`` as the agent's next reply after ``messages`` ((role, text[, emotion])).

        The customer turns the draft answers (since the agent's last reply) are
        read when no emotion is given: by :attr:`reader` (the shipped n-gram tier
        unless configured otherwise; ``analyze`` when it is ``service``), cached.
        """
        if len(messages) > MAX_COACH_TURNS:
            messages = list(messages)[-MAX_COACH_TURNS:]
        turns: list[Turn] = []
        for i, m in enumerate(messages):
            role, text = str(m[0]).lower(), str(m[1])
            if role not in CUSTOMER_ROLES | AGENT_ROLES:
                raise InvalidInputError(f"messages[{i}]: role {m[0]!r} is not customer or agent")
            emotion = m[2] if len(m) > 2 else None  # type: ignore[misc]
            turns.append(Turn(role, text, emotion))
        # the customer turns since the last agent reply, without an emotion: analyse them
        last_agent = max((i for i, t in enumerate(turns) if t.role in AGENT_ROLES), default=-1)
        todo = [
            i
            for i, t in enumerate(turns)
            if i > last_agent and t.role in CUSTOMER_ROLES and t.emotion is None and t.text.strip()
        ]
        if todo:
            readings = self.reader.read([turns[i].text for i in todo], analyze)
            for i, (emotion, polarity) in zip(todo, readings, strict=True):
                turns[i] = Turn(turns[i].role, turns[i].text, emotion, polarity)
        return self.coach_.coach(draft, history=turns, language=language)

    # -- practice ----------------------------------------------------------------------------
    def start_practice(
        self,
        session: Session,
        *,
        workspace: str,
        scenario: str,
        language: str,
        difficulty: str,
        seed: int,
        agent_id: str | None,
    ) -> tuple[Any, PracticeSession]:
        """A new stored practice session and its (live) virtual customer."""
        live = PracticeSession(
            load_scenario(scenario),
            language=language,
            difficulty=difficulty,
            seed=seed,
            scorer=self.scorer,
        )
        record = store.create_practice(
            session,
            workspace=workspace,
            agent_id=agent_id,
            scenario=live.scenario.id,
            language=language,
            difficulty=difficulty,
            seed=seed,
            report=live.report(),
        )
        return record, live

    def practice_reply(
        self, session: Session, *, workspace: str, practice_id: str, text: str
    ) -> tuple[Any, Any]:
        """Answer a stored practice session's customer: ``(record, step)``."""
        record = store.get_practice(
            session, workspace=workspace, practice_id=practice_id, for_update=True
        )
        live = PracticeSession.replay(
            load_scenario(record.scenario),
            record.replies,
            language=record.language,
            difficulty=record.difficulty,
            seed=record.seed,
            scorer=self.scorer,
        )
        step = live.reply(text)
        store.record_practice_reply(session, practice=record, reply=text, report=live.report())
        return record, step


def conversation_quality(messages: Sequence[Message]) -> dict[str, Any]:
    """The conversation's 0-100 score pooled over its agent replies' stored scorecards."""
    applicable = passed = 0.0
    replies = 0
    counts: dict[str, dict[str, int]] = {}
    for m in messages:
        card = m.scorecard
        if m.role != "agent" or not card:
            continue
        replies += 1
        for c in card.get("criteria", []):
            verdict, weight = c.get("verdict"), float(c.get("weight") or 0.0)
            counts.setdefault(str(c.get("criterion")), {"pass": 0, "fail": 0, "na": 0})[
                str(verdict)
            ] = counts.get(str(c.get("criterion")), {}).get(str(verdict), 0) + 1
            if verdict != NA:
                applicable += weight
                if verdict == PASS:
                    passed += weight
    return {
        "score": round(100.0 * passed / applicable, 1) if applicable > 0 else None,
        "replies": replies,
        "by_criterion": counts,
    }


def agent_report(
    session: Session,
    *,
    workspace: str,
    agent_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per agent: scores, trend, weakest criteria, example replies, practice sessions."""
    return store.agent_quality(
        session, workspace=workspace, agent_id=agent_id, since=since, until=until
    )
