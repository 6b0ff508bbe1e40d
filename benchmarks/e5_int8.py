"""Dynamic int8 variants of the e5 model against the int8 gate (issue 10), full dev splits.

    python benchmarks/e5_int8.py --model RUN/model --fp32-onnx RUN/fp32onnx --work DIR \
        [--data ../shared/data]

``--model`` is the fine-tuned torch model (the gate's fp32 side), ``--fp32-onnx``
its ``emotiondesk export --no-quantize`` export. Two variants are built from the
fp32 export with onnxruntime's ``quantize_dynamic`` (int8 weights, one scale per
output channel; activations quantised per tensor at run time):

* ``all``: every weight MatMul;
* ``ffn-out-fp32``: every weight MatMul except the feed-forward output projection
  of each layer (the MatMul after GELU, whose inputs have the widest range).

Each is scored on every dev split of its language and task (``train_e5.py``'s
evaluation, whole splits) and compared with the fp32 model by the gate's rule:
accuracy and macro-F1 within 0.5 points and label agreement >= 98 %. The word
table stays fp32 in both (quantising it is a separate, lossless step for this
model: see the weight-only export). Prints one Markdown table, then the speed
of the fp32 export and of each variant on the same 1,024 SST-2 and
online_shopping dev texts (one thread, batch 64 and one message at a time,
interleaved, best of ``--runs``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

VARIANTS = ("all", "ffn-out-fp32")


def build(fp32_onnx: Path, out: Path, variant: str) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if (out / "model.onnx").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    graph = onnx.load(str(fp32_onnx / "model.onnx"), load_external_data=False).graph
    exclude = []
    if variant == "ffn-out-fp32":
        exclude = [
            n.name
            for n in graph.node
            if n.op_type == "MatMul" and "/output/dense/" in n.name and "attention" not in n.name
        ]
    quantize_dynamic(
        str(fp32_onnx / "model.onnx"),
        str(out / "model.onnx.tmp"),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=exclude,
    )
    cfg = json.loads((fp32_onnx / "config.json").read_text())
    cfg.update(quantized=True, quantization="dynamic", per_channel=True)
    (out / "config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False))
    shutil.copy2(fp32_onnx / "tokenizer.json", out / "tokenizer.json")
    (out / "model.onnx.tmp").rename(out / "model.onnx")
    return out


def verdict(fp32: dict, q: dict, n: int) -> tuple[float, bool]:
    agree = sum(a == b for a, b in zip(fp32["pred"], q["pred"], strict=True)) / max(1, n)
    ok = (
        abs(fp32["accuracy"] - q["accuracy"]) <= 0.005
        and abs(fp32["macro_f1"] - q["macro_f1"]) <= 0.005
        and agree >= 0.98
    )
    return agree, ok


def speed(dirs: dict[str, Path], data: Path, runs: int) -> None:
    import csv
    import time

    import numpy as np

    from emotiondesk.models.onnx import OnnxClassifier

    texts: list[str] = []
    for rel in ("sst2/dev.csv", "online_shopping_10_cats/dev.csv"):
        with (data / rel).open(encoding="utf-8", newline="") as fh:
            texts += [r["text"] for r in csv.DictReader(fh) if 10 <= len(r["text"]) <= 60][:512]
    models = {k: OnnxClassifier.from_pretrained(d, num_threads=1) for k, d in dirs.items()}
    best: dict[str, list[float]] = {k: [0.0, 1e9, 1e9] for k in models}
    for _ in range(runs):
        for name, m in models.items():
            m.batch_size = 64
            t0 = time.perf_counter()
            m.predict_logits(texts)
            best[name][0] = max(best[name][0], len(texts) / (time.perf_counter() - t0))
            lat = []
            for t in texts[:200]:
                t0 = time.perf_counter()
                m.predict_logits([t])
                lat.append(time.perf_counter() - t0)
            best[name][1] = min(best[name][1], float(np.percentile(lat, 50)) * 1000)
            best[name][2] = min(best[name][2], float(np.percentile(lat, 95)) * 1000)
    print(f"\n{len(texts)} dev texts of 10-60 characters, one thread, best of {runs} runs")
    print("| model | msgs/s, batch 64 | single message p50 / p95 |")
    print("| --- | ---: | --- |")
    for name, (rate, p50, p95) in best.items():
        print(f"| {name} | {rate:.1f} | {p50:.1f} ms / {p95:.1f} ms |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, required=True, help="the fine-tuned torch model")
    p.add_argument("--fp32-onnx", type=Path, required=True, help="its fp32 ONNX export")
    p.add_argument("--work", type=Path, required=True, help="variants and figures go here")
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--runs", type=int, default=2, help="speed runs (0: no speed figures)")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"benchmark skipped: {args.data} not found (pass --data DIR)", file=sys.stderr)
        return 0
    from train_e5 import evaluate_models

    models = {"e5 fp32": args.model}
    for v in VARIANTS:
        models[f"dynamic int8 ({v})"] = build(args.fp32_onnx, args.work / v, v)
    figs = evaluate_models(
        args.data, models, args.work / "int8_figures.json", baselines=False, sample=None
    )
    head = " | ".join(f"{name}: acc / F1, agreement" for name in list(models)[1:])
    print(f"| dev set | n | fp32 acc / F1 | {head} |")
    print("| --- | ---: | --- |" + " --- |" * (len(models) - 1))
    passed = dict.fromkeys(list(models)[1:], 0)
    for key, row in figs.items():
        f = row["e5 fp32"]
        cells = []
        for name in list(models)[1:]:
            q = row[name]
            agree, ok = verdict(f, q, row["n"])
            passed[name] += ok
            cells.append(
                f"{q['accuracy']:.4f} / {q['macro_f1']:.4f}, {agree:.4f} {'pass' if ok else 'FAIL'}"
            )
        print(
            f"| {key} | {row['n']:,} | {f['accuracy']:.4f} / {f['macro_f1']:.4f} | "
            + " | ".join(cells)
            + " |"
        )
    print()
    for name, k in passed.items():
        print(f"{name}: {k} of {len(figs)} dev splits pass the gate")
    if args.runs:
        dirs = {"fp32": args.fp32_onnx} | {f"dynamic int8 ({v})": args.work / v for v in VARIANTS}
        speed(dirs, args.data, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
