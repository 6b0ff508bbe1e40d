"""The English typo corrector (text/spelling.py) and its place in the analyzer."""

from __future__ import annotations

from pathlib import Path

import pytest

from emotiondesk.analyzer import load_analyzer
from emotiondesk.models.ngram import NgramClassifier, known_words
from emotiondesk.text.spelling import SpellingCorrector, load_speller

# A small word list with frequencies, so that the rules are tested apart from the package's list.
COUNTS = {
    "broke": 5000,
    "broken": 4000,
    "laptop": 3000,
    "quality": 9000,
    "quantity": 2000,
    "thanks": 8000,
    "rude": 900,
    "want": 50000,
    "form": 30000,
    "from": 900000,
    "torn": 700,
    "tested": 800,
    "relay": 50,
}


@pytest.fixture()
def speller() -> SpellingCorrector:
    return SpellingCorrector(COUNTS, min_count=100)


@pytest.mark.parametrize(
    ("typed", "fixed"),
    [
        ("brkoe", "broke"),  # swapped neighbours
        ("lapotp", "laptop"),
        ("qulaity", "quality"),
        ("thnaks", "thanks"),
        ("rdue", "rude"),  # 4 letters: a swap of the inner pair
        ("qualuty", "quality"),  # 5+ letters: one key's neighbour (u beside i)
    ],
)
def test_one_slip_is_put_right(speller: SpellingCorrector, typed: str, fixed: str) -> None:
    assert speller.suggest(typed) == fixed


@pytest.mark.parametrize(
    "typed",
    [
        "form",  # a known word is never changed, even next to a commoner one
        "wasnt",  # a dropped letter is not tried ("want"): negations survive
        "rlay",  # the first letter never moves
        "trno",  # in a 4-letter word the last letter stays too
        "qualpty",  # p is not beside i: no keyboard slip
        "relya",  # relay is below min_count
        "hahaha",  # nothing one slip away
        "dont",  # KEEP
        "abc",  # too short
    ],
)
def test_what_is_left_alone(speller: SpellingCorrector, typed: str) -> None:
    assert speller.suggest(typed) is None


def test_case_shape_and_position_decide(speller: SpellingCorrector) -> None:
    assert speller.correct("Brkoe on arrival") == "Broke on arrival"  # sentence start
    assert speller.correct("it came BRKOE!!") == "it came BROKE!!"
    assert speller.correct("ok. Thnaks") == "ok. Thanks"
    # Capitalised inside a sentence: a name; mixed case: a brand; tags and codes: as typed.
    assert speller.correct("ask Brkoe about it") == "ask Brkoe about it"
    assert speller.correct("my LapTop is brkoe") == "my LapTop is broke"
    assert speller.correct("#brkoe @thnaks brkoe2 couldn't") == "#brkoe @thnaks brkoe2 couldn't"


def test_words_the_models_know_are_no_typos() -> None:
    # "texted" is one keyboard slip from "tested"; a model trained on it knows it.
    assert SpellingCorrector(COUNTS).suggest("texted") == "tested"
    assert SpellingCorrector(COUNTS, known=["texted"]).suggest("texted") is None


def test_known_words_are_the_word_unigrams_of_nested_ngram_models(tiny_pack: Path) -> None:
    model = NgramClassifier.from_pretrained(tiny_pack / "en-polarity-ngram")

    class Blend:  # an ensemble holds its members in models_ (nested in the default pack)
        def __init__(self, members: list[object]) -> None:
            self.models_ = members

    words = known_words([Blend([Blend([model])])])
    assert {"order", "ship", "wireless"} <= words  # words of the tiny pack's training texts
    assert not any(" " in w or not w.isalpha() for w in words)
    assert known_words([object()]) == set()


def test_the_shipped_word_list_corrects_and_keeps() -> None:
    speller = load_speller()
    assert speller.correct("The lapotp arrived brkoe, qulaity is awful") == (
        "The laptop arrived broke, quality is awful"
    )
    assert speller.correct("didnt work, wasnt good lol") == "didnt work, wasnt good lol"


def test_the_analyzer_reads_english_typos_as_the_words(tiny_pack: Path) -> None:
    analyzer = load_analyzer(tiny_pack)
    assert analyzer.spelling is not None
    typo, plain = analyzer.analyze(["the lapotp came brkoe", "the laptop came broke"])
    assert typo.polarity_scores == plain.polarity_scores
    assert typo.text == "the lapotp came brkoe"  # the result keeps what was typed
    analyzer.spelling = None  # EMOTIONDESK_SPELLING=false
    raw = analyzer.analyze(["the lapotp came brkoe"])[0]
    assert raw.polarity_scores != plain.polarity_scores
