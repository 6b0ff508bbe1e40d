"""The YAML rule engine: conditions, combinators, priorities, cooldowns, reasons, load errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from emotiondesk.errors import ConfigError
from emotiondesk.policy import ACTIONS, PolicyEngine, PolicyError
from emotiondesk.policy.rules import SAMPLE_FACTS


def facts(**kw):
    return dict(SAMPLE_FACTS, **kw)


def engine(yaml_text: str) -> PolicyEngine:
    return PolicyEngine.from_yaml(textwrap.dedent(yaml_text), source="test.yaml")


def actions(result):
    return [d.action for d in result.decisions]


@pytest.mark.parametrize(
    ("cond", "true_facts", "false_facts"),
    [
        ("emotion: anger", {"emotion": "anger"}, {"emotion": "joy"}),
        ("emotion: [anger, disgust]", {"emotion": "disgust"}, {"emotion": "fear"}),
        ("emotion: {not_in: [joy, neutral]}", {"emotion": "fear"}, {"emotion": "joy"}),
        ("polarity: negative", {"polarity": "negative"}, {"polarity": "neutral"}),
        ('score: "< 0.3"', {"score": 0.2}, {"score": 0.3}),
        ("score: {lte: 0.3}", {"score": 0.3}, {"score": 0.31}),
        ('risk: ">= 0.7"', {"risk": 0.7}, {"risk": 0.69}),
        ("risk: {between: [0.3, 0.6]}", {"risk": 0.45}, {"risk": 0.61}),
        ('slope: "< -0.05"', {"slope": -0.1}, {"slope": 0.0}),
        ("trend: worsening", {"trend": "worsening"}, {"trend": "stable"}),
        ("keywords: [退款, refund]", {"text": "我要退款"}, {"text": "我要发票"}),
        ("keywords: {all: [late, refund]}", {"text": "Late! Refund me"}, {"text": "late"}),
        # Latin keywords match whole words: "sue" is not in "issue", 12315 not in 123156
        (
            "keywords: [sue, 12315]",
            {"text": "I will sue you"},
            {"text": "Can you issue an invoice?"},
        ),
        ("keywords: [sue, 12315]", {"text": "我要打12315"}, {"text": "订单号123156"}),
        ("keywords: [legal action]", {"text": "Legal action next"}, {"text": "illegal actions"}),
        ("language: zh", {"language": "zh"}, {"language": "en"}),
        ("channel: [app, web]", {"channel": "app"}, {"channel": "phone"}),
        ("tier: vip", {"tier": "vip"}, {"tier": None}),
        ("turn: {gte: 3}", {"turn": 3}, {"turn": 2}),
        ("turn: 2", {"turn": 2}, {"turn": 3}),
        ('consecutive_negative: "> 1"', {"consecutive_negative": 2}, {"consecutive_negative": 1}),
        ("request: [human, complaint]", {"request": ["complaint"]}, {"request": ["refund"]}),
        ("request: {none: [refund]}", {"request": []}, {"request": ["refund"]}),
        ("risk_reason: repetition", {"risk_reason": ["repetition"]}, {"risk_reason": []}),
        ("closing: true", {"closing": True}, {"closing": False}),
        ("question: false", {"question": False}, {"question": True}),
        ("escalated: false", {"escalated": False}, {"escalated": True}),
        ("tag: vip_at_risk", {"tag": ["vip_at_risk"]}, {"tag": []}),
    ],
)
def test_conditions(cond, true_facts, false_facts):
    e = (
        engine(f"""
        rules:
          - id: r
            when: {{{cond}}}
            then: [comfort]
        """)
        if cond.startswith("{")
        else engine(f"""
        rules:
          - id: r
            when:
              {cond}
            then: [comfort]
        """)
    )
    assert actions(e.evaluate(facts(**true_facts), fired={}, turn=1)) == ["comfort"]
    assert actions(e.evaluate(facts(**false_facts), fired={}, turn=1)) == []


def test_combinators_all_any_not_and_implicit_all():
    e = engine("""
        rules:
          - id: r
            when:
              all:
                - any:
                    - emotion: anger
                    - risk: ">= 0.8"
                - not: {tier: vip}
              language: en
            then: [escalate_to_senior]
        """)
    assert actions(e.evaluate(facts(emotion="anger", tier="std", language="en"), fired={}, turn=1))
    assert actions(e.evaluate(facts(risk=0.9, tier="std", language="en"), fired={}, turn=1))
    assert not actions(
        e.evaluate(facts(emotion="anger", tier="vip", language="en"), fired={}, turn=1)
    )
    assert not actions(
        e.evaluate(facts(emotion="anger", tier="std", language="zh"), fired={}, turn=1)
    )
    assert not actions(
        e.evaluate(facts(emotion="joy", tier="std", language="en"), fired={}, turn=1)
    )


def test_priorities_order_decisions_and_stop_skips_lower_rules():
    e = engine("""
        rules:
          - id: low
            priority: 1
            when: {polarity: negative}
            then: [apologise]
          - id: high
            priority: 50
            when: {polarity: negative}
            then: [comfort, apologise]
          - id: top
            priority: 99
            when: {emotion: anger}
            then: [escalate_to_senior]
            stop: true
        """)
    r = e.evaluate(facts(polarity="negative"), fired={}, turn=1)
    assert [(d.action, d.rule) for d in r.decisions] == [("comfort", "high"), ("apologise", "high")]
    r = e.evaluate(facts(polarity="negative", emotion="anger"), fired={}, turn=1)
    assert actions(r) == ["escalate_to_senior"]


def test_cooldown_in_turns():
    e = engine("""
        rules:
          - id: sorry
            cooldown: 2
            when: {polarity: negative}
            then: [apologise]
        """)
    fired: dict[str, int] = {}
    seen = []
    for turn in range(1, 8):
        r = e.evaluate(facts(polarity="negative"), fired=fired, turn=turn)
        fired = r.fired
        seen.append(bool(r.decisions))
        if not r.decisions:
            assert r.suppressed == ["sorry"]
    assert seen == [True, False, False, True, False, False, True]


def test_every_decision_has_a_reason_with_the_matched_conditions():
    e = engine("""
        rules:
          - id: angry
            when: {emotion: anger, risk: ">= 0.5"}
            then: [escalate_to_senior, {tag: angry}, {alert: {severity: high, message: boom}}]
            reason: "risk is {risk:.2f}"
          - id: no_reason_given
            when: {polarity: negative}
            then: [apologise]
        """)
    r = e.evaluate(facts(emotion="anger", risk=0.75, polarity="negative"), fired={}, turn=1)
    assert [d.action for d in r.decisions] == ["escalate_to_senior", "tag", "alert", "apologise"]
    for d in r.decisions:
        assert d.reason
    assert "risk is 0.75" in r.decisions[0].reason
    assert "emotion=anger" in r.decisions[0].reason and "risk 0.75 >= 0.5" in r.decisions[0].reason
    assert r.decisions[1].params == {"value": "angry"}
    assert r.decisions[2].params == {"severity": "high", "message": "boom"}
    assert "polarity=negative" in r.decisions[3].reason


def test_default_rules_load_and_implement_the_obvious_policy():
    e = PolicyEngine.default()
    assert {a for r in e.rules for a in (x.name for x in r.then)} <= set(ACTIONS)

    def run(**kw):
        return actions(e.evaluate(facts(**kw), fired={}, turn=kw.get("turn", 3)))

    assert "escalate_to_senior" in run(emotion="anger", intensity=0.8, polarity="negative")
    assert "escalate_to_senior" in run(risk=0.8)
    assert "escalate_to_senior" in run(request=["human"], text="转人工")
    assert "reassure" in run(emotion="fear", polarity="negative")
    assert {"comfort", "apologise"} <= set(run(emotion="sadness", polarity="negative"))
    assert "recommend" in run(emotion="joy", polarity="positive", closing=True, turn=4)
    assert "recommend" not in run(emotion="joy", polarity="positive", closing=True, escalated=True)
    assert "alert" in run(text="I will sue you, my lawyer will call")
    # a plain question the model reads as angry is not escalated; a strong reading still is
    assert "escalate_to_senior" not in run(emotion="anger", intensity=0.7, anger=0.7, question=True)
    assert "escalate_to_senior" in run(emotion="anger", intensity=0.95, anger=0.95, question=True)
    assert run() == []


def _error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        engine(text)
    assert isinstance(info.value, ConfigError)
    assert "test.yaml" in str(info.value)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("rules:\n  - id: a\n    when: {emotion: angry}\n    then: [comfort]\n", 3, "angry"),
        (
            "rules:\n  - id: a\n    when: {emotion: anger}\n    then: [shout]\n",
            4,
            "unknown action 'shout'",
        ),
        (
            "rules:\n  - id: a\n    when: {mood: anger}\n    then: [comfort]\n",
            3,
            "unknown condition 'mood'",
        ),
        (
            "rules:\n  - id: a\n    when: {risk: 'about 0.7'}\n    then: [comfort]\n",
            3,
            "comparison",
        ),
        ("rules:\n  - id: a\n    when: {risk: {gte: high}}\n    then: [comfort]\n", 3, "number"),
        (
            "rules:\n  - id: a\n    when: {risk: {approx: 1}}\n    then: [comfort]\n",
            3,
            "unknown comparison",
        ),
        ("rules:\n  - id: a\n    when: {emotion: anger}\n", 2, "needs 'then'"),
        (
            "rules:\n  - id: a\n    when: {emotion: anger}\n    then: [tag]\n",
            4,
            "tag needs a value",
        ),
        (
            "rules:\n  - id: a\n    when: {emotion: anger}\n    then:\n      - alert: {severity: loud}\n",
            5,
            "severity",
        ),
        (
            "rules:\n  - id: a\n    cooldown: -1\n    when: {emotion: anger}\n    then: [comfort]\n",
            3,
            ">= 0",
        ),
        (
            "rules:\n  - id: a\n    priority: high\n    when: {emotion: anger}\n    then: [comfort]\n",
            3,
            "integer",
        ),
        (
            "rules:\n  - id: a\n    when: {emotion: anger}\n    then: [comfort]\n"
            "  - id: a\n    when: {emotion: joy}\n    then: [recommend]\n",
            5,
            "duplicate rule id",
        ),
        (
            "rules:\n  - id: a\n    when: {emotion: anger}\n    then: [comfort]\n    colour: red\n",
            5,
            "unknown rule key",
        ),
        (
            "rules:\n  - id: a\n    when: {emotion: anger}\n    then: [comfort]\n    reason: '{nope}'\n",
            5,
            "placeholder",
        ),
        (
            "rules:\n  - id: a\n    when: {emotion: [anger\n    then: [comfort]\n",
            4,
            "not valid YAML",
        ),
        ("rules:\n  - id: a\n    when: {any: []}\n    then: [comfort]\n", 3, "at least one"),
        ("rules:\n  - id: a\n    when: {}\n    then: [comfort]\n", 3, "must not be empty"),
        ("version: 2\nrules: []\n", 1, "version"),
        ("rulez: []\n", 1, "unknown top-level key"),
    ],
)
def test_invalid_rule_files_fail_with_file_line_and_reason(text, line, fragment):
    err = _error(text)
    assert err.line == line, str(err)
    assert fragment in str(err)
    assert f"line {line}" in str(err)


def test_rule_file_from_disk_and_missing_file(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - id: a\n    when: {emotion: anger}\n    then: [comfort]\n", "utf-8")
    assert [r.id for r in PolicyEngine.from_file(path).rules] == ["a"]
    with pytest.raises(PolicyError, match="does not exist"):
        PolicyEngine.from_file(tmp_path / "nope.yaml")
    path.write_text("", "utf-8")
    with pytest.raises(PolicyError, match="empty"):
        PolicyEngine.from_file(path)


def test_disabled_rules_are_skipped():
    e = engine("""
        rules:
          - id: a
            enabled: false
            when: {emotion: anger}
            then: [comfort]
        """)
    assert e.rules == []


# -- the rule file in use: the setting, and a bad file at service start --------------------------


def test_the_setting_names_the_rule_file_and_a_bad_one_stops_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emotiondesk.config import Settings, get_settings
    from emotiondesk.service.app import create_app
    from emotiondesk.usecases.conversation import ConversationEngine

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: vip\n    when: {tier: vip}\n    then: [escalate_to_senior]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("EMOTIONDESK_POLICY_FILE", str(rules))
    get_settings.cache_clear()
    try:
        engine = ConversationEngine.from_settings(None)
        assert [r.id for r in engine.policy.rules] == ["vip"]
        assert engine.policy.source == str(rules)
        decided = engine.policy.evaluate(facts(tier="vip"), fired={}, turn=1).decisions
        assert [d.action for d in decided] == ["escalate_to_senior"]
    finally:
        get_settings.cache_clear()
    rules.write_text(
        "rules:\n  - id: x\n    when:\n      emotion: furious\n    then: [comfort]\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match=r"rules.yaml, line 4: emotion 'furious' is not one of"):
        create_app(Settings(dev=True, policy_file=rules, database_url="sqlite://"))


def test_every_fact_of_the_vocabulary_is_a_condition() -> None:
    from emotiondesk.policy.vocabulary import vocabulary

    example = {"choice": "x", "number": '">= 0"', "set": "x", "bool": "true"}
    for name, spec in vocabulary()["facts"].items():
        if spec["type"] == "text":
            continue
        value = "neutral" if spec.get("labels") else example[spec["type"]]
        if spec.get("values"):
            value = spec["values"][0]
        engine = PolicyEngine.from_yaml(
            f"rules:\n  - id: r\n    when: {{{name}: {value}}}\n    then: [comfort]\n"
        )
        assert engine.rules[0].when.field == name
    assert _error(
        "rules:\n  - id: r\n    when: {mood: x}\n    then: [comfort]\n"
    ).reason.startswith("unknown condition 'mood'; known: all, any, not, keywords, emotion")
