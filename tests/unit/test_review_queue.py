"""The review queue's ranking on tiny fixtures: signals, priorities, reasons, tiers, cleanlab."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from emotiondesk.analyzer import Analyzer
from emotiondesk.errors import InvalidInputError
from emotiondesk.models.ensemble import EnsembleClassifier
from emotiondesk.models.ngram import NgramClassifier
from emotiondesk.storage.feedback import Candidate
from emotiondesk.usecases import review_queue as rq
from tests.conftest import TINY_ZH


def test_uncertainty_orders_sure_below_unsure() -> None:
    p = np.array([[0.98, 0.01, 0.01], [0.5, 0.45, 0.05], [1 / 3, 1 / 3, 1 / 3]])
    u = rq.uncertainty(p)
    assert u[0] < u[1] < u[2] and u[2] == pytest.approx(1.0)
    with pytest.raises(InvalidInputError):
        rq.uncertainty(np.array([0.5, 0.5]))


def test_disagreement_and_rarity() -> None:
    a = np.array([[0.9, 0.1], [0.6, 0.4]])
    b = np.array([[0.9, 0.1], [0.2, 0.8]])
    d = rq.disagreement(a, b)
    assert d[0] == pytest.approx(0.0, abs=1e-6) and d[1] > 0.5  # the top labels differ
    r = rq.rarity(["joy", "fear", "anger", None], {"joy": 10, "fear": 1})
    assert list(r) == pytest.approx([0.0, 0.9, 1.0, 0.0])


def test_priorities_renormalise_over_the_signals_present() -> None:
    ones = np.ones(2)
    p = rq.priorities(
        {
            "uncertain": ones,
            "tiers_disagree": None,
            "rare_class": np.zeros(2),
            "rare_product": np.array([np.nan, 1.0]),
        }
    )
    w = rq.WEIGHTS
    assert p[0] == pytest.approx(w["uncertain"] / (w["uncertain"] + w["rare_class"]))
    assert p[1] == pytest.approx(
        (w["uncertain"] + w["rare_product"])
        / (w["uncertain"] + w["rare_class"] + w["rare_product"])
    )


def candidate(mid: str, pol: list[float], emo: list[float], product: str | None) -> Candidate:
    return Candidate(
        message_id=mid,
        conversation_id="c",
        text=mid,
        language="zh",
        polarity=None,
        emotion=None,
        analysis={
            "polarity_scores": dict(zip(rq.SCHEMES["polarity"], pol, strict=True)),
            "emotion_scores": dict(zip(rq.SCHEMES["emotion"], emo, strict=True)),
        },
        product=product,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_rank_candidates_puts_the_unsure_and_rare_first_and_says_why() -> None:
    sure_emo = [0.97, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005]
    flat_emo = [1 / 7] * 7
    items = rq.rank_candidates(
        [
            candidate("sure", [0.98, 0.01, 0.01], sure_emo, "p-big"),
            candidate("unsure", [0.4, 0.3, 0.3], flat_emo, "p-big"),
            candidate("new-product", [0.98, 0.01, 0.01], sure_emo, "p-new"),
        ],
        label_counts={"polarity": {"negative": 5}, "emotion": {"anger": 5}},
        product_counts={"p-big": 9},
    )
    order = [i.message_id for i in items]
    assert order[0] == "unsure" and order[-1] == "sure"
    assert order.index("new-product") < order.index("sure")
    by = {i.message_id: i for i in items}
    assert by["unsure"].reasons[0].code == "uncertain"
    assert "rare_product" in {r.code for r in by["new-product"].reasons}
    assert all(i.reasons for i in items) and all(0 <= i.priority <= 1 for i in items)


def _ngram(texts: list[str], labels: list[str], c: float) -> NgramClassifier:
    return NgramClassifier(
        language="zh", min_df=1, keep_features=None, C=c, calibration_fraction=0.0
    ).fit(texts, labels)


def test_tier_disagreement_reads_the_ensemble_members() -> None:
    texts = [t for t, _, _ in TINY_ZH] * 2
    pol = [p for _, p, _ in TINY_ZH] * 2
    emo = [e for _, _, e in TINY_ZH] * 2
    fast = _ngram(texts, pol, 20.0)
    # a "deep" member that learnt the opposite of the fast one on the negatives
    flipped = ["positive" if p == "negative" else p for p in pol]
    deep = _ngram(texts, flipped, 20.0)
    ens = EnsembleClassifier(["a", "b"], [0.5, 0.5]).load_members(".", models=[fast, deep])
    single = _ngram(texts, emo, 20.0)
    analyzer = Analyzer({"zh": {"polarity": ens, "emotion": single}}, fallback_language="zh")
    probe = ["物流太慢了，气死我了", "请问有没有红色的"]
    d = rq.tier_probabilities(analyzer, probe, ["zh", "zh"], "polarity")
    assert d is not None and d[0] > 0.5 and d[1] < 0.3  # negatives: the tiers disagree
    assert rq.tier_probabilities(analyzer, probe, ["zh", "zh"], "emotion") is None


def test_label_issues_flags_a_planted_error_and_counts_what_it_cannot_check() -> None:
    texts = [t for t, _, _ in TINY_ZH] * 2
    labels = [p for _, p, _ in TINY_ZH] * 2
    labels[10] = "negative"  # "谢谢客服，非常满意，好开心" is positive
    issues, check = rq.label_issues(texts, labels, task="polarity")
    assert check.status == "checked" and check.checked == 40 and check.not_checked == 0
    assert 10 in {i.index for i in issues}
    planted = next(i for i in issues if i.index == 10)
    assert (planted.label, planted.suggested) == ("negative", "positive")

    few, skipped = rq.label_issues(["a", "b", "c"], ["joy", "joy", "fear"], task="emotion")
    assert few == [] and skipped.status == "skipped" and skipped.not_checked == 3
    assert "at least" in (skipped.reason or "")
    # a label with a single correction is left out of the check and counted, not flagged
    issues, check = rq.label_issues([*texts, "孤例"], [*labels, "neutral_x"], task="polarity")
    assert check.not_checked == 1 and "neutral_x" in (check.reason or "")
    assert len(texts) not in {i.index for i in issues}
