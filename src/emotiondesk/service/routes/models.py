"""The model this worker serves: version, registry champion, shadow agreement (issue 11)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from emotiondesk.service.contract import ERRORS
from emotiondesk.service.deps import ReadKey
from emotiondesk.service.schemas import ModelsOut
from emotiondesk.storage.tables import DEFAULT_WORKSPACE

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", response_model=ModelsOut, responses=ERRORS)
async def models(request: Request, key: ReadKey) -> ModelsOut:
    """The served model version; with a model registry, the champion this worker follows.

    With shadow scoring on (``EMOTIONDESK_SHADOW``), how often the challenger
    agreed with the champion on this worker's traffic and the label pairs of
    the disagreements (counts only), summed over every worker of the service
    (each writes its counts to the database about once a second). The shadow
    figures count every workspace's traffic: only keys of the default workspace
    (the operator's) see them.
    """
    live = request.app.state.live_models
    if live is None:
        analyzer = getattr(request.app.state, "analyzer", None)
        return ModelsOut(
            model=getattr(analyzer, "version", None),
            registry=False,
            champion=None,
            challenger=None,
            swaps=0,
            poll_seconds=None,
            shadow=None,
        )
    report = await run_in_threadpool(live.report)
    if key.workspace != DEFAULT_WORKSPACE:
        report["shadow"] = None
    return ModelsOut.model_validate(report)
