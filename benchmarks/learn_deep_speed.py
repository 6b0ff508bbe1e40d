"""Time of ``learn --tier deep`` per 1,000 corrections, with the fast tier in the same run.

    python benchmarks/learn_deep_speed.py --data ../shared/data [--rows 1000] [--epochs 40]

Stand-in corrections: ``--rows`` labelled training rows (emotion), half
Chinese (SMP2020-EWECT train), half English (dair-ai emotion train), seeded
sample; only the time is reported (no accuracy figure: nothing here is
evaluated). A temporary registry is made from the shipped pack (whose
transformer tier is the int8 e5 model); the deep job's stages run in
process (features, train, candidate: the times of ``job.json``'s stages),
with no replay sample; the fast tier (``learn`` without ``--tier``) builds
its candidate from the same rows in the same run. Without the data folder it
says so and exits.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.data import load_dataset  # noqa: E402
from emotiondesk.registry import Registry  # noqa: E402
from emotiondesk.training.deep_learn import DeepParams, run_deep_learn  # noqa: E402
from emotiondesk.training.jobs import JobContext, create_job  # noqa: E402
from emotiondesk.training.learn import FeedbackRow, build_candidate  # noqa: E402


class Timed(JobContext):
    def __init__(self, job: Path) -> None:
        super().__init__(job)
        self.marks: list[tuple[str, float]] = []

    def stage(self, name: str, total: int) -> None:
        self.marks.append((name, time.perf_counter()))
        super().stage(name, total)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sources = [
        ("zh", args.data / "smp2020_ewect" / "train.csv"),
        ("en", args.data / "dair_ai_emotion" / "train.csv"),
    ]
    if not all(p.is_file() for _, p in sources):
        print(f"the shared data is not at {args.data}: nothing to measure", file=sys.stderr)
        raise SystemExit(0)
    rng = random.Random(args.seed)
    rows: list[FeedbackRow] = []
    for lang, path in sources:
        d = load_dataset(path, task="emotion", dataset=path.parent.name)
        pick = rng.sample(range(len(d)), args.rows // 2)
        for i in pick:
            n = len(rows) + 1
            rows.append(
                FeedbackRow(
                    id=n, message_id=str(n), text=d.texts[i], language=lang, emotion=d.labels[i]
                )
            )
    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry.init(Path(tmp) / "registry", source=ROOT / "models", by="bench")
        inputs = {
            "parent": "v1",
            "by": "bench",
            "feedback": [{**r.__dict__, "ids": list(r.feedback_ids)} for r in rows],
            "replay": [],
            "data": [],
        }
        params = DeepParams(epochs=args.epochs, seed=args.seed)
        job = create_job(reg.root / "jobs", kind="learn-deep", params={}, inputs=inputs)
        ctx = Timed(job)
        t0 = time.perf_counter()
        result = run_deep_learn(job, reg, inputs, params, ctx)
        t_deep = time.perf_counter() - t0
        ends = [t for _, t in ctx.marks[1:]] + [t0 + t_deep]
        stages = {
            name: round(end - start, 1) for (name, start), end in zip(ctx.marks, ends, strict=True)
        }
        t1 = time.perf_counter()
        fast = build_candidate(reg, rows)
        t_fast = time.perf_counter() - t1
    out = {
        "rows": len(rows),
        "trained_on": len(result["trained_ids"]),
        "held_back": len(result["held_back_ids"]),
        "epochs": args.epochs,
        "deep_seconds": round(t_deep, 1),
        "deep_stages_seconds": stages,
        "deep_train_accuracy": result["tasks"]["emotion"],
        "fast_seconds": round(t_fast, 1),
        "fast_trained_on": len(fast.trained_ids),
        "ratio_deep_to_fast": round(t_deep / t_fast, 2),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
