"""Conversation state, trajectory, context, escalation risk and the engine on scripted conversations."""

from __future__ import annotations

import json

import pytest

from emotiondesk.analyzer import AnalysisResult
from emotiondesk.dialogue import (
    ContextParams,
    ConversationState,
    EscalationModel,
    read_in_context,
)
from emotiondesk.dialogue.context import ContextTurn, is_short
from emotiondesk.dialogue.cues import explicit_requests, is_closing
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS
from emotiondesk.usecases.conversation import ConversationEngine


def result(
    text: str, emotion: str, polarity: str, conf: float = 0.8, lang: str = "en"
) -> AnalysisResult:
    e = dict.fromkeys(EMOTION_LABELS, (1 - conf) / 6)
    e[emotion] = conf
    p = dict.fromkeys(POLARITY_LABELS, (1 - conf) / 2)
    p[polarity] = conf
    return AnalysisResult(text, lang, polarity, p, p["positive"] + 0.5 * p["neutral"], emotion, e)


@pytest.fixture
def engine() -> ConversationEngine:
    # context blending off so scripted readings are exactly the given ones
    return ConversationEngine(None, context_params={})


def play(engine, state, script):
    outs = []
    for item in script:
        role, text, emotion, polarity = item[:4]
        conf = item[4] if len(item) > 4 else 0.8
        lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"
        outs.append(
            engine.process(
                state, text, role=role, analysis=result(text, emotion, polarity, conf, lang)
            )
        )
    return outs


GETTING_ANGRIER = [
    ("customer", "Hi, where is my order #123?", "neutral", "neutral"),
    ("agent", "Let me check, one moment.", "neutral", "neutral"),
    ("customer", "It was due last week, I'm a bit worried.", "fear", "negative", 0.6),
    ("agent", "Sorry, I cannot find a tracking update.", "sadness", "negative"),
    ("customer", "This is really annoying, still nothing.", "anger", "negative", 0.55),
    ("customer", "Unacceptable! I want to talk to a human now!", "anger", "negative", 0.9),
]


def test_trajectory_of_a_conversation_getting_angrier(engine):
    state = engine.new_state("c1")
    outs = play(engine, state, GETTING_ANGRIER)
    t = state.trajectory
    assert t.customer_turns == 4
    assert t.start_emotion == "neutral" and t.start_score == pytest.approx(0.5)
    assert t.current_emotion == "anger" and t.current_score < 0.2
    assert t.trend == "worsening" and t.slope < 0
    assert t.consecutive_negative == 3 and t.negative_turns == 3
    assert [p["turn"] for p in t.anger_peaks] == [4, 5]
    assert t.max_anger == pytest.approx(0.9)
    risks = [o.risk.value for o in outs if o.role == "customer"]
    assert risks == sorted(risks) and risks[-1] >= 0.9
    last = outs[-1]
    codes = [r.code for r in last.risk.reasons]
    assert {"anger", "request_human", "worsening_trend", "negative_streak"} <= set(codes)
    escalations = [o.turn for o in outs if "escalate_to_senior" in [d.action for d in o.decisions]]
    assert escalations == [
        4,
        5,
    ]  # anger at turn 4; the explicit request is honoured despite cooldown
    assert any("asked for a person" in d.reason for d in last.decisions)
    assert state.escalated and "escalated" in state.tags
    # agent turns carry no decisions
    assert outs[1].decisions == [] and outs[1].risk is None


def test_trajectory_recovering_and_ending_happily(engine):
    state = engine.new_state("c2")
    outs = play(
        engine,
        state,
        [
            ("customer", "My phone case arrived cracked.", "sadness", "negative"),
            ("agent", "Sorry! We will send a new one today.", "neutral", "neutral"),
            ("customer", "OK, when will it arrive?", "neutral", "neutral"),
            ("agent", "Tomorrow by noon.", "neutral", "neutral"),
            ("customer", "Great, thank you so much!", "joy", "positive", 0.9),
        ],
    )
    t = state.trajectory
    assert t.trend == "improving" and t.consecutive_negative == 0
    assert t.start_emotion == "sadness" and t.current_emotion == "joy"
    assert {"comfort", "apologise"} <= {d.action for d in outs[0].decisions}
    last = outs[-1]
    assert "recommend" in [d.action for d in last.decisions]
    assert last.risk.value < 0.3
    assert last.suggestions.recommended, "a recommendation names a catalog item"
    assert "p-case" not in last.suggestions.recommended  # not what they already have


