"""A team's own aspect lexicon (YAML) over the shipped one, or instead of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emotiondesk.analytics import aspects
from emotiondesk.analytics.aspects import aspect_lexicon, extract_aspects, load_lexicon
from emotiondesk.config import get_settings
from emotiondesk.errors import ConfigError

WARRANTY = """
aspect_terms:
  warranty: {zh: [保修, 质保], en: [warranty, guarantee]}
  quality: {en: [workmanship]}
aspect_names:
  warranty: {zh: 保修, en: warranty}
opinions:
  en: {positive: [hassle-free]}
category_aspects:
  手机: [warranty]
"""


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    get_settings.cache_clear()
    aspects._cached_lexicon.cache_clear()
    yield
    get_settings.cache_clear()
    aspects._cached_lexicon.cache_clear()


def _found(texts: list[str], **kw: object) -> list[list[tuple[str, str]]]:
    return [[(m.aspect, m.polarity) for m in ms] for ms in extract_aspects(texts, **kw)]


def _write(tmp_path: Path, text: str, name: str = "lexicon.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_a_file_extends_the_shipped_lexicon(tmp_path: Path) -> None:
    lex = load_lexicon(_write(tmp_path, WARRANTY))
    texts = ["保修很好，物流很快", "The warranty is hassle-free", "Poor workmanship"]
    assert _found(texts, lexicon=lex) == [
        [("warranty", "positive"), ("logistics", "positive")],
        [("warranty", "positive")],
        [("quality", "negative")],
    ]
    # the shipped lexicon knows none of it
    assert _found(texts) == [[("logistics", "positive")], [], []]
    # lists are extended: the shipped terms and the shipped category stay
    assert "质量" in lex.aspect_terms["quality"]["zh"]
    assert "workmanship" in lex.aspect_terms["quality"]["en"]
    assert {"warranty", "battery"} <= set(lex.category_aspects["手机"])
    assert lex.aspect_names["warranty"]["zh"] == "保修"


def test_the_setting_names_the_file_used_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMOTIONDESK_ASPECT_LEXICON_FILE", str(_write(tmp_path, WARRANTY)))
    assert aspect_lexicon().source.endswith("lexicon.yaml")
    assert _found(["保修很好"]) == [[("warranty", "positive")]]
    assert aspect_lexicon() is aspect_lexicon()  # loaded once
    summary = aspects.summarize_aspects(extract_aspects(["保修很好"]))
    assert summary[0].to_dict()["name"] == {"zh": "保修", "en": "warranty"}
    assert "warranty" in aspects.ASPECT_TERMS


def test_mode_replace_makes_the_file_the_whole_lexicon(tmp_path: Path) -> None:
    text = """
mode: replace
aspect_terms: {warranty: {zh: [保修], en: [warranty]}}
aspect_names: {warranty: {zh: 保修, en: warranty}}
category_aspects: {}
opinions: {zh: {positive: [好], negative: [差]}, en: {positive: [good], negative: [bad]}}
term_senses: {}
aspect_senses: {}
implicit: {zh: [], en: []}
negators: {zh: [不], en: ["not"]}
contrast: {zh: [但是], en: [but]}
"""
    lex = load_lexicon(_write(tmp_path, text))
    assert set(lex.aspect_terms) == {"warranty"}
    assert _found(["保修不好，但是物流很好", "The warranty is good"], lexicon=lex) == [
        [("warranty", "negative")],
        [("warranty", "positive")],
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aspect_term: {}", r"unknown section\(s\) \['aspect_term'\]"),
        ("mode: merge", "mode must be extend or replace"),
        ("mode: replace\naspect_terms: {}", "mode replace needs every section; missing"),
        ("aspect_terms: {warranty: {zh: [保修, 3]}}", r"aspect_terms.warranty.zh: must be a list"),
        ("aspect_terms: {warranty: {fr: [garantie]}}", r"unknown language\(s\) \['fr'\]"),
        (
            "category_aspects: {手机: [warranty]}",
            "category_aspects.手机: unknown aspect 'warranty'",
        ),
        ("opinions: {en: {positive: [no]}}", "quote yes/no/on/off"),
        ("opinions: {en: {phrases: {so so: lots}}}", "opinions.en.phrases.so so: must be a number"),
        ("implicit: {en: [[too pricey, price]]}", r"implicit.en #\d+: must be \[phrase, aspect"),
        ("- a list", "expected a mapping of sections"),
        ("aspect_terms: [x", r"line \d+: not valid YAML"),
    ],
)
def test_a_bad_file_fails_with_the_file_and_the_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_lexicon(path)
    assert str(path) in str(info.value)


def test_a_missing_file_and_a_bad_file_at_service_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_lexicon(tmp_path / "nope.yaml")
    from emotiondesk.config import Settings
    from emotiondesk.service.app import create_app

    bad = _write(tmp_path, "negators: {en: nope}")
    settings = Settings(dev=True, aspect_lexicon_file=bad, database_url="sqlite://")
    with pytest.raises(ConfigError, match=r"negators.en: must be a list"):
        create_app(settings)
