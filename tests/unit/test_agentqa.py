"""Agent quality: rubric scoring with evidence, the coach, virtual-customer practice."""

from __future__ import annotations

import json
import socket
from itertools import pairwise
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emotiondesk.agentqa import (
    FAIL,
    NA,
    PASS,
    AgentScorer,
    Coach,
    CustomerTurn,
    PracticeSession,
    Turn,
    list_scenarios,
    load_rubric,
    load_scenario,
)
from emotiondesk.cli.main import app
from emotiondesk.errors import ConfigError, InvalidInputError

ANGRY_EN = CustomerTurn("My parcel is ten days late and nobody tells me anything!", emotion="anger")
ANGRY_ZH = CustomerTurn("快递一周了还没到，也没人理我，气死了！", emotion="anger")


@pytest.fixture(scope="module")
def scorer() -> AgentScorer:
    return AgentScorer()


def test_dismissive_reply_fails_empathy_with_the_span(scorer: AgentScorer):
    reply = "Calm down, delays are normal this time of year."
    card = scorer.score_reply(reply, customer=ANGRY_EN)
    empathy = card.result("empathy")
    assert empathy.verdict == FAIL
    assert empathy.evidence is not None
    assert reply[empathy.evidence.start : empathy.evidence.end] == empathy.evidence.text
    assert empathy.evidence.text == "Calm down"
    assert empathy.trigger is not None and "late" in empathy.trigger.text
    assert card.result("no_blame").verdict == FAIL
    assert card.score is not None and card.score < 20


def test_acknowledging_reply_with_a_step_scores_high(scorer: AgentScorer):
    reply = (
        "I'm so sorry, I understand how frustrating this is. I've opened a trace with the "
        "courier and I'll email you an update by 5pm today."
    )
    card = scorer.score_reply(reply, customer=ANGRY_EN)
    verdicts = {r.criterion: r.verdict for r in card.results}
    assert verdicts["empathy"] == PASS
    assert verdicts["apology"] == PASS
    assert verdicts["next_step"] == PASS
    assert verdicts["timeframe"] == PASS
    assert card.score is not None and card.score >= 90
    assert card.result("empathy").evidence.text == "understand"


def test_chinese_replies(scorer: AgentScorer):
    bad = scorer.score_reply("这很正常，等着吧。", customer=ANGRY_ZH, first_reply=True)
    assert bad.result("empathy").verdict == FAIL
    assert bad.result("no_blame").evidence.text == "这很正常"
    assert bad.result("greeting").verdict == FAIL
    good = scorer.score_reply(
        "亲，非常抱歉让您等了这么久，换作是我也会着急。我已经为您联系快递加急，今天下午5点前给您回复。",
        customer=ANGRY_ZH,
        first_reply=True,
    )
    assert good.language == "zh"
    assert good.failed == []
    assert good.score == 100.0


def test_not_applicable_is_not_a_pass(scorer: AgentScorer):
    question = CustomerTurn("How long does delivery take to Manchester?", emotion="neutral")
    card = scorer.score_reply("Standard delivery takes 2-4 working days.", customer=question)
    assert card.result("empathy").verdict == NA
    assert card.result("apology").verdict == NA
    assert card.result("answers_question").verdict == PASS
    short = scorer.score_reply("It varies.", customer=question)
    assert short.result("answers_question").verdict == FAIL
    # N/A criteria count on neither side: two criteria applied, one passed
    assert short.score is not None and 0 < short.score < 100


def test_response_time_needs_both_timestamps(scorer: AgentScorer):
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cust = CustomerTurn("Where is my order?", emotion="neutral", sent_at=t0)
    fast = scorer.score_reply("It ships today.", customer=cust, reply_at=t0 + timedelta(seconds=20))
    slow = scorer.score_reply("It ships today.", customer=cust, reply_at=t0 + timedelta(minutes=5))
    untimed = scorer.score_reply("It ships today.", customer=cust)
    assert fast.result("response_time").verdict == PASS
    assert slow.result("response_time").verdict == FAIL
    assert untimed.result("response_time").verdict == NA