def test_empty_message_and_bad_role_are_clear_errors(engine):
    state = engine.new_state()
    for bad in ("", "   ", "\n\t"):
        with pytest.raises(InvalidInputError, match="empty"):
            engine.process(state, bad, analysis=result("x", "neutral", "neutral"))
    with pytest.raises(InvalidInputError, match="role"):
        engine.process(state, "hi", role="martian", analysis=result("hi", "neutral", "neutral"))
    with pytest.raises(InvalidInputError, match="analyzer"):
        engine.process(state, "hi")
    assert state.turn_count == 0


def test_thousands_of_turns_keep_bounded_state(engine):
    state = engine.new_state("long")
    for i in range(3000):
        role = "customer" if i % 2 == 0 else "agent"
        emotion, polarity = ("anger", "negative") if i % 7 == 0 else ("neutral", "neutral")
        engine.process(
            state, f"message number {i}", role=role, analysis=result("m", emotion, polarity)
        )
    assert state.turn_count == 3000
    assert len(state.window) == engine.window
    assert len(state.recent_scores) <= max(3, engine.window)
    assert len(state.trajectory.anger_peaks) <= 5
    assert len(state.used_templates) <= 24
    assert len(json.dumps(state.to_dict())) < 20_000
    assert state.trajectory.customer_turns == 1500


def test_state_round_trips_through_json(engine):
    state = engine.new_state("rt", channel="app", tier="vip")
    play(engine, state, GETTING_ANGRIER[:4])
    data = json.loads(json.dumps(state.to_dict()))
    again = ConversationState.from_dict(data)
    assert again.to_dict() == state.to_dict()
    # continuing from the stored state gives the same outcome as from the live one
    a = engine.process(state, "Still nothing!!", analysis=result("s", "anger", "negative"))
    b = engine.process(again, "Still nothing!!", analysis=result("s", "anger", "negative"))
    assert a.to_dict() == b.to_dict()
    with pytest.raises(InvalidInputError, match="malformed"):
        ConversationState.from_dict({"window": [{"index": 1}]})
    assert ConversationState.from_dict(None).turn_count == 0


def test_repetition_raises_risk(engine):
    state = engine.new_state()
    play(engine, state, [("customer", "Where is my refund for order 5521?", "neutral", "neutral")])
    out = play(
        engine, state, [("customer", "Where is my refund for order 5521??", "neutral", "neutral")]
    )[0]
    assert "repetition" in [r.code for r in out.risk.reasons]


def test_long_unresolved_conversation_raises_risk(engine):
    state = engine.new_state()
    outs = play(
        engine,
        state,
        [
            ("customer", f"hmm, not sure about option {i}", "neutral", "negative", 0.5)
            for i in range(10)
        ],
    )
    assert "long_unresolved" in [r.code for r in outs[-1].risk.reasons]
    assert "long_unresolved" not in [r.code for r in outs[2].risk.reasons]


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("我要投诉你们", {"complaint"}),
        ("给我转人工", {"human"}),
        ("人工客服在哪", {"human"}),
        ("赶紧退款", {"refund"}),
        ("Let me talk to a human please", {"human"}),
        ("I want a refund", {"refund"}),
        ("I'll file a complaint", {"complaint"}),
        ("Get me your manager", {"manager"}),
        ("Where is my parcel?", set()),
    ],
)
def test_explicit_requests(text, kinds):
    assert explicit_requests(text) == kinds


def test_plain_questions():
    from emotiondesk.dialogue.cues import is_plain_question

    assert is_plain_question("我的快递到哪了？") and is_plain_question("Can I change the address?")
    for text in ("怎么还没到？", "Why is it still not here?", "我要投诉，人呢？", "What?!"):
        assert not is_plain_question(text), text


def test_anger_read_into_a_plain_question_counts_half(engine):
    a = engine.process(
        engine.new_state(), "Where is my parcel?", analysis=result("q", "anger", "negative", 0.8)
    )
    b = engine.process(
        engine.new_state(), "Where is my parcel!", analysis=result("q", "anger", "negative", 0.8)
    )
    ca = next(r.contribution for r in a.risk.reasons if r.code == "anger")
    cb = next(r.contribution for r in b.risk.reasons if r.code == "anger")
    assert ca == pytest.approx(cb / 2)
    assert "escalate_to_senior" not in [d.action for d in a.decisions]
    assert "escalate_to_senior" in [d.action for d in b.decisions]


