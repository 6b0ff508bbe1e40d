"""Feedback reading: the conflict rule on tiny fixtures, filters, training rows (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emotiondesk.errors import InvalidInputError
from emotiondesk.storage import feedback as fbk
from emotiondesk.storage import make_engine, make_session_factory, upgrade_database
from emotiondesk.storage import repository as repo
from emotiondesk.storage.tables import Feedback

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def record(i: int, message: str, minutes: int, **labels: str | None) -> fbk.FeedbackRecord:
    return fbk.FeedbackRecord(
        id=i,
        message_id=message,
        conversation_id="c",
        text=f"text {message}",
        language="zh",
        polarity=labels.get("polarity"),
        emotion=labels.get("emotion"),
        predicted_polarity="positive",
        predicted_emotion="joy",
        note=None,
        author=f"agent-{i}",
        model_version="v1",
        used_for_training=False,
        created_at=T0 + timedelta(minutes=minutes),
    )


def test_latest_correction_wins_and_conflict_is_reported() -> None:
    rows = [
        record(1, "m1", 0, polarity="negative"),
        record(2, "m1", 10, polarity="neutral", emotion="sadness"),
        record(3, "m2", 5, polarity="negative"),
        record(4, "m2", 6, polarity="negative"),
    ]
    resolved = {r.message_id: r for r in fbk.resolve_labels(rows, task="polarity")}
    assert resolved["m1"].label == "neutral" and resolved["m1"].conflict
    assert resolved["m1"].labels == ("negative", "neutral")
    assert resolved["m1"].feedback_id == 2 and resolved["m1"].feedback_ids == (1, 2)
    assert resolved["m1"].old_label == "positive" and resolved["m1"].author == "agent-2"
    # agreeing corrections are no conflict
    assert resolved["m2"].label == "negative" and not resolved["m2"].conflict
    emotion = fbk.resolve_labels(rows, task="emotion")
    assert [(r.message_id, r.label, r.conflict) for r in emotion] == [("m1", "sadness", False)]


def test_equal_times_fall_back_to_the_later_id() -> None:
    rows = [record(8, "m", 0, emotion="anger"), record(7, "m", 0, emotion="fear")]
    (only,) = fbk.resolve_labels(rows, task="emotion")
    assert only.label == "anger" and only.feedback_id == 8 and only.conflict


def test_corrections_chain_old_to_new_labels() -> None:
    rows = [
        record(1, "m", 0, polarity="negative"),
        record(2, "m", 3, polarity="neutral"),
        record(3, "m", 4, emotion="fear"),
    ]
    chain = fbk.corrections(rows)["m"]
    assert [(c.task, c.previous, c.label) for c in chain] == [
        ("polarity", "positive", "negative"),
        ("polarity", "negative", "neutral"),
        ("emotion", "joy", "fear"),
    ]


def test_unknown_task_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="polarity or emotion"):
        fbk.resolve_labels([], task="sarcasm")


@pytest.fixture
def sessions(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade_database(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _message(s, conv, text: str, language: str):
    analysis = {"language": language, "polarity": "positive", "emotion": "joy", "score": 0.9}
    return repo.add_message(s, conversation=conv, role="customer", text=text, analysis=analysis)


def test_filters_pages_training_rows_and_marking(sessions) -> None:
    with sessions() as s:
        a = repo.create_conversation(s, workspace="default", channel="web")
        b = repo.create_conversation(s, workspace="default", channel="app")
        m1 = _message(s, a, "物流太慢了", "zh")
        m2 = _message(s, b, "late again", "en")
        f1 = repo.add_feedback(
            s, workspace="default", message_id=m1.id, polarity="negative", author="amy"
        )
        f2 = repo.add_feedback(
            s, workspace="default", message_id=m1.id, polarity="neutral", author="bo"
        )
        f3 = repo.add_feedback(
            s, workspace="default", message_id=m2.id, emotion="anger", author="amy"
        )
        # a later correction by time, stored earlier: time decides, not insertion order
        f1.created_at = T0 + timedelta(hours=2)
        f2.created_at = T0 + timedelta(hours=1)
        f3.created_at = T0 + timedelta(hours=3)
        s.commit()

        page = fbk.list_feedback(s, workspace="default", limit=2)
        assert page.total == 3 and [r.id for r in page.items] == [f2.id, f1.id]
        assert fbk.list_feedback(s, workspace="default", offset=2).items[0].id == f3.id
        assert [
            r.id for r in fbk.list_feedback(s, workspace="default", conversation_id=b.id).items
        ] == [f3.id]
        assert fbk.list_feedback(s, workspace="default", task="emotion").total == 1
        assert fbk.list_feedback(s, workspace="default", label="anger").total == 1
        assert (
            fbk.list_feedback(s, workspace="default", task="polarity", label="neutral").total == 1
        )
        assert fbk.list_feedback(s, workspace="default", language="en").total == 1
        after = fbk.list_feedback(s, workspace="default", created_after=T0 + timedelta(minutes=90))
        assert [r.id for r in after.items] == [f1.id, f3.id]
        assert (
            fbk.list_feedback(
                s, workspace="default", created_before=T0 + timedelta(minutes=90)
            ).total
            == 1
        )
        with pytest.raises(InvalidInputError, match="unknown label"):
            fbk.list_feedback(s, workspace="default", task="emotion", label="negative")

        (row,) = fbk.training_rows(s, workspace="default", task="polarity")
        assert (row.text, row.label, row.author) == ("物流太慢了", "negative", "amy")
        assert row.conflict and row.labels == ("neutral", "negative")
        assert row.old_label == "positive"
        assert [r.message_id for r in fbk.conflicting_messages(s, workspace="default")] == [m1.id]

        assert fbk.mark_feedback_used(s, workspace="default", feedback_ids=row.feedback_ids) == 2
        s.commit()
        assert fbk.training_rows(s, workspace="default", task="polarity", unused_only=True) == []
        assert fbk.list_feedback(s, workspace="default", used_for_training=False).total == 1
        assert s.get(Feedback, f1.id).used_for_training is True

        shown = fbk.corrections_for_messages(s, workspace="default", message_ids=[m1.id, m2.id])
        assert [(c.previous, c.label) for c in shown[m1.id]] == [
            ("positive", "neutral"),
            ("neutral", "negative"),
        ]
        assert shown[m2.id][0].task == "emotion"


def test_cli_export_csv_jsonl_parquet(tmp_path: Path) -> None:
    import csv
    import json

    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from emotiondesk.cli.main import app

    db = tmp_path / "fb.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    upgrade_database(engine)
    with make_session_factory(engine)() as s:
        conv = repo.create_conversation(s, workspace="default", channel="web")
        m1 = _message(s, conv, "物流太慢了", "zh")
        m2 = _message(s, conv, "late again", "en")
        for message, task, label, who in (
            (m1, "polarity", "negative", "amy"),
            (m1, "polarity", "neutral", "bo"),
            (m2, "emotion", "anger", "amy"),
        ):
            repo.add_feedback(
                s, workspace="default", message_id=message.id, author=who, **{task: label}
            )
        other = repo.create_conversation(s, workspace="shop2", channel="web")
        m3 = _message(s, other, "太好了", "zh")
        repo.add_feedback(s, workspace="shop2", message_id=m3.id, polarity="positive")
        s.commit()
    engine.dispose()
    runner = CliRunner()
    out = tmp_path / "fb.csv"
    r = runner.invoke(
        app, ["feedback", "export", "--out", str(out), "--url", str(db), "-w", "default"]
    )
    assert r.exit_code == 0, r.output
    assert "conflicting" in r.output and m1.id in r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 2 and list(rows[0])[:2] == ["text", "label"]  # default workspace only
    by = {(row["message_id"], row["task"]): row for row in rows}
    assert by[(m1.id, "polarity")]["label"] == "neutral"
    assert by[(m1.id, "polarity")]["conflict"] == "True"
    assert by[(m1.id, "polarity")]["old_label"] == "positive"
    assert by[(m1.id, "polarity")]["author"] == "bo"
    assert (
        by[(m2.id, "emotion")]["label"] == "anger" and by[(m2.id, "emotion")]["conflict"] == "False"
    )

    jl = tmp_path / "fb.jsonl"
    r = runner.invoke(
        app, ["feedback", "export", "-o", str(jl), "--url", str(db), "--task", "emotion", "--json"]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["rows"] == 1 and summary["conflicts"] == []
    (line,) = jl.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["text"] == "late again"

    pq_out = tmp_path / "fb.parquet"
    r = runner.invoke(app, ["feedback", "export", "-o", str(pq_out), "--url", str(db)])
    assert r.exit_code == 0 and pq.read_table(pq_out).num_rows == 3  # every workspace's

    r = runner.invoke(app, ["feedback", "export", "-o", str(tmp_path / "x.txt"), "--url", str(db)])
    assert r.exit_code != 0 and ".csv, .jsonl or .parquet" in r.output