def test_stored_turns_with_naive_and_aware_timestamps(scorer: AgentScorer):
    from datetime import UTC, datetime

    from emotiondesk.agentqa import score_stored_turn

    history = [
        {
            "seq": 1,
            "role": "customer",
            "text": "Where is my parcel? It is a week late!",
            "analysis": {"emotion": "anger", "polarity": "negative", "language": "en"},
            "sent_at": datetime(2026, 1, 1, 10, 0, 0),  # naive, as SQLite returns it
        }
    ]
    turn = {
        "seq": 2,
        "role": "agent",
        "text": "I'm sorry, I understand. I'll send a replacement today.",
        "analysis": {"language": "en"},
        "sent_at": datetime(2026, 1, 1, 10, 0, 30, tzinfo=UTC),
    }
    card = score_stored_turn(scorer, history=history, turn=turn)
    assert card is not None and card["answered"]["turn"] == 1
    verdicts = {c["criterion"]: c["verdict"] for c in card["criteria"]}
    assert verdicts["response_time"] == "pass" and verdicts["greeting"] == "fail"
    assert score_stored_turn(scorer, history=history, turn={**turn, "role": "customer"}) is None


def test_stored_turn_state_of_an_agent_message_has_no_risk():
    from emotiondesk.usecases.conversation import StoredTurnState

    state = {"risk": {"value": 0.71, "carried_over": True}, "escalated": True}
    assert StoredTurnState.from_state(state, role="agent") == StoredTurnState()
    assert StoredTurnState.from_state(state, role="customer").risk == 0.71
    assert StoredTurnState.from_state(state).escalate is True


def test_conversation_score_and_turns(scorer: AgentScorer):
    conv = scorer.score_conversation(
        [
            Turn("customer", "Hi, where is my parcel?", "neutral"),
            Turn("customer", "It is a week late!", "anger"),
            Turn("agent", "Calm down."),
            Turn("customer", "Unbelievable.", "anger"),
            Turn(
                "agent",
                "I'm really sorry, I understand. I'll send a replacement by express today.",
            ),
        ]
    )
    assert len(conv.replies) == 2
    first, second = conv.replies
    assert first.answered is not None and first.answered.index == 1
    assert "It is a week late" in first.answered.text and first.answered.emotion == "anger"
    assert first.result("greeting").verdict == FAIL and second.result("greeting").verdict == NA
    assert first.score < second.score
    assert conv.score is not None and first.score < conv.score < second.score
    assert conv.by_criterion["greeting"] == {PASS: 0, FAIL: 1, NA: 1}
    with pytest.raises(InvalidInputError):
        scorer.score_conversation([Turn("robot", "hi")])


def test_empty_reply_is_refused(scorer: AgentScorer):
    with pytest.raises(InvalidInputError):
        scorer.score_reply("   ", customer=ANGRY_EN)


def test_rubric_file_errors(tmp_path: Path):
    bad = tmp_path / "rubric.yaml"
    bad.write_text("criteria:\n  - id: empathy\n    applies: sometimes\n    pass: {en: [x]}\n")
    with pytest.raises(ConfigError, match=r"criterion 'empathy'.*sometimes"):
        load_rubric(bad)
    bad.write_text("criteria:\n  - id: empathy\n    pass: {en: ['(unclosed']}\n")
    with pytest.raises(ConfigError, match="bad pattern"):
        load_rubric(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_rubric(tmp_path / "missing.yaml")
    custom = tmp_path / "mine.yaml"
    custom.write_text(
        "criteria:\n  - id: thanks\n    weight: 1\n    applies: always\n"
        "    pass: {en: ['\\bthank']}\n"
    )
    card = AgentScorer(load_rubric(custom)).score_reply("Thank you!", customer=ANGRY_EN)
    assert [r.criterion for r in card.results] == ["thanks"] and card.score == 100.0


def test_a_backspace_in_a_pattern_fails_at_load(tmp_path: Path):
    # \b in a double-quoted YAML string is a backspace: the pattern would never match.
    bad = tmp_path / "rubric.yaml"
    bad.write_text('criteria:\n  - id: x\n    fail: {en: ["\\bfoo\\b"]}\n')
    with pytest.raises(ConfigError, match="control character"):
        load_rubric(bad)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("This is not your fault at all. I'll reship it today.", PASS),
        ("That's your own fault, you should have read the page.", FAIL),
        ("You should have received it by Friday; I'm sorry, I'll chase it now.", PASS),
        ("不是您的错，我马上为您补发。", PASS),
        ("不需要您自己联系快递，我来处理。", PASS),
        ("需要您自己联系快递。", FAIL),
    ],
)
def test_negated_blame_is_not_blame(scorer: AgentScorer, reply: str, verdict: str):
    customer = ANGRY_ZH if not reply.isascii() else ANGRY_EN
    assert scorer.score_reply(reply, customer=customer).result("no_blame").verdict == verdict


