"""Train and measure the escalation model on USS service-dialogue satisfaction (English).

Reads ``uss_satisfaction_en/{train,dev}.csv`` from ``--data`` (default
``../shared/data``; skipped when absent). Every dialogue is played through the
:class:`~emotiondesk.usecases.conversation.ConversationEngine` (user = customer, system =
agent; each turn analysed by the model pack) to get the features the engine
computes live at each user turn. Positive = a user turn rated 1-2.

Fits a logistic regression (dissatisfaction) and a ridge regression
(satisfaction 1-5) on standardised features, on train only, and reports on
dev: AUC and recall at precision >= 0.8 of (a) the analyzer's negative
probability alone (baseline), (b) the learned model, (c) the engine's full
risk (model + rules); MAE of the predicted satisfaction against the constant
train mean. ``--write`` stores the weights as JSON in the package
(``src/emotiondesk/dialogue/escalation_model.json``; no pickle).

    python benchmarks/train_escalation.py --data ../shared/data [--model DIR] [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import mean_absolute_error, precision_recall_curve, roc_auc_score

from emotiondesk.analyzer import load_analyzer
from emotiondesk.dialogue import EscalationModel
from emotiondesk.dialogue.risk import FEATURES
from emotiondesk.usecases.conversation import ConversationEngine

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILE = ROOT / "src" / "emotiondesk" / "dialogue" / "escalation_model.json"
TARGET_PRECISION = 0.8


def recall_at_precision(y: np.ndarray, p: np.ndarray, target: float = TARGET_PRECISION) -> float:
    precision, recall, _ = precision_recall_curve(y, p)
    ok = recall[precision >= target]
    return float(ok.max()) if ok.size else 0.0


def play(df: pd.DataFrame, engine: ConversationEngine, analyzer) -> pd.DataFrame:
    """Features, risk and labels at every rated user turn."""
    texts = df["text"].fillna("").astype(str).tolist()
    results = []
    for start in range(0, len(texts), 1024):
        results.extend(analyzer.analyze(texts[start : start + 1024], language="en"))
    rows = []
    state = None
    last = None
    for i, row in enumerate(df.itertuples(index=False)):
        if row.dialogue_id != last:
            state, last = engine.new_state(str(row.dialogue_id)), row.dialogue_id
        text = texts[i]
        if not text.strip():
            continue
        role = "customer" if row.speaker == "user" else "agent"
        out = engine.process(state, text, role=role, analysis=results[i])
        if role == "customer" and not pd.isna(row.label):
            rows.append(
                {
                    **out.features,
                    "risk": out.risk.value,
                    "baseline": results[i].polarity_scores["negative"],
                    "y": int(float(row.label) <= 2),
                    "sat": float(row.sat_mean),
                    "source": row.source,
                }
            )
    return pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model", default="default")
    ap.add_argument("--C", type=float, default=0.3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    folder = args.data / "uss_satisfaction_en"
    if not folder.is_dir():
        print(f"{folder} not found: skipping the escalation benchmark", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    analyzer = load_analyzer(args.model)
    engine = ConversationEngine(analyzer, suggest=False)
    train = play(pd.read_csv(folder / "train.csv"), engine, analyzer)
    dev_df = pd.read_csv(folder / "dev.csv")
    print(f"train: {len(train)} rated user turns, {train.y.sum()} rated 1-2", file=sys.stderr)

    cols = list(FEATURES)
    x = train[cols].to_numpy(float)
    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    clf = LogisticRegression(C=args.C, max_iter=2000).fit(z, train.y)
    reg = Ridge(alpha=10.0).fit(z, train.sat)
    spec = {
        "note": "Trained by benchmarks/train_escalation.py on USS train (en); positive = user turn rated 1-2.",
        "model": analyzer.version,
        "features": cols,
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "coef": [round(float(v), 6) for v in clf.coef_[0]],
        "intercept": round(float(clf.intercept_[0]), 6),
        "satisfaction": {
            "coef": [round(float(v), 6) for v in reg.coef_],
            "intercept": round(float(reg.intercept_), 6),
        },
    }
    # dev: replay with the new model so the engine's risk uses it
    engine = ConversationEngine(analyzer, suggest=False, risk_model=EscalationModel(spec))
    dev = play(dev_df, engine, analyzer)
    y = dev.y.to_numpy()
    model_p = np.array([engine.risk_model.probability(r) for r in dev[cols].to_dict("records")])
    sat_pred = np.array([engine.risk_model.satisfaction(r) for r in dev[cols].to_dict("records")])
    rows = {
        "analyzer negative probability (baseline)": dev.baseline.to_numpy(),
        "learned model": model_p,
        "engine risk (model + rules)": dev.risk.to_numpy(),
    }
    metrics = {}
    print(f"\nUSS dev: {len(dev)} rated user turns, {int(y.sum())} rated 1-2 ({y.mean():.1%})\n")
    print("| scorer | AUC | recall @ precision 0.8 | average precision |")
    print("|---|---|---|---|")
    from sklearn.metrics import average_precision_score

    for name, p in rows.items():
        m = {
            "auc": float(roc_auc_score(y, p)),
            "recall_at_p80": recall_at_precision(y, p),
            "average_precision": float(average_precision_score(y, p)),
        }
        metrics[name] = m
        print(
            f"| {name} | {m['auc']:.3f} | {m['recall_at_p80']:.3f} | {m['average_precision']:.3f} |"
        )
    mae = mean_absolute_error(dev.sat, sat_pred)
    mae_const = mean_absolute_error(dev.sat, np.full(len(dev), train.sat.mean()))
    print(f"\nsatisfaction (1-5) MAE on dev: {mae:.3f} (constant train mean: {mae_const:.3f})")
    for src in sorted(dev.source.unique()):
        sel = dev.source.to_numpy() == src
        if y[sel].sum() and (1 - y[sel]).sum():
            print(
                f"  {src}: AUC learned {roc_auc_score(y[sel], model_p[sel]):.3f}, engine risk {roc_auc_score(y[sel], dev.risk.to_numpy()[sel]):.3f}"
            )
    top = sorted(zip(cols, clf.coef_[0], strict=True), key=lambda t: -abs(t[1]))[:6]
    print("largest weights (standardised): " + ", ".join(f"{n} {w:+.2f}" for n, w in top))
    spec["dev_metrics"] = {
        k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in metrics.items()
    }
    spec["dev_satisfaction_mae"] = {"model": round(mae, 4), "constant": round(mae_const, 4)}
    if args.write:
        MODEL_FILE.write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE.relative_to(ROOT)}", file=sys.stderr)
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
