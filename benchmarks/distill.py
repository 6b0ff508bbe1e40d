"""Distil the fine-tuned e5 model into the n-gram tier (issue 10, item 4).

Three phases, run from the repository root::

    # 1. label unlabelled text with the teacher's calibrated probabilities
    #    (resumable: appends to CACHE/labels.jsonl, skips texts already labelled)
    python benchmarks/distill.py label --data ../shared/data --teacher TEACHER_DIR \\
        --cache CACHE [--zh 40000] [--en 25000]

    # 2. train n-gram models on gold + distilled rows and score them against the
    #    current ones on seeded halves of every dev set (WORK/report.json, model cards)
    python benchmarks/distill.py train --data ../shared/data --cache CACHE --work WORK \\
        [--only en-polarity-ngram ...] [--mode soft|hard] [--weight 1.0]

    # 3. the pack's rule on the "choose" halves; --write copies the winner into
    #    models/ as {lang}-{task}-distilled and routes models/fast to it
    python benchmarks/distill.py select --work WORK [WORK2 ...] [--write]

``TEACHER_DIR`` is a multi-task model with ``polarity`` and ``emotion`` heads
exported to ONNX (``model_type`` ``onnx``) (the fp32 ONNX export of the
fine-tuned e5 model, or the shipped ``models/e5-multitask``). The unlabelled
text (see ``POOL``) comes from ``--data`` (the shared data folder): the
unlabelled JD.com customer-service chats, the Weibo customer-helpdesk
dialogues (STC-3, zh and en; their satisfaction labels are not used), the
USS English service dialogues, and a share of the
training splits the n-gram recipes already use (so that review text gets
emotion targets and emotion text gets polarity targets). Every text of every
dev split (``*/dev.csv``), of the written held-out files and of the
customer-service turn set is removed before sampling; texts are sampled with
a fixed seed, domain-closest sources first in the quotas.

When ``--data`` is absent the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.text import normalize  # noqa: E402
from emotiondesk.training.heldout import heldout_mask  # noqa: E402

logger = logging.getLogger("distill")

REPO_DATA = ROOT / "benchmarks" / "data"
LABELS_FILE = "labels.jsonl"


@dataclass(frozen=True)
class PoolSource:
    """Unlabelled text: the ``text`` column of one CSV under ``--data`` (labels ignored)."""

    lang: str
    file: str  # relative to --data
    share: float  # share of the language's quota


#: Domain-closest first; the shares sum to 1 per language.
POOL: tuple[PoolSource, ...] = (
    PoolSource("zh", "jddc_chat_sample/chat_sample.csv", 0.30),
    PoolSource("zh", "stc3_dch_helpdesk/train_zh.csv", 0.35),
    PoolSource("zh", "online_shopping_10_cats/train.csv", 0.20),
    PoolSource("zh", "smp2020_ewect/train.csv", 0.15),
    PoolSource("en", "stc3_dch_helpdesk/train_en.csv", 0.27),
    PoolSource("en", "uss_satisfaction_en/train.csv", 0.33),
    PoolSource("en", "dailydialog/train.csv", 0.20),
    PoolSource("en", "goemotions/train.csv", 0.08),
    PoolSource("en", "meld/train.csv", 0.06),
    PoolSource("en", "tweeteval_sentiment/train_reconstructed.csv", 0.06),
)

#: The files whose texts must never be labelled (every figure is reported on them).
HELDOUT_REPO_FILES = ("cs_inquiries_zh_heldout.csv", "cs_inquiries_en_heldout.csv")


def text_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _csv_texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [(r.get("text") or "").strip() for r in csv.DictReader(fh)]


def dev_texts(data: Path) -> set[str]:
    """Every dev text (raw and normalised): all ``*/dev.csv`` plus the written held-out files."""
    out: set[str] = set()
    files = sorted(data.glob("*/dev.csv")) + [REPO_DATA / f for f in HELDOUT_REPO_FILES]
    for path in files:
        for t in _csv_texts(path):
            out.add(t)
            out.add(normalize(t))
    out.discard("")
    return out


def pool_texts(data: Path, src: PoolSource) -> list[str]:
    path = data / src.file
    if not path.is_file():
        logger.warning("%s is missing; that source is skipped", path)
        return []
    return _csv_texts(path)


def sample_pool(data: Path, quotas: dict[str, int], seed: int) -> list[dict[str, str]]:
    """The texts to label, in labelling order (sources interleaved by their shares)."""
    dev = dev_texts(data)
    seen: set[str] = set()
    items: list[tuple[float, dict[str, str]]] = []
    for src in POOL:
        raw = pool_texts(data, src)
        keep = []
        for t in raw:
            if len(t) < 2 or t in dev or normalize(t) in dev or t in seen:
                continue
            seen.add(t)
            keep.append(t)
        mask = heldout_mask(keep)
        keep = [t for t, m in zip(keep, mask, strict=True) if not m]
        rng = random.Random(f"{seed}:{src.file}")
        rng.shuffle(keep)
        n = min(len(keep), round(quotas[src.lang] * src.share))
        logger.info("%s: %d usable texts, %d sampled", src.file, len(keep), n)
        # rank / n interleaves the sources: a run stopped early holds each in its share
        items.extend(
            ((i + 0.5) / n, {"lang": src.lang, "source": src.file, "text": t})
            for i, t in enumerate(keep[:n])
        )
    items.sort(key=lambda kv: kv[0])
    return [it for _, it in items]


def read_cache(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:  # a chunk cut short by a kill: relabelled
                    continue
    return rows


def cmd_label(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from emotiondesk.models.onnx import OnnxClassifier

    todo = sample_pool(args.data, {"zh": args.zh, "en": args.en}, args.seed)
    args.cache.mkdir(parents=True, exist_ok=True)
    out = args.cache / LABELS_FILE
    done = {r["id"] for r in read_cache(out)}
    todo = [dict(it, id=text_id(it["text"])) for it in todo]
    todo = [it for it in todo if it["id"] not in done]
    logger.info("%d texts already labelled, %d to go", len(done), len(todo))
    teacher = OnnxClassifier.from_pretrained(
        args.teacher, batch_size=args.batch_size, num_threads=args.threads
    )
    tasks = {t: list(v) for t, v in teacher.tasks_.items()}
    meta = args.cache / "teacher.json"
    if not meta.is_file():
        meta.write_text(json.dumps({"teacher": str(args.teacher), "tasks": tasks}, indent=2))
    t0 = time.perf_counter()
    with out.open("a", encoding="utf-8") as fh, tqdm(total=len(todo), unit="text") as bar:
        for start in range(0, len(todo), args.chunk):
            chunk = todo[start : start + args.chunk]
            probs = teacher.predict_proba_all([it["text"] for it in chunk])
            for j, it in enumerate(chunk):
                row = dict(it)
                for task in tasks:
                    row[task] = [round(float(p), 4) for p in probs[task][j]]
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            bar.update(len(chunk))
            done_now = start + len(chunk)
            logger.info(
                "labelled %d/%d (%.1f texts/s)",
                done_now,
                len(todo),
                done_now / (time.perf_counter() - t0),
            )
    return 0


# -- phase 2: train the n-gram models on gold + distilled rows ---------------------------

#: The order the models are trained in (the ones the teacher helps most first).
ORDER = ("en-polarity-ngram", "zh-emotion-ngram", "zh-polarity-ngram", "en-emotion-ngram")
#: Soft targets: a distilled text becomes one row per class whose teacher probability
#: is at least this (renormalised), weighted by that probability times ``--weight``.
MIN_PROB = 0.1
#: The dev halves: ``choose`` decides shipping, ``report`` is what the figures quote.
HALF_SEED = 20261129


def distilled_rows(
    cache: list[dict[str, Any]],
    lang: str,
    task: str,
    teacher_labels: list[str],
    model_labels: set[str],
    *,
    mode: str,
    weight: float,
    threshold: float,
    exclude: set[str],
) -> tuple[list[str], list[str], list[float], dict[str, int]]:
    """(texts, labels, weights, texts per source) of the teacher's targets for one model."""
    texts: list[str] = []
    labels: list[str] = []
    weights: list[float] = []
    per_source: dict[str, int] = {}
    cols = [i for i, c in enumerate(teacher_labels) if c in model_labels]
    for row in cache:
        if row["lang"] != lang or row["text"] in exclude:
            continue
        p = [row[task][i] for i in cols]
        total = sum(p)
        if total <= 0:
            continue
        p = [v / total for v in p]
        if mode == "hard":
            best = max(range(len(p)), key=p.__getitem__)
            if p[best] < threshold:
                continue
            picked = [(best, 1.0)]
        else:
            keep = [(i, v) for i, v in enumerate(p) if v >= MIN_PROB]
            norm = sum(v for _, v in keep)
            picked = [(i, v / norm) for i, v in keep]
        for i, v in picked:
            texts.append(row["text"])
            labels.append(teacher_labels[cols[i]])
            weights.append(weight * v)
        per_source[row["source"]] = per_source.get(row["source"], 0) + 1
    return texts, labels, weights, per_source


