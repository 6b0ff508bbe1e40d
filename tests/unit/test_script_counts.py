"""The regex script counter used on the hot path equals the per-character definition."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emotiondesk.text.language import _script_counts_reference, script_counts

MIXED = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(list("abcXYZ éü好評のス한!😀 ")),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(MIXED)
def test_script_counts_match_reference(text: str) -> None:
    assert script_counts(text) == _script_counts_reference(text)


def test_examples() -> None:
    assert script_counts("这个size偏小") == (4, 4, 0)
    assert script_counts("ありがとう") == (0, 0, 5)
    assert script_counts("café") == (0, 4, 0)
