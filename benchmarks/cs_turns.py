"""Polarity and emotion on the customer-service turn set (issue 10, item 5).

    python benchmarks/cs_turns.py [--model default|PACK_DIR|MODEL_DIR] [--data FILE]
        [--lang auto|row] [--errors FILE.csv] [--json]
    python benchmarks/cs_turns.py --write-heldout-hashes

Reads ``benchmarks/data/cs_turns.csv`` (786 hand-written zh/en turns, see
``benchmarks/data/README.md``; a dev and evaluation set, never trained on) and
scores a model pack (``default`` = the shipped one, or a directory with
``pack.json``) or one model directory (``config.json``; a multi-task model
gives both tasks, a single-task one the task it predicts). It prints, per
language and overall: polarity accuracy and macro-F1, emotion accuracy and
macro-F1 (macro over the labels present in that slice); the polarity accuracy
of the negation + sarcasm rows; per-category accuracies; the majority-label
baseline; and the issue 10 targets (polarity accuracy >= 0.90 and emotion
macro-F1 >= 0.70 per language, negation + sarcasm polarity accuracy >= 0.85).

``--lang auto`` (default) routes each text by detected language, as
``emotiondesk analyze`` does; ``--lang row`` routes it by the row's ``lang``
(the language of its conversation; emoji-only rows then reach that language's
models). Packs are read through ``Analyzer.analyze``, as users get them
(pinyin reading, long texts in chunks, the lexical signals);
``--no-signals`` leaves the signals out, to see the models alone.
``--errors FILE`` writes the misclassified rows (either task) as CSV.

``--write-heldout-hashes`` regenerates ``src/emotiondesk/training/heldout_texts.txt``
(the hashes of this set's normalised texts that training refuses) after the
set was edited.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.errors import DataError, ModelError  # noqa: E402
from emotiondesk.evaluation.metrics import classification_report  # noqa: E402
from emotiondesk.labels import EMOTION_LABELS, POLARITY_LABELS  # noqa: E402

DEFAULT_DATA = ROOT / "benchmarks" / "data" / "cs_turns.csv"
HASH_PATH = ROOT / "src" / "emotiondesk" / "training" / "heldout_texts.txt"
COLUMNS = ("id", "text", "lang", "polarity", "emotion", "category", "speaker")
LANGS = ("zh", "en")
SPEAKERS = ("customer", "agent")
#: The rows whose polarity the issue singles out.
NEGATION_SARCASM = ("negation", "sarcasm")
#: Issue 10's targets: (slice, metric) -> floor.
TARGETS: dict[tuple[str, str], float] = {
    ("zh", "polarity_accuracy"): 0.90,
    ("en", "polarity_accuracy"): 0.90,
    ("zh", "emotion_macro_f1"): 0.70,
    ("en", "emotion_macro_f1"): 0.70,
    ("negation_sarcasm", "polarity_accuracy"): 0.85,
}


@dataclass(frozen=True)
class Turn:
    """One labelled row of the set."""

    id: str
    text: str
    lang: str
    polarity: str
    emotion: str
    category: str
    speaker: str


def read_turns(path: str | Path) -> list[Turn]:
    """Read and check the set: columns, canonical labels, languages, unique ids and texts."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing}; expected {list(COLUMNS)}")
        turns: list[Turn] = []
        for line, rec in enumerate(reader, start=2):
            turn = Turn(**{c: (rec[c] or "").strip() for c in COLUMNS})
            problems = []
            if not turn.text:
                problems.append("empty text")
            if turn.lang not in LANGS:
                problems.append(f"lang {turn.lang!r} is not one of {LANGS}")
            if turn.polarity not in POLARITY_LABELS:
                problems.append(f"polarity {turn.polarity!r} is not one of {POLARITY_LABELS}")
            if turn.emotion not in EMOTION_LABELS:
                problems.append(f"emotion {turn.emotion!r} is not one of {EMOTION_LABELS}")
            if turn.speaker not in SPEAKERS:
                problems.append(f"speaker {turn.speaker!r} is not one of {SPEAKERS}")
            if not turn.category:
                problems.append("empty category")
            if problems:
                raise DataError(
                    f"{path}, line {line} ({turn.id or 'no id'}): " + "; ".join(problems)
                )
            turns.append(turn)
    if not turns:
        raise DataError(f"{path} has no rows")
    dup = [k for k, n in Counter(t.id for t in turns).items() if n > 1]
    if dup:
        raise DataError(f"{path}: duplicate id(s) {dup[:5]}")
    return turns


