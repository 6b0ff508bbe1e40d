"""Analytics on constructed data with known answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from emotiondesk.analytics import (
    MessageRecord,
    SurgeDetector,
    breakdown,
    bucket_start,
    complaint_topics,
    detect_surges,
    emotion_mix,
    extract_aspects,
    fill_buckets,
    kpis,
    sentiment_trend,
    split_clauses,
    summarize_aspects,
)
from emotiondesk.analytics.topics import merge_groups
from emotiondesk.errors import InvalidInputError

T0 = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # a Monday


def rec(hours: float, polarity: str, **kw) -> MessageRecord:
    score = {"negative": 0.0, "neutral": 0.5, "positive": 1.0}[polarity]
    emotion = kw.pop(
        "emotion", {"negative": "anger", "neutral": "neutral", "positive": "joy"}[polarity]
    )
    return MessageRecord(
        timestamp=T0 + timedelta(hours=hours), polarity=polarity, score=score, emotion=emotion, **kw
    )


# -- trends ---------------------------------------------------------------------------------


def test_bucket_start_hour_day_week() -> None:
    ts = datetime(2026, 11, 26, 15, 45, tzinfo=UTC)  # Thursday
    assert bucket_start(ts, "hour") == datetime(2026, 11, 26, 15, tzinfo=UTC)
    assert bucket_start(ts, "day") == datetime(2026, 11, 26, tzinfo=UTC)
    assert bucket_start(ts, "week") == datetime(2026, 11, 23, tzinfo=UTC)
    naive = datetime(2026, 11, 26, 15, 45)
    assert bucket_start(naive, "hour").tzinfo is UTC
    with pytest.raises(InvalidInputError):
        bucket_start(ts, "month")


def test_sentiment_trend_by_day_and_channel() -> None:
    recs = [
        rec(0, "negative", channel="web"),
        rec(1, "positive", channel="web"),
        rec(2, "positive", channel="app"),
        rec(25, "negative", channel="app"),
        rec(26, "negative", channel="app", role="agent"),  # agents' turns are left out
    ]
    days = sentiment_trend(recs, granularity="day")
    assert [d.n for d in days] == [3, 1]
    assert days[0].share_negative == pytest.approx(1 / 3)
    assert days[0].satisfaction == pytest.approx(2 / 3)
    assert days[1].share_negative == 1.0
    by = sentiment_trend(recs, granularity="day", by="channel")
    assert [(g.bucket.day, g.key, g.n) for g in by] == [
        (23, "app", 1),
        (23, "web", 2),
        (24, "app", 1),
    ]
    assert sum(days[0].emotion_mix.values()) == pytest.approx(1.0)
    with pytest.raises(InvalidInputError):
        sentiment_trend(recs, by="colour")


def test_breakdown_kpis_and_emotion_mix() -> None:
    recs = [
        rec(0, "negative", agent_id="a", conversation_id="c1"),
        rec(1, "negative", agent_id="a", conversation_id="c1", emotion="sadness"),
        rec(2, "positive", agent_id="b", conversation_id="c2"),
    ]
    groups = breakdown(recs, by="agent_id")
    assert [(g.key, g.n, g.share_negative) for g in groups] == [("a", 2, 1.0), ("b", 1, 0.0)]
    k = kpis(recs)
    assert (k.messages, k.conversations, k.top_emotion) == (3, 2, "anger")
    assert k.share_negative == pytest.approx(2 / 3)
    mix = emotion_mix(recs)
    assert mix["anger"] == pytest.approx(1 / 3) and mix["fear"] == 0.0
    assert kpis([]).messages == 0


# -- aspects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("物流很快，但是包装太简陋了", {("logistics", "positive"), ("packaging", "negative")}),
        ("价格便宜，质量也不错", {("price", "positive"), ("quality", "positive")}),
        ("质量不太好，客服态度还不错", {("quality", "negative"), ("service", "positive")}),
        ("衣服偏大，颜色很好看", {("size_fit", "negative"), ("appearance", "positive")}),
        ("性价比很高", {("price", "positive")}),
        ("价格不便宜", {("price", "negative")}),
        ("质量并没有宣传的那么好", {("quality", "negative")}),
        ("電池續航很差", {("battery", "negative")}),  # traditional characters
        (
            "Great price but the battery is not good",
            {("price", "positive"), ("battery", "negative")},
        ),
        (
            "Fast shipping, however the box was damaged",
            {("logistics", "positive"), ("packaging", "negative")},
        ),
        ("Cheap price, cheap quality", {("price", "positive"), ("quality", "negative")}),
        (
            "It runs small and the material feels flimsy",
            {("size_fit", "negative"), ("quality", "negative")},
        ),
        ("The delivery was not fast at all", {("logistics", "negative")}),
        ("Customer service was very helpful", {("service", "positive")}),
    ],
)
def test_aspect_cases_zh_en(text: str, expected: set[tuple[str, str]]) -> None:
    (mentions,) = extract_aspects([text])
    assert {(m.aspect, m.polarity) for m in mentions} == expected


def test_aspects_category_filter_and_polarity_fn() -> None:
    (m,) = extract_aspects(["房间很大，电池不错"], category="酒店")
    assert [x.aspect for x in m] == ["room"]
    # a clause naming an aspect without an opinion word goes to polarity_fn
    calls: list[list[str]] = []

    def fn(clauses: list[str]) -> list[str]:
        calls.append(clauses)
        return ["negative"] * len(clauses)

    (m,) = extract_aspects(["The packaging looked like this"], polarity_fn=fn)
    assert [(x.aspect, x.polarity) for x in m] == [("packaging", "negative")]
    assert calls == [["The packaging looked like this"]]
    with pytest.raises(InvalidInputError):
        extract_aspects(["x"], language="fr")


def test_split_clauses_and_summary() -> None:
    assert split_clauses("物流很快但是包装很差。", "zh") == ["物流很快", "但是包装很差"]
    assert split_clauses("Fast shipping but poor packaging!", "en") == [
        "Fast shipping",
        "but poor packaging",
    ]
    mentions = extract_aspects(["物流很快", "物流太慢了", "物流慢死了", "包装很好"])
    summary = {s.aspect: s for s in summarize_aspects(mentions)}
    assert (summary["logistics"].positive, summary["logistics"].negative) == (1, 2)
    assert summary["logistics"].net == pytest.approx(-1 / 3)
    assert summary["logistics"].negative_examples == ("物流太慢了", "物流慢死了")
    assert summary["packaging"].to_dict()["name"]["zh"] == "包装"


# -- complaint topics -------------------------------------------------------------------------


def test_complaint_topics_group_themes() -> None:
    texts = [
        "物流太慢了，一个星期才到",
        "快递慢，物流信息不更新",
        "物流慢得要死，快递员态度差",
        "The delivery was slow and the courier was rude",
        "质量太差，用两天就坏了",
        "质量差，做工粗糙",
        "质量不行，开线了",
    ]
    topics = complaint_topics(texts[:3] + texts[4:], k=2, min_df=2)
    assert sorted(t.size for t in topics) == [3, 3]
    labels = {t.terms[0] for t in topics}
    assert labels == {"物流", "质量"}
    for t in topics:
        assert len(t.examples) <= 3 and t.share == pytest.approx(0.5)
    assert complaint_topics(["好"], min_df=2) == []
    with pytest.raises(InvalidInputError):
        complaint_topics(texts, k=0)


def test_a_topic_shows_each_example_once() -> None:
    texts = ["物流太慢了"] * 3 + ["物流慢，等了一周", "质量太差了", "质量差，做工粗糙"]
    topics = complaint_topics(texts, k=2, min_df=2)
    logistics = next(t for t in topics if "物流" in t.terms)
    assert logistics.size == 4
    assert sorted(logistics.examples) == ["物流太慢了", "物流慢，等了一周"]


# -- surge detection ----------------------------------------------------------------------------


def poisson_stream(rng: np.random.Generator, buckets: int, rate: float, share: float):
    for t in range(buckets):
        n = int(rng.poisson(rate))
        yield t, n, int(rng.binomial(n, share))


def test_surge_detected_once_with_evidence() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for t, n, k in poisson_stream(rng, 200, 60, 0.15):
        if 120 <= t < 130:  # a ten-hour surge: share 0.15 -> 0.45
            k = int(rng.binomial(n, 0.45))
        rows.append(("phones", t, n, k))
    examples = {("phones", 120): ["屏幕碎了", "screen cracked"]}
    alerts = detect_surges(rows, examples=examples, baseline_buckets=48, min_history=24)
    assert len(alerts) == 1
    a = alerts[0]
    assert a.key == "phones" and 120 <= a.bucket <= 122
    assert a.share > 2 * a.baseline_share and a.p_value < 1e-3
    d = a.to_dict()
    assert d["count"] == a.count and d["total"] == a.total and d["lift"] > 2
    if a.bucket == 120:
        assert d["examples"] == ["屏幕碎了", "screen cracked"]


def test_flat_series_never_alerts() -> None:
    rng = np.random.default_rng(3)
    for method in ("binomial", "poisson"):
        rows = [("books", t, n, k) for t, n, k in poisson_stream(rng, 1000, 40, 0.2)]
        assert detect_surges(rows, method=method, sensitivity="low", min_history=24) == []


def test_traffic_tripling_alone_does_not_alert_binomial() -> None:
    rows = [("sale", t, 50 if t < 100 else 150, 10 if t < 100 else 30) for t in range(150)]
    assert detect_surges(rows, min_history=24) == []
    # the poisson method alerts on the absolute rise in negative messages, once
    assert len(detect_surges(rows, min_history=24, method="poisson")) == 1


def test_surge_realerts_only_after_cooldown_and_keys_are_independent() -> None:
    det = SurgeDetector(baseline_buckets=24, min_history=10, cooldown=3)
    hits = []
    pattern = [10] * 30 + [40, 40] + [10] * 2 + [40] + [10] * 5 + [40]
    for t, k in enumerate(pattern):
        hits += [(a.key, a.bucket) for a in det.update("a", t, n=100, k=k)]
        hits += [(a.key, a.bucket) for a in det.update("b", t, n=100, k=10)]
    # 30 opens an episode; 34 is within it (only 2 calm buckets); 40 follows 5 calm ones
    assert hits == [("a", 30), ("a", 40)]


def test_surge_params_validated_and_fill_buckets() -> None:
    with pytest.raises(InvalidInputError):
        SurgeDetector(sensitivity="extreme")
    with pytest.raises(InvalidInputError):
        SurgeDetector(method="cusum")
    with pytest.raises(InvalidInputError):
        SurgeDetector().update("x", 0, n=1, k=2)
    rows = fill_buckets({("a", 0): (5, 1), ("b", 1): (3, 3)}, [0, 1])
    assert rows == [("a", 0, 5, 1), ("b", 0, 0, 0), ("a", 1, 0, 0), ("b", 1, 3, 3)]


def test_near_duplicate_topics_merge_with_counts_summed() -> None:
    zh = [
        "物流太慢了",
        "物流太慢了，等了一周",
        "物流太慢",
        "快递太慢",
        "快递太慢了！",
        "快递太慢，差评",
    ]
    zh += ["质量太差", "质量太差了，做工粗糙", "质量差，坏了"]
    apart = complaint_topics(zh, k=3, synonyms={}, merge=False)
    assert sorted(t.size for t in apart) == [3, 3, 3]  # before: 物流太慢 and 快递太慢 apart
    topics = complaint_topics(zh, k=3)
    assert sorted(t.size for t in topics) == [3, 6]
    slow = next(t for t in topics if t.size == 6)
    assert set(slow.terms[:2]) in ({"物流", "太慢"}, {"快递", "太慢"})  # as written, not "delivery"
    assert slow.share == pytest.approx(6 / 9)
    quality = next(t for t in topics if t.size == 3)
    assert quality.terms[0] == "质量"
    # the merge step alone (no synonyms before clustering) joins the two as well
    roots = merge_groups([zh[:3], zh[3:6], zh[6:]], [["物流", "太慢"], ["快递", "太慢"], ["质量"]])
    assert roots[0] == roots[1] != roots[2]

    en = ["The delivery was slow", "delivery was slow, waited two weeks", "slow delivery again"]
    en += ["shipping too slow", "shipping was too slow again", "the shipping was slow"]
    en += ["terrible quality, it broke", "poor quality, cheap material", "quality is awful"]
    topics = complaint_topics(en, k=3)
    assert sorted(t.size for t in topics) == [3, 6]
    merged = next(t for t in topics if t.size == 6)
    assert merged.to_dict()["size"] == 6 and "slow" in merged.terms


def test_unrelated_topics_do_not_merge() -> None:
    groups = [["客服回复太慢"], ["物流太慢"], ["酒店房间很小"], ["客服态度差"], ["价格太贵"]]
    terms = [["客服", "回复", "太慢"], ["物流", "太慢"], ["酒店", "房间", "服务"]]
    terms += [["客服", "态度"], ["价格", "太贵"]]
    roots = merge_groups(groups, terms)
    # slow service replies are no slow delivery; a hotel that mentions service is no
    # customer-service topic; price is no service
    assert len(set(roots)) == 5
    en = merge_groups(
        [["battery drains fast"], ["arrived broken"], ["refund never arrived"]],
        [["battery", "drains"], ["broken", "arrived"], ["refund", "arrived"]],
    )
    assert len(set(en)) == 3


def test_merged_topics_show_each_example_once_and_keep_the_shape() -> None:
    texts = ["物流太慢了", "物流太慢了！", "物流 太慢了", "快递太慢", "快递太慢了"]
    texts += ["质量太差了", "质量差，做工粗糙", "质量太差", "价格太贵", "价格太贵了", "价格贵"]
    topics = complaint_topics(texts, k=3, examples=5)
    for t in topics:
        keys = [re.sub(r"[\W_]+", "", e) for e in t.examples]
        assert len(keys) == len(set(keys))
        assert set(t.to_dict()) >= {"label", "terms", "size", "share", "examples", "merged_from"}
    assert sum(t.size for t in topics) == len(texts)


def test_questions_are_not_complaint_topics() -> None:
    texts = ["物流太慢了", "物流太慢了，等了一周", "快递太慢"]
    texts += ["请问这个支持无线充电吗？", "Does the smartwatch support wireless charging?"]
    texts += ["为什么还没发货？物流太慢了"]  # a rhetorical complaint stays
    topics = complaint_topics(texts, min_df=2)
    shown = [e for t in topics for e in t.examples]
    assert not any("无线充电" in e or "wireless" in e for e in shown)
    assert sum(t.size for t in topics) == 4
    kept = complaint_topics(texts, min_df=2, drop_questions=False, examples=10)
    assert sum(t.size for t in kept) >= 5
