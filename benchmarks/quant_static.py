"""Static (calibrated) int8 quantisation of an exported fp32 ONNX model, against fp32.

Usage (from the repository root)::

    emotiondesk export out/en-sst2 --no-quantize          # fp32 ONNX in out/en-sst2/onnx
    python benchmarks/quant_static.py --fp32 out/en-sst2/onnx --data ../shared/data \
        --dev sst2/dev.csv --dataset sst2 --calibration sst2/train.csv

onnxruntime ``quantize_static``, QDQ format, int8 weights per channel, uint8
activations, MinMax calibration on ``--n-calibration`` training texts (batches of
16). Prints one JSON object: label agreement with the fp32 model on the dev
texts, the largest probability difference, dev accuracy of both, and the size.
The export's own (dynamic) int8 variants are measured by ``emotiondesk export``.
When ``--data`` is absent the benchmark says so and exits 0 without figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from emotiondesk.data import load_dataset  # noqa: E402
from emotiondesk.models.base import load_model  # noqa: E402
from emotiondesk.text import normalize  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fp32", required=True, help="an fp32 ONNX model directory")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--dev", default="sst2/dev.csv")
    ap.add_argument("--calibration", default="sst2/train.csv")
    ap.add_argument("--dataset", default="sst2")
    ap.add_argument("--task", default="polarity")
    ap.add_argument("--n-calibration", type=int, default=300)
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / args.dev).is_file() or not (data / args.calibration).is_file():
        print(f"no labelled data under {data}: nothing measured", file=sys.stderr)
        return 0

    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    fp = Path(args.fp32)
    ref = load_model(fp)
    dev = load_dataset(data / args.dev, task=args.task, dataset=args.dataset, drop_duplicates=False)
    texts = [normalize(t) for t in dev.texts]
    y = np.array([ref.labels_.index(label) for label in dev.labels])
    p_ref = ref.predict_proba(texts)
    cal_data = load_dataset(data / args.calibration, task=args.task, dataset=args.dataset)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(cal_data), size=min(args.n_calibration, len(cal_data)), replace=False)
    cal = [normalize(cal_data.texts[i]) for i in sorted(pick)]
    tok, names, max_len = ref.tokenizer_, ref.input_names_, ref.max_length_

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            feeds = []
            for i in range(0, len(cal), 16):
                enc = tok.encode_batch(cal[i : i + 16])
                width = min(max(len(e.ids) for e in enc), max_len)
                ids = np.zeros((len(enc), width), np.int64)
                att = np.zeros_like(ids)
                for r, e in enumerate(enc):
                    n = min(len(e.ids), width)
                    ids[r, :n] = e.ids[:n]
                    att[r, :n] = 1
                feed = {"input_ids": ids, "attention_mask": att, "token_type_ids": 0 * ids}
                feeds.append({k: feed[k] for k in names})
            self._it = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "static"
        shutil.copytree(fp, out)
        quantize_static(
            str(fp / "model.onnx"),
            str(out / "model.onnx"),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        p = load_model(out).predict_proba(texts)
        size_mb = (out / "model.onnx").stat().st_size / 1e6
    print(
        json.dumps(
            {
                "dev": args.dev,
                "n_dev": len(texts),
                "n_calibration": len(cal),
                "label_agreement": round(float((p.argmax(1) == p_ref.argmax(1)).mean()), 4),
                "max_prob_diff": round(float(np.abs(p - p_ref).max()), 3),
                "dev_accuracy_fp32": round(float((p_ref.argmax(1) == y).mean()), 4),
                "dev_accuracy_static_int8": round(float((p.argmax(1) == y).mean()), 4),
                "size_mb": round(size_mb, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
