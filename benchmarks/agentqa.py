"""Measure the agent-quality scorer on the hand-labelled replies, and the conversation
score against customer satisfaction on the USS service dialogues.

1. ``benchmarks/data/agentqa_{en,zh}.yaml``: agent replies to customer turns of
   every emotion, each criterion labelled pass / fail / N/A by hand (see
   ``benchmarks/data/README.md``). The customer turns are split in two halves
   by a hash of their id (``dev``: where the rubric's cues were tuned;
   ``test``: never looked at while tuning; report this one). Per criterion:
   precision, recall and F1 of each verdict and their macro average, with the
   customer's emotion either as labelled (``--emotion gold``, the scorer
   alone) or read by the shipped model pack (``--emotion model``, end to end;
   ``--emotion fast``: by its n-gram tier, as ``POST /v1/coach`` reads them).
   ``--split tune``: ``agentqa_tune_{en,zh}.yaml``, replies written later to tune
   answers_question and no_blame only (the other criteria are not labelled there).
2. ``--data DIR``: the Spearman correlation between the 0-100 conversation
   score and the annotated dialogue satisfaction of ``uss_satisfaction_en/dev.csv``
   (MultiWOZ + SGD, mean of the annotators' 1-5 overall scores) and
   ``jddc_uss_satisfaction/usda_valid.csv`` (JD.com, dissatisfied / neutral /
   satisfied); said so and skipped when absent. Customer emotions there are
   read by the shipped pack unless ``--no-model``.

    python benchmarks/agentqa.py [--split test|dev|tune|all] [--emotion gold|model|fast] [--data ../shared/data] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml
from scipy.stats import spearmanr

from emotiondesk.agentqa import AgentScorer, CustomerTurn, Turn
from emotiondesk.agentqa.scorer import FAIL, NA, PASS

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
LETTERS = {
    "G": "greeting",
    "E": "empathy",
    "A": "apology",
    "N": "next_step",
    "T": "timeframe",
    "Q": "answers_question",
    "B": "no_blame",
    "P": "politeness",
    "C": "closing",
}
ALWAYS = ("B", "P")
NEGATIVE = {"anger", "disgust", "sadness", "fear"}


def load_items(files: list[Path]) -> list[dict]:
    """One item per reply: text, language, the customer turn, the gold verdict per criterion."""
    items = []
    for f in files:
        lang = f.stem.rsplit("_", 1)[-1]
        tune = f.stem.startswith("agentqa_tune_")
        for turn in yaml.safe_load(f.read_text("utf-8")):
            # a turn may label only some criteria (`criteria`, the tuning files): the
            # others get no gold verdict and are not scored
            labelled = set(turn.get("criteria") or LETTERS)
            applies = set(turn["applies"]) | set(ALWAYS)
            for k, reply in enumerate(turn["replies"]):
                fails = set(reply["fails"])
                bad = fails - applies
                if bad:
                    raise SystemExit(f"{f.name} {turn['id']} reply {k}: fails {bad} not applicable")
                gold = {
                    name: (
                        None
                        if letter not in labelled
                        else NA
                        if letter not in applies
                        else FAIL
                        if letter in fails
                        else PASS
                    )
                    for letter, name in LETTERS.items()
                }
                items.append(
                    {
                        "turn": turn["id"],
                        "language": lang,
                        "emotion": turn["emotion"],
                        "customer": turn["customer"],
                        "first": "G" in turn["applies"],
                        "text": reply["text"],
                        "gold": gold,
                        "tune_file": tune,
                    }
                )
    return items


def split_of(turn_id: str, ids: list[str]) -> str:
    """``dev`` for the half of a language's turns with the smaller hashes, else ``test``."""
    order = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
    return "dev" if order.index(turn_id) < len(order) // 2 else "test"


def prf(gold: list[str], pred: list[str], label: str) -> tuple[float, float, float, int]:
    tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
    fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
    fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp + fn


