"""Review queue against random picking on a simulated domain shift (issue 11).

    python benchmarks/learning_queue.py --data ../shared/data [--base-rows 20000]
        [--pool-rows 8000] [--budgets 100,300,1000] [--seeds 0,1,2] [--json OUT]

The shop's fast model is an n-gram polarity model trained on shopping reviews
(online_shopping_10_cats/train.csv, negative/positive). Its new traffic is
Weibo posts (SMP2020-EWECT, happy -> positive; angry, sad, fear -> negative;
neutral and surprise left out so that both domains share the two labels):

- the pool the corrections are picked from: SMP2020-EWECT train rows;
- the domain slice reported: SMP2020-EWECT dev rows, never picked from and
  never trained on.

For each budget (100, 300, 1,000 corrections, the gold labels standing in for
the agents' corrections), two arms are retrained with the same procedure (the
n-gram tier refitted on its base data plus the corrections, each correction
counted ``--weight`` times):

- queue: the review queue's ranking (:mod:`emotiondesk.usecases.review_queue`:
  uncertainty of the calibrated probabilities and under-represented predicted
  labels; one fast tier here, so no tier disagreement, and no products), in
  rounds: pick up to the budget with the current model, retrain, pick more;
- random: the same number of pool rows drawn at random (nested across budgets),
  one run per seed.

Then the label-error check of the queue: ``--noise`` of the largest random
set of corrections get the other label (a simulated slip of an agent), and
:func:`~emotiondesk.usecases.review_queue.label_issues` (cleanlab on
cross-validated probabilities) flags what it finds; precision and recall of
the flags against the flipped rows (flagging at random would have a
precision equal to the noise rate).

Prints a Markdown table (accuracy and macro-F1 on the domain slice) and
writes the figures as JSON with ``--json``. Stops with a message when the
shared data is absent.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.data import load_dataset  # noqa: E402
from emotiondesk.evaluation.metrics import classification_report  # noqa: E402
from emotiondesk.models.ngram import NgramClassifier  # noqa: E402
from emotiondesk.usecases.review_queue import (  # noqa: E402
    label_issues,
    priorities,
    rarity,
    uncertainty,
)

LABELS = ("negative", "positive")


def load(data: Path, base_rows: int, pool_rows: int, seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    base = load_dataset(
        data / "online_shopping_10_cats" / "train.csv",
        task="polarity",
        dataset="online_shopping_10_cats",
    )
    idx = rng.permutation(len(base.texts))[:base_rows]
    base_x = [base.texts[i] for i in idx]
    base_y = [base.labels[i] for i in idx]

    def weibo(name: str) -> tuple[list[str], list[str]]:
        d = load_dataset(data / "smp2020_ewect" / name, task="polarity", dataset="smp2020_ewect")
        keep = [i for i, label in enumerate(d.labels) if label in LABELS]
        return [d.texts[i] for i in keep], [d.labels[i] for i in keep]

    pool_x, pool_y = weibo("train.csv")
    test_x, test_y = weibo("dev.csv")
    seen = set(test_x)  # never pick a text that is also in the reported slice
    pool = [(t, y) for t, y in zip(pool_x, pool_y, strict=True) if t not in seen]
    order = rng.permutation(len(pool))[:pool_rows]
    pool_x = [pool[i][0] for i in order]
    pool_y = [pool[i][1] for i in order]
    return base_x, base_y, pool_x, pool_y, test_x, test_y


def fit(base_x, base_y, extra_x, extra_y, weight: int) -> NgramClassifier:  # type: ignore[no-untyped-def]
    model = NgramClassifier(language="zh", class_weight="balanced", keep_features=None)
    return model.fit(base_x + extra_x * weight, base_y + extra_y * weight)


def score(model: NgramClassifier, x: list[str], y: list[str]) -> dict[str, float]:
    pred = model.predict(x)
    report = classification_report(y, pred, labels=list(LABELS))
    return {"accuracy": round(report.accuracy, 4), "macro_f1": round(report.macro_f1, 4)}


def queue_order(model: NgramClassifier, x: list[str], picked_labels: list[str]) -> np.ndarray:
    """The review queue's ranking of ``x`` (highest priority first)."""
    proba = model.predict_proba(x)
    cols = [list(model.labels_).index(label) for label in LABELS]
    proba = proba[:, cols]
    predicted = [LABELS[i] for i in proba.argmax(axis=1)]
    counts: dict[str, float] = {label: 0.0 for label in LABELS}
    for label in predicted + picked_labels:
        counts[label] += 1
    prio = priorities(
        {
            "uncertain": uncertainty(proba),
            "tiers_disagree": None,
            "rare_class": rarity(predicted, counts),
            "rare_product": None,
        }
    )
    return np.argsort(-prio, kind="stable")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--base-rows", type=int, default=20_000)
    ap.add_argument("--pool-rows", type=int, default=8_000)
    ap.add_argument("--budgets", default="100,300,1000")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--weight", type=int, default=3, help="How often each correction counts.")
    ap.add_argument("--noise", type=float, default=0.1, help="Share of corrections flipped.")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not (args.data / "smp2020_ewect" / "dev.csv").is_file():
        print(
            f"skipped: no shared data at {args.data} (needs smp2020_ewect and "
            "online_shopping_10_cats)",
            file=sys.stderr,
        )
        return 0
    budgets = [int(b) for b in args.budgets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    base_x, base_y, pool_x, pool_y, test_x, test_y = load(
        args.data, args.base_rows, args.pool_rows, seed=0
    )
    print(
        f"base {len(base_x)} shopping reviews; pool {len(pool_x)}, domain test {len(test_x)} "
        "Weibo posts",
        file=sys.stderr,
    )
    base_model = fit(base_x, base_y, [], [], args.weight)
    results: dict[str, object] = {"before": score(base_model, test_x, test_y)}
    print(f"before: {results['before']}", file=sys.stderr)

    # queue: rounds up to each budget, re-ranking the rest of the pool with the newest model
    model, picked = base_model, []  # type: ignore[var-annotated]
    queue: dict[int, dict[str, float]] = {}
    for budget in budgets:
        rest = [i for i in range(len(pool_x)) if i not in set(picked)]
        order = queue_order(model, [pool_x[i] for i in rest], [pool_y[i] for i in picked])
        picked += [rest[j] for j in order[: budget - len(picked)]]
        model = fit(
            base_x, base_y, [pool_x[i] for i in picked], [pool_y[i] for i in picked], args.weight
        )
        queue[budget] = score(model, test_x, test_y)
        print(f"queue {budget}: {queue[budget]}", file=sys.stderr)
    results["queue"] = queue

    random: dict[int, list[dict[str, float]]] = {b: [] for b in budgets}
    for seed in seeds:
        perm = np.random.default_rng(1000 + seed).permutation(len(pool_x))
        for budget in budgets:
            chosen = perm[:budget]
            m = fit(
                base_x,
                base_y,
                [pool_x[i] for i in chosen],
                [pool_y[i] for i in chosen],
                args.weight,
            )
            random[budget].append(score(m, test_x, test_y))
            print(f"random seed {seed} {budget}: {random[budget][-1]}", file=sys.stderr)
    results["random"] = random

    # label errors among the corrections: flip a share, see what cleanlab flags
    rng = np.random.default_rng(7)
    chosen = np.random.default_rng(1000 + seeds[0]).permutation(len(pool_x))[: budgets[-1]]
    texts = [pool_x[i] for i in chosen]
    labels = [pool_y[i] for i in chosen]
    size = round(args.noise * len(labels))
    flipped = {int(i) for i in rng.choice(len(labels), size=size, replace=False)}
    noisy = [(LABELS[1 - LABELS.index(y)] if i in flipped else y) for i, y in enumerate(labels)]
    issues, check = label_issues(texts, noisy, task="polarity")
    flagged = {x.index for x in issues}
    hit = len(flagged & flipped)
    results["label_check"] = {
        "corrections": len(labels),
        "flipped": len(flipped),
        "flagged": len(flagged),
        "true_flags": hit,
        "precision": round(hit / len(flagged), 4) if flagged else None,
        "recall": round(hit / len(flipped), 4) if flipped else None,
        "random_precision": args.noise,
        "status": check.status,
    }
    print(f"label check: {results['label_check']}", file=sys.stderr)
    results["setup"] = {
        "base_rows": len(base_x),
        "pool_rows": len(pool_x),
        "test_rows": len(test_x),
        "weight": args.weight,
        "seeds": seeds,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python "
        f"{platform.python_version()}",
        "date": datetime.now(UTC).date().isoformat(),
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }

    before = results["before"]
    print("| corrections | picked by | accuracy | macro-F1 |")
    print("| ---: | --- | ---: | ---: |")
    print(f"| 0 | (shopping model) | {before['accuracy']:.4f} | {before['macro_f1']:.4f} |")
    for budget in budgets:
        q = queue[budget]
        accs = [r["accuracy"] for r in random[budget]]
        f1s = [r["macro_f1"] for r in random[budget]]
        print(f"| {budget} | review queue | {q['accuracy']:.4f} | {q['macro_f1']:.4f} |")
        print(
            f"| {budget} | random ({len(seeds)} seeds, mean ± sd) | "
            f"{np.mean(accs):.4f} ± {np.std(accs):.4f} | {np.mean(f1s):.4f} ± {np.std(f1s):.4f} |"
        )
    lc = results["label_check"]
    print()
    print(
        f"Label check: {lc['flipped']} of {lc['corrections']} corrections flipped; cleanlab "
        f"flagged {lc['flagged']}, {lc['true_flags']} of them flipped: precision "
        f"{lc['precision']}, recall {lc['recall']} (random flags: precision {lc['random_precision']})"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
