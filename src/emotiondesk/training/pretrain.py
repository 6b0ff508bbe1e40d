"""Domain-adaptive masked-language-model pretraining.

Two starts:

* continue a checkpoint (``base``: a hub id or directory) on in-domain text;
* a compact BERT from a config, with a vocabulary built from the corpus.
  For Chinese (``vocab="zh-char-bigram"``) the vocabulary is the frequent
  characters plus the most frequent character bigrams (and frequent Latin
  words), segmented by a unigram model (Viterbi over log frequencies: "物流太慢"
  reads ``物流 太 慢``); otherwise a WordPiece vocabulary is learnt from the corpus.

The result is a plain Hugging Face directory (``BertForMaskedLM`` + tokenizer)
that ``emotiondesk train --base DIR`` fine-tunes.

Example:
    >>> args = PretrainArgs(corpus=["reviews.txt"], out="out/zh-bert", vocab="zh-char-bigram")
    >>> pretrain_mlm(args)                                         # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from emotiondesk.errors import ConfigError, DataError
from emotiondesk.models._io import atomic_directory
from emotiondesk.text import normalize

logger = logging.getLogger(__name__)

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
STATE_FILE = "pretrain_state.json"


@dataclass
class PretrainArgs:
    """Settings of one MLM pretraining run."""

    corpus: list[str]
    out: str
    base: str | None = None  # continue this checkpoint; None: a new compact BERT
    vocab: str = "zh-char-bigram"  # zh-char-bigram | wordpiece (new models only)
    vocab_size: int = 8000
    min_char_freq: int = 2
    bigram_share: float = 0.5  # share of the vocabulary given to bigrams (zh-char-bigram)
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    max_length: int = 128
    mlm_probability: float = 0.15
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    max_samples: int | None = None
    seed: int = 42
    num_threads: int | None = None
    checkpoint_every: int = 500
    resume: bool = False
    log_every: int = 50
    text_column: str = "text"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.corpus:
            raise ConfigError("pretraining needs at least one corpus file")
        if self.vocab not in ("zh-char-bigram", "wordpiece"):
            raise ConfigError(f"vocab must be zh-char-bigram or wordpiece, got {self.vocab!r}")
        if self.hidden_size % self.num_heads:
            raise ConfigError("hidden_size must be a multiple of num_heads")
        if not 0 < self.mlm_probability < 1:
            raise ConfigError("mlm_probability must be in (0, 1)")
        if not 0 <= self.bigram_share < 1:
            raise ConfigError("bigram_share must be in [0, 1)")
        for name in (
            "vocab_size",
            "batch_size",
            "max_length",
            "lr",
            "num_layers",
            "checkpoint_every",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0")
        if self.max_steps is not None and self.max_steps < 0:
            raise ConfigError("max_steps must be >= 0 (0: save the initialised model untrained)")

    @property
    def checkpoint_path(self) -> Path:
        return Path(f"{self.out}.checkpoints")


def read_corpus(paths: Sequence[str], *, text_column: str = "text") -> list[str]:
    """Lines of ``.txt`` files, or the text column of ``.csv`` files, normalised and de-duplicated."""
    seen: set[str] = set()
    texts: list[str] = []

    def add(raw: str) -> None:
        t = normalize(raw)
        if t and t not in seen:
            seen.add(t)
            texts.append(t)

    for p in map(Path, paths):
        if not p.is_file():
            raise DataError(f"corpus file {str(p)!r} does not exist")
        with p.open(encoding="utf-8", newline="") as fh:
            if p.suffix.lower() == ".csv":
                reader = csv.DictReader(fh)
                if not reader.fieldnames or text_column not in reader.fieldnames:
                    raise DataError(f"{p}: no {text_column!r} column")
                for row in reader:
                    add(row[text_column] or "")
            else:
                for line in fh:
                    add(line)
    if not texts:
        raise DataError("the corpus has no text")
    return texts


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def build_zh_vocab(
    texts: Iterable[str], *, size: int, min_char_freq: int = 2, bigram_share: float = 0.5
) -> list[tuple[str, float]]:
    """Frequent characters, frequent CJK bigrams and frequent Latin words, with log-probability scores.

    The scores drive a unigram (Viterbi) segmentation: "物流太慢" reads as
    ``物流 太 慢`` when 物流 is a frequent bigram; a character never seen is
    ``[UNK]`` on its own, never the whole phrase.
    """
    chars: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for t in texts:
        t = t.lower()
        chars.update(ch for ch in t if not ch.isspace())
        bigrams.update(a + b for a, b in itertools.pairwise(t) if _is_cjk(a) and _is_cjk(b))
        words.update(w for w in _LATIN.findall(t) if len(w) > 1)
    budget = size - len(SPECIALS)
    n_bigrams = int(budget * bigram_share)
    n_words = budget // 10
    top_chars = [
        (c, n) for c, n in chars.most_common(budget - n_bigrams - n_words) if n >= min_char_freq
    ]
    top_bi = [(b, n) for b, n in bigrams.most_common(n_bigrams) if n >= max(2, min_char_freq)]
    top_words = [(w, n) for w, n in words.most_common(n_words) if n >= max(2, min_char_freq)]
    total = float(sum(n for _, n in top_chars + top_bi + top_words)) or 1.0
    vocab: dict[str, float] = {tok: 0.0 for tok in SPECIALS}
    for tok, n in top_chars + top_bi + top_words:
        vocab.setdefault(tok, math.log(n / total))
    return list(vocab.items())


_LATIN = re.compile(r"[a-z]+")


def build_tokenizer(texts: Sequence[str], args: PretrainArgs) -> Any:
    """A fast BERT-style tokenizer whose vocabulary comes from the corpus."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram, WordPiece
    from transformers import PreTrainedTokenizerFast

    if args.vocab == "zh-char-bigram":
        vocab = build_zh_vocab(
            texts,
            size=args.vocab_size,
            min_char_freq=args.min_char_freq,
            bigram_share=args.bigram_share,
        )
        tok = Tokenizer(Unigram(vocab, unk_id=SPECIALS.index("[UNK]"), byte_fallback=False))
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.WhitespaceSplit(),
                pre_tokenizers.Punctuation(),
                pre_tokenizers.Digits(individual_digits=True),
            ]
        )
    else:
        from tokenizers.trainers import WordPieceTrainer

        tok = Tokenizer(WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.train_from_iterator(
            texts,
            WordPieceTrainer(
                vocab_size=args.vocab_size,
                special_tokens=SPECIALS,
                min_frequency=args.min_char_freq,
            ),
        )
        tok.decoder = decoders.WordPiece()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=args.max_length,
    )


