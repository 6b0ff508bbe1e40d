"""ONNX export of a transformer artifact, int8 dynamic quantisation, parity check.

The exported directory is an ``onnx`` model kind (see
:mod:`emotiondesk.models.onnx`) that runs with onnxruntime and the
``tokenizers`` library, without torch. Export refuses to write an artifact
whose predictions disagree with the torch model on more than 0.5% of the
parity texts, and reports the largest probability difference.

Example:
    >>> report = export_onnx("out/en-deep", "out/en-deep/onnx")  # doctest: +SKIP
    >>> report.agreement >= 0.995                                # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emotiondesk.errors import ModelError
from emotiondesk.models._io import atomic_directory
from emotiondesk.models.base import CONFIG_NAME, read_config
from emotiondesk.models.onnx import MODEL_FILE, OnnxClassifier
from emotiondesk.models.onnx import MODEL_TYPE as ONNX_TYPE
from emotiondesk.models.transformer import MODEL_TYPE as TRANSFORMER_TYPE
from emotiondesk.models.transformer import TransformerClassifier
from emotiondesk.training.card import ModelCard, onnx_export_lines

logger = logging.getLogger(__name__)

MIN_AGREEMENT = 0.995

#: Parity texts used when none are given: short and long, zh and en, odd characters.
DEFAULT_PARITY_TEXTS: tuple[str, ...] = (
    "The delivery was very slow and the box arrived broken.",
    "Thanks, great service, I love it!",
    "Can I change the delivery address for my order?",
    "not bad at all",
    "I am so angry, this is the worst shop ever, I want a refund now!!!",
    "it 's a charming and often affecting journey .",
    "unflinchingly bleak and desperate",
    "物流太慢了，气死我了",
    "质量很好，很喜欢，谢谢客服",
    "请问什么时候发货？",
    "收到的杯子碎了，好失望",
    "ok",
    "?",
    "wow 😀 URL 12345",
    "This product is fine I guess, nothing special, but the price was right and it came on time. "
    "Customer support answered quickly when I asked about the warranty.",
)


@dataclass
class ExportReport:
    """What export did and how faithful the result is."""

    out: str
    quantized: bool
    n_texts: int
    agreement: dict[str, float] = field(default_factory=dict)
    max_prob_diff: dict[str, float] = field(default_factory=dict)
    size_bytes: int = 0
    seconds: float = 0.0

    @property
    def min_agreement(self) -> float:
        return min(self.agreement.values()) if self.agreement else 1.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["min_agreement"] = self.min_agreement
        return d


def export_onnx(
    model_dir: str | Path,
    out: str | Path | None = None,
    *,
    quantize: bool = True,
    parity_texts: Sequence[str] | None = None,
    min_agreement: float = MIN_AGREEMENT,
    opset: int = 17,
    per_channel: bool = True,
    method: str = "dynamic",
    fp32_layers: int = 0,
) -> ExportReport:
    """Export ``model_dir`` (a ``transformer`` artifact) to an ``onnx`` artifact at ``out``.

    Args:
        model_dir: a directory written by the trainer.
        out: where to write (default: ``<model_dir>/onnx``, which the analyzer prefers).
        quantize: int8 dynamic quantisation of the weights (onnxruntime).
        parity_texts: texts to compare torch and ONNX on (default: a built-in mixed set;
            pass dev texts for a real check).
        min_agreement: the least label agreement accepted, per task.
        per_channel: one int8 scale per output channel (closer to fp32 than one per tensor:
            on a MiniLM SST-2 model, 99.0% instead of 96.2% label agreement).
        method: ``"dynamic"`` (int8 weights and int8 activations computed at run time:
            the fastest) or ``"weight-only"`` (int8 weights of every MatMul in blocks of
            32, the word-embedding table 4-bit in blocks of 32 with Q4_0 scales,
            activations kept fp32: much closer to fp32 than dynamic; figures in
            docs/BENCHMARKS.md). Only used with ``quantize``.
        fp32_layers: with ``weight-only``, the last this many encoder layers keep fp32
            weights (closer still, about 5 MB more per layer of a 384-wide model).
    """
    if method not in QUANT_METHODS:
        raise ModelError(f"unknown quantisation method {method!r}; choose one of {QUANT_METHODS}")
    t0 = time.perf_counter()
    src = Path(model_dir)
    cfg = read_config(src)
    if cfg.get("model_type") != TRANSFORMER_TYPE:
        raise ModelError(
            f"{src} holds a {cfg.get('model_type')!r} model; export takes a {TRANSFORMER_TYPE!r} model"
        )
    target = Path(out) if out is not None else src / "onnx"
    model = TransformerClassifier.from_pretrained(src)
    texts = [t for t in (parity_texts or DEFAULT_PARITY_TEXTS) if isinstance(t, str) and t.strip()]
    if not texts:
        raise ModelError("parity check needs at least one non-empty text")
    module, input_names = model.export_module()
    task_names = list(model.tasks_)
    output_names = [f"logits_{t}" for t in task_names]
    dummy = model.tokenizer_(["hello world", "ok"], padding=True, return_tensors="pt")
    dummy_inputs = tuple(dummy[name] for name in input_names)
    axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    axes.update({name: {0: "batch"} for name in output_names})

    with atomic_directory(target) as tmp:
        fp32 = tmp / "model.fp32.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer's notes on Python-side shape checks do not apply: parity is checked below.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                dummy_inputs,
                str(fp32),
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
        final = tmp / MODEL_FILE
        if quantize:
            _quantize(fp32, final, method=method, per_channel=per_channel, fp32_layers=fp32_layers)
            fp32.unlink()
        else:
            fp32.rename(final)
        _write_tokenizer(model, tmp)
        onnx_cfg = {
            "model_type": ONNX_TYPE,
            "format_version": 1,
            "tasks": model.tasks_,
            "default_task": model.task_,
            "temperatures": model.temperatures_,
            "max_length": model.max_length_,
            "input_names": input_names,
            "output_names": output_names,
            "quantized": quantize,
            "quantization": method if quantize else None,
            "fp32_layers": fp32_layers if quantize and method == "weight-only" else 0,
            "per_channel": bool(quantize and per_channel and method == "dynamic"),
            "pad_token_id": model.tokenizer_.pad_token_id or 0,
            "pad_token": model.tokenizer_.pad_token or "[PAD]",
            "source": {
                k: v for k, v in cfg.items() if k in ("version", "base", "dev", "preprocessing")
            },
        }
        (tmp / CONFIG_NAME).write_text(
            json.dumps(onnx_cfg, ensure_ascii=False, indent=2), encoding="utf-8"
        )

        onnx_model = OnnxClassifier.from_pretrained(tmp)
        ref = model.predict_proba_all(texts)
        got = onnx_model.predict_proba_all(texts)
        report = ExportReport(out=str(target), quantized=quantize, n_texts=len(texts))
        for task in task_names:
            report.agreement[task] = float(np.mean(ref[task].argmax(1) == got[task].argmax(1)))
            report.max_prob_diff[task] = float(np.abs(ref[task] - got[task]).max())
        report.size_bytes = final.stat().st_size
        if report.min_agreement < min_agreement:
            raise ModelError(
                f"ONNX parity check failed: label agreement {report.agreement} is below "
                f"{min_agreement} (max probability difference {report.max_prob_diff}); "
                "try --no-quantize",
                code="onnx_parity_failed",
            )
        report.seconds = time.perf_counter() - t0
        (tmp / "export_report.json").write_text(
            json.dumps(report.to_dict(), indent=2), encoding="utf-8"
        )
        weight_only = quantize and method == "weight-only"
        ModelCard.read(src).with_section(
            "ONNX export",
            onnx_export_lines(
                quantized=quantize,
                per_channel=per_channel and not weight_only,
                opset=WEIGHT_ONLY_OPSET if weight_only else opset,
                size_bytes=report.size_bytes,
                n_texts=report.n_texts,
                agreement=report.agreement,
                max_prob_diff=report.max_prob_diff,
                kind=(
                    _METHOD_NAMES[method]
                    + (f", last {fp32_layers} layers fp32" if weight_only and fp32_layers else "")
                )
                if quantize
                else None,
            ),
        ).write(tmp)
    logger.info("exported %s -> %s (%s)", src, target, report.to_dict())
    return report


QUANT_METHODS = ("dynamic", "weight-only")
_METHOD_NAMES = {
    "dynamic": "int8 dynamic quantisation",
    "weight-only": "weight-only quantisation (int8 MatMul weights, 4-bit word table, blocks of 32)",
}
#: int4 tensors (the 4-bit embedding tables) need opset 21 and IR version 10
WEIGHT_ONLY_OPSET = 21


def _last_layers(model: Any, n: int) -> list[int]:
    import re

    found = {
        int(m.group(1))
        for node in model.graph.node
        if (m := re.search(r"/layer\.(\d+)/", node.name)) is not None
    }
    return sorted(found)[-n:] if n > 0 else []


def _quantize(
    src: Path, dst: Path, *, method: str, per_channel: bool, fp32_layers: int = 0
) -> None:
    """Write the quantised form of the fp32 ONNX model ``src`` to ``dst``."""
    if method == "dynamic":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel)
        return
    import onnx
    from onnx import version_converter

    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    except ImportError as exc:  # onnxruntime's weight-only quantiser needs onnx-ir
        raise ModelError(
            f"weight-only quantisation needs onnxruntime's MatMulNBitsQuantizer ({exc}); "
            "install the train extra"
        ) from exc
    model = version_converter.convert_version(onnx.load(str(src)), WEIGHT_ONLY_OPSET)
    # the last ``fp32_layers`` encoder layers stay fp32 (closest to fp32 where it counts most)
    keep = [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul"
        and any(f"/layer.{k}/" in n.name for k in _last_layers(model, fp32_layers))
    ]
    matmuls = MatMulNBitsQuantizer(
        model,
        bits=8,
        block_size=32,
        is_symmetric=True,
        op_types_to_quantize=("MatMul",),
        nodes_to_exclude=keep,
    )
    matmuls.process()
    model = matmuls.model.model
    _quantize_word_table(model)
    onnx.save(model, str(dst))


def _quantize_word_table(model: Any, block: int = 32) -> None:
    """Replace the largest constant Gather (the word-embedding table) by GatherBlockQuantized.

    4-bit signed values in blocks of ``block`` along the hidden axis, with the
    scale of each block set as the Q4_0 format of the e5 base sets it: the
    value of largest magnitude maps to -8 (``scale = that value / -8``). The
    e5 base's word table comes in that format and stays frozen in training, so
    its values are represented exactly; onnxruntime's own Gather quantiser
    scales by the magnitude / 7 and re-rounds every value (it cost 1-2 points
    of label agreement). Other tables (positions, token types: small) stay fp32.
    """
    from onnx import TensorProto, helper, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    gathers = [
        n
        for n in model.graph.node
        if n.op_type == "Gather" and n.input[0] in inits and len(inits[n.input[0]].dims) == 2
    ]
    if not gathers:
        return
    node = max(gathers, key=lambda n: int(np.prod(inits[n.input[0]].dims)))
    table = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
    rows, dim = table.shape
    if dim % block or sum(1 for n in model.graph.node if node.input[0] in n.input) != 1:
        return  # not block-aligned, or the table is shared (tied weights): leave it fp32
    blocks = table.reshape(rows, dim // block, block)
    pick = np.abs(blocks).argmax(axis=2)[..., None]
    scales = np.take_along_axis(blocks, pick, axis=2)[..., 0] / -8.0
    scales[scales == 0] = 1.0
    q = np.clip(np.rint(blocks / scales[..., None]), -8, 7).astype(np.int8).reshape(-1)
    packed = ((q[::2] & 0xF) | ((q[1::2] & 0xF) << 4)).astype(np.uint8)
    name = node.input[0]
    data = helper.make_tensor(name + "_Q4", TensorProto.INT4, [rows, dim], packed.tobytes(), True)
    scale_t = numpy_helper.from_array(scales.astype(np.float32), name + "_scales")
    model.graph.initializer.remove(inits[name])
    model.graph.initializer.extend([data, scale_t])
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    new = helper.make_node(
        "GatherBlockQuantized",
        [data.name, node.input[1], scale_t.name],
        [node.output[0]],
        name=node.name + "_Q4",
        domain="com.microsoft",
        gather_axis=int(attrs.get("axis", 0)),
        quantize_axis=1,
        block_size=block,
    )
    index = list(model.graph.node).index(node)
    model.graph.node.remove(node)
    model.graph.node.insert(index, new)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    model.ir_version = max(model.ir_version, 10)  # int4 tensors


def _write_tokenizer(model: TransformerClassifier, directory: Path) -> None:
    tok = model.tokenizer_
    if not getattr(tok, "is_fast", False) or getattr(tok, "backend_tokenizer", None) is None:
        raise ModelError(
            "ONNX export needs a fast tokenizer (tokenizer.json); this model's tokenizer has none"
        )
    tok.backend_tokenizer.save(str(directory / "tokenizer.json"))
