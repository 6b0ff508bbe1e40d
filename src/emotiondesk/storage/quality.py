"""Agent-quality queries: per-agent rubric figures from stored scorecards, practice sessions.

Scorecards are JSON on the agent messages (``messages.scorecard``, written at
ingestion); the figures here are folded in Python over a bounded window of
the newest scored replies (``limit``), which keeps the queries portable
between SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emotiondesk.errors import NotFoundError
from emotiondesk.storage.repository import to_utc
from emotiondesk.storage.tables import Conversation, Message, PracticeSession, utcnow

UNASSIGNED = "(unassigned)"


def _day(ts: datetime) -> str:
    return ts.date().isoformat()


def agent_quality(
    session: Session,
    *,
    workspace: str,
    agent_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20_000,
    examples: int = 3,
) -> list[dict[str, Any]]:
    """Per agent: replies scored, mean score, daily trend, criteria (pass rate), weakest
    criteria, best and worst example replies, and practice sessions.

    Agents are the conversations' ``agent_id`` (``(unassigned)`` when empty).
    """
    stmt = (
        select(
            Message.id,
            Message.conversation_id,
            Message.text,
            Message.qa_score,
            Message.scorecard,
            Message.created_at,
            Message.language,
            Conversation.agent_id,
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.workspace == workspace,
            Message.role == "agent",
            Message.qa_score.is_not(None),
        )
    )
    stmt = _scoped(stmt, Conversation.agent_id, Message.created_at, agent_id, since, until)
    rows = session.execute(stmt.order_by(Message.created_at.desc()).limit(limit)).all()
    agents: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r.agent_id or UNASSIGNED
        a = agents.setdefault(
            key,
            {
                "replies": [],
                "conversations": set(),
                "days": defaultdict(list),
                "criteria": defaultdict(lambda: {"pass": 0, "fail": 0, "na": 0}),
            },
        )
        failed = []
        for c in (r.scorecard or {}).get("criteria", []):
            verdict = c.get("verdict")
            if verdict in ("pass", "fail", "na"):
                a["criteria"][c.get("criterion")][verdict] += 1
                if verdict == "fail":
                    failed.append(c.get("criterion"))
        a["conversations"].add(r.conversation_id)
        a["days"][_day(r.created_at)].append(float(r.qa_score))
        a["replies"].append(
            {
                "message_id": r.id,
                "conversation_id": r.conversation_id,
                "text": r.text,
                "language": r.language,
                "score": r.qa_score,
                "failed": failed,
                "created_at": r.created_at.isoformat(),
            }
        )
    practice = _practice_by_agent(
        session, workspace=workspace, agent_id=agent_id, since=since, until=until
    )
    out = []
    for key in sorted(set(agents) | set(practice)):
        found = agents.get(key)
        item: dict[str, Any] = {"agent_id": key, "practice": practice.get(key, _no_practice())}
        if found is None:
            item.update(
                replies=0,
                conversations=0,
                score=None,
                trend=[],
                criteria={},
                weakest=[],
                examples={"best": [], "worst": []},
            )
            out.append(item)
            continue
        a = found
        replies = a["replies"]
        criteria = {}
        for name, counts in a["criteria"].items():
            applicable = counts["pass"] + counts["fail"]
            criteria[name] = {
                **counts,
                "pass_rate": round(counts["pass"] / applicable, 3) if applicable else None,
            }
        weakest = sorted(
            (n for n, c in criteria.items() if c["pass_rate"] is not None and c["fail"] > 0),
            key=lambda n: (criteria[n]["pass_rate"], -criteria[n]["fail"]),
        )[:3]
        ranked = sorted(replies, key=lambda x: (x["score"], x["created_at"]))
        item.update(
            replies=len(replies),
            conversations=len(a["conversations"]),
            score=round(sum(x["score"] for x in replies) / len(replies), 1),
            trend=[
                {"day": day, "score": round(sum(v) / len(v), 1), "replies": len(v)}
                for day, v in sorted(a["days"].items())
            ],
            criteria=criteria,
            weakest=weakest,
            examples={
                # replies to coach: the lowest scores among those that failed something;
                # best: the highest among those that failed nothing
                "worst": [x for x in ranked if x["failed"]][:examples],
                "best": [x for x in reversed(ranked) if not x["failed"]][:examples],
            },
        )
        out.append(item)
    return out


def _no_practice() -> dict[str, Any]:
    return {"sessions": 0, "score": None, "outcomes": {}, "recent": []}


def _practice_by_agent(
    session: Session,
    *,
    workspace: str,
    agent_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, dict[str, Any]]:
    stmt = (
        select(PracticeSession)
        .where(PracticeSession.workspace == workspace)
        .order_by(PracticeSession.created_at.desc())
        .limit(2000)
    )
    stmt = _scoped(
        stmt, PracticeSession.agent_id, PracticeSession.created_at, agent_id, since, until
    )
    out: dict[str, dict[str, Any]] = {}
    for p in session.scalars(stmt):
        key = p.agent_id or UNASSIGNED
        item = out.setdefault(key, {**_no_practice(), "_scores": []})
        item["sessions"] += 1
        item["outcomes"][p.outcome] = item["outcomes"].get(p.outcome, 0) + 1
        if p.score is not None:
            item["_scores"].append(p.score)
        if len(item["recent"]) < 5:
            item["recent"].append(practice_view(p, full=False))
    for item in out.values():
        scores = item.pop("_scores")
        item["score"] = round(sum(scores) / len(scores), 1) if scores else None
    return out


def practice_view(p: PracticeSession, *, full: bool = True) -> dict[str, Any]:
    """The API view of a stored practice session."""
    view: dict[str, Any] = {
        "id": p.id,
        "agent_id": p.agent_id,
        "scenario": p.scenario,
        "language": p.language,
        "difficulty": p.difficulty,
        "seed": p.seed,
        "outcome": p.outcome,
        "score": p.score,
        "turns": p.turns,
        "created_at": p.created_at.isoformat() if p.created_at else None,
        "updated_at": p.updated_at.isoformat() if p.updated_at else None,
    }
    if full:
        view["report"] = p.report
    return view


def create_practice(
    session: Session,
    *,
    workspace: str,
    agent_id: str | None,
    scenario: str,
    language: str,
    difficulty: str,
    seed: int,
    report: dict[str, Any],
) -> PracticeSession:
    now = utcnow()
    p = PracticeSession(
        workspace=workspace,
        agent_id=agent_id,
        scenario=scenario,
        language=language,
        difficulty=difficulty,
        seed=seed,
        outcome=str(report.get("outcome") or "in_progress"),
        score=report.get("score"),
        turns=int(report.get("turns") or 0),
        replies=[],
        report=report,
        created_at=now,
        updated_at=now,
    )
    session.add(p)
    session.flush()
    return p


def get_practice(
    session: Session, *, workspace: str, practice_id: str, for_update: bool = False
) -> PracticeSession:
    """The workspace's practice session, or :class:`NotFoundError` (also for another's)."""
    stmt = select(PracticeSession).where(
        PracticeSession.id == practice_id, PracticeSession.workspace == workspace
    )
    if for_update:
        stmt = stmt.with_for_update()
    p = session.scalars(stmt).first()
    if p is None:
        raise NotFoundError(f"practice session {practice_id!r} does not exist")
    return p


def record_practice_reply(
    session: Session, *, practice: PracticeSession, reply: str, report: dict[str, Any]
) -> PracticeSession:
    practice.replies = [*practice.replies, reply]
    practice.report = report
    practice.outcome = str(report.get("outcome") or "in_progress")
    practice.score = report.get("score")
    practice.turns = int(report.get("turns") or 0)
    practice.updated_at = utcnow()
    session.flush()
    return practice


def list_practice(
    session: Session, *, workspace: str, agent_id: str | None = None, limit: int = 50
) -> list[PracticeSession]:
    stmt = (
        select(PracticeSession)
        .where(PracticeSession.workspace == workspace)
        .order_by(PracticeSession.created_at.desc())
        .limit(limit)
    )
    if agent_id is not None:
        stmt = stmt.where(PracticeSession.agent_id == agent_id)
    return list(session.scalars(stmt))


def count_scored_replies(session: Session, *, workspace: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.workspace == workspace, Message.qa_score.is_not(None))
        )
        or 0
    )


def _scoped(
    stmt: Any,
    agent_col: Any,
    time_col: Any,
    agent_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Any:
    """``stmt`` limited to one agent (``UNASSIGNED``: none) and a period ``[since, until)``."""
    if agent_id is not None:
        stmt = stmt.where(agent_col.is_(None) if agent_id == UNASSIGNED else agent_col == agent_id)
    if since is not None:
        stmt = stmt.where(time_col >= to_utc(since))
    if until is not None:
        stmt = stmt.where(time_col < to_utc(until))
    return stmt
