"""Text handling: normalisation, language detection (and, with the service, PII masking)."""

from __future__ import annotations

from emotiondesk.text.language import Language, detect_language
from emotiondesk.text.normalize import (
    DEFAULT_MAX_CHARS,
    NormalizedText,
    normalize,
    prepare,
    to_simplified,
)
from emotiondesk.text.pii import mask_pii

__all__ = [
    "DEFAULT_MAX_CHARS",
    "Language",
    "NormalizedText",
    "detect_language",
    "mask_pii",
    "normalize",
    "prepare",
    "to_simplified",
]
