"""The customer-service turn set, its benchmark script and the rule that training never sees it."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emotiondesk.cli.main import app
from emotiondesk.errors import DataError
from emotiondesk.text import normalize
from emotiondesk.training.heldout import (
    drop_heldout_pairs,
    hash_lines,
    heldout_hashes,
    is_heldout,
)

from ..conftest import TINY_EN, TINY_ZH

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "benchmarks" / "data" / "cs_turns.csv"


def _load_script():
    spec = importlib.util.spec_from_file_location("cs_turns", ROOT / "benchmarks" / "cs_turns.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["cs_turns"] = module
    spec.loader.exec_module(module)
    return module


cs = _load_script()


def write_turns(path: Path, rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cs.COLUMNS)
        w.writerows(rows)
    return path


# -- the shipped set ----------------------------------------------------------------------


def test_shipped_set_is_complete_and_clean() -> None:
    turns = cs.read_turns(SET)
    langs = Counter(t.lang for t in turns)
    assert len(turns) >= 600 and langs["zh"] >= 300 and langs["en"] >= 300
    cats = {t.category for t in turns}
    for needed in (
        "polite_inquiry",
        "impatience",
        "anger",
        "sarcasm",
        "negation",
        "threat",
        "thanks",
        "mixed",
        "traditional",
        "emoji",
        "typo",
        "agent",
        "worry",
        "surprise",
        "disappointment",
        "complaint",
    ):
        assert needed in cats, needed
    # every emotion and polarity occurs in each language (macro-F1 needs them)
    for lang in ("zh", "en"):
        rows = [t for t in turns if t.lang == lang]
        assert {t.polarity for t in rows} == set(cs.POLARITY_LABELS)
        assert {t.emotion for t in rows} == set(cs.EMOTION_LABELS)
    # no two rows read the same once normalised (繁體 and full-width fold onto their plain forms)
    normed = Counter(normalize(t.text) for t in turns)
    assert [t for t, n in normed.items() if n > 1] == []
    assert all((t.speaker == "agent") == (t.category == "agent") for t in turns)


def test_shipped_set_does_not_overlap_the_training_inquiries() -> None:
    turns = {normalize(t.text) for t in cs.read_turns(SET)}
    for path in (ROOT / "benchmarks" / "data").glob("cs_inquiries_*.csv"):
        with path.open(encoding="utf-8") as fh:
            overlap = [r["text"] for r in csv.DictReader(fh) if normalize(r["text"]) in turns]
        assert overlap == [], path.name


def test_heldout_hash_list_matches_the_set() -> None:
    # A failure here means cs_turns.csv was edited without
    # `python benchmarks/cs_turns.py --write-heldout-hashes`.
    assert heldout_hashes() == frozenset(hash_lines(t.text for t in cs.read_turns(SET)))


# -- reading errors -----------------------------------------------------------------------


def test_read_turns_errors_name_the_row(tmp_path: Path) -> None:
    bad = write_turns(
        tmp_path / "bad.csv",
        [("zh-1", "物流太慢了", "zh", "negative", "angry", "impatience", "customer")],
    )
    with pytest.raises(DataError, match=r"line 2 \(zh-1\).*emotion 'angry'"):
        cs.read_turns(bad)
    (tmp_path / "cols.csv").write_text("id,text,label\n1,x,negative\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        cs.read_turns(tmp_path / "cols.csv")
    dup = write_turns(
        tmp_path / "dup.csv",
        [
            ("x", "a", "en", "neutral", "neutral", "polite_inquiry", "customer"),
            ("x", "b", "en", "neutral", "neutral", "polite_inquiry", "customer"),
        ],
    )
    with pytest.raises(DataError, match="duplicate id"):
        cs.read_turns(dup)


# -- scoring ------------------------------------------------------------------------------


def test_score_on_an_inline_fixture() -> None:
    T = cs.Turn
    turns = [
        T("zh-1", "不贵", "zh", "positive", "joy", "negation", "customer"),
        T("zh-2", "好评，下次还敢", "zh", "negative", "anger", "sarcasm", "customer"),
        T("zh-3", "在吗？", "zh", "neutral", "neutral", "polite_inquiry", "customer"),
        T("zh-4", "您好", "zh", "neutral", "neutral", "agent", "agent"),
        T("en-1", "Not bad at all", "en", "positive", "joy", "negation", "customer"),
        T("en-2", "Will it get lost?", "en", "negative", "fear", "worry", "customer"),
    ]
    pol = ["positive", "positive", "neutral", "neutral", "negative", "negative"]
    emo = ["joy", "joy", "neutral", "neutral", "anger", "fear"]
    r = cs.score(turns, pol, emo)
    zh, en = r["by_lang"]["zh"], r["by_lang"]["en"]
    assert zh["n"] == 4 and zh["polarity_accuracy"] == 0.75
    assert zh["emotion_accuracy"] == 0.75
    # zh emotion macro-F1 over the labels present (anger, joy, neutral):
    # anger F1 0, joy P 1/2 R 1 -> 2/3, neutral 1 -> (0 + 2/3 + 1) / 3
    assert zh["emotion_macro_f1"] == pytest.approx(5 / 9, abs=1e-4)
    assert en["polarity_accuracy"] == 0.5 and en["emotion_accuracy"] == 0.5
    ns = r["negation_sarcasm"]
    assert ns["all"]["n"] == 3 and ns["all"]["polarity_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert ns["zh"]["polarity_accuracy"] == 0.5 and ns["en"]["polarity_accuracy"] == 0.0
    assert r["by_category"]["negation"]["all"] == {
        "n": 2,
        "polarity_accuracy": 0.5,
        "emotion_accuracy": 0.5,
    }
    assert r["by_speaker"]["agent"]["polarity_accuracy"] == 1.0
    assert r["overall"]["polarity_majority_accuracy"] == pytest.approx(2 / 6, abs=1e-4)
    met = {(t["slice"], t["metric"]): t["met"] for t in r["targets"]}
    assert met[("negation_sarcasm", "polarity_accuracy")] is False
    # one task missing: its figures are absent, not zero
    only_pol = cs.score(turns, pol, None)
    assert "emotion_accuracy" not in only_pol["overall"]
    assert {t["met"] for t in only_pol["targets"] if t["metric"] == "emotion_macro_f1"} == {None}
    with pytest.raises(DataError, match="2 polarity predictions for 6 turns"):
        cs.score(turns, pol[:2], None)


def test_script_end_to_end_on_a_pack(tiny_pack: Path, tmp_path: Path) -> None:
    # texts the tiny pack was trained on, so its predictions are known to be right;
    # the last row's gold label is deliberately not what any model would say.
    zh = [(t, p, e) for t, p, e in TINY_ZH[::5]]
    en = [(t, p, e) for t, p, e in TINY_EN[::5]]
    rows = [
        (f"zh-{i}", t, "zh", p, e, "polite_inquiry" if p == "neutral" else "complaint", "customer")
        for i, (t, p, e) in enumerate(zh)
    ]
    rows += [(f"en-{i}", t, "en", p, e, "negation", "customer") for i, (t, p, e) in enumerate(en)]
    rows.append(
        ("en-x", TINY_EN[10][0], "en", "negative", "anger", "sarcasm", "customer")
    )  # read as positive/joy
    data = write_turns(tmp_path / "turns.csv", rows)
    err = tmp_path / "errors.csv"
    code = cs.main(["--model", str(tiny_pack), "--data", str(data), "--errors", str(err), "--json"])
    assert code == 0
    with err.open(encoding="utf-8") as fh:
        wrong = list(csv.DictReader(fh))
    assert [w["id"] for w in wrong] == ["en-x"]
    assert wrong[0]["predicted_polarity"] == "positive" and wrong[0]["wrong"] == "polarity+emotion"


def test_script_json_and_model_dir(tiny_pack: Path, tmp_path: Path, capsys) -> None:
    rows = [(f"zh-{i}", t, "zh", p, e, "anger", "customer") for i, (t, p, e) in enumerate(TINY_ZH)]
    data = write_turns(tmp_path / "turns.csv", rows)
    assert cs.main(["--model", str(tiny_pack), "--data", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["by_lang"]["zh"]["polarity_accuracy"] == 1.0
    assert result["by_lang"]["en"] == {"n": 0}
    assert result["model"] == "tiny-0.0.test"
    # routed by the rows' language, and the models without the lexical signals
    args = ["--model", str(tiny_pack), "--data", str(data), "--json", "--lang", "row"]
    assert cs.main([*args, "--no-signals"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "tiny-0.0.test (no signals)" and result["lang_routing"] == "row"
    assert result["by_lang"]["zh"]["polarity_accuracy"] == 1.0
    # a single-task model directory: only its task is scored
    assert cs.main(["--model", str(tiny_pack / "zh-emotion-ngram"), "--data", str(data)]) == 0
    text = capsys.readouterr().out
    assert "| zh | 20 | — | — | 1.000 | 1.000 |" in text
    assert cs.main(["--model", str(tmp_path), "--data", str(data)]) == 2
    assert "neither 'default'" in capsys.readouterr().err


# -- training refuses the set -------------------------------------------------------------


def test_training_refuses_rows_of_the_set(tmp_path: Path) -> None:
    assert is_heldout("好评，下次还敢") and is_heldout("好評，下次還敢")  # 繁體 folds too
    assert not is_heldout("物流太慢了，气死我了")
    texts, labels = drop_heldout_pairs(
        ["Not bad at all, actually.", "fine #1"], ["positive", "neutral"]
    )
    assert texts == ["fine #1"] and labels == ["neutral"]

    # `emotiondesk train` (any base) drops them: 60 usable rows + 3 from the set.
    rows = [(f"{t} #{i}", e) for i, (t, _, e) in enumerate(TINY_EN * 3)]
    rows += [
        ("Thanks, that fixed it!", "joy"),
        ("WHERE IS MY ORDER??? I PAID TWO WEEKS AGO!!!", "anger"),
        ("Not bad at all, actually.", "joy"),
    ]
    train = tmp_path / "train.csv"
    with train.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    dev = tmp_path / "dev.csv"
    with dev.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows((t, e) for t, _, e in TINY_EN)
    args = ["train", "--task", "emotion", "--train", str(train), "--dev", str(dev)]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "m"), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["n_train"] == 60


# -- escalation on the set ----------------------------------------------------------------


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


esc = _load("cs_escalation")


def test_escalation_groups_and_threshold_sweep() -> None:
    T = cs.Turn
    threat = T("en-1", "I'm filing a chargeback.", "en", "negative", "anger", "threat", "customer")
    ask = T("en-2", "Where is my order?", "en", "neutral", "neutral", "polite_inquiry", "customer")
    moan = T("en-3", "Too slow.", "en", "negative", "anger", "impatience", "customer")
    thanks = T("en-4", "Thanks!", "en", "positive", "joy", "thanks", "customer")
    assert [esc.expected(t) for t in (threat, ask, moan, thanks)] == [
        "must",
        "must_not",
        "either",
        "must_not",
    ]
    Out = esc.Outcome
    outs = [
        Out(threat, False, 0.5, (), ()),
        Out(ask, True, 0.8, ("r",), ()),
        Out(moan, True, 0.9, ("r",), ()),
        Out(thanks, False, 0.1, (), ()),
    ]
    f = esc.figures(outs)
    assert f["recall"] == 0.0 and f["false_escalation_rate"] == 0.5 and f["precision"] == 0.0
    assert f["either_escalation_rate"] == 1.0
    lowered = esc.figures(esc.at_threshold(outs, 0.5))
    assert lowered["recall"] == 1.0 and lowered["precision"] == 0.5
    assert [o.turn.id for o in esc.half(outs, "A")] == ["en-1", "en-3"]
    s = esc.sweep(outs)
    # half A holds the threat (risk 0.5) and no "must not" turn: the lowest threshold
    # reaching it wins; half B is reported, not fitted
    assert s["chosen_threshold"] == 0.5
    assert s["B"]["chosen"]["all"]["false_escalation_rate"] == 0.5


def test_escalation_end_to_end_on_a_pack(tiny_pack: Path, tmp_path: Path, capsys) -> None:
    rows = [
        ("zh-1", "再不处理我就打12315投诉你们", "zh", "negative", "anger", "threat", "customer"),
        ("zh-2", "请问有没有红色的", "zh", "neutral", "neutral", "polite_inquiry", "customer"),
        ("en-1", "I will sue you", "en", "negative", "anger", "threat", "customer"),
        (
            "en-2",
            "Can you issue an invoice?",
            "en",
            "neutral",
            "neutral",
            "polite_inquiry",
            "customer",
        ),
        ("en-3", "Sorry for the wait.", "en", "neutral", "neutral", "agent", "agent"),
    ]
    data = write_turns(tmp_path / "turns.csv", rows)
    errs = tmp_path / "esc.csv"
    args = ["--model", str(tiny_pack), "--data", str(data), "--json", "--errors", str(errs)]
    assert esc.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    # the legal-threat rule fires on 12315 and "sue", never on "issue"; agent turns are left out
    assert result["overall"]["n"] == 4
    assert result["overall"]["recall"] == 1.0
    assert result["overall"]["false_escalation_rate"] == 0.0
    assert result["errors_written"] == 0
