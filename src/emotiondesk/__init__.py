"""emotiondesk: emotion-aware customer service analysis for Chinese and English.

Example:
    >>> from emotiondesk import load_analyzer
    >>> analyzer = load_analyzer()                       # doctest: +SKIP
    >>> [r.polarity for r in analyzer.analyze(["物流太慢了", "Great, thanks!"])]  # doctest: +SKIP
    ['negative', 'positive']
"""

from __future__ import annotations

from emotiondesk._version import __version__
from emotiondesk.analyzer import AnalysisResult, Analyzer, load_analyzer
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS

__all__ = [
    "EMOTION_LABELS",
    "POLARITY_LABELS",
    "AnalysisResult",
    "Analyzer",
    "__version__",
    "load_analyzer",
]
