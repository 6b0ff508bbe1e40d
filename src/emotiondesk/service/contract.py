"""What every route shares: the error responses it documents, the check of
submitted texts, and the encoding of analysis results.

Routes import this module, never each other; the ``/v1/analyze`` fast path
(:mod:`emotiondesk.service.fastpath`) uses the same checks and encoding as
the route it stands in for.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from emotiondesk.analyzer import AnalysisResult
from emotiondesk.errors import InvalidInputError
from emotiondesk.service.schemas import ErrorBody

#: The error bodies a route may answer with (OpenAPI ``responses``).
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (401, 403, 413, 422, 429, 503)
}
ERRORS[400] = {"model": ErrorBody, "description": "A body that is not UTF-8 JSON."}
#: ... and a route that looks something up.
ERRORS_404: dict[int | str, dict[str, object]] = {**ERRORS, 404: ERRORS[422]}


def check_texts(texts: list[str], *, max_texts: int, max_chars: int) -> None:
    """Refuse too many texts, an over-long text, or one that is not valid Unicode."""
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