def test_an_angry_customer_reports_a_fault_unless_it_is_their_own_slip(scorer: AgentScorer):
    plain = "Your courier's van sprayed mud over the box and me."  # no fault cue
    reply = "I'm sorry, I'll send a new one today."
    angry = scorer.score_reply(reply, customer=CustomerTurn(plain, emotion="anger"))
    assert angry.result("apology").verdict == PASS
    assert angry.result("apology").trigger is not None
    neutral = scorer.score_reply(reply, customer=CustomerTurn(plain, emotion="neutral"))
    assert neutral.result("apology").verdict == NA
    own = CustomerTurn("I typed my own address wrong, this is so annoying!", emotion="anger")
    assert scorer.score_reply(reply, customer=own).result("apology").verdict == NA


def test_coach_says_what_is_missing_and_improves_the_draft():
    coach = Coach()
    history = [Turn("customer", "My parcel is ten days late!!", "anger")]
    out = coach.coach("That's normal, delays happen.", history=history)
    missing = {m["criterion"]: m for m in out.missing}
    assert {"empathy", "next_step", "no_blame"} <= set(missing)
    assert "angry" in missing["empathy"]["message"]
    assert missing["no_blame"]["evidence"] == "That's normal"
    assert "normal" not in out.improved  # the blaming sentence is dropped
    assert out.improved_score.score > out.score.score
    assert out.improved_score.result("empathy").verdict == PASS
    assert out.source == "template"


def test_coach_uses_the_faq_for_a_question():
    coach = Coach()
    out = coach.coach(
        "Let me see.",
        history=[
            Turn("customer", "Hi", "neutral"),
            Turn("agent", "Hello, how can I help?"),
            Turn("customer", "How long does a refund take?", "neutral"),
        ],
    )
    assert out.faq_id == "refund-time"
    assert "1-3 working days" in out.improved
    assert out.improved_score.result("answers_question").verdict == PASS


def test_coach_falls_back_to_templates_when_the_llm_is_unreachable():
    from emotiondesk.replies.llm import LLMBackend

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    llm = LLMBackend(f"http://127.0.0.1:{port}/v1", "any", timeout=1.0)
    out = Coach(llm=llm).coach("ok", history=[Turn("customer", "Broken screen!!", "anger")])
    assert out.source == "template"
    assert out.llm_error and "unreachable" in out.llm_error


def test_scenarios_are_complete():
    ids = {s.id for s in list_scenarios()}
    assert ids == {
        "late_delivery",
        "broken_item",
        "refund_refused",
        "wrong_size",
        "vip_leaving",
        "question_only",
    }
    for s in list_scenarios():
        assert s.languages == ("en", "zh")
    with pytest.raises(InvalidInputError, match="unknown scenario"):
        load_scenario("alien_invasion")


def test_practice_dynamics():
    dismissive = PracticeSession(load_scenario("broken_item"), language="en", seed=3)
    step = dismissive.reply("Are you sure you didn't drop it? That's not our problem.")
    assert step.anger > dismissive.curve[0]
    while not dismissive.done:
        dismissive.reply("Whatever, just wait.")
    assert dismissive.report()["outcome"] == "escalated"

    vip = PracticeSession(load_scenario("vip_leaving"), language="zh", difficulty="hard")
    vip.reply("这很正常，您自己看说明。")
    assert vip.done and vip.outcome == "left"

    with pytest.raises(InvalidInputError, match="has ended"):
        vip.reply("还在吗？")
    with pytest.raises(InvalidInputError, match="difficulty"):
        PracticeSession(load_scenario("broken_item"), difficulty="nightmare")


def test_practice_replay_is_deterministic():
    s = PracticeSession(load_scenario("wrong_size"), language="en", seed=5)
    s.reply("Sorry. Please start an exchange in My Orders.")
    s.reply("I understand, I've sent the right size by express, it arrives tomorrow.")
    again = PracticeSession.replay(
        load_scenario("wrong_size"), s.replies(), language="en", difficulty="normal", seed=5
    )
    assert again.report() == s.report()


runner = CliRunner()

