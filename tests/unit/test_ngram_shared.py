"""Shared n-gram lookups between a language's models: same ids, same results."""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk.analyzer import load_analyzer
from emotiondesk.models.ngram import NgramFeaturizer, SharedLookup, share_lookups

TEXTS = [
    "物流太慢了，气死我了",
    "谢谢客服，非常满意",
    "Thank you so much, I love it",
    "The parcel never arrived and nobody answers",
    "完全没见过的词汇组合 xyzzy qwerty",
    "",
    "   ",
    "OK",
    "退款!!! refund now",
]


def _featurizers(analyzer: Any) -> list[NgramFeaturizer]:
    out = []
    for tasks in analyzer.models.values():
        for model in tasks.values():
            stack = [model]
            while stack:
                m = stack.pop()
                f = getattr(m, "featurizer_", None)
                if isinstance(f, NgramFeaturizer):
                    out.append(f)
                stack.extend(getattr(m, "models_", ()))
    return out


def test_pack_featurizers_are_linked_and_results_unchanged(tiny_pack: Path) -> None:
    analyzer = load_analyzer(tiny_pack)
    featurizers = _featurizers(analyzer)
    assert len(featurizers) == 4
    assert all(f._shared is not None for f in featurizers)
    shared = [r.to_dict() for r in analyzer.analyze(TEXTS * 3)]
    for f in featurizers:
        f._shared = None
    assert [r.to_dict() for r in analyzer.analyze(TEXTS * 3)] == shared


def test_shared_ids_are_the_vocabulary_ids(tiny_pack: Path) -> None:
    analyzer = load_analyzer(tiny_pack)
    en = [f for f in _featurizers(analyzer) if f.word_ngram_range]
    assert len(en) == 2 and en[0].vocabulary is not en[1].vocabulary
    grams = en[0].batch_ngrams(TEXTS)
    total = sum(map(len, grams))
    lookup = SharedLookup([en[0].vocabulary, en[1].vocabulary])
    union = lookup.ids(grams, total)
    assert lookup.ids(grams, total) is union  # the batch is looked up once
    for vocab, column in zip((en[0].vocabulary, en[1].vocabulary), lookup.columns, strict=True):
        expected = [vocab.get(g, -1) for g in chain.from_iterable(grams)]
        assert column[union].tolist() == expected
    a = en[0].counts(grams)
    en[0]._shared = None
    b = en[0].counts(grams)
    assert (a != b).nnz == 0 and np.array_equal(a.indices, b.indices)


def test_a_replaced_vocabulary_is_never_read_through_a_stale_link(tiny_pack: Path) -> None:
    analyzer = load_analyzer(tiny_pack)
    f = _featurizers(analyzer)[0]
    grams = f.batch_ngrams(TEXTS)
    f.vocabulary = dict(list(f.vocabulary.items())[:10])  # e.g. a refit
    counts = f.counts(grams)
    assert counts.shape[1] == 10
    assert share_lookups([]) == 0