def evaluate(
    items: list[dict], scorer: AgentScorer, emotions: dict[str, tuple[str, str]] | None
) -> dict:
    preds = []
    for it in items:
        if emotions is not None:  # the analyzer's reading, as the service passes it
            emotion, polarity = emotions[it["customer"]]
        else:  # the labelled emotion
            emotion = it["emotion"]
            polarity = "negative" if emotion in NEGATIVE else None
        card = scorer.score_reply(
            it["text"],
            customer=CustomerTurn(
                it["customer"], emotion=emotion, polarity=polarity, language=it["language"]
            ),
            first_reply=it["first"],
            language=it["language"],
        )
        preds.append({r.criterion: r.verdict for r in card.results})
    report = {}
    for name in LETTERS.values():
        scored = [(it, p) for it, p in zip(items, preds, strict=True) if it["gold"][name]]
        if not scored:
            continue
        gold = [it["gold"][name] for it, _ in scored]
        pred = [p[name] for _, p in scored]
        per = {}
        for label in (PASS, FAIL, NA):
            p, r, f, n = prf(gold, pred, label)
            per[label] = {
                "precision": round(p, 3),
                "recall": round(r, 3),
                "f1": round(f, 3),
                "n": n,
            }
        present = [label for label in (PASS, FAIL, NA) if per[label]["n"] > 0]
        report[name] = {
            "macro_f1": round(sum(per[label]["f1"] for label in present) / len(present), 3),
            "accuracy": round(sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold), 3),
            "verdicts": per,
            "errors": [
                {"text": it["text"], "gold": g, "pred": p}
                for (it, _), g, p in zip(scored, gold, pred, strict=True)
                if g != p
            ],
        }
    return report


def model_emotions(texts: list[str], fast: bool = False) -> dict[str, tuple[str, str]]:
    """The shipped default pack's reading of each text (``fast``: the n-gram tier,
    ``models/fast``, which ``POST /v1/coach`` reads customer turns with by default)."""
    from emotiondesk import load_analyzer
    from emotiondesk.pack import shipped_pack_dir

    analyzer = load_analyzer(shipped_pack_dir() / "fast" if fast else None)
    unique = sorted(set(texts))
    return {
        t: (r.emotion, r.polarity) for t, r in zip(unique, analyzer.analyze(unique), strict=True)
    }


