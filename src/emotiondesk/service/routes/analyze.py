"""``POST /v1/analyze``: stateless analysis of a batch of texts."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from emotiondesk.service.contract import ERRORS, check_texts, encode_results
from emotiondesk.service.deps import (
    AnalyzeKey,
    AnalyzerDep,
    BatcherDep,
    MetricsDep,
    SettingsDep,
)
from emotiondesk.service.schemas import AnalyzeRequest, AnalyzeResponse
from emotiondesk.usecases.analyze_messages import explain_results, to_rows

router = APIRouter(prefix="/v1", tags=["analysis"])


@router.post("/analyze", response_model=AnalyzeResponse, responses=ERRORS)
async def analyze(
    body: AnalyzeRequest,
    _key: AnalyzeKey,
    batcher: BatcherDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    analyzer: AnalyzerDep,
) -> Response:
    """Polarity, score and emotion of each text (the `analyze --json` fields).

    With `"explain": true` each result has an `evidence` field: per task the
    label, the method and the spans (offsets into the text as given, signed
    weights) that drove it.
    """
    # Most calls are answered by the same steps in service/fastpath.py before
    # they get here; this route handles the rest (first use of a key, errors,
    # and every request with "explain": true).
    check_texts(body.texts, max_texts=settings.max_texts, max_chars=settings.max_text_chars)
    language = None if body.language == "auto" else body.language
    results = await batcher.analyze(body.texts, language=language)
    metrics.count_predictions(results)
    if body.explain:
        rows = await run_in_threadpool(
            lambda: to_rows(results, explain_results(analyzer, results), analyzer)
        )
        payload = orjson.dumps({"results": rows})
        return Response(payload, media_type="application/json")
    return Response(encode_results(results), media_type="application/json")