def align_max_chars(model_dir: Path, reference: Path) -> int:
    """Give ``model_dir`` the reference model's ``max_chars`` (returns it).

    The n-gram models of one language share one n-gram lookup at inference only
    when their featurizer settings are equal (``ngram.share_lookups``); the
    shipped models read at most 2,000 characters, newly trained ones the current
    default. Only texts longer than that are read differently (a handful of the
    distilled texts; none of the gold ones of the English polarity recipe).
    """
    ref = json.loads((reference / "config.json").read_text(encoding="utf-8"))
    want = ref["preprocessing"]["max_chars"]
    path = model_dir / "config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    have = cfg["preprocessing"]["max_chars"]
    if have != want:
        cfg["preprocessing"]["max_chars"] = want
        path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        card = model_dir / "README.md"
        if card.is_file():  # the card's feature line quotes the settings
            text = card.read_text(encoding="utf-8")
            card.write_text(text.replace(f"'max_chars': {have}", f"'max_chars': {want}"))
    return int(want)


def halves(n: int, seed: int) -> tuple[list[int], list[int]]:
    import numpy as np

    perm = np.random.default_rng(seed).permutation(n)
    return sorted(perm[: n // 2].tolist()), sorted(perm[n // 2 :].tolist())


def score_model(model: Path, recipe: Any, devs: list[Any]) -> dict[str, dict[str, Any]]:
    """Per dev set: accuracy / macro-F1 on the full set and on its two halves."""
    from emotiondesk.evaluation.evaluate import predict_scheme_proba, report_from_proba

    out: dict[str, dict[str, Any]] = {}
    for i, (dev, data) in enumerate(devs):
        proba, _ = predict_scheme_proba(model, data.texts, task=recipe.task)
        a, b = halves(len(data), HALF_SEED + i)
        row: dict[str, Any] = {"n": len(data)}
        for part, idx in (("full", list(range(len(data)))), ("choose", a), ("report", b)):
            rep = report_from_proba(
                data.subset(idx), proba[idx], task=recipe.task, binary=dev.binary
            )
            row[part] = {
                "n": len(idx),
                "accuracy": round(rep["accuracy"], 4),
                "macro_f1": round(rep["macro_f1"], 4),
            }
            if part == "full":
                row["per_class"] = rep["per_class"]
        out[dev.name] = row
    return out


def judge(current: dict[str, Any], new: dict[str, Any], part: str) -> tuple[bool, list[str]]:
    """The pack's rule (train_pack.choose_route) on one half: (ships, reasons it does not)."""
    import train_pack as tp

    def head(name: str, rows: dict[str, Any]) -> float:
        r = rows[name][part]
        return float(r["accuracy"] if name.endswith("(binary)") else r["macro_f1"])

    why: list[str] = []
    for name in current:
        tol = tp.DEV_TOLERANCE if tp.is_public(name) else tp.HELDOUT_TOLERANCE
        if tp.is_public(name):
            c, d = head(name, current), head(name, new)
        else:  # the written held-out set is judged on accuracy, as in choose_route
            c, d = current[name][part]["accuracy"], new[name][part]["accuracy"]
        if d < c - tol:
            why.append(f"{name} {d:.4f} < current {c:.4f}")
    pub = [n for n in current if tp.is_public(n)]
    mc = sum(head(n, current) for n in pub) / len(pub)
    md = sum(head(n, new) for n in pub) / len(pub)
    if md <= mc + tp.MIN_GAIN:
        why.append(f"mean public {md:.4f} not above current {mc:.4f} + {tp.MIN_GAIN}")
    return not why, why


def cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np
    import train_pack as tp

    from emotiondesk.models.ngram import NgramClassifier
    from emotiondesk.training.card import write_card

    cache = read_cache(args.cache / LABELS_FILE)
    if not cache:
        print(
            f"no labels in {args.cache / LABELS_FILE}: run the label phase first", file=sys.stderr
        )
        return 1
    teacher = json.loads((args.cache / "teacher.json").read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    report_path = args.work / "report.json"
    report: dict[str, Any] = json.loads(report_path.read_text()) if report_path.is_file() else {}
    names = args.only or list(ORDER)
    for name in names:
        recipe = tp.recipe_named(name)
        t0 = time.perf_counter()
        devs = tp.load_devs(recipe, args.data)
        dev_set = {t for _, d in devs for t in d.texts}
        texts, labels, per_source = tp.build_training_set(recipe, args.data, dev_set)
        gold = set(labels)
        d_texts, d_labels, d_weights, d_sources = distilled_rows(
            cache,
            recipe.language,
            recipe.task,
            teacher["tasks"][recipe.task],
            gold,
            mode=args.mode,
            weight=args.weight,
            threshold=args.threshold,
            exclude=dev_set | {normalize(t) for t in dev_set},
        )
        n_distilled = sum(d_sources.values())
        logger.info(
            "%s: %d gold rows, %d distilled texts (%d weighted rows, %s)",
            name,
            len(texts),
            n_distilled,
            len(d_texts),
            args.mode,
        )
        weights = np.concatenate([np.ones(len(texts)), np.asarray(d_weights)])
        clf = NgramClassifier(language=recipe.language, **recipe.params).fit(
            texts + d_texts, labels + d_labels, sample_weight=weights
        )
        sources = dict(per_source)
        for src, n in d_sources.items():
            sources[f"{src} [teacher {recipe.task}, {args.mode}]"] = n
        clf.training_info_.update({"task": recipe.task, "sources": sources})
        new_name = name.replace("-ngram", "-distilled")
        out_dir = args.work / new_name
        clf.save_pretrained(out_dir)
        align_max_chars(out_dir, args.models / name)
        current = score_model(args.models / name, recipe, devs)
        new = score_model(out_dir, recipe, devs)
        ships, why = judge(current, new, "choose")
        ships_report, why_report = judge(current, new, "report")
        report[name] = {
            "distilled_model": new_name,
            "gold_rows": len(texts),
            "distilled_texts": n_distilled,
            "distilled_rows": len(d_texts),
            "distilled_sources": d_sources,
            "mode": args.mode,
            "weight": args.weight,
            "threshold": args.threshold if args.mode == "hard" else None,
            "fit_seconds": clf.training_info_["fit_seconds"],
            "current": current,
            "distilled": new,
            "ships (choose halves)": ships,
            "not shipped because": why,
            "would ship on the report halves": ships_report,
            "report-half reasons": why_report,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        logger.info("%s: ships=%s %s", name, ships, why)
        for dev_name in current:
            logger.info(
                "  %s: full acc/F1 current %s -> distilled %s",
                dev_name,
                (current[dev_name]["full"]["accuracy"], current[dev_name]["full"]["macro_f1"]),
                (new[dev_name]["full"]["accuracy"], new[dev_name]["full"]["macro_f1"]),
            )
        dev_rows = [
            {
                "dev": dev.name,
                "n": new[dev.name]["n"],
                "accuracy": new[dev.name]["full"]["accuracy"],
                "macro_f1": new[dev.name]["full"]["macro_f1"],
                "per_class": new[dev.name]["per_class"],
            }
            for dev, _ in devs
        ]
        clf.training_info_["dev"] = [
            {k: r[k] for k in ("dev", "n", "accuracy", "macro_f1")} for r in dev_rows
        ]
        clf.save_pretrained(out_dir)
        align_max_chars(out_dir, args.models / name)
        card_recipe = dataclasses.replace(
            recipe, name=new_name, notes=distill_note(report[name], teacher)
        )
        write_card(out_dir, tp.model_card(card_recipe, clf, sources, dev_rows, COMMAND))
    return 0


def mean_headline(rows: dict[str, Any], part: str) -> float:
    import train_pack as tp

    vals = [
        float(r[part]["accuracy"] if name.endswith("(binary)") else r[part]["macro_f1"])
        for name, r in rows.items()
        if tp.is_public(name)
    ]
    return sum(vals) / len(vals)


def cmd_select(args: argparse.Namespace) -> int:
    """Per model, the variant (work dir) that passes the rule with the best mean on the
    choose halves; with ``--write``, copy it into the models folder and route the fast
    pack to it (the n-gram models themselves stay: the default pack's ensembles use them).
    """
    import shutil

    chosen: dict[str, tuple[Path, dict[str, Any]]] = {}
    summary: dict[str, Any] = {}
    for work in args.work:
        report = json.loads((work / "report.json").read_text())
        for name, r in report.items():
            mean = mean_headline(r["distilled"], "choose")
            summary.setdefault(name, []).append(
                {
                    "work": work.name,
                    "mode": r["mode"],
                    "weight": r["weight"],
                    "ships": r["ships (choose halves)"],
                    "choose_mean": round(mean, 4),
                    "current_choose_mean": round(mean_headline(r["current"], "choose"), 4),
                    "report_mean": round(mean_headline(r["distilled"], "report"), 4),
                    "current_report_mean": round(mean_headline(r["current"], "report"), 4),
                }
            )
            if r["ships (choose halves)"] and (
                name not in chosen or mean > mean_headline(chosen[name][1]["distilled"], "choose")
            ):
                chosen[name] = (work, r)
    print(
        json.dumps(
            {"variants": summary, "chosen": {k: str(v[0]) for k, v in chosen.items()}}, indent=2
        )
    )
    if not args.write:
        return 0
    pack_path = args.models / "fast" / "pack.json"
    pack = json.loads(pack_path.read_text())
    for name, (work, r) in chosen.items():
        recipe_lang, recipe_task = name.split("-")[:2]
        dest = args.models / r["distilled_model"]
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(work / r["distilled_model"], dest)
        align_max_chars(dest, args.models / name)
        pack["routes"][recipe_lang][recipe_task] = f"../{r['distilled_model']}"
        logger.info("%s -> %s (from %s)", name, dest, work)
    if chosen:
        pack["version"] = args.version
        pack["created"] = time.strftime("%Y-%m-%d")
        pack["distilled"] = {
            name: {
                "model": r["distilled_model"],
                "mode": r["mode"],
                "weight": r["weight"],
                "distilled_texts": r["distilled_texts"],
            }
            for name, (_, r) in chosen.items()
        }
        pack_path.write_text(json.dumps(pack, indent=2, ensure_ascii=False) + "\n")
    return 0


COMMAND = (
    "python benchmarks/distill.py label --data ../shared/data --teacher TEACHER --cache CACHE\n"
    "python benchmarks/distill.py train --data ../shared/data --cache CACHE --work WORK"
)


def distill_note(r: dict[str, Any], teacher: dict[str, Any]) -> str:
    lines = [
        f"Distilled (issue 10, item 4): the recipe of `{r['distilled_model'].replace('-distilled', '-ngram')}` "
        f"(gold rows, weight 1) plus {r['distilled_texts']} unlabelled texts labelled by the fine-tuned "
        f"e5 model (`{Path(teacher['teacher']).name}`, calibrated probabilities; "
        + (
            f"soft targets: one row per class with p >= {MIN_PROB}, weighted by p x {r['weight']}"
            if r["mode"] == "soft"
            else f"hard labels where p >= {r['threshold']}, weight {r['weight']}"
        )
        + "). Dev figures against the current n-gram model, measured in the same run "
        "(accuracy / macro-F1; `choose` and `report` are seeded halves of each dev set: "
        "the shipping decision is taken on `choose`, `report` was not used for anything):",
        "",
        "| dev set | n | current (full) | distilled (full) | current (report half) | distilled (report half) |",
        "| --- | ---: | --- | --- | --- | --- |",
    ]
    for name, c in r["current"].items():
        d = r["distilled"][name]

        def f(x: dict[str, Any]) -> str:
            return f"{x['accuracy']:.4f} / {x['macro_f1']:.4f}"

        lines.append(
            f"| {name} | {c['n']} | {f(c['full'])} | {f(d['full'])} | {f(c['report'])} | {f(d['report'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="phase", required=True)
    lab = sub.add_parser("label", help="label unlabelled text with the teacher (resumable)")
    lab.add_argument("--data", type=Path, default=Path("../shared/data"))
    lab.add_argument("--teacher", type=Path, required=True)
    lab.add_argument("--cache", type=Path, required=True, help="folder outside the repository")
    lab.add_argument("--zh", type=int, default=40_000)
    lab.add_argument("--en", type=int, default=25_000)
    lab.add_argument("--seed", type=int, default=42)
    lab.add_argument("--batch-size", type=int, default=64)
    lab.add_argument("--threads", type=int, default=1)
    lab.add_argument("--chunk", type=int, default=1024)
    tr = sub.add_parser("train", help="train the n-gram models on gold + distilled rows")
    tr.add_argument("--data", type=Path, default=Path("../shared/data"))
    tr.add_argument("--cache", type=Path, required=True)
    tr.add_argument("--work", type=Path, required=True, help="where the trained models go")
    tr.add_argument("--models", type=Path, default=ROOT / "models", help="the current models")
    tr.add_argument("--only", nargs="*", choices=ORDER)
    tr.add_argument("--mode", choices=("soft", "hard"), default="soft")
    tr.add_argument("--weight", type=float, default=1.0, help="weight of a distilled text")
    tr.add_argument("--threshold", type=float, default=0.8, help="--mode hard: least teacher p")
    se = sub.add_parser("select", help="pick the variant that passes the rule; --write ships it")
    se.add_argument("--data", type=Path, default=Path("../shared/data"))
    se.add_argument("--work", type=Path, nargs="+", required=True, help="train phase outputs")
    se.add_argument("--models", type=Path, default=ROOT / "models")
    se.add_argument("--version", default="2026.11.3", help="the fast pack's new version")
    se.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(
            f"data directory {args.data} not found: the public data sets are needed "
            "(see the shared data README); nothing done",
            file=sys.stderr,
        )
        return 0
    if args.phase == "label":
        return cmd_label(args)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    if args.phase == "select":
        return cmd_select(args)
    return cmd_train(args)


if __name__ == "__main__":
    raise SystemExit(main())
