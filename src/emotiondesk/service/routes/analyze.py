"""``POST /v1/analyze``: stateless analysis of a batch of texts."""

from __future__ import annotations

from fastapi import APIRouter, Response

from emotiondesk.service.contract import ERRORS, check_texts, encode_results
from emotiondesk.service.deps import AnalyzeKey, BatcherDep, MetricsDep, SettingsDep
from emotiondesk.service.schemas import AnalyzeRequest, AnalyzeResponse

router = APIRouter(prefix="/v1", tags=["analysis"])


@router.post("/analyze", response_model=AnalyzeResponse, responses=ERRORS)
async def analyze(
    body: AnalyzeRequest,
    _key: AnalyzeKey,
    batcher: BatcherDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> Response:
    """Polarity, score and emotion of each text (the `analyze --json` fields)."""
    # Most calls are answered by the same steps in service/fastpath.py before
    # they get here; this route handles the rest (first use of a key, errors).
    check_texts(body.texts, max_texts=settings.max_texts, max_chars=settings.max_text_chars)
    language = None if body.language == "auto" else body.language
    results = await batcher.analyze(body.texts, language=language)
    metrics.count_predictions(results)
    return Response(encode_results(results), media_type="application/json")