# -- prediction ---------------------------------------------------------------------------


@dataclass
class Predictions:
    """Predicted labels (None where the model does not predict that task)."""

    model: str
    polarity: list[str] | None
    emotion: list[str] | None
    polarity_conf: list[float] | None
    emotion_conf: list[float] | None
    routed: list[str]  # the language whose models read each row ("" for a single model)
    seconds: float


def _argmax(proba: Any, labels: Sequence[str]) -> tuple[list[str], list[float]]:
    idx = proba.argmax(axis=1)
    return [labels[i] for i in idx], [round(float(proba[k, i]), 4) for k, i in enumerate(idx)]


def predict(
    model: str, turns: Sequence[Turn], *, lang: str = "auto", signals: bool = True
) -> Predictions:
    """Predict both tasks for every turn with a pack (as ``analyze`` does) or a model directory."""
    from emotiondesk.analyzer import _to_scheme, load_analyzer, open_model, task_head
    from emotiondesk.models.base import CONFIG_NAME
    from emotiondesk.pack import PACK_FILE
    from emotiondesk.text import prepare

    texts = [t.text for t in turns]
    path = None if model == "default" else Path(model)
    start = time.perf_counter()
    if path is None or (path / PACK_FILE).is_file():
        # The user's path: analyze() (pinyin reading, long texts in chunks, the
        # lexical signals unless --no-signals), then the probabilities it reports.
        analyzer = load_analyzer(path, signals=signals)
        results: list[Any] = [None] * len(turns)
        if lang == "auto":
            results = analyzer.analyze(texts)
        else:
            for code in LANGS:
                idx = [i for i, t in enumerate(turns) if t.lang == code]
                if idx:
                    read = analyzer.analyze([texts[i] for i in idx], language=code)
                    for i, r in zip(idx, read, strict=True):
                        results[i] = r
        pol = np.array([[r.polarity_scores[x] for x in POLARITY_LABELS] for r in results])
        emo = np.array([[r.emotion_scores[x] for x in EMOTION_LABELS] for r in results])
        p_lab, p_conf = _argmax(pol, POLARITY_LABELS)
        e_lab, e_conf = _argmax(emo, EMOTION_LABELS)
        return Predictions(
            model=analyzer.version + ("" if signals else " (no signals)"),
            polarity=p_lab,
            emotion=e_lab,
            polarity_conf=p_conf,
            emotion_conf=e_conf,
            routed=[analyzer.route(r.language) for r in results],
            seconds=time.perf_counter() - start,
        )
    if path.is_dir() and (path / CONFIG_NAME).is_file():
        clf = open_model(path)
        normed = [prepare(t).text for t in texts]
        out: dict[str, tuple[list[str], list[float]] | None] = {}
        for task, scheme in (("polarity", POLARITY_LABELS), ("emotion", EMOTION_LABELS)):
            try:
                head = task_head(clf, task)
            except (ModelError, KeyError, ValueError):
                out[task] = None
                continue
            if not set(head.labels_) <= set(scheme):
                out[task] = None
                continue
            out[task] = _argmax(
                _to_scheme(head.predict_proba(normed), head.labels_, scheme), scheme
            )
        if out["polarity"] is None and out["emotion"] is None:
            raise ModelError(f"model {path} predicts neither polarity nor emotion labels")
        pol_out, emo_out = out["polarity"], out["emotion"]
        return Predictions(
            model=str(path),
            polarity=pol_out[0] if pol_out else None,
            emotion=emo_out[0] if emo_out else None,
            polarity_conf=pol_out[1] if pol_out else None,
            emotion_conf=emo_out[1] if emo_out else None,
            routed=[""] * len(turns),
            seconds=time.perf_counter() - start,
        )
    raise ModelError(
        f"--model {model!r} is neither 'default', a pack directory (with pack.json) "
        "nor a model directory (with config.json)"
    )


# -- scoring ------------------------------------------------------------------------------


def _present(labels: Sequence[str], scheme: Sequence[str]) -> list[str]:
    seen = set(labels)
    return [label for label in scheme if label in seen]


def _task_figures(gold: Sequence[str], pred: Sequence[str], scheme: Sequence[str]) -> dict:
    """Accuracy and macro-F1 over the labels present in ``gold``."""
    labels = _present(gold, scheme)
    r = classification_report(list(gold), list(pred), labels)
    return {
        "accuracy": round(r.accuracy, 4),
        "macro_f1": round(r.macro_f1, 4),
        "per_class_f1": {k: round(v["f1"], 4) for k, v in r.per_class.items()},
    }


