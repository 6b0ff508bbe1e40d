"""The learning loop's pieces: the correction model, the registry, learn, the gate, promotion.

Everything runs on the tiny pack (seconds). The end-to-end test through the
real HTTP service is tests/integration/test_learning_loop.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emotiondesk.analyzer import load_analyzer
from emotiondesk.cli.main import app
from emotiondesk.errors import InvalidInputError, ModelError, PromotionRefusedError
from emotiondesk.evaluation.gate import (
    GateSet,
    Thresholds,
    load_thresholds,
    report_markdown,
    run_gate,
    shipped_gate_sets,
    write_report,
)
from emotiondesk.models.base import load_model
from emotiondesk.models.corrected import CorrectedClassifier
from emotiondesk.registry import Registry
from emotiondesk.training.learn import FeedbackRow, build_candidate, is_held_back, split_feedback
from tests.conftest import TINY_ZH
from tests.learning_data import anchor_texts, domain_messages

runner = CliRunner()


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def domain_rows() -> list[FeedbackRow]:
    return [
        FeedbackRow(
            id=i + 1,
            message_id=f"m{i}",
            text=t,
            language="zh",
            polarity="negative",
            emotion="anger",
        )
        for i, t in enumerate(domain_messages())
    ]


@pytest.fixture
def registry(tiny_pack: Path, tmp_path: Path) -> Registry:
    return Registry.init(tmp_path / "registry", source=tiny_pack, by="tester")


def test_corrected_model_learns_the_corrections_and_round_trips(
    tiny_pack: Path, tmp_path: Path
) -> None:
    base = load_model(tiny_pack / "zh-emotion-ngram")
    texts = domain_messages()
    train = [t for t in texts if not is_held_back(t)]
    held = [t for t in texts if is_held_back(t)]
    assert held and train
    clf = CorrectedClassifier("zh-emotion-ngram", language="zh").set_base(base)
    clf.fit(train, ["anger"] * len(train), anchors=anchor_texts())
    before = np.mean([y == "anger" for y in base.predict(held)])
    after = np.mean([y == "anger" for y in clf.predict(held)])
    assert after > before and after >= 0.8, (before, after)
    # ordinary traffic keeps the base's reading
    general = [t for t, _, _ in TINY_ZH]
    assert clf.predict(general) == base.predict(general)
    (tmp_path / "zh-emotion-ngram").symlink_to(tiny_pack / "zh-emotion-ngram")
    clf.save_pretrained(tmp_path / "corr")
    loaded = load_model(tmp_path / "corr")
    np.testing.assert_allclose(loaded.predict_proba(held), clf.predict_proba(held), atol=1e-5)


def test_corrected_model_refuses_a_base_outside_its_directory(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(
        json.dumps({"model_type": "corrected", "labels": ["a"], "base": "../../etc"})
    )
    with pytest.raises(ModelError, match="relative path without"):
        load_model(tmp_path / "m")


def test_holdback_is_deterministic_and_by_text() -> None:
    rows = domain_rows()
    _train, held = split_feedback(rows)
    _again_train, again_held = split_feedback(list(reversed(rows)))
    assert {r.id for r in held} == {r.id for r in again_held}
    assert 0 < len(held) < len(rows)
    twin = FeedbackRow(id=999, message_id="x", text=held[0].text, language="zh", emotion="joy")
    assert is_held_back(twin.text)  # the same text is held back whatever its id


def test_registry_init_serves_its_champion(registry: Registry) -> None:
    assert registry.aliases() == {"champion": "v1"}
    assert load_analyzer(registry.root).version == "tiny-v1"
    assert [e["action"] for e in registry.audit()] == ["init"]
    with pytest.raises(ModelError, match="already a model registry"):
        Registry.init(registry.root)


def test_learn_builds_a_challenger_with_a_card(registry: Registry) -> None:
    rows = domain_rows()
    result = build_candidate(registry, rows, anchors=[(t, None) for t in anchor_texts()], by="ann")
    assert result.version == "v2" and result.parent == "v1"
    assert registry.aliases() == {"champion": "v1", "challenger": "v2"}
    card = registry.card("v2")
    assert card["parent"] == "v1" and card["by"] == "ann"
    assert set(card["feedback"]["train_ids"]) == set(result.trained_ids)
    assert not set(result.trained_ids) & set(result.held_back_ids)
    assert set(result.trained_ids) | set(result.held_back_ids) == {r.id for r in rows}
    assert set(card["models"]) == {"zh/polarity", "zh/emotion"}
    assert card["unchanged"] == {"en/polarity": "no corrections", "en/emotion": "no corrections"}
    assert "Model version v2" in (result.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    # the candidate reads the held-back domain texts better; the champion is untouched
    held = [r.text for r in rows if r.id in set(result.held_back_ids)]
    cand = load_analyzer(result.path).analyze(held)
    champ = load_analyzer(registry.root).analyze(held)
    assert cand[0].model == "tiny-v2" and champ[0].model == "tiny-v1"
    assert sum(r.emotion == "anger" for r in cand) > sum(r.emotion == "anger" for r in champ)
    # a second learn refits on the champion's base, not on a correction of a correction
    registry.promote("v2", force=True, by="ann")
    again = build_candidate(registry, rows)
    assert again.card["models"]["zh/emotion"]["base"] == "zh-emotion-ngram"


def test_learn_without_enough_rows_says_why(registry: Registry) -> None:
    rows = [r for r in domain_rows() if not is_held_back(r.text)][:2]
    with pytest.raises(InvalidInputError, match="2 rows < 5"):
        build_candidate(registry, rows)


def _gate_set(name: str, rows: list[tuple[str, str, str]], task: str = "emotion") -> GateSet:
    col = 1 if task == "polarity" else 2
    return GateSet(name, task, [r[0] for r in rows], [r[col] for r in rows], ["zh"] * len(rows))


def _poisoned_candidate(registry: Registry) -> str:
    """A candidate trained on wrong corrections: thanks labelled as anger."""
    joy = [t for t, _, e in TINY_ZH if e == "joy"]
    rows = [
        FeedbackRow(id=i + 1, message_id=f"p{i}", text=t, language="zh", emotion="anger")
        for i, t in enumerate(joy * 3 + [t + "！" for t in joy] * 3)
    ]
    return build_candidate(registry, rows, holdback=0.0, min_rows=1).version


def test_gate_refuses_a_regressing_class_and_promote_names_it(
    registry: Registry, tmp_path: Path
) -> None:
    version = _poisoned_candidate(registry)
    th = Thresholds(min_support=3, class_max_drop=0.05)
    report = run_gate(
        registry.version_dir("v1"),
        registry.version_dir(version),
        [_gate_set("general", TINY_ZH)],
        thresholds=th,
        champion_version="v1",
        candidate_version=version,
    )
    assert not report["passed"]
    joy = [f for f in report["failures"] if "class 'joy'" in f]
    assert joy and re.search(r"F1 1\.000 -> 0\.\d{3} \(-[01]\.\d{3}, allowed -0\.050", joy[0]), joy
    write_report(report, registry.version_dir(version) / "gate")
    md = (registry.version_dir(version) / "gate" / "report.md").read_text(encoding="utf-8")
    assert "Confusion matrix, candidate" in md and "FAILED" in md

    res = runner.invoke(app, ["models", "promote", version, "--registry", str(registry.root)])
    assert res.exit_code == 2
    out = flat(res.output)
    assert f"promotion of {version} refused" in out and "class 'joy' F1 1.000 -> 0." in out
    assert registry.champion == "v1"

    res = runner.invoke(
        app,
        ["models", "promote", version, "--force", "--by", "lead", "--registry", str(registry.root)],
    )
    assert res.exit_code == 0, res.output
    assert registry.champion == version
    last = registry.audit()[-1]
    assert last["action"] == "promote" and last["force"] is True and last["by"] == "lead"
    assert last["gate_passed"] is False and "class 'joy'" in last["reason"]


def test_promotion_needs_a_gate_against_the_current_champion(registry: Registry) -> None:
    result = build_candidate(registry, domain_rows())
    with pytest.raises(PromotionRefusedError, match="has no gate report"):
        registry.promote(result.version)
    gate = registry.version_dir(result.version) / "gate"
    write_report(
        {
            "passed": True,
            "failures": [],
            "champion": {"version": "v0", "model": ""},
            "sets": [],
            "candidate": {"version": result.version, "model": ""},
        },
        gate,
    )
    with pytest.raises(PromotionRefusedError, match="the champion is now v1"):
        registry.promote(result.version)


def test_promote_and_rollback_through_the_cli(registry: Registry) -> None:
    result = build_candidate(registry, domain_rows())
    report = run_gate(
        registry.version_dir("v1"),
        result.path,
        [_gate_set("general", TINY_ZH)],
        thresholds=Thresholds(min_support=3),
        champion_version="v1",
        candidate_version=result.version,
    )
    assert report["passed"], report["failures"]
    write_report(report, result.path / "gate")
    root = str(registry.root)
    assert runner.invoke(app, ["models", "promote", "v2", "--registry", root]).exit_code == 0
    assert load_analyzer(registry.root).version == "tiny-v2"
    listed = runner.invoke(app, ["models", "list", "--pack", root, "--json"])
    versions = {v["version"]: v for v in json.loads(listed.stdout)["versions"]}
    assert versions["v2"]["aliases"] == ["champion"] and versions["v2"]["gate"] is True
    shown = json.loads(
        runner.invoke(app, ["models", "show", "v2", "--registry", root, "--json"]).stdout
    )
    assert shown["card"]["parent"] == "v1" and shown["gate"]["passed"] is True
    assert runner.invoke(app, ["models", "rollback", "--registry", root]).exit_code == 0
    assert registry.champion == "v1" and load_analyzer(registry.root).version == "tiny-v1"
    res = runner.invoke(app, ["models", "rollback", "--registry", root])
    assert res.exit_code == 2 and "nothing to roll back to" in flat(res.output)
    actions = [e["action"] for e in registry.audit()]
    assert actions == ["init", "challenger", "promote", "rollback"]
    audit = runner.invoke(app, ["models", "audit", "--registry", root, "--json"])
    assert json.loads(audit.stdout)["audit"][2]["report"].endswith("gate/report.json")


def test_thresholds_file_and_shipped_sets(tmp_path: Path) -> None:
    path = tmp_path / "th.yaml"
    path.write_text("min_support: 5\nclass_max_drop_per_class: {anger: 0.1}\n", encoding="utf-8")
    th = load_thresholds(path)
    assert th.min_support == 5 and th.class_drop("anger") == 0.1 and th.class_drop("joy") == 0.05
    path.write_text("max_drop: 1\n", encoding="utf-8")
    with pytest.raises(Exception, match="unknown gate thresholds"):
        load_thresholds(path)
    sets, _notes = shipped_gate_sets()
    names = {(s.name, s.task) for s in sets}
    assert ("cs_turns", "emotion") in names and ("cs_inquiries_zh_heldout", "polarity") in names
    turns = next(s for s in sets if s.name == "cs_turns")
    assert set(turns.languages) == {"zh", "en"}


def test_report_markdown_lists_failures_first() -> None:
    report = {
        "passed": False,
        "failures": ["general zh emotion: class 'joy' F1 1.000 -> 0.500"],
        "champion": {"version": "v1", "model": "a"},
        "candidate": {"version": "v2", "model": "b"},
        "sets": [],
    }
    md = report_markdown(report)
    assert md.index("## Failures") < md.index("## Summary")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def learn_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'learn.sqlite'}"
    import os

    url = os.environ.get("EMOTIONDESK_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("EMOTIONDESK_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    from tests.integration.test_service_http import reset_postgres

    reset_postgres(url)
    return url


def test_learn_command_reads_the_database_and_marks_rows_used(
    registry: Registry, tmp_path: Path, learn_db: str
) -> None:
    from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
    from emotiondesk.storage import repository as repo
    from emotiondesk.storage.tables import Feedback
    from tests.learning_data import write_gate_file

    url = learn_db
    engine = make_engine(url)
    upgrade_database(engine)
    analyzer = load_analyzer(registry.root)
    with make_session_factory(engine)() as s:
        conv = repo.create_conversation(s, workspace="default", channel="chat")
        texts = domain_messages() + anchor_texts()
        for text, result in zip(texts, analyzer.analyze(texts), strict=True):
            msg = repo.add_message(
                s,
                conversation=conv,
                role="customer",
                text=text,
                analysis=result.to_dict(),
                model_version=result.model,
            )
            if text in domain_messages():
                repo.add_feedback(
                    s, workspace="default", message_id=msg.id, polarity="negative", emotion="anger"
                )
        # a conflict: the same message corrected twice; the latest correction wins
        repo.add_feedback(s, workspace="default", message_id=msg.id, emotion="joy")
        s.commit()
    gate_file = write_gate_file(tmp_path / "gate.csv", "emotion")
    th = tmp_path / "th.yaml"
    th.write_text("min_support: 3\n", encoding="utf-8")
    res = runner.invoke(
        app,
        [
            "learn",
            "--registry",
            str(registry.root),
            "--database",
            url,
            "--no-shipped-sets",
            "--gate-data",
            f"emotion:{gate_file}",
            "--thresholds",
            str(th),
            "--json",
            "--by",
            "ann",
        ],
    )
    assert res.exit_code in (0, 3), res.output
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1, lines  # --json: one object on stdout, progress on stderr
    out = json.loads(lines[0])
    assert out["version"] == "v2" and out["parent"] == "v1"
    card = registry.card("v2")
    assert sorted(card["feedback"]["train_ids"]) == out["trained_ids"]
    with make_session_factory(engine)() as s:
        used = {f.id for f in s.query(Feedback).filter(Feedback.used_for_training.is_(True))}
    assert used == set(out["trained_ids"]) and not used & set(out["held_back_ids"])
    report = registry.gate_report("v2")
    assert report is not None and report["champion"]["version"] == "v1"
    sets = {(s["set"], s["task"]) for s in report["sets"]}
    assert ("gate", "emotion") in sets and ("feedback (held back)", "emotion") in sets
    assert any("held-back feedback rows" in n for n in report["notes"])
    assert (registry.root / report["archived"]).is_file()
    engine.dispose()


def test_evaluate_and_models_info_take_a_registry(registry: Registry, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text(
        "text,label\n物流太慢了，气死我了,anger\n谢谢，非常满意,joy\n", encoding="utf-8"
    )
    res = runner.invoke(
        app,
        [
            "evaluate",
            "--task",
            "emotion",
            "--data",
            str(data),
            "--model",
            str(registry.root),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["model"] == "tiny-v1"
    res = runner.invoke(
        app, ["models", "info", "zh-emotion-ngram", "--pack", str(registry.root), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["config"]["model_type"] == "ngram"