GOOD_EN = [
    "Hi, I'm really sorry, ten days is far too long and I understand how frustrating that is. "
    "I've opened a trace with the courier and I'll email you an update by 5pm today.",
    "I'll email you the courier's answer by 5pm today, and if the parcel hasn't moved by "
    "tomorrow I'll send a replacement by express at no cost. Sorry again, I understand.",
]
BAD_EN = ["Calm down, delays are normal.", "That's not our problem, ask the courier.", "Whatever."]
GOOD_ZH = [
    "亲，非常抱歉让您等了这么久，换作是我也会着急。我已经为您联系快递加急，今天下午5点前给您回复最新进度。",
    "今天下午5点前我会把最新物流发给您，如果明天还没动，我马上为您补发一件，非常抱歉，理解您的心情。",
]
BAD_ZH = ["这很正常，等着吧。", "快递的问题跟我们没关系，你自己联系快递。", "随便你。"]


def _run(lang: str, replies: list[str]) -> tuple[list[dict], dict]:
    r = runner.invoke(
        app,
        ["practice", "--scenario", "late_delivery", "--lang", lang, "--json"],
        input="\n".join(replies) + "\n",
    )
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    steps = [x for x in lines if "turn" in x]
    report = next(x["report"] for x in lines if "report" in x)
    return steps, report


@pytest.mark.parametrize(
    ("lang", "good", "bad"), [("en", GOOD_EN, BAD_EN), ("zh", GOOD_ZH, BAD_ZH)]
)
def test_practice_cli_scripted(lang: str, good: list[str], bad: list[str]):
    steps, report = _run(lang, bad)
    assert report["outcome"] == "escalated"
    curve = report["emotion_curve"]
    assert curve[-1] > curve[0] and all(b >= a for a, b in pairwise(curve))
    assert steps[0]["scorecard"]["failed"][:2] == ["greeting", "empathy"]
    assert "empathy" in report["weakest"]

    steps, report = _run(lang, good)
    assert report["outcome"] == "resolved"
    curve = report["emotion_curve"]
    assert all(b < a for a, b in pairwise(curve))
    assert report["score"] >= 90
    assert steps[-1]["outcome"] == "resolved"


def test_practice_cli_list_and_errors():
    r = runner.invoke(app, ["practice", "--list", "--json"])
    assert r.exit_code == 0
    assert "vip_leaving" in {x["id"] for x in json.loads(r.stdout)}
    r = runner.invoke(app, ["practice", "--scenario", "nope"], input="")
    assert r.exit_code == 2 and "unknown scenario" in r.output
    r = runner.invoke(app, ["practice", "--lang", "fr"], input="")
    assert r.exit_code == 2


# -- third pass: the kind of question and the kind of answer; general blame forms ----------
@pytest.mark.parametrize(
    ("customer", "reply", "verdict", "evidence", "trigger"),
    [
        # how much -> an amount
        (
            "How much is express shipping to Dublin?",
            "Express to Dublin is €12.50.",
            PASS,
            "€12.50",
            "How much",
        ),
        (
            "How much is express shipping to Dublin?",
            "It depends, you'll see it at checkout.",
            FAIL,
            None,
            "How much",
        ),
        # when -> a time
        (
            "When will my refund arrive?",
            "It will reach your card by Friday.",
            PASS,
            "Friday",
            "When",
        ),
        # why -> a reason; an action alone does not explain
        (
            "Why was I charged twice?",
            "Because the first payment timed out.",
            PASS,
            "Because",
            "Why",
        ),
        ("Why was I charged twice?", "I've refunded the duplicate now.", FAIL, None, "Why"),
        # X or Y -> one of the options
        (
            "Is this jacket waterproof or just water-resistant?",
            "Water-resistant only.",
            PASS,
            "Water",
            None,
        ),
        # a question back to the customer answers nothing
        ("Where is my parcel?", "Did you even look at the tracking page?", FAIL, None, "Where"),
        ("发顺丰的话运费多少钱？", "亲，顺丰运费12元哦。", PASS, "12元", "运费多少"),
        ("衣服洗过一次还能退吗？", "亲，洗过的衣服不能退哦。", PASS, "不能", "吗？"),
        (
            "怎么修改收货地址？",
            "亲，在我的订单里点开这一单就能改。",
            PASS,
            "在我的订单里",
            "怎么修改",
        ),
        ("我的订单怎么自动取消了？", "因为超时未付款，系统自动取消了。", PASS, "因为", "怎么自动"),
        ("到底什么时候发货？", "亲，已经在催仓库了，请您耐心等待。", FAIL, None, "什么时候"),
        ("我的退款进度呢？", "你自己不会在订单里看进度吗？", FAIL, None, "进度"),
    ],
)
def test_answers_question_matches_the_kind_of_answer(
    scorer: AgentScorer,
    customer: str,
    reply: str,
    verdict: str,
    evidence: str | None,
    trigger: str | None,
):
    result = scorer.score_reply(reply, customer=CustomerTurn(customer)).result("answers_question")
    assert result.verdict == verdict, result.note
    if evidence is None:
        assert result.evidence is None
    else:
        assert result.evidence is not None and result.evidence.text == evidence
        assert reply[result.evidence.start : result.evidence.end] == evidence
    if trigger is not None:
        assert result.trigger is not None and result.trigger.text == trigger
    assert "the customer asked" in result.note