def _accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    return round(sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold), 4)


def score(
    turns: Sequence[Turn], polarity: Sequence[str] | None, emotion: Sequence[str] | None
) -> dict[str, Any]:
    """Every figure of the benchmark for the given predictions (either task may be None)."""
    for name, pred in (("polarity", polarity), ("emotion", emotion)):
        if pred is not None and len(pred) != len(turns):
            raise DataError(f"{len(pred)} {name} predictions for {len(turns)} turns")

    def figures(idx: list[int]) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(idx)}
        if not idx:
            return out
        for task, pred, scheme in (
            ("polarity", polarity, POLARITY_LABELS),
            ("emotion", emotion, EMOTION_LABELS),
        ):
            gold = [getattr(turns[i], task) for i in idx]
            top = Counter(gold).most_common(1)[0][0]
            out[f"{task}_majority_accuracy"] = _accuracy(gold, [top] * len(gold))
            if pred is None:
                continue
            f = _task_figures(gold, [pred[i] for i in idx], scheme)
            out[f"{task}_accuracy"] = f["accuracy"]
            out[f"{task}_macro_f1"] = f["macro_f1"]
            out[f"{task}_per_class_f1"] = f["per_class_f1"]
        return out

    every = list(range(len(turns)))
    result: dict[str, Any] = {"n": len(turns), "overall": figures(every), "by_lang": {}}
    for lang in LANGS:
        result["by_lang"][lang] = figures([i for i in every if turns[i].lang == lang])
    ns = [i for i in every if turns[i].category in NEGATION_SARCASM]
    result["negation_sarcasm"] = {
        "all": figures(ns),
        **{lang: figures([i for i in ns if turns[i].lang == lang]) for lang in LANGS},
    }
    result["by_speaker"] = {
        s: figures([i for i in every if turns[i].speaker == s]) for s in SPEAKERS
    }
    cats: dict[str, Any] = {}
    for cat in sorted({t.category for t in turns}):
        row: dict[str, Any] = {}
        for lang in ("all", *LANGS):
            idx = [i for i in every if turns[i].category == cat and lang in ("all", turns[i].lang)]
            if not idx:
                continue
            cell: dict[str, Any] = {"n": len(idx)}
            if polarity is not None:
                cell["polarity_accuracy"] = _accuracy(
                    [turns[i].polarity for i in idx], [polarity[i] for i in idx]
                )
            if emotion is not None:
                cell["emotion_accuracy"] = _accuracy(
                    [turns[i].emotion for i in idx], [emotion[i] for i in idx]
                )
            row[lang] = cell
        cats[cat] = row
    result["by_category"] = cats
    result["targets"] = targets(result)
    return result


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 10's targets with the measured value and whether it is met."""
    out = []
    for (where, metric), floor in TARGETS.items():
        block = (
            result["negation_sarcasm"]["all"]
            if where == "negation_sarcasm"
            else result["by_lang"][where]
        )
        value = block.get(metric)
        out.append(
            {
                "slice": where,
                "metric": metric,
                "target": floor,
                "value": value,
                "met": None if value is None else value >= floor,
            }
        )
    return out


def errors(turns: Sequence[Turn], preds: Predictions) -> list[dict[str, Any]]:
    """The rows where either predicted label differs from the gold one."""
    rows = []
    for i, t in enumerate(turns):
        pol_wrong = preds.polarity is not None and preds.polarity[i] != t.polarity
        emo_wrong = preds.emotion is not None and preds.emotion[i] != t.emotion
        if not (pol_wrong or emo_wrong):
            continue
        rows.append(
            {
                "id": t.id,
                "text": t.text,
                "lang": t.lang,
                "routed": preds.routed[i],
                "category": t.category,
                "speaker": t.speaker,
                "polarity": t.polarity,
                "predicted_polarity": preds.polarity[i] if preds.polarity else "",
                "polarity_confidence": preds.polarity_conf[i] if preds.polarity_conf else "",
                "emotion": t.emotion,
                "predicted_emotion": preds.emotion[i] if preds.emotion else "",
                "emotion_confidence": preds.emotion_conf[i] if preds.emotion_conf else "",
                "wrong": "+".join(
                    w for w, bad in (("polarity", pol_wrong), ("emotion", emo_wrong)) if bad
                ),
            }
        )
    return rows


