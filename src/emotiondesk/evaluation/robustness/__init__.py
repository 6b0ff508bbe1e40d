"""Behavioural (CheckList-style) robustness suite: MFT, INV and DIR tests in zh and en."""

from __future__ import annotations

from emotiondesk.evaluation.robustness.suite import (
    TARGETS,
    Case,
    Suite,
    TestSpec,
    count_cases,
    load_suite,
    run_suite,
    suite_languages,
)

__all__ = [
    "TARGETS",
    "Case",
    "Suite",
    "TestSpec",
    "count_cases",
    "load_suite",
    "run_suite",
    "suite_languages",
]
