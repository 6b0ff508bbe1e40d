"""Context vs no context: emotion of dialogue turns read alone or with the turns before them.

Reads the dialogue dev sets (DailyDialog dev, MELD dev: English; CPED valid:
Chinese) from ``--data`` (default ``../shared/data``; skipped when absent),
analyses every utterance once with the model pack, then scores the blend of
:mod:`emotiondesk.dialogue.context` over a small grid of parameters.

Parameters are chosen on one half of the dialogues (even positions after a
seeded shuffle) and reported on the other half, so the figures are not tuned
on themselves. Metrics: micro-F1 over the non-neutral classes (the usual
dialogue-emotion metric) and macro-F1 over the canonical classes present.

The blend is chosen per language by the mean of the two metrics on the tuning
half, and kept only if it beats no context on the held-out half on both
metrics (averaged over that language's datasets); ``--write``
stores the outcome in ``src/emotiondesk/dialogue/context_params.json``.

    python benchmarks/dialogue_context.py --data ../shared/data [--model DIR] [--write]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from emotiondesk.analyzer import load_analyzer
from emotiondesk.dialogue.context import ContextParams, ContextTurn, read_in_context
from emotiondesk.labels import map_label

ROOT = Path(__file__).resolve().parents[1]
PARAMS_FILE = ROOT / "src" / "emotiondesk" / "dialogue" / "context_params.json"
DATASETS = {
    # name: (file, language, label map dataset)
    "dailydialog": ("dailydialog/dev.csv", "en", "dailydialog"),
    "meld": ("meld/dev.csv", "en", "meld"),
    "cped": ("cped/valid.csv", "zh", "cped"),
}
WINDOW = 8
GRID = {
    "alpha_short": [0.0, 0.4, 0.8],
    "alpha_long": [0.0, 0.2, 0.45],
    "other_role_weight": [0.3, 1.0],
    "decay": [0.5, 0.8],
    "max_confidence": [1.0, 0.6, 0.45],
}


def load(data: Path, name: str) -> pd.DataFrame:
    rel, _, dataset = DATASETS[name]
    df = pd.read_csv(data / rel)
    df["gold"] = [
        map_label(v, task="emotion", dataset=dataset, row=i) for i, v in enumerate(df["label"])
    ]
    df = df.sort_values(["dialogue_id", "turn"], kind="stable").reset_index(drop=True)
    return df


def scores(gold: list[str], pred: list[str]) -> dict[str, float]:
    present = sorted(set(gold))
    non_neutral = [lab for lab in present if lab != "neutral"]
    return {
        "micro_f1_no_neutral": float(
            f1_score(gold, pred, labels=non_neutral, average="micro", zero_division=0)
        ),
        "macro_f1": float(f1_score(gold, pred, labels=present, average="macro", zero_division=0)),
    }


def predict(df: pd.DataFrame, results: list, params: ContextParams) -> list[str]:
    out: list[str] = []
    history: list[tuple[str, ContextTurn]] = []
    last_dialogue = None
    for i, (dialogue, speaker) in enumerate(zip(df["dialogue_id"], df["speaker"], strict=True)):
        if dialogue != last_dialogue:
            history, last_dialogue = [], dialogue
        r = results[i]
        # speakers become roles: the current speaker is "customer", everyone else "agent"
        ctx = [
            ContextTurn(
                "customer" if s == speaker else "agent", t.emotion_scores, t.polarity_scores
            )
            for s, t in history[-WINDOW:]
        ]
        out.append(
            read_in_context(r, ctx, role="customer", params=params).emotion
            if params.enabled
            else r.emotion
        )
        history.append((speaker, ContextTurn("", r.emotion_scores, r.polarity_scores)))
    return out


def previous_languages() -> dict:
    """The languages already in the params file (a run on some datasets keeps the others)."""
    try:
        return json.loads(PARAMS_FILE.read_text(encoding="utf-8")).get("languages", {})
    except (OSError, ValueError):
        return {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model", default="default")
    ap.add_argument(
        "--write", action="store_true", help="store the chosen parameters in the package"
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"data folder {args.data} not found: skipping the context benchmark", file=sys.stderr)
        return 0
    analyzer = load_analyzer(args.model)
    rng = random.Random(args.seed)
    combos = [
        ContextParams(**dict(zip(GRID, values, strict=True)))
        for values in itertools.product(*GRID.values())
    ]
    by_lang: dict[str, list[str]] = defaultdict(list)
    per_set: dict[str, dict] = {}
    for name, (_, lang, _) in DATASETS.items():
        if name not in args.datasets:
            continue
        df = load(args.data, name)
        t0 = time.perf_counter()
        results = []
        for start in range(0, len(df), 512):
            results.extend(
                analyzer.analyze(
                    df["text"].astype(str).tolist()[start : start + 512], language=lang
                )
            )
        dialogues = sorted(df["dialogue_id"].unique(), key=str)
        rng.shuffle(dialogues)
        tune_ids = set(dialogues[::2])
        is_tune = df["dialogue_id"].isin(tune_ids).to_numpy()
        scored = df["gold"].notna().to_numpy()
        gold = df["gold"].tolist()

        def evaluate(pred: list[str], mask: np.ndarray, gold: list = gold) -> dict[str, float]:
            return scores(
                [g for g, m in zip(gold, mask, strict=True) if m],
                [p for p, m in zip(pred, mask, strict=True) if m],
            )

        grid = []
        for params in combos:
            pred = predict(df, results, params)
            grid.append(
                (params, evaluate(pred, is_tune & scored), evaluate(pred, ~is_tune & scored))
            )
        per_set[name] = {
            "lang": lang,
            "n": int((~is_tune & scored).sum()),
            "grid": grid,
            "seconds": time.perf_counter() - t0,
        }
        by_lang[lang].append(name)
        print(f"{name}: {scored.sum()} scored turns, {len(dialogues)} dialogues", file=sys.stderr)

    chosen: dict[str, dict] = {}
    report = []
    for lang, names in by_lang.items():

        def mean_score(k: int, half: int, names: list[str] = names) -> float:
            """Mean of micro-F1 w/o neutral and macro-F1 over the language's datasets."""
            return float(np.mean([v for n in names for v in per_set[n]["grid"][k][half].values()]))

        def held(k: int, metric: str, names: list[str] = names) -> float:
            return float(np.mean([per_set[n]["grid"][k][2][metric] for n in names]))

        base_k = next(k for k, p in enumerate(combos) if not p.enabled)
        best_k = max(range(len(combos)), key=lambda k: mean_score(k, 1))
        held_base = held(base_k, "macro_f1")
        held_best = held(best_k, "macro_f1")
        # kept only if it wins on the held-out half on both metrics
        wins = combos[best_k].enabled and all(
            held(best_k, m) > held(base_k, m) for m in ("micro_f1_no_neutral", "macro_f1")
        )
        params = combos[best_k] if wins else ContextParams()
        chosen[lang] = {
            "params": params.to_dict(),
            "held_out_macro_f1": {"no_context": held_base, "context": held_best},
            "kept": wins,
        }
        for n in names:
            g = per_set[n]["grid"]
            report.append(
                (n, lang, per_set[n]["n"], g[base_k][2], g[best_k][2], combos[best_k], wins)
            )

    print(
        "\n| dataset | lang | turns (held-out half) | no context: micro-F1 w/o neutral | macro-F1 | context: micro-F1 w/o neutral | macro-F1 | chosen blend | kept |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n, lang, count, base, best, p, wins in report:
        print(
            f"| {n} | {lang} | {count} | {base['micro_f1_no_neutral']:.3f} | {base['macro_f1']:.3f} | "
            f"{best['micro_f1_no_neutral']:.3f} | {best['macro_f1']:.3f} | "
            f"a_short={p.alpha_short} a_long={p.alpha_long} other={p.other_role_weight} decay={p.decay} gate={p.max_confidence} | {'yes' if wins else 'no'} |"
        )
    if args.write:
        payload = {
            "note": "Measured by benchmarks/dialogue_context.py (tuned on half the dialogues, checked on the other half); alpha 0 = context did not win.",
            "model": analyzer.version,
            "languages": {
                **previous_languages(),
                **{lang: c["params"] for lang, c in chosen.items()},
            },
            "held_out_macro_f1": {lang: c["held_out_macro_f1"] for lang, c in chosen.items()},
        }
        PARAMS_FILE.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {PARAMS_FILE.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
