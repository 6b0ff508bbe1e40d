"""Conversations and message ingestion."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.from_thread
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from emotiondesk.errors import InvalidInputError
from emotiondesk.service.contract import ERRORS, ERRORS_404, check_texts
from emotiondesk.service.deps import (
    AnalyzerDep,
    BatcherDep,
    MetricsDep,
    ReadKey,
    SessionDep,
    SettingsDep,
    WriteKey,
)
from emotiondesk.service.schemas import (
    ApiDatetime,
    ConversationCreate,
    ConversationDetail,
    ConversationOut,
    ConversationPage,
    ConversationStatus,
    ConversationUpdate,
    CorrectionOut,
    IngestResponse,
    MessageIn,
    MessageOut,
)
from emotiondesk.storage import feedback as feedback_store
from emotiondesk.storage import repository as repo
from emotiondesk.usecases.agent_quality import conversation_quality
from emotiondesk.usecases.analyze_messages import evidence_for_storage
from emotiondesk.usecases.ingest_message import ingest_message as ingest

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


@router.post(
    "", response_model=ConversationOut, status_code=status.HTTP_201_CREATED, responses=ERRORS
)
def create_conversation(
    body: ConversationCreate, request: Request, key: WriteKey, session: SessionDep
) -> ConversationOut:
    """Open a conversation (channel, customer, product / category, agent, metadata).

    PII in the metadata (any string, at any depth) is masked before it is
    stored; ``customer_id`` and ``agent_id`` are masked or pseudonymised.
    """
    privacy = request.app.state.privacy
    conv = repo.create_conversation(
        session,
        workspace=key.workspace,
        channel=privacy.text(body.channel),
        customer_id=privacy.identifier(body.customer_id),
        product_id=privacy.text(body.product_id),
        category=privacy.text(body.category),
        agent_id=privacy.identifier(body.agent_id),
        metadata=privacy.json(body.metadata),
    )
    session.commit()
    return ConversationOut.model_validate(conv)


#: The query parameters GET /v1/conversations knows; any other is a 422, so that a
#: misspelt filter or sort does not silently return everything.
LIST_PARAMS = frozenset(
    {
        "channel",
        "customer_id",
        "product_id",
        "category",
        "agent_id",
        "status",
        "created_after",
        "created_before",
        "escalated",
        "language",
        "kind",
        "q",
        "sort",
        "limit",
        "offset",
    }
)


def _known_params_only(request: Request) -> None:
    unknown = sorted(set(request.query_params) - LIST_PARAMS)
    if unknown:
        raise InvalidInputError(
            f"unknown query parameter(s): {', '.join(unknown)}; "
            f"known: {', '.join(sorted(LIST_PARAMS))}"
        )


@router.get(
    "",
    response_model=ConversationPage,
    responses=ERRORS,
    dependencies=[Depends(_known_params_only)],
)
def list_conversations(
    request: Request,
    key: ReadKey,
    session: SessionDep,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    product_id: Annotated[str | None, Query(max_length=128)] = None,
    category: Annotated[str | None, Query(max_length=128)] = None,
    agent_id: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[ConversationStatus | None, Query()] = None,
    created_after: ApiDatetime | None = None,
    created_before: ApiDatetime | None = None,
    escalated: Annotated[
        bool | None, Query(description="Only conversations handed (or not) to a senior agent.")
    ] = None,
    language: Annotated[
        Literal["zh", "en", "other"] | None, Query(description="The conversation's language.")
    ] = None,
    kind: Annotated[
        Literal["conversation", "review"] | None,
        Query(description="conversation (live) or review (imported archive rows)."),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=128,
            description="Search: a customer id or conversation id (prefix), or an order "
            "number or other words in a message.",
        ),
    ] = None,
    sort: Annotated[
        Literal["created", "updated", "risk"],
        Query(description="created (newest first), updated, or risk (highest first)."),
    ] = "created",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ConversationPage:
    """Conversations filtered by any of the fields, one page at a time.

    The risk queue: `?status=open&kind=conversation&sort=risk`. An unknown
    parameter, sort or filter value is a 422.
    """
    privacy = request.app.state.privacy
    page = repo.list_conversations(
        session,
        workspace=key.workspace,
        channel=channel,
        customer_id=privacy.filter_identifier(customer_id),
        product_id=product_id,
        category=category,
        agent_id=privacy.filter_identifier(agent_id),
        status=status,
        created_after=created_after,
        created_before=created_before,
        escalated=escalated,
        language=language,
        kind=kind,
        q=q,
        q_customer_id=(
            privacy.filter_identifier(q.strip())
            if q and q.strip() and privacy.pseudonymizes
            else None
        ),
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return ConversationPage(
        items=[ConversationOut.model_validate(c) for c in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.patch("/{conversation_id}", response_model=ConversationOut, responses=ERRORS_404)
def update_conversation(
    conversation_id: str,
    body: ConversationUpdate,
    request: Request,
    key: WriteKey,
    session: SessionDep,
) -> ConversationOut:
    """Assign the conversation to an agent, or resolve / close / reopen it."""
    conv = repo.update_conversation(
        session,
        workspace=key.workspace,
        conversation_id=conversation_id,
        status=body.status,
        agent_id=request.app.state.privacy.identifier(body.agent_id),
    )
    session.commit()
    return ConversationOut.model_validate(conv)


@router.get("/{conversation_id}", response_model=ConversationDetail, responses=ERRORS_404)
def get_conversation(conversation_id: str, key: ReadKey, session: SessionDep) -> ConversationDetail:
    """One conversation with its messages (masked text, analysis, agent scorecards), in order."""
    conv = repo.get_conversation(
        session, workspace=key.workspace, conversation_id=conversation_id, with_messages=True
    )
    detail = ConversationDetail.model_validate(conv)
    detail.quality = conversation_quality(conv.messages)
    add_corrections(session, key.workspace, detail.messages)
    return detail


def add_corrections(session: SessionDep, workspace: str, messages: list[MessageOut]) -> None:
    """Fill each message's corrections (who, when, old -> new label) and current labels."""
    found = feedback_store.corrections_for_messages(
        session, workspace=workspace, message_ids=[m.id for m in messages]
    )
    for message in messages:
        items = found.get(message.id) or []
        message.corrections = [CorrectionOut.model_validate(c, from_attributes=True) for c in items]
        labels: dict[str, set[str]] = {}
        for c in items:  # oldest first: the last one of a task holds
            message.corrected[c.task] = c.label
            labels.setdefault(c.task, set()).add(c.label)
        message.conflicts = [task for task, given in labels.items() if len(given) > 1]