def correlation(data: Path, use_model: bool) -> dict:
    """Spearman of the conversation score with dialogue satisfaction (USS en, JDDC zh)."""
    out: dict = {}
    sets = {
        "uss_satisfaction_en": (
            data / "uss_satisfaction_en" / "dev.csv",
            "speaker",
            "user",
            "overall_mean",
        ),
        "jddc_uss_satisfaction": (
            data / "jddc_uss_satisfaction" / "usda_valid.csv",
            "role",
            "customer",
            "overall_label_id",
        ),
    }
    scorer = AgentScorer()
    analyzer = None
    if use_model:
        from emotiondesk import load_analyzer

        analyzer = load_analyzer()
    for name, (path, role_col, customer_role, target) in sets.items():
        if not path.is_file():
            out[name] = {"skipped": f"{path} is absent"}
            print(f"{name}: {path} is absent, skipped", file=sys.stderr)
            continue
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        emotions: dict[str, tuple[str, str]] = {}
        sentiment: dict[str, float] = {}
        if analyzer is not None:
            texts = sorted({r["text"] for r in rows if r[role_col] == customer_role and r["text"]})
            t0 = time.perf_counter()
            for start in range(0, len(texts), 512):
                chunk = texts[start : start + 512]
                for t, res in zip(chunk, analyzer.analyze(chunk), strict=True):
                    emotions[t] = (res.emotion, res.polarity)
                    sentiment[t] = res.score
            print(
                f"{name}: {len(texts)} customer turns read in {time.perf_counter() - t0:.0f}s",
                file=sys.stderr,
            )
        dialogues: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            dialogues[r["dialogue_id"]].append(r)
        scores, targets, baseline = [], [], []
        for turns in dialogues.values():
            conv = []
            for r in turns:
                text = (r["text"] or "").strip()
                if not text:
                    continue
                if r[role_col] == customer_role:
                    emo, pol = emotions.get(text, (None, None))
                    conv.append(Turn("customer", text, emo, pol))
                else:
                    conv.append(Turn("agent", text))
            result = scorer.score_conversation(conv)
            if result.score is None or not turns[0][target]:
                continue
            scores.append(result.score)
            targets.append(float(turns[0][target]))
            cust = [sentiment[t.text] for t in conv if t.role == "customer" and t.text in sentiment]
            baseline.append(sum(cust) / len(cust) if cust else 0.5)
        rho, p = spearmanr(scores, targets)
        out[name] = {
            "dialogues": len(scores),
            "spearman": round(float(rho), 3),
            "p_value": float(f"{p:.2g}"),
            "mean_score": round(sum(scores) / len(scores), 1),
        }
        if sentiment:
            b_rho, b_p = spearmanr(baseline, targets)
            out[name]["baseline_customer_sentiment_spearman"] = round(float(b_rho), 3)
            out[name]["baseline_p_value"] = float(f"{b_p:.2g}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--split",
        choices=("test", "dev", "tune", "all"),
        default="test",
        help="test: the report half; dev: the half the cues were tuned on; tune: the "
        "agentqa_tune_* files (answers_question and no_blame only); all: dev + test",
    )
    ap.add_argument(
        "--emotion",
        choices=("gold", "model", "fast"),
        default="gold",
        help="the customer's emotion: as labelled, read by the default pack, or read by "
        "the fast n-gram tier (the coach's default reader)",
    )
    ap.add_argument("--data", type=Path, help="../shared/data for the USS correlation")
    ap.add_argument("--no-model", action="store_true", help="USS: lexical customer reading only")
    ap.add_argument("--errors", action="store_true", help="print the misjudged replies")
    ap.add_argument("--json", type=Path, help="write the report here")
    args = ap.parse_args(argv)

    items = load_items(sorted(DATA.glob("agentqa_*.yaml")))
    by_lang: dict[str, list[str]] = defaultdict(list)
    for it in items:
        if not it["tune_file"] and it["turn"] not in by_lang[it["language"]]:
            by_lang[it["language"]].append(it["turn"])
    for it in items:
        it["split"] = "tune" if it["tune_file"] else split_of(it["turn"], by_lang[it["language"]])
    chosen = [
        it
        for it in items
        if it["split"] == args.split or (args.split == "all" and it["split"] != "tune")
    ]
    emotions = (
        model_emotions([it["customer"] for it in chosen], fast=args.emotion == "fast")
        if args.emotion != "gold"
        else None
    )
    scorer = AgentScorer()
    report = {
        "split": args.split,
        "emotion": args.emotion,
        "replies": len(chosen),
        "turns": len({it["turn"] for it in chosen}),
        "languages": {lang: sum(it["language"] == lang for it in chosen) for lang in ("en", "zh")},
        "criteria": {},
        "by_language": {},
    }
    full = evaluate(chosen, scorer, emotions)
    for lang in ("en", "zh"):
        part = [it for it in chosen if it["language"] == lang]
        if part:
            report["by_language"][lang] = {
                k: v["macro_f1"] for k, v in evaluate(part, scorer, emotions).items()
            }
    print(
        f"agentqa scorer, {args.split} half: {report['replies']} replies to {report['turns']} "
        f"customer turns ({report['languages']}), customer emotion: {args.emotion}"
    )
    print("| criterion | macro-F1 | fail P / R / F1 | pass P / R / F1 | N/A F1 | en | zh |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in full.items():
        v = r["verdicts"]
        print(
            f"| {name} | {r['macro_f1']:.3f} | {v[FAIL]['precision']:.2f} / {v[FAIL]['recall']:.2f} / "
            f"{v[FAIL]['f1']:.2f} (n={v[FAIL]['n']}) | {v[PASS]['precision']:.2f} / "
            f"{v[PASS]['recall']:.2f} / {v[PASS]['f1']:.2f} (n={v[PASS]['n']}) | "
            + (f"{v[NA]['f1']:.2f} (n={v[NA]['n']})" if v[NA]["n"] else "–")
            + f" | {report['by_language'].get('en', {}).get(name, float('nan')):.2f} | "
            f"{report['by_language'].get('zh', {}).get(name, float('nan')):.2f} |"
        )
        report["criteria"][name] = {k: v for k, v in r.items() if k != "errors"}
        if args.errors:
            for e in r["errors"]:
                print(f"    {name}: gold {e['gold']} pred {e['pred']}: {e['text']}")
    if args.data is not None:
        report["satisfaction"] = correlation(args.data, use_model=not args.no_model)
        for name, r in report["satisfaction"].items():
            print(f"{name}: {r}")
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