def test_closing_cues():
    assert is_closing("好的，谢谢") and is_closing("Thanks, that's all")
    assert not is_closing("where is it")


def test_context_changes_a_short_turn_after_complaints():
    angry = result("x", "anger", "negative", 0.9)
    history = [ContextTurn("customer", angry.emotion_scores, angry.polarity_scores)] * 3
    fine = result("fine.", "joy", "positive", 0.7)
    params = ContextParams(alpha_short=0.6, alpha_long=0.1)
    r = read_in_context(fine, history, role="customer", params=params)
    assert r.polarity == "negative" and r.score < 0.5 and r.context_weight == 0.6
    long_text = result(
        "fine, the replacement works and I am happy with it now", "joy", "positive", 0.9
    )
    r = read_in_context(long_text, history, role="customer", params=params)
    assert r.polarity == "positive" and r.context_weight == 0.1
    # no context, or no history: the turn's own reading
    r = read_in_context(fine, history, role="customer", params=ContextParams())
    assert r.emotion == "joy" and r.context_weight == 0.0
    assert read_in_context(fine, [], role="customer", params=params).emotion == "joy"
    assert is_short("好吧", "zh", params) and not is_short("这个快递怎么还没有到啊", "zh", params)


def test_escalation_model_json_is_validated(tmp_path):
    model = EscalationModel.load()
    p = model.probability(dict.fromkeys(model.features, 0.0))
    assert 0.0 < p < 1.0
    assert 1.0 <= model.satisfaction({}) <= 5.0
    bad = tmp_path / "m.json"
    bad.write_text(
        json.dumps({"features": ["neg"], "mean": [0], "scale": [1], "coef": [], "intercept": 0})
    )
    with pytest.raises(ModelError):
        EscalationModel.load(bad)
    bad.write_text(
        json.dumps(
            {"features": ["shoe_size"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0}
        )
    )
    with pytest.raises(ModelError, match="unknown features"):
        EscalationModel.load(bad)


def test_engine_with_a_real_analyzer(tiny_pack):
    from emotiondesk.analyzer import load_analyzer

    engine = ConversationEngine(load_analyzer(tiny_pack))
    state = engine.new_state("real")
    a = engine.process(state, "订单什么时候发货")
    b = engine.process(state, "等了一个星期还没到，太气人了，我要投诉")
    assert a.analysis.language == "zh" and b.reading.emotion == "anger"
    assert "escalate_to_senior" in [d.action for d in b.decisions]
    assert all(any("\u4e00" <= c <= "\u9fff" for c in s.text) for s in b.suggestions.suggestions)


def test_risk_rules_are_data_and_user_overridable(tmp_path) -> None:
    from emotiondesk.dialogue.risk import RiskRules, assess_risk
    from emotiondesk.errors import DataError

    shipped = RiskRules.load()
    assert shipped is RiskRules.load()  # read once
    assert shipped.requests["complaint"]["weight"] == 0.65
    own = tmp_path / "risk.yaml"
    own.write_text("requests:\n  refund: {weight: 0.9, text: wants the money back}\n", "utf-8")
    rules = RiskRules.load(own)
    assert rules.requests["refund"]["weight"] == 0.9 and rules.anger == shipped.anger
    feats = dict.fromkeys(EscalationModel.load().features, 0.0)
    args = dict(
        anger=0.0,
        trend="stable",
        slope=0.0,
        smoothed_score=0.6,
        consecutive_negative=0,
        requests=["refund"],
        repetition=0.0,
        customer_turns=1,
        model=EscalationModel.load(),
    )
    mine = assess_risk(feats, rules=rules, **args)
    default = assess_risk(feats, **args)
    assert [r.detail for r in mine.reasons if r.code == "request_refund"] == [
        "wants the money back"
    ]
    assert mine.value > default.value
    own.write_text("anger: {floor: high}\n", "utf-8")
    with pytest.raises(DataError, match=r"anger\.floor must be a number"):
        RiskRules.load(own)
    own.write_text("angry: {}\n", "utf-8")
    with pytest.raises(DataError, match="unknown section"):
        RiskRules.load(own)