def _mask(
    input_ids: torch.Tensor, special: torch.Tensor, tokenizer: Any, p: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: of the chosen 15%, 80% [MASK], 10% random, 10% unchanged."""
    labels = input_ids.clone()
    prob = torch.full(labels.shape, p)
    prob.masked_fill_(special, 0.0)
    chosen = torch.bernoulli(prob, generator=gen).bool()
    labels[~chosen] = -100
    inputs = input_ids.clone()
    replace = torch.bernoulli(torch.full(labels.shape, 0.8), generator=gen).bool() & chosen
    inputs[replace] = tokenizer.mask_token_id
    rand = torch.bernoulli(torch.full(labels.shape, 0.5), generator=gen).bool() & chosen & ~replace
    inputs[rand] = torch.randint(len(tokenizer), labels.shape, generator=gen)[rand]
    return inputs, labels


def pretrain_mlm(args: PretrainArgs) -> Path:
    """Run MLM pretraining; return the output directory (a Hugging Face checkpoint)."""
    from transformers import (
        AutoModelForMaskedLM,
        BertConfig,
        BertForMaskedLM,
        get_linear_schedule_with_warmup,
    )

    from emotiondesk.models.transformer import check_base_dir, load_tokenizer

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    texts = read_corpus(args.corpus, text_column=args.text_column)
    if args.max_samples and len(texts) > args.max_samples:
        texts = random.Random(args.seed).sample(texts, args.max_samples)
    logger.info("corpus: %d texts", len(texts))
    ckpt = args.checkpoint_path / "latest"
    resuming = args.resume and (ckpt / STATE_FILE).is_file()
    if resuming:
        tokenizer = load_tokenizer(ckpt)
        model = AutoModelForMaskedLM.from_pretrained(str(ckpt))
    elif args.base:
        if Path(args.base).exists():
            check_base_dir(Path(args.base))
        tokenizer = load_tokenizer(args.base)
        try:
            model = AutoModelForMaskedLM.from_pretrained(args.base)
        except (OSError, ValueError) as exc:
            from emotiondesk.errors import ModelError

            raise ModelError(
                f"cannot load {args.base!r} as a masked language model: {exc}"
            ) from exc
    else:
        tokenizer = build_tokenizer(texts, args)
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=args.hidden_size,
            num_hidden_layers=args.num_layers,
            num_attention_heads=args.num_heads,
            intermediate_size=args.intermediate_size,
            max_position_embeddings=args.max_length,
            type_vocab_size=2,
            pad_token_id=tokenizer.pad_token_id,
        )
        model = BertForMaskedLM(config)
    if tokenizer.mask_token_id is None:
        from emotiondesk.errors import ModelError

        raise ModelError("the tokenizer has no [MASK] token; it cannot be used for MLM pretraining")
    max_len = min(
        args.max_length, int(getattr(model.config, "max_position_embeddings", args.max_length))
    )
    enc = tokenizer(
        texts, truncation=True, max_length=max_len, padding=False, return_special_tokens_mask=True
    )
    ids, specials = enc["input_ids"], enc["special_tokens_mask"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    # max_steps=0 writes the freshly initialised model (the no-pretraining control).
    total = (
        args.max_steps
        if args.max_steps is not None
        else max(1, math.ceil(len(batches) * args.epochs))
    )
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
    no_decay = [
        p for n, p in model.named_parameters() if not (p.ndim >= 2 and "LayerNorm" not in n)
    ]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": args.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=args.lr,
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * total), total)
    state: dict[str, Any] = {"step": 0, "losses": []}
    if resuming:
        state = json.loads((ckpt / STATE_FILE).read_text(encoding="utf-8"))
        opt_state = torch.load(ckpt / "optimizer.pt", weights_only=True)
        optimizer.load_state_dict(opt_state["optimizer"])
        scheduler.load_state_dict(opt_state["scheduler"])
        logger.info("resumed MLM pretraining at step %d", state["step"])
    gen = torch.Generator().manual_seed(args.seed + state["step"])
    rng = random.Random(args.seed + state["step"])
    pad = tokenizer.pad_token_id or 0
    model.train()
    t0 = time.perf_counter()
    running = []

    def save(target: Path) -> None:
        with atomic_directory(target) as tmp:
            model.save_pretrained(str(tmp), safe_serialization=True)
            tokenizer.save_pretrained(str(tmp))
            (tmp / "pretrain_args.json").write_text(
                json.dumps(dataclasses.asdict(args), indent=2), encoding="utf-8"
            )
            if target == ckpt:
                torch.save(
                    {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                    tmp / "optimizer.pt",
                )
                (tmp / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")

    while state["step"] < total:
        for b in rng.sample(batches, len(batches)):
            width = max(len(ids[i]) for i in b)
            x = torch.full((len(b), width), pad, dtype=torch.long)
            sp = torch.ones((len(b), width), dtype=torch.bool)
            att = torch.zeros((len(b), width), dtype=torch.long)
            for r, i in enumerate(b):
                x[r, : len(ids[i])] = torch.tensor(ids[i])
                sp[r, : len(ids[i])] = torch.tensor(specials[i], dtype=torch.bool)
                att[r, : len(ids[i])] = 1
            inputs, labels = _mask(x, sp, tokenizer, args.mlm_probability, gen)
            if not (labels != -100).any():
                continue
            loss = model(input_ids=inputs, attention_mask=att, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            state["step"] += 1
            running.append(float(loss.detach()))
            if state["step"] % args.log_every == 0:
                state["losses"].append([state["step"], sum(running) / len(running)])
                logger.info(
                    "step %d mlm loss %.4f (%.0f s)",
                    state["step"],
                    state["losses"][-1][1],
                    time.perf_counter() - t0,
                )
                running = []
            if state["step"] % args.checkpoint_every == 0:
                save(ckpt)
            if state["step"] >= total:
                break
    model.eval()
    out = Path(args.out)
    save(out)
    logger.info("pretrained %d steps in %.0f s -> %s", state["step"], time.perf_counter() - t0, out)
    return out