@router.post(
    "/{conversation_id}/messages",
    response_model=IngestResponse,
    status_code=status.HTTP_201_CREATED,
    responses={**ERRORS_404, 200: {"model": IngestResponse, "description": "Already stored."}},
)
async def ingest_message(
    conversation_id: str,
    body: MessageIn,
    request: Request,
    response: Response,
    key: WriteKey,
    batcher: BatcherDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    analyzer: AnalyzerDep,
) -> IngestResponse:
    """Analyse a message, store it (PII masked) and return it with the conversation's state.

    A retry with the same `client_message_id` returns the stored message with
    status 200 and `created: false`. A customer message is stored with its
    `evidence`: the spans that drove its polarity and emotion and its aspects.
    """
    check_texts([body.text], max_texts=1, max_chars=settings.max_text_chars)

    def analyze(texts: list[str]) -> list[Any]:  # the micro-batcher, from the worker thread
        return anyio.from_thread.run(batcher.analyze, texts)

    found = await run_in_threadpool(
        ingest,
        request.app.state.sessions,
        workspace=key.workspace,
        conversation_id=conversation_id,
        role=body.role,
        text=body.text,
        analyze=analyze,
        hook=request.app.state.conversation_engine,
        sent_at=body.timestamp,
        client_message_id=body.client_message_id,
        store_raw_text=settings.store_raw_text,
        on_analysed=metrics.count_predictions,
        quality=request.app.state.agent_quality,
        evidence=evidence_for_storage(analyzer),
    )
    if found.created:
        metrics.ingested.labels(body.role).inc()
        # the policy's alerts of this turn go out by webhook (queued: never waits)
        for item in (found.message.state or {}).get("alerts") or []:
            if isinstance(item, dict):
                request.app.state.notify_alert(
                    item
                    | {
                        "conversation_id": conversation_id,
                        "message_id": found.message.id,
                        "workspace": key.workspace,
                    }
                )
    if not found.created:
        response.status_code = status.HTTP_200_OK
    return IngestResponse(
        message=MessageOut.model_validate(found.message),
        conversation=ConversationOut.model_validate(found.conversation),
        created=found.created,
    )