@pytest.mark.parametrize(
    ("reply", "evidence"),
    [
        ("You really should order medication earlier than this.", "You really should order"),
        ("Shouting at me won't make it faster.", "Shouting at me won't make"),
        ("Glass is fragile, breakages happen in transit.", "breakages happen"),
        ("If it were available, you'd see it listed, wouldn't you?", "wouldn't you?"),
        ("Well, that's the courier's doing, not ours.", "courier's doing"),
        ("Don't panic, parcels arrive all the time.", "Don't panic"),
        ("You'll need to file a claim with the delivery company.", "You'll need to file"),
        ("运输过程中难免会有磕碰。", "难免"),
        ("您收到后是不是没及时放冰箱？", "您收到后是不是没"),
        ("这个要找快递理赔，跟我们店没关系。", "找快递"),
        ("驳回就是不符合条件呗。", "呗"),
        ("收货的时候您应该当场验货的。", "您应该当场"),
        ("都什么年代了，当然支持。", "都什么年代"),
    ],
)
def test_blame_dismissal_and_sarcasm_fail_no_blame_with_the_span(
    scorer: AgentScorer, reply: str, evidence: str
):
    result = scorer.score_reply(reply, customer=ANGRY_EN).result("no_blame")
    assert result.verdict == FAIL
    assert result.evidence is not None and result.evidence.text == evidence
    assert reply[result.evidence.start : result.evidence.end] == evidence


@pytest.mark.parametrize(
    "reply",
    [
        "Yes, the refund is issued, no need to call your bank.",
        "I'm sorry, this should never happen. I'll send a new one today.",
        "Whatever you prefer: a refund or a replacement.",
        "You can change the address under My Orders.",
        "我这边联系快递处理，今天给您回复。",
        "亲，您放心，一个字写错一般都能送到。",
    ],
)
def test_helpful_replies_pass_no_blame(scorer: AgentScorer, reply: str):
    assert scorer.score_reply(reply, customer=ANGRY_EN).result("no_blame").verdict == PASS


def test_question_types_in_a_rubric_file_are_checked(tmp_path: Path):
    import yaml

    from emotiondesk.agentqa.rubric import parse_rubric

    data = yaml.safe_load(
        (Path(__file__).parents[2] / "src/emotiondesk/agentqa/default_rubric.yaml").read_text(
            "utf-8"
        )
    )
    answers = next(c for c in data["criteria"] if c["id"] == "answers_question")
    answers["question_types"]["time"]["also"] = ["nonsense"]
    with pytest.raises(ConfigError, match="also names"):
        parse_rubric(data)
    del answers["question_types"]["time"]["answer"]
    with pytest.raises(ConfigError, match="needs 'ask' and 'answer'"):
        parse_rubric(data)


def test_the_coach_reads_customer_turns_with_the_fast_tier_and_caches_them():
    from emotiondesk import load_analyzer
    from emotiondesk.pack import shipped_pack_dir
    from emotiondesk.usecases.agent_quality import TurnReader

    fast = load_analyzer(shipped_pack_dir() / "fast")
    calls: list[list[str]] = []

    def analyze(texts: list[str]):
        calls.append(list(texts))
        return fast.analyze(texts)

    texts = ["快递一周了还没到，气死了！", "Where is my parcel?? This is ridiculous!"]
    reader = TurnReader("service", cache_size=2)  # the caller's analyze, cached
    first = reader.read(texts, analyze)
    assert first == [(r.emotion, r.polarity) for r in fast.analyze(texts)]
    assert reader.read(texts[::-1], analyze) == first[::-1]
    assert calls == [texts]  # the second read came from the cache
    reader.read(["Thanks, all sorted."], analyze)  # evicts the least recently used
    reader.read(texts[1:], analyze)  # texts[1] was the least recently used: read again
    assert calls[-1] == texts[1:]

    own = TurnReader("fast")  # its own pack: the caller's analyze is never called
    assert own.read(texts, analyze) == first
    assert len(calls) == 3
