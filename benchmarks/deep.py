"""Deep tier benchmark: dev accuracy (torch vs int8 ONNX), throughput, latency, memory.

Usage (from the repository root)::

    python benchmarks/deep.py --model out/en-sst2 --data ../shared/data \
        --dev sst2/dev.csv --dataset sst2 --threads 2

``--model`` is a transformer artifact written by ``emotiondesk train`` and
exported by ``emotiondesk export`` (its ``onnx/`` subdirectory, or ``--onnx DIR``).
A weight-only export is timed twice: as served (its int8 blocks unpacked into
fp32 MatMuls at load) and on onnxruntime's ``MatMulNBits`` kernels
(``EMOTIONDESK_ONNX_UNPACK=0``), interleaved. Speed is
measured on short messages (<= ``--max-tokens`` tokens) from the dev file,
batch ``--batch``; the baseline is the ``transformers`` text-classification
pipeline on the same encoder (an ``AutoModelForSequenceClassification`` built
from the artifact's encoder: same network cost, linear head), in the same
run and with the same thread count. Prints one JSON object.

The labelled data is read from ``--data`` (default ``../shared/data``); when
it is absent the benchmark says so and exits 0 without figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _percentiles(xs: list[float]) -> dict[str, float]:
    arr = np.array(xs) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
    }


def _throughput(fn, texts: list[str], repeats: int) -> float:
    fn(texts[:64])  # warm-up
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(texts)
        best = max(best, len(texts) / (time.perf_counter() - t0))
    return best


def _latency(fn, texts: list[str]) -> dict[str, float]:
    fn(texts[:1])
    times = []
    for t in texts:
        t0 = time.perf_counter()
        fn([t])
        times.append(time.perf_counter() - t0)
    return _percentiles(times)


def _onnx_memory(onnx_dir: Path, threads: int) -> float:
    """Peak RSS (MB) of a fresh process that loads the ONNX model and scores a batch."""
    src = Path(__file__).resolve().parents[1] / "src"
    code = (
        "import sys\n"
        "from emotiondesk.models.base import load_model\n"
        f"m = load_model({str(onnx_dir)!r}); m.num_threads = {threads}\n"
        "m.predict_proba_all(['thanks, great service'] * 64)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]) / 1024)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(src), "EMOTIONDESK_ONNX_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--data", default="../shared/data", type=Path)
    ap.add_argument("--dev", default="sst2/dev.csv")
    ap.add_argument("--dataset", default="sst2")
    ap.add_argument("--task", default="polarity")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--n-speed", type=int, default=1024)
    ap.add_argument("--n-latency", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--onnx", type=Path, help="the exported model (default: MODEL/onnx)")
    a = ap.parse_args()

    dev_path = a.data / a.dev
    if not dev_path.is_file():
        print(
            f"benchmark skipped: {dev_path} not found (pass --data DIR with the labelled datasets)",
            file=sys.stderr,
        )
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["EMOTIONDESK_ONNX_THREADS"] = str(a.threads)
    import torch

    torch.set_num_threads(a.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from emotiondesk.data import load_dataset
    from emotiondesk.models.base import load_model
    from emotiondesk.text import normalize

    data = load_dataset(dev_path, task=a.task, dataset=a.dataset, drop_duplicates=False)
    texts = [normalize(t) for t in data.texts]
    torch_model = load_model(a.model)
    onnx_dir = a.onnx or a.model / "onnx"
    t0 = time.perf_counter()
    onnx_model = load_model(onnx_dir)
    onnx_load = time.perf_counter() - t0
    onnx_model.batch_size = a.batch
    kernels = None
    if json.loads((onnx_dir / "config.json").read_text()).get("quantization") == "weight-only":
        from emotiondesk.models.onnx import OnnxClassifier

        t0 = time.perf_counter()
        kernels = OnnxClassifier.from_pretrained(onnx_dir, unpack_weights=False)
        kernels_load = time.perf_counter() - t0
        kernels.batch_size = a.batch
    torch_model.batch_size = a.batch
    labels = torch_model.tasks_[a.task]
    y = np.array([labels.index(x) for x in data.labels])
    result: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at start",
        "model": str(a.model),
        "dev": str(a.dev),
        "n_dev": len(texts),
        "threads": a.threads,
    }
    t0 = time.perf_counter()
    p_torch = torch_model.predict_proba(texts, task=a.task)
    result["torch_dev_seconds"] = round(time.perf_counter() - t0, 1)
    p_onnx = onnx_model.predict_proba(texts, task=a.task)
    result["dev_accuracy_torch"] = round(float((p_torch.argmax(1) == y).mean()), 4)
    result["dev_accuracy_onnx_int8"] = round(float((p_onnx.argmax(1) == y).mean()), 4)
    result["onnx_label_agreement"] = round(float((p_torch.argmax(1) == p_onnx.argmax(1)).mean()), 4)
    result["onnx_max_prob_diff"] = round(float(np.abs(p_torch - p_onnx).max()), 4)
    result["onnx_size_mb"] = round((onnx_dir / "model.onnx").stat().st_size / 1e6, 1)
    result["onnx_load_seconds"] = round(onnx_load, 2)
    if kernels is not None:
        p_kern = kernels.predict_proba(texts, task=a.task)
        result["onnx_kernels_label_agreement_with_served"] = round(
            float((p_kern.argmax(1) == p_onnx.argmax(1)).mean()), 4
        )
        result["onnx_kernels_max_prob_diff_with_served"] = float(np.abs(p_kern - p_onnx).max())
        result["onnx_kernels_load_seconds"] = round(kernels_load, 2)

    tok = torch_model.tokenizer_
    short = [t for t in texts if len(tok(t)["input_ids"]) <= a.max_tokens]
    speed_texts = (short * (a.n_speed // max(1, len(short)) + 1))[: a.n_speed]
    result["speed_messages"] = (
        f"{len(speed_texts)} dev messages of <= {a.max_tokens} tokens, batch {a.batch}"
    )

    def run_onnx(batch: list[str]) -> None:
        onnx_model.clear_cache()
        onnx_model.predict_proba_all(batch)

    def run_torch(batch: list[str]) -> None:
        torch_model.clear_cache()
        torch_model.predict_proba_all(batch)

    def run_kernels(batch: list[str]) -> None:
        assert kernels is not None
        kernels.clear_cache()
        kernels.predict_proba_all(batch)

    lat_texts = short[: a.n_latency]
    for _ in range(2):  # interleaved: a load spike on the shared machine hits both
        for name, fn in [("onnx_int8", run_onnx)] + (
            [("onnx_kernels", run_kernels)] if kernels is not None else []
        ):
            rate = round(_throughput(fn, speed_texts, a.repeats), 1)
            result[f"{name}_msgs_per_s"] = max(rate, result.get(f"{name}_msgs_per_s", 0.0))
            result.setdefault(f"{name}_latency_runs", []).append(_latency(fn, lat_texts))
    for name in ("onnx_int8", "onnx_kernels"):
        runs = result.pop(f"{name}_latency_runs", None)
        if runs:  # the better of the two interleaved runs, per percentile
            result[f"{name}_latency"] = {k: min(r[k] for r in runs) for k in runs[0]}
    result["torch_msgs_per_s"] = round(_throughput(run_torch, speed_texts, a.repeats), 1)
    if not a.skip_pipeline:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

        enc_dir = a.model / "encoder"
        clf = AutoModelForSequenceClassification.from_pretrained(
            str(enc_dir), num_labels=len(labels)
        )
        pipe = pipeline(
            "text-classification",
            model=clf,
            tokenizer=AutoTokenizer.from_pretrained(str(enc_dir)),
            device=-1,
            batch_size=a.batch,
            truncation=True,
            max_length=torch_model.max_length_,
        )

        def run_pipe(batch: list[str]) -> None:
            pipe(batch)

        result["pipeline_msgs_per_s"] = round(_throughput(run_pipe, speed_texts, a.repeats), 1)
        result["pipeline_latency"] = _latency(run_pipe, lat_texts[: max(20, a.n_latency // 4)])
        result["onnx_vs_pipeline"] = round(
            result["onnx_int8_msgs_per_s"] / result["pipeline_msgs_per_s"], 2
        )
    result["onnx_peak_rss_mb"] = _onnx_memory(onnx_dir, a.threads)
    result["bench_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    result["load_average_end"] = round(os.getloadavg()[0], 1)
    cfg = json.loads((a.model / "config.json").read_text(encoding="utf-8"))
    result["training"] = {
        k: cfg.get("training", {}).get(k) for k in ("train_seconds", "epoch_seconds", "updates")
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
