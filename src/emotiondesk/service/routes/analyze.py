"""``POST /v1/analyze``: stateless analysis of a batch of texts."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from fastapi import APIRouter, Response

from emotiondesk.analyzer import AnalysisResult
from emotiondesk.errors import InvalidInputError
from emotiondesk.service.deps import AnalyzeKey, BatcherDep, MetricsDep, SettingsDep
from emotiondesk.service.schemas import AnalyzeRequest, AnalyzeResponse, ErrorBody

router = APIRouter(prefix="/v1", tags=["analysis"])

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 413, 422, 429, 503)
}
ERRORS[400] = {"model": ErrorBody, "description": "A body that is not UTF-8 JSON."}


def check_texts(texts: list[str], *, max_texts: int, max_chars: int) -> None:
    if len(texts) > max_texts:
        raise InvalidInputError(f"at most {max_texts} texts per request, got {len(texts)}")
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            raise InvalidInputError(
                f"texts[{i}] has {len(text)} characters; the limit is {max_chars}"
            )
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                # JSON can carry a lone surrogate (\ud800) that no response or
                # database can hold: refuse it here, not with a 500 later.
                raise InvalidInputError(
                    f"texts[{i}] is not valid Unicode (it holds a lone surrogate escape)"
                ) from None


def encode_results(results: Sequence[AnalysisResult]) -> bytes:
    """The ``AnalyzeResponse`` JSON body, encoded directly.

    ``AnalysisResult.to_dict`` has exactly the ``Analysis`` fields (a unit test
    checks it), so validating the results through the response model again
    would only cost time on the hottest path.
    """
    return orjson.dumps({"results": [r.to_dict() for r in results]})


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
