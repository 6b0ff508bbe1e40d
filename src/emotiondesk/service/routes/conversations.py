"""Conversations and message ingestion."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from emotiondesk.service.contract import ERRORS, ERRORS_404, check_texts
from emotiondesk.service.deps import (
    BatcherDep,
    MetricsDep,
    ReadKey,
    SessionDep,
    SettingsDep,
    WriteKey,
)
from emotiondesk.service.schemas import (
    ConversationCreate,
    ConversationDetail,
    ConversationOut,
    ConversationPage,
    IngestResponse,
    MessageIn,
    MessageOut,
)
from emotiondesk.storage import repository as repo
from emotiondesk.usecases.ingest_message import ingest_message as ingest

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


@router.post(
    "", response_model=ConversationOut, status_code=status.HTTP_201_CREATED, responses=ERRORS
)
def create_conversation(
    body: ConversationCreate, _key: WriteKey, session: SessionDep
) -> ConversationOut:
    """Open a conversation (channel, customer, product / category, agent, metadata)."""
    conv = repo.create_conversation(
        session,
        channel=body.channel,
        customer_id=body.customer_id,
        product_id=body.product_id,
        category=body.category,
        agent_id=body.agent_id,
        metadata=body.metadata,
    )
    session.commit()
    return ConversationOut.model_validate(conv)


@router.get("", response_model=ConversationPage, responses=ERRORS)
def list_conversations(
    _key: ReadKey,
    session: SessionDep,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: Annotated[str | None, Query(max_length=128)] = None,
    product_id: Annotated[str | None, Query(max_length=128)] = None,
    category: Annotated[str | None, Query(max_length=128)] = None,
    agent_id: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ConversationPage:
    """Conversations, newest first, filtered by any of the fields, one page at a time."""
    page = repo.list_conversations(
        session,
        channel=channel,
        customer_id=customer_id,
        product_id=product_id,
        category=category,
        agent_id=agent_id,
        status=status,
        created_after=created_after,
        created_before=created_before,
        limit=limit,
        offset=offset,
    )
    return ConversationPage(
        items=[ConversationOut.model_validate(c) for c in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{conversation_id}", response_model=ConversationDetail, responses=ERRORS_404)
def get_conversation(
    conversation_id: str, _key: ReadKey, session: SessionDep
) -> ConversationDetail:
    """One conversation with its messages (masked text and analysis), in order."""
    conv = repo.get_conversation(session, conversation_id=conversation_id, with_messages=True)
    return ConversationDetail.model_validate(conv)


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
    _key: WriteKey,
    batcher: BatcherDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> IngestResponse:
    """Analyse a message, store it (PII masked) and return it with the conversation's state.

    A retry with the same `client_message_id` returns the stored message with
    status 200 and `created: false`.
    """
    check_texts([body.text], max_texts=1, max_chars=settings.max_text_chars)

    def analyze(texts: list[str]) -> list[Any]:  # the micro-batcher, from the worker thread
        return anyio.from_thread.run(batcher.analyze, texts)

    found = await run_in_threadpool(
        ingest,
        request.app.state.sessions,
        conversation_id=conversation_id,
        role=body.role,
        text=body.text,
        analyze=analyze,
        hook=request.app.state.conversation_engine,
        sent_at=body.timestamp,
        client_message_id=body.client_message_id,
        store_raw_text=settings.store_raw_text,
        on_analysed=metrics.count_predictions,
    )
    if found.created:
        metrics.ingested.labels(body.role).inc()
    if not found.created:
        response.status_code = status.HTTP_200_OK
    return IngestResponse(
        message=MessageOut.model_validate(found.message),
        conversation=ConversationOut.model_validate(found.conversation),
        created=found.created,
    )
