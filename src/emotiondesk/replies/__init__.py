"""Reply suggestions: empathy openings, FAQ answers (BM25), closings, recommendations, optional LLM.

Example:
    >>> from emotiondesk.replies import ReplySuggester, SuggestionRequest
    >>> s = ReplySuggester().suggest(SuggestionRequest(
    ...     text="退款多久到账", language="zh", emotion="neutral", intensity=0.5, polarity="neutral"))
    >>> [x.kind for x in s.suggestions]
    ['empathy', 'faq', 'closing']
"""

from __future__ import annotations

from emotiondesk.replies.knowledge import Catalog, FaqEntry, FaqIndex, Product
from emotiondesk.replies.llm import LLMBackend, LLMError, build_prompt
from emotiondesk.replies.suggest import ReplySuggester, Suggestion, SuggestionRequest, SuggestionSet

__all__ = [
    "Catalog",
    "FaqEntry",
    "FaqIndex",
    "LLMBackend",
    "LLMError",
    "Product",
    "ReplySuggester",
    "Suggestion",
    "SuggestionRequest",
    "SuggestionSet",
    "build_prompt",
]
