"""The team's knowledge: an FAQ searched with BM25, and a product catalog for recommendations.

Both load from YAML or CSV (the team edits them in a spreadsheet or a text
editor) and fail at load with :class:`~emotiondesk.errors.DataError` naming
the file, the entry and the line when a required field is missing. Sample
files for an online shop ship with the package (``replies/data/``).

The FAQ is tokenised by :data:`emotiondesk.text.tokens.RETRIEVAL` (Chinese
into characters and character bigrams: no dictionary to load, robust to the
shop's own product names; English into lower-cased words without stop words).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import SequenceNode

from emotiondesk.errors import DataError
from emotiondesk.text.tokens import RETRIEVAL, Tokenizer

# -- reading YAML / CSV records with line numbers --------------------------------------------


def _records(text: str, source: str, suffix: str) -> list[tuple[int, dict[str, Any]]]:
    """(line, record) pairs from a YAML list of mappings or a CSV with a header."""
    if suffix in (".yaml", ".yml"):
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line = f", line {mark.line + 1}" if mark is not None else ""
            raise DataError(f"{source}{line}: not valid YAML ({exc.problem})") from None
        if root is None:
            return []
        if not isinstance(root, SequenceNode):
            raise DataError(
                f"{source}, line {root.start_mark.line + 1}: expected a list of entries"
            )
        constructor = SafeConstructor()
        out = []
        for node in root.value:
            value = constructor.construct_object(node, deep=True)
            if not isinstance(value, dict):
                raise DataError(
                    f"{source}, line {node.start_mark.line + 1}: an entry must be a mapping"
                )
            out.append((node.start_mark.line + 1, value))
        return out
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        return [(i + 2, dict(row)) for i, row in enumerate(reader)]
    raise DataError(f"{source}: use a .yaml, .yml or .csv file")


def _read(path: str | Path | None, default_name: str) -> tuple[str, str, str]:
    if path is None:
        res = resources.files("emotiondesk.replies").joinpath("data", default_name)
        return res.read_text(encoding="utf-8"), default_name, Path(default_name).suffix
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p} does not exist")
    try:
        return p.read_text(encoding="utf-8-sig"), str(p), p.suffix.lower()
    except UnicodeDecodeError:
        raise DataError(f"{p} is not UTF-8") from None


def _field(rec: dict[str, Any], name: str, source: str, line: int, n: int) -> str:
    value = rec.get(name)
    if value is None or not str(value).strip():
        raise DataError(f"{source}, entry #{n} (line {line}): missing '{name}'")
    return str(value).strip()


def _list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in re.split(r"[|;,]", value) if v.strip())
    if isinstance(value, Iterable):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return (str(value),)


def _lucene_bm25() -> Any:
    """BM25Okapi with Lucene's always-positive idf, ``log(1 + (N - n + .5) / (n + .5))``.

    rank-bm25's Okapi idf turns negative for a term in more than half of the
    documents, which breaks small FAQs (a one-entry FAQ would never match).
    """
    import math

    from rank_bm25 import BM25Okapi

    class LuceneBM25(BM25Okapi):  # type: ignore[misc]
        def _calc_idf(self, nd: dict[str, int]) -> None:
            self.idf = {
                word: math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))
                for word, freq in nd.items()
            }

    return LuceneBM25


# -- FAQ --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaqEntry:
    id: str
    language: str
    question: str
    answer: str
    category: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaqHit:
    entry: FaqEntry
    score: float


class FaqIndex:
    """BM25 over the FAQ's questions and keywords, one index per language.

    Example:
        >>> faq = FaqIndex.load()                          # the shipped sample
        >>> faq.search("我的退款什么时候到账", "zh")[0].entry.id
        'tuikuan-shijian'
    """

    #: Share of the query's weight (idf) an entry must cover to be suggested,
    #: per language (Chinese queries carry many bigrams no entry uses).
    MIN_COVERAGE: ClassVar[dict[str, float]] = {"zh": 0.3, "en": 0.4}

    def __init__(
        self,
        entries: Sequence[FaqEntry],
        *,
        min_coverage: float | None = None,
        tokenizer: Tokenizer = RETRIEVAL,
    ) -> None:
        BM25 = _lucene_bm25()

        self.entries = list(entries)
        self.min_coverage = min_coverage
        self.tokenizer = tokenizer
        self._by_lang: dict[str, tuple[list[FaqEntry], Any, list[frozenset[str]]]] = {}
        for lang in sorted({e.language for e in self.entries}):
            docs = [e for e in self.entries if e.language == lang]
            corpus = [
                tokenizer(" ".join([e.question, *e.keywords, *e.keywords, e.category]), lang)
                or ["_"]
                for e in docs
            ]
            self._by_lang[lang] = (docs, BM25(corpus), [frozenset(c) for c in corpus])

    @classmethod
    def load(cls, path: str | Path | None = None, *, min_coverage: float | None = None) -> FaqIndex:
        """Read an FAQ (YAML list or CSV with columns id, lang, question, answer[, category, keywords])."""
        text, source, suffix = _read(path, "shop_faq.yaml")
        entries: list[FaqEntry] = []
        seen: set[str] = set()
        for n, (line, rec) in enumerate(_records(text, source, suffix), start=1):
            lang = (
                _field(rec, "lang", source, line, n)
                if "lang" in rec or "language" not in rec
                else str(rec["language"])
            )
            if lang not in ("zh", "en"):
                raise DataError(
                    f"{source}, entry #{n} (line {line}): lang must be zh or en, not {lang!r}"
                )
            entry = FaqEntry(
                id=_field(rec, "id", source, line, n),
                language=lang,
                question=_field(rec, "question", source, line, n),
                answer=_field(rec, "answer", source, line, n),
                category=str(rec.get("category") or ""),
                keywords=_list(rec.get("keywords")),
            )
            if entry.id in seen:
                raise DataError(f"{source}, entry #{n} (line {line}): duplicate id {entry.id!r}")
            seen.add(entry.id)
            entries.append(entry)
        if not entries:
            raise DataError(f"{source}: the FAQ has no entries")
        return cls(entries, min_coverage=min_coverage)

    def search(self, query: str, language: str, *, k: int = 1) -> list[FaqHit]:
        """The best entries of ``language`` for ``query`` (BM25 ranking).

        An entry is returned only when it covers at least ``min_coverage`` of
        the query's idf weight (query words the FAQ never uses count with the
        highest idf), a bar that does not move with the size of the FAQ.
        """
        if language not in self._by_lang:
            return []
        docs, bm25, token_sets = self._by_lang[language]
        tokens = list(dict.fromkeys(self.tokenizer(query, language)))
        if not tokens:
            return []
        scores = bm25.get_scores(tokens)
        top_idf = max(bm25.idf.values(), default=1.0)
        weights = {t: bm25.idf.get(t, top_idf) for t in tokens}
        total = sum(weights.values())
        hits = []
        for i in sorted(range(len(docs)), key=lambda i: -scores[i])[:k]:
            covered = sum(w for t, w in weights.items() if t in token_sets[i])
            floor = (
                self.min_coverage
                if self.min_coverage is not None
                else self.MIN_COVERAGE.get(language, 0.4)
            )
            if scores[i] > 0 and covered / total >= floor:
                hits.append(FaqHit(docs[i], round(float(scores[i]), 4)))
        return hits


# -- product catalog --------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    id: str
    names: dict[str, str]
    category: str
    price: float | None = None
    related: tuple[str, ...] = ()
    keywords: tuple[str, ...] = field(default_factory=tuple)

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or next(iter(self.names.values()))


class Catalog:
    """A small product catalog: products with categories and related items.

    Example:
        >>> cat = Catalog.load()
        >>> [p.id for p in cat.recommend(["the phone is great"], "en")]
        ['p-case']
    """

    def __init__(self, products: Sequence[Product]) -> None:
        self.products = list(products)
        self.by_id = {p.id: p for p in self.products}
        for p in self.products:
            for rid in p.related:
                if rid not in self.by_id:
                    raise DataError(f"catalog: product {p.id!r} names unknown related item {rid!r}")

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalog:
        """Read a catalog (CSV or YAML: id, name_en and/or name_zh, category[, price, related, keywords])."""
        text, source, suffix = _read(path, "catalog.csv")
        products: list[Product] = []
        for n, (line, rec) in enumerate(_records(text, source, suffix), start=1):
            names = {
                lang: str(rec[f"name_{lang}"]).strip()
                for lang in ("en", "zh")
                if rec.get(f"name_{lang}") and str(rec[f"name_{lang}"]).strip()
            }
            if not names:
                raise DataError(
                    f"{source}, entry #{n} (line {line}): missing 'name_en' or 'name_zh'"
                )
            price = rec.get("price")
            try:
                price_value = float(price) if price not in (None, "") else None
            except (TypeError, ValueError):
                raise DataError(
                    f"{source}, entry #{n} (line {line}): price {price!r} is not a number"
                ) from None
            products.append(
                Product(
                    id=_field(rec, "id", source, line, n),
                    names=names,
                    category=_field(rec, "category", source, line, n),
                    price=price_value,
                    related=_list(rec.get("related")),
                    keywords=_list(rec.get("keywords")),
                )
            )
        if not products:
            raise DataError(f"{source}: the catalog has no products")
        return cls(products)

    def mentioned(self, texts: Sequence[str]) -> Product | None:
        """The product the customer talked about most recently (``texts`` oldest first)."""
        for text in reversed(texts):
            low = text.lower()
            best: tuple[int, Product] | None = None
            for p in self.products:
                for term in (*p.keywords, *p.names.values()):
                    t = term.lower()
                    if t and t in low and (best is None or len(t) > best[0]):
                        best = (len(t), p)
            if best is not None:
                return best[1]
        return None

    def recommend(self, texts: Sequence[str], language: str, *, k: int = 1) -> list[Product]:
        """Items related to the product in the conversation; else the catalog's first (featured) items."""
        anchor = self.mentioned(texts)
        talked_about = {p.id for p in self.products if self._in_texts(p, texts)}
        if anchor is not None:
            picks = [self.by_id[r] for r in anchor.related if r not in talked_about][:k]
            if picks:
                return picks
            same = [
                p
                for p in self.products
                if p.category == anchor.category and p.id not in talked_about
            ]
            if same:
                return same[:k]
        return [p for p in self.products if p.id not in talked_about][:k]

    @staticmethod
    def _in_texts(product: Product, texts: Sequence[str]) -> bool:
        terms = [t.lower() for t in (*product.keywords, *product.names.values()) if t]
        return any(t in text.lower() for text in texts for t in terms)
