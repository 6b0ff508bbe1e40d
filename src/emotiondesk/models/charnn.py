"""Small neural classifiers trained from scratch: a char-CNN or a BiGRU over characters and bigrams.

No pretrained weights are needed, so this kind is the quick deep baseline for
Chinese (one character is one token; every character bigram is a second
feature, the way fastText-style models read Chinese). Each position embeds
``char + bigram(char, next char)``; the ``cnn`` architecture runs parallel
1-D convolutions (kernel widths 2-4 by default) with max-pooling over time,
the ``bigru`` architecture a bidirectional GRU with max- and mean-pooling.
A linear head gives logits, divided by a temperature fitted on the dev data
passed to ``fit`` (when given), so the probabilities are calibrated.

Artifact (``save_pretrained``): ``config.json`` (model_type ``charnn``,
labels, architecture, temperature, training info, version), ``vocab.json``
(characters and bigrams in id order) and ``weights.safetensors``. No pickle.

Example:
    >>> clf = CharNNClassifier(arch="cnn", epochs=30, embed_dim=16, hidden=16).fit(
    ...     ["很好很满意", "太差了退货", "满意好评", "差评太慢"] * 4,
    ...     ["positive", "negative", "positive", "negative"] * 4)
    >>> clf.predict_proba(["很好"]).shape
    (1, 2)
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk._version import __version__
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.models._io import atomic_directory
from emotiondesk.models.base import CONFIG_NAME, read_config, register
from emotiondesk.models.probability import fit_temperature, softmax
from emotiondesk.text.normalize import normalize

logger = logging.getLogger(__name__)

MODEL_TYPE = "charnn"
FORMAT_VERSION = 1
VOCAB_NAME = "vocab.json"
WEIGHTS_NAME = "weights.safetensors"
ARCHS = ("cnn", "bigru")
PAD, UNK = 0, 1


def _chars(text: str, max_chars: int) -> list[str]:
    return [c for c in normalize(text).lower() if not c.isspace()][:max_chars]


def _build_network(cfg: dict[str, Any], n_chars: int, n_bigrams: int, n_labels: int) -> Any:
    import torch
    from torch import nn

    class CharNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d, h = cfg["embed_dim"], cfg["hidden"]
            self.char = nn.Embedding(n_chars, d, padding_idx=PAD)
            self.bigram = nn.Embedding(n_bigrams, d, padding_idx=PAD)
            self.drop = nn.Dropout(cfg["dropout"])
            if cfg["arch"] == "cnn":
                self.convs = nn.ModuleList(
                    nn.Conv1d(d, h, k, padding=k // 2) for k in cfg["kernel_sizes"]
                )
                width = h * len(cfg["kernel_sizes"])
            else:
                self.gru = nn.GRU(d, h // 2, batch_first=True, bidirectional=True)
                width = 2 * (h // 2) * 2
            self.head = nn.Linear(width, n_labels)

        def forward(self, chars: torch.Tensor, bigrams: torch.Tensor) -> torch.Tensor:
            mask = chars != PAD  # (b, t)
            x = self.drop(self.char(chars) + self.bigram(bigrams))
            if cfg["arch"] == "cnn":
                xt = x.transpose(1, 2)
                pooled = []
                for conv in self.convs:
                    y = torch.relu(conv(xt))[:, :, : chars.shape[1]]
                    y = y.masked_fill(~mask[:, None, :], -1e4)
                    pooled.append(y.max(dim=2).values)
                feats = torch.cat(pooled, dim=1)
            else:
                lengths = mask.sum(1).clamp(min=1).cpu()
                packed = nn.utils.rnn.pack_padded_sequence(
                    x, lengths, batch_first=True, enforce_sorted=False
                )
                out, _ = self.gru(packed)
                y, _ = nn.utils.rnn.pad_packed_sequence(
                    out, batch_first=True, total_length=chars.shape[1]
                )
                m = mask[:, :, None]
                mx = y.masked_fill(~m, -1e4).max(dim=1).values
                mean = (y * m).sum(1) / m.sum(1).clamp(min=1)
                feats = torch.cat([mx, mean], dim=1)
            return self.head(self.drop(feats))

    return CharNN()


@register(MODEL_TYPE)
class CharNNClassifier:
    """A char-CNN or BiGRU text classifier (scikit-learn style; torch inside).

    Args:
        arch: ``cnn`` or ``bigru``.
        embed_dim: size of the character and bigram embeddings.
        hidden: filters per kernel width (cnn) or the GRU width, both directions (bigru).
        kernel_sizes: convolution widths (cnn).
        max_chars: characters kept per text (the rest is cut).
        max_vocab / max_bigrams: the most frequent characters / bigrams kept.
        min_count: least training frequency of a kept character or bigram.
        epochs, batch_size, lr, weight_decay, dropout: optimisation (Adam).
        class_weight: ``None`` or ``balanced``.
        random_state: seed of initialisation and shuffling.
        num_threads: torch threads while fitting (``None``: torch's default).
    """

    def __init__(
        self,
        *,
        arch: str = "cnn",
        embed_dim: int = 128,
        hidden: int = 256,
        kernel_sizes: Sequence[int] = (2, 3, 4),
        max_chars: int = 200,
        max_vocab: int = 6000,
        max_bigrams: int = 50000,
        min_count: int = 2,
        epochs: int = 4,
        batch_size: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        dropout: float = 0.3,
        class_weight: str | None = None,
        random_state: int = 42,
        num_threads: int | None = None,
    ) -> None:
        self.arch = arch
        self.embed_dim = embed_dim
        self.hidden = hidden
        self.kernel_sizes = kernel_sizes
        self.max_chars = max_chars
        self.max_vocab = max_vocab
        self.max_bigrams = max_bigrams
        self.min_count = min_count
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.class_weight = class_weight
        self.random_state = random_state
        self.num_threads = num_threads

    # -- configuration --------------------------------------------------------------------

    def _net_config(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "embed_dim": int(self.embed_dim),
            "hidden": int(self.hidden),
            "kernel_sizes": [int(k) for k in self.kernel_sizes],
            "dropout": float(self.dropout),
        }

    def _check_params(self) -> None:
        if self.arch not in ARCHS:
            raise InvalidInputError(f"arch must be one of {ARCHS}, not {self.arch!r}")
        for name in ("embed_dim", "hidden", "max_chars", "max_vocab", "epochs", "batch_size"):
            if not int(getattr(self, name)) > 0:
                raise InvalidInputError(f"{name} must be > 0")
        if self.arch == "bigru" and self.hidden < 2:
            raise InvalidInputError("hidden must be >= 2 for bigru")
        if not self.kernel_sizes or min(self.kernel_sizes) < 1:
            raise InvalidInputError("kernel_sizes must be positive widths")
        if not 0 <= self.dropout < 1:
            raise InvalidInputError("dropout must be in [0, 1)")
        if self.class_weight not in (None, "balanced"):
            raise InvalidInputError("class_weight must be None or 'balanced'")

    # -- encoding ---------------------------------------------------------------------

    def _encode(self, texts: Sequence[str]) -> tuple[list[list[int]], list[list[int]]]:
        cid, bid = self._char_index_, self._bigram_index_
        chars_out, bis_out = [], []
        for t in texts:
            cs = _chars(t, self.max_chars) or ["[EMPTY]"]
            chars_out.append([cid.get(c, UNK) for c in cs])
            bis = [bid.get(a + b, UNK) for a, b in pairwise(cs)]
            bis_out.append([*bis, PAD])
        return chars_out, bis_out

    @staticmethod
    def _pad(rows: Sequence[list[int]]) -> Any:
        import torch

        width = max(len(r) for r in rows)
        x = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            x[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        return x

    def _logits(self, chars: list[list[int]], bis: list[list[int]], batch: int = 256) -> np.ndarray:
        import torch

        order = sorted(range(len(chars)), key=lambda i: len(chars[i]))
        out = np.zeros((len(chars), len(self.labels_)), dtype=np.float32)
        self.net_.eval()
        with torch.inference_mode():
            for s in range(0, len(order), batch):
                idx = order[s : s + batch]
                logits = self.net_(
                    self._pad([chars[i] for i in idx]), self._pad([bis[i] for i in idx])
                )
                out[idx] = logits.float().numpy()
        return out

    # -- fit ----------------------------------------------------------------------------

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        dev_texts: Sequence[str] | None = None,
        dev_labels: Sequence[str] | None = None,
    ) -> CharNNClassifier:
        """Train from scratch; with dev data, keep the epoch with the best dev macro-F1
        and fit the temperature on it.

        Returns:
            ``self``.
        """
        import torch

        self._check_params()
        if len(texts) != len(labels):
            raise InvalidInputError(f"{len(texts)} texts but {len(labels)} labels")
        if len(set(labels)) < 2:
            raise InvalidInputError("training needs at least two distinct labels")
        if (dev_texts is None) != (dev_labels is None):
            raise InvalidInputError("give both dev_texts and dev_labels, or neither")
        if self.num_threads:
            torch.set_num_threads(int(self.num_threads))
        torch.manual_seed(self.random_state)
        rng = random.Random(self.random_state)
        self.labels_ = sorted(set(labels))
        if dev_labels is not None:
            unseen = sorted(set(dev_labels) - set(self.labels_))
            if unseen:
                raise InvalidInputError(f"dev labels {unseen} never occur in the training data")
        lab_id = {lab: i for i, lab in enumerate(self.labels_)}
        char_counts: Counter[str] = Counter()
        bigram_counts: Counter[str] = Counter()
        seqs = [_chars(t, self.max_chars) for t in texts]
        for cs in seqs:
            char_counts.update(cs)
            bigram_counts.update(a + b for a, b in pairwise(cs))
        chars = [c for c, n in char_counts.most_common(self.max_vocab) if n >= self.min_count]
        bigrams = [b for b, n in bigram_counts.most_common(self.max_bigrams) if n >= self.min_count]
        self.vocab_ = ["[PAD]", "[UNK]", *chars]
        self.bigrams_ = ["[PAD]", "[UNK]", *bigrams]
        self._index()
        self.net_ = _build_network(
            self._net_config(), len(self.vocab_), len(self.bigrams_), len(self.labels_)
        )
        xc, xb = self._encode(texts)
        y = torch.tensor([lab_id[lab] for lab in labels], dtype=torch.long)
        weight = None
        if self.class_weight == "balanced":
            counts = np.bincount(y.numpy(), minlength=len(self.labels_))
            weight = torch.tensor(len(y) / (len(self.labels_) * counts), dtype=torch.float32)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        steps_per_epoch = math.ceil(len(xc) / self.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.lr, total_steps=steps_per_epoch * int(self.epochs), pct_start=0.1
        )
        dev_enc = self._encode(dev_texts) if dev_texts is not None else None
        best: tuple[float, int, dict[str, Any]] | None = None
        history = []
        t_start = time.perf_counter()
        for epoch in range(int(self.epochs)):
            t0 = time.perf_counter()
            self.net_.train()
            # Shuffle, then sort within chunks of 50 batches by length: less padding.
            order = list(range(len(xc)))
            rng.shuffle(order)
            chunk = self.batch_size * 50
            batches = []
            for s in range(0, len(order), chunk):
                part = sorted(order[s : s + chunk], key=lambda i: len(xc[i]))
                batches += [
                    part[j : j + self.batch_size] for j in range(0, len(part), self.batch_size)
                ]
            rng.shuffle(batches)
            total = 0.0
            for b in batches:
                logits = self.net_(self._pad([xc[i] for i in b]), self._pad([xb[i] for i in b]))
                loss = loss_fn(logits, y[b])
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net_.parameters(), 5.0)
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(b)
            entry: dict[str, Any] = {
                "epoch": epoch + 1,
                "train_loss": round(total / len(xc), 4),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            if dev_enc is not None and dev_labels is not None:
                pred = self._logits(*dev_enc).argmax(1)
                f1 = _macro_f1([lab_id[lab] for lab in dev_labels], pred, len(self.labels_))
                entry["dev_macro_f1"] = round(f1, 4)
                if best is None or f1 > best[0]:
                    state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
                    best = (f1, epoch + 1, state)
            history.append(entry)
            logger.info("charnn epoch %s", entry)
        if best is not None:
            self.net_.load_state_dict(best[2])
        self.temperature_ = 1.0
        if dev_enc is not None and dev_labels is not None:
            self.temperature_ = fit_temperature(
                self._logits(*dev_enc), np.array([lab_id[lab] for lab in dev_labels])
            )
        self.training_info_ = {
            "n_train": len(texts),
            "history": history,
            "best_epoch": best[1] if best else int(self.epochs),
            "seconds": round(time.perf_counter() - t_start, 1),
        }
        return self

    def _index(self) -> None:
        self._char_index_ = {c: i for i, c in enumerate(self.vocab_)}
        self._bigram_index_ = {b: i for i, b in enumerate(self.bigrams_)}

    # -- inference ------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise ModelError("this CharNNClassifier is not fitted; call fit() or from_pretrained()")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities; columns follow ``labels_``."""
        self._check_fitted()
        if len(texts) == 0:
            return np.zeros((0, len(self.labels_)))
        z = self._logits(*self._encode(texts))
        return softmax(z, self.temperature_, dtype=None).astype(np.float64)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        return [self.labels_[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def n_parameters(self) -> int:
        """Number of weights of the network."""
        self._check_fitted()
        return int(sum(p.numel() for p in self.net_.parameters()))

    # -- persistence ----------------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json``, ``vocab.json`` and ``weights.safetensors`` (atomically)."""
        from safetensors.torch import save_file

        self._check_fitted()
        target = Path(directory)
        params = {
            k: getattr(self, k)
            for k in (
                "max_chars",
                "max_vocab",
                "max_bigrams",
                "min_count",
                "epochs",
                "batch_size",
                "lr",
                "weight_decay",
                "class_weight",
                "random_state",
            )
        }
        config = {
            "model_type": MODEL_TYPE,
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels_),
            "network": self._net_config(),
            "params": params,
            "temperature": float(self.temperature_),
            "preprocessing": {"normalize": True, "lowercase": True, "max_chars": self.max_chars},
            "training_info": getattr(self, "training_info_", {}),
            "version": __version__,
        }
        with atomic_directory(target) as tmp:
            (tmp / CONFIG_NAME).write_text(
                json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            (tmp / VOCAB_NAME).write_text(
                json.dumps({"chars": self.vocab_, "bigrams": self.bigrams_}, ensure_ascii=False),
                encoding="utf-8",
            )
            state = {k: v.detach().contiguous() for k, v in self.net_.state_dict().items()}
            save_file(state, str(tmp / WEIGHTS_NAME))
        return target

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> CharNNClassifier:
        """Open a directory written by :meth:`save_pretrained`."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(directory)
        cfg = read_config(path)
        if cfg.get("model_type") != MODEL_TYPE:
            raise ModelError(f"{path} holds a {cfg.get('model_type')!r} model, not {MODEL_TYPE!r}")
        try:
            net = cfg["network"]
            vocab = json.loads((path / VOCAB_NAME).read_text(encoding="utf-8"))
            state = load_file(str(path / WEIGHTS_NAME))
            clf = cls(
                arch=net["arch"],
                embed_dim=net["embed_dim"],
                hidden=net["hidden"],
                kernel_sizes=tuple(net["kernel_sizes"]),
                dropout=net["dropout"],
                **cfg.get("params", {}),
            )
            clf.labels_ = list(cfg["labels"])
            clf.vocab_ = list(vocab["chars"])
            clf.bigrams_ = list(vocab["bigrams"])
            clf.temperature_ = float(cfg.get("temperature", 1.0))
            clf.training_info_ = cfg.get("training_info", {})
            clf._index()
            clf.net_ = _build_network(
                clf._net_config(), len(clf.vocab_), len(clf.bigrams_), len(clf.labels_)
            )
            clf.net_.load_state_dict(state)
        except (OSError, KeyError, ValueError, RuntimeError, TypeError, SafetensorError) as exc:
            raise ModelError(f"cannot load the charnn model in {path}: {exc}") from exc
        clf.net_.eval()
        return clf


def _macro_f1(y: Sequence[int], pred: np.ndarray, n: int) -> float:
    y_arr = np.asarray(y)
    f1s = []
    for k in range(n):
        if not (y_arr == k).any():
            continue
        tp = float(((pred == k) & (y_arr == k)).sum())
        fp = float(((pred == k) & (y_arr != k)).sum())
        fn = float(((pred != k) & (y_arr == k)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0