def write_errors(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    fields = [
        "id",
        "text",
        "lang",
        "routed",
        "category",
        "speaker",
        "polarity",
        "predicted_polarity",
        "polarity_confidence",
        "emotion",
        "predicted_emotion",
        "emotion_confidence",
        "wrong",
    ]
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


# -- output -------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(result: dict[str, Any]) -> str:
    """The figures as markdown tables."""
    lines = [
        "| slice | n | polarity acc | polarity macro-F1 | emotion acc | emotion macro-F1 "
        "| majority pol acc | majority emo acc |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    slices = [
        ("zh", result["by_lang"]["zh"]),
        ("en", result["by_lang"]["en"]),
        ("all", result["overall"]),
        ("negation + sarcasm, zh", result["negation_sarcasm"]["zh"]),
        ("negation + sarcasm, en", result["negation_sarcasm"]["en"]),
        ("negation + sarcasm, all", result["negation_sarcasm"]["all"]),
        ("customer turns", result["by_speaker"]["customer"]),
        ("agent turns", result["by_speaker"]["agent"]),
    ]
    for name, f in slices:
        if not f.get("n"):
            continue
        lines.append(
            f"| {name} | {f['n']} | {_fmt(f.get('polarity_accuracy'))} "
            f"| {_fmt(f.get('polarity_macro_f1'))} | {_fmt(f.get('emotion_accuracy'))} "
            f"| {_fmt(f.get('emotion_macro_f1'))} | {_fmt(f.get('polarity_majority_accuracy'))} "
            f"| {_fmt(f.get('emotion_majority_accuracy'))} |"
        )
    lines += [
        "",
        "| category | n zh | n en | polarity acc zh | polarity acc en | emotion acc zh "
        "| emotion acc en |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cat, row in result["by_category"].items():
        zh, en = row.get("zh", {}), row.get("en", {})
        lines.append(
            f"| {cat} | {zh.get('n', 0)} | {en.get('n', 0)} "
            f"| {_fmt(zh.get('polarity_accuracy'))} | {_fmt(en.get('polarity_accuracy'))} "
            f"| {_fmt(zh.get('emotion_accuracy'))} | {_fmt(en.get('emotion_accuracy'))} |"
        )
    lines += ["", "| target (issue 10) | value | target | met |", "| --- | ---: | ---: | --- |"]
    for t in result["targets"]:
        met = "—" if t["met"] is None else ("yes" if t["met"] else "no")
        lines.append(
            f"| {t['slice']} {t['metric']} | {_fmt(t['value'])} | ≥ {t['target']:.2f} | {met} |"
        )
    return "\n".join(lines)


def write_hashes(data: Path, out: Path = HASH_PATH) -> int:
    """Regenerate the package's held-out hash list from the set; returns the count."""
    from emotiondesk.training.heldout import hash_lines

    lines = hash_lines(t.text for t in read_turns(data))
    header = (
        "# Hashes of the normalised texts of benchmarks/data/cs_turns.csv (an evaluation set:\n"
        "# never train on it). First 16 hex digits of SHA-256 of emotiondesk.text.normalize(text).\n"
        "# Regenerate: python benchmarks/cs_turns.py --write-heldout-hashes\n"
    )
    out.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default", help="default, a pack dir or a model dir")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the turn set CSV")
    ap.add_argument("--lang", choices=("auto", "row"), default="auto", help="route by")
    ap.add_argument(
        "--no-signals",
        action="store_true",
        help="packs: the models alone, without the lexical signals analyze() adds",
    )
    ap.add_argument("--errors", type=Path, help="write the misclassified rows to this CSV")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument(
        "--write-heldout-hashes",
        action="store_true",
        help="regenerate the training code's held-out hash list from --data and stop",
    )
    args = ap.parse_args(argv)
    try:
        if args.write_heldout_hashes:
            n = write_hashes(args.data)
            print(f"wrote {n} hashes to {HASH_PATH.relative_to(ROOT)}")
            return 0
        turns = read_turns(args.data)
        preds = predict(args.model, turns, lang=args.lang, signals=not args.no_signals)
    except (DataError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = score(turns, preds.polarity, preds.emotion)
    result.update(
        {
            "model": preds.model,
            "data": str(args.data),
            "lang_routing": args.lang,
            "seconds": round(preds.seconds, 3),
        }
    )
    if args.errors:
        rows = errors(turns, preds)
        write_errors(rows, args.errors)
        result["errors_file"] = str(args.errors)
        result["errors_written"] = len(rows)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(
            f"customer-service turn set: {result['n']} turns ({args.data.name}), "
            f"model {preds.model}, routing by {args.lang} language, {preds.seconds:.2f} s"
        )
        print()
        print(markdown(result))
        if args.errors:
            print(f"\n{result['errors_written']} misclassified rows written to {args.errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
