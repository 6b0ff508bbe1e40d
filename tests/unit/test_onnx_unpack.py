"""Weight-only ONNX models served with their int8/int4 blocks unpacked into fp32 MatMuls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx_ir")  # onnxruntime's MatMulNBits quantiser imports it

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from emotiondesk.models.onnx import unpack_weight_only  # noqa: E402


def _two_layer_model(path: Path, k: int = 70, n: int = 24) -> None:
    """x[., k] -> MatMul(W1) -> Relu -> MatMul(W2): K not a multiple of the block."""
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(k, n)).astype(np.float32)
    w2 = rng.normal(size=(n, 5)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"], name="first"),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("MatMul", ["r", "w2"], ["y"], name="second"),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 5])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    onnx.save(model, str(path))


def _quantise(src: Path, dst: Path, bits: int, symmetric: bool) -> None:
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    q = MatMulNBitsQuantizer(onnx.load(str(src)), bits=bits, block_size=32, is_symmetric=symmetric)
    q.process()
    onnx.save(q.model.model, str(dst))


def _run(model: str | bytes, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_unpacked_model_computes_what_the_block_kernels_compute(
    tmp_path: Path, bits: int, symmetric: bool
):
    fp32, quant = tmp_path / "fp32.onnx", tmp_path / "q.onnx"
    _two_layer_model(fp32)
    _quantise(fp32, quant, bits, symmetric)
    assert [n.op_type for n in onnx.load(str(quant)).graph.node].count("MatMulNBits") == 2
    x = np.random.default_rng(1).normal(size=(6, 70)).astype(np.float32)

    data, count = unpack_weight_only(quant)
    unpacked = onnx.load_from_string(data)
    assert count == 2
    assert [n.op_type for n in unpacked.graph.node] == ["MatMul", "Relu", "MatMul"]
    assert all(t.data_type == TensorProto.FLOAT for t in unpacked.graph.initializer)
    kernels, ours, exact = _run(str(quant), x), _run(data, x), _run(str(fp32), x)
    np.testing.assert_allclose(ours, kernels, rtol=1e-4, atol=1e-4)
    # and it is the quantised model, not the fp32 one it came from
    assert np.abs(ours - exact).max() > 1e-3


def test_a_model_without_block_weights_is_returned_unchanged(tmp_path: Path):
    fp32 = tmp_path / "fp32.onnx"
    _two_layer_model(fp32)
    data, count = unpack_weight_only(fp32)
    assert count == 0
    assert onnx.load_from_string(data) == onnx.load(str(fp32))
