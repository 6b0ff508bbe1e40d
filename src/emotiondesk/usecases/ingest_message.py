"""One message in: mask, analyse, run the conversation, store, in that order.

:func:`ingest_message` is the journey the service's ``POST
/v1/conversations/{id}/messages`` runs; :func:`mask_and_analyse` is its first
half, which the archive import (:mod:`emotiondesk.usecases.import_archive`)
runs on each batch of rows.

Nothing is acknowledged before the database commit, so a failure to store
returns an error and loses nothing already acknowledged. A client message id
makes the POST idempotent: a retry returns the stored message (``created``
False) and stores nothing new, even when two retries race.

Example:
    >>> found = ingest_message(sessions, workspace="default", conversation_id=cid, role="customer",
    ...     text="where is my parcel?", analyze=analyzer.analyze,
    ...     hook=DialogueHook.from_settings())                  # doctest: +SKIP
    >>> found.created, found.message.state["risk"]["value"]     # doctest: +SKIP
    (True, 0.21)
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from emotiondesk.analyzer import AnalysisResult
from emotiondesk.errors import ConflictError, EmotionDeskError, StorageError
from emotiondesk.storage import repository as repo
from emotiondesk.storage.tables import Conversation, Message
from emotiondesk.text.pii import MaskResult, mask_pii_detailed
from emotiondesk.usecases.agent_quality import AgentQuality
from emotiondesk.usecases.conversation import HISTORY_TURNS, ConversationHook

logger = logging.getLogger(__name__)

ATTEMPTS = 8


#: ``analyze(texts) -> results``, one result per text in order (``Analyzer.analyze``,
#: or the service's micro-batcher called from a worker thread).
AnalyzeFn = Callable[[list[str]], Sequence[AnalysisResult]]
#: ``evidence(results) -> stored evidence``, one per result in order
#: (:func:`emotiondesk.usecases.analyze_messages.evidence_for_storage`).
EvidenceFn = Callable[[Sequence[AnalysisResult]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Ingested:
    """The stored message, its conversation, and whether this call stored it."""

    message: Message
    conversation: Conversation
    created: bool


def mask_and_analyse(
    texts: Sequence[str], analyze: AnalyzeFn
) -> list[tuple[MaskResult, AnalysisResult]]:
    """PII-mask each text, then analyse the masked texts (the model never sees raw PII)."""
    masked = [mask_pii_detailed(t) for t in texts]
    results = list(analyze([m.text for m in masked])) if masked else []
    return list(zip(masked, results, strict=True))


def ingest_message(
    sessions: sessionmaker[Session],
    *,
    workspace: str,
    conversation_id: str,
    role: str,
    text: str,
    analyze: AnalyzeFn,
    hook: ConversationHook,
    sent_at: datetime | None = None,
    client_message_id: str | None = None,
    store_raw_text: bool = False,
    on_analysed: Callable[[list[AnalysisResult]], None] | None = None,
    quality: AgentQuality | None = None,
    evidence: EvidenceFn | None = None,
) -> Ingested:
    """Mask, analyse, run the conversation hook and store one message (blocking).

    A retried ``client_message_id`` returns the stored message without
    analysing again (``created`` False).

    Args:
        sessions: the database session factory.
        workspace: the caller's workspace.
        conversation_id: an existing conversation of ``workspace`` (else
            :class:`NotFoundError`, also for another workspace's).
        role: ``customer`` or ``agent``.
        text: the raw message; only its masked form is analysed and stored
            (and the raw text too when ``store_raw_text``).
        analyze: how to analyse the masked text.
        hook: the conversation pipeline run on the stored history.
        sent_at: when the message was sent, if known.
        client_message_id: the client's id, for idempotent retries.
        on_analysed: called with the analysis results (e.g. metrics).
        quality: scores an agent turn on the rubric; its scorecard is stored
            with the message (``None``: not scored).
        evidence: explains a customer message's analysis; what it returns is
            stored with the message (``None``: nothing stored).
    """
    found = lookup_existing(
        sessions,
        workspace=workspace,
        conversation_id=conversation_id,
        client_message_id=client_message_id,
    )
    if found is not None:
        return found
    ((masked, result),) = mask_and_analyse([text], analyze)
    if on_analysed is not None:
        on_analysed([result])
    stored = evidence([result])[0] if evidence is not None and role == "customer" else None
    return store_message(
        sessions,
        workspace=workspace,
        conversation_id=conversation_id,
        role=role,
        masked=masked,
        raw_text=text if store_raw_text else None,
        analysis=result.to_dict(),
        model_version=result.model,
        sent_at=sent_at,
        client_message_id=client_message_id,
        engine=hook,
        quality=quality,
        evidence=stored,
    )


def lookup_existing(
    sessions: sessionmaker[Session],
    *,
    workspace: str,
    conversation_id: str,
    client_message_id: str | None,
) -> Ingested | None:
    """Check that the workspace's conversation exists; return the stored message for a
    retried client id."""
    with sessions() as session:
        conv = repo.get_conversation(session, workspace=workspace, conversation_id=conversation_id)
        if client_message_id is None:
            return None
        msg = repo.find_message(
            session,
            workspace=workspace,
            conversation_id=conversation_id,
            client_message_id=client_message_id,
        )
        return None if msg is None else Ingested(msg, conv, created=False)


def _conversation_view(conv: Conversation) -> dict[str, Any]:
    return {
        "id": conv.id,
        "channel": conv.channel,
        "customer_id": conv.customer_id,
        "product_id": conv.product_id,
        "category": conv.category,
        "agent_id": conv.agent_id,
        "metadata": dict(conv.meta or {}),
        "state": dict(conv.state or {}),
    }


_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_locks_guard = threading.Lock()


@contextmanager
def conversation_lock(conversation_id: str) -> Iterator[None]:
    """One writer per conversation in this process (other processes: the compare-and-swap)."""
    with _locks_guard:
        lock = _locks.get(conversation_id)
        if lock is None:
            lock = threading.Lock()
            _locks[conversation_id] = lock
    with lock:
        yield


def store_message(
    sessions: sessionmaker[Session],
    *,
    workspace: str,
    conversation_id: str,
    role: str,
    masked: MaskResult,
    raw_text: str | None,
    analysis: dict[str, Any],
    model_version: str,
    sent_at: datetime | None,
    client_message_id: str | None,
    engine: ConversationHook,
    quality: AgentQuality | None = None,
    evidence: dict[str, Any] | None = None,
) -> Ingested:
    """Run the engine on the conversation's history and store the message, in one transaction.

    Blocking: run it in a worker thread. Retries on a lost race for the next
    sequence number (or a busy SQLite file); a race on the client id returns
    the winner's message.
    """
    with conversation_lock(conversation_id):
        last_exc: Exception | None = None
        for attempt in range(ATTEMPTS):
            session = sessions()
            try:
                conv = repo.get_conversation(
                    session, workspace=workspace, conversation_id=conversation_id, for_update=True
                )
                if client_message_id is not None:
                    existing = repo.find_message(
                        session,
                        workspace=workspace,
                        conversation_id=conversation_id,
                        client_message_id=client_message_id,
                    )
                    if existing is not None:
                        return Ingested(existing, conv, created=False)
                history = repo.recent_turns(
                    session, conversation_id=conversation_id, limit=HISTORY_TURNS
                )
                turn = {
                    "seq": conv.message_count + 1,
                    "role": role,
                    "text": masked.text,
                    "analysis": analysis,
                    "sent_at": sent_at,
                }
                state = _run_engine(
                    engine,
                    conversation=_conversation_view(conv),
                    history=history,
                    turn=turn,
                )
                scorecard = (
                    quality.score_turn(history=history, turn=turn) if quality is not None else None
                )
                msg = repo.add_message(
                    session,
                    conversation=conv,
                    role=role,
                    text=masked.text,
                    raw_text=raw_text,
                    analysis=analysis,
                    state=state,
                    pii=masked.counts,
                    model_version=model_version,
                    sent_at=sent_at,
                    client_message_id=client_message_id,
                    scorecard=scorecard,
                    evidence=evidence,
                )
                _store_alerts(
                    session, workspace=workspace, conversation_id=conversation_id, state=state
                )
                session.commit()
                return Ingested(msg, conv, created=True)
            except repo.StaleConversationError as exc:
                # Another message of this conversation was stored meanwhile: recompute.
                session.rollback()
                last_exc = exc
                time.sleep(0.002 * (attempt + 1))
            except EmotionDeskError:
                session.rollback()
                raise
            except (IntegrityError, OperationalError) as exc:
                session.rollback()
                last_exc = exc
                if client_message_id is not None and isinstance(exc, IntegrityError):
                    found = lookup_existing(
                        sessions,
                        workspace=workspace,
                        conversation_id=conversation_id,
                        client_message_id=client_message_id,
                    )
                    if found is not None:
                        return found
                time.sleep(0.005 * (attempt + 1))
            except SQLAlchemyError as exc:
                session.rollback()
                logger.error("storing a message failed: %s", exc.__class__.__name__)
                raise StorageError(
                    "the message could not be stored (nothing was acknowledged): retry the request"
                ) from None
            finally:
                session.close()
        logger.error(
            "storing a message failed after %d attempts: %s", ATTEMPTS, type(last_exc).__name__
        )
        if isinstance(last_exc, IntegrityError | repo.StaleConversationError):
            raise ConflictError(
                "the conversation changed while the message was stored: retry the request"
            )
        raise StorageError("the database is busy: the message was not stored; retry the request")


def _store_alerts(
    session: Session, *, workspace: str, conversation_id: str, state: dict[str, Any]
) -> None:
    """One alert row per item of the engine's ``alerts`` list (the policy's ``alert`` action)."""
    alerts = state.get("alerts")
    if not isinstance(alerts, list):
        return
    for item in alerts:
        if not isinstance(item, dict):
            continue
        repo.create_alert(
            session,
            workspace=workspace,
            kind=str(item.get("kind") or "policy")[:64],
            title=str(item.get("title") or "conversation alert")[:256],
            severity=str(item.get("severity") or "warning")[:16],
            conversation_id=conversation_id,
            details=item.get("details") if isinstance(item.get("details"), dict) else {},
        )


def _run_engine(engine: ConversationHook, **kwargs: Any) -> dict[str, Any]:
    try:
        state = engine(**kwargs)
    except EmotionDeskError:
        raise
    except Exception as exc:
        # The message still gets stored: the engine's failure is recorded in the state.
        logger.exception("the conversation engine failed")
        return {"engine_error": exc.__class__.__name__}
    if not isinstance(state, dict):
        logger.error("the conversation engine returned %s, not a dict", type(state).__name__)
        return {"engine_error": "not_a_dict"}
    # Stored as JSON: datetimes and other objects become strings.
    return json.loads(json.dumps(state, default=str))  # type: ignore[no-any-return]
