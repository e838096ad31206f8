"""Units of labkit.quant_math and labkit.quantize (notebook 03's arithmetic and ONNX Runtime helpers); the
notebook's run is in tests/notebooks/test_nb03_quantization.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.measure import profiler, sizes
from labkit.techniques import quant_math as qm
from labkit.techniques import quantize as q

QAT = "torch int8 pt2e QAT compiled"


def test_qrange():
    assert qm.qrange(8) == (-128, 127)
    assert qm.qrange(8, signed=False) == (0, 255)
    assert qm.qrange(4) == (-8, 7)
    for bad in (1, 0, 17, 8.0):
        with pytest.raises(ValueError):
            qm.qrange(bad)


def test_symmetric_round_trip_error_is_at_most_half_a_step():
    w = np.random.default_rng(0).normal(0, 0.1, 1000)
    scale, zero = qm.per_tensor_params(w, bits=8)
    assert zero == 0 and scale == pytest.approx(np.abs(w).max() / 127)
    codes = qm.quantize(w, scale, zero)
    assert codes.min() >= -128 and codes.max() <= 127
    assert np.abs(qm.dequantize(codes, scale, zero) - w).max() <= scale / 2 + 1e-7


def test_asymmetric_uses_the_range_and_keeps_zero_exact():
    x = np.random.default_rng(1).uniform(0, 6, 500)  # like activations after ReLU
    scale, zero = qm.per_tensor_params(x, bits=8, symmetric=False, signed=False)
    assert scale == pytest.approx(x.max() / 255)
    assert qm.dequantize(qm.quantize(0.0, scale, zero, signed=False), scale, zero) == 0.0
    codes = qm.quantize(x, scale, zero, signed=False)
    assert codes.max() == 255 and codes.min() >= 0


def test_per_channel_scales_follow_each_channel():
    w = np.stack([np.linspace(-1, 1, 27), np.linspace(-0.01, 0.01, 27)]).reshape(2, 3, 3, 3)
    scale, zero = qm.per_channel_params(w, axis=0)
    assert scale.shape == (2,) and (zero == 0).all()
    assert scale[1] == pytest.approx(scale[0] / 100)
    err_pc = qm.quant_error(w, qm.fake_quantize(w, 4, per_channel=True))["mse"]
    err_pt = qm.quant_error(w, qm.fake_quantize(w, 4))["mse"]
    assert err_pc < err_pt
    with pytest.raises(ValueError):
        qm.per_channel_params(np.ones(5))
    with pytest.raises(ValueError):
        qm.per_channel_params(w, axis=4)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError):
        qm.per_tensor_params(np.array([]))
    with pytest.raises(ValueError):
        qm.per_tensor_params(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        qm.quantize(np.ones(3), 0.0, 0)
    with pytest.raises(ValueError):
        qm.affine_params(1.0, -1.0)
    with pytest.raises(ValueError):
        qm.fake_quantize(np.ones((2, 2)), per_channel=True, clip=0.5)
    with pytest.raises(ValueError):
        qm.quant_error(np.ones(3), np.ones(4))


def test_error_split_adds_up_and_clipping_vanishes_at_max():
    w = np.random.default_rng(2).normal(0, 1, 5000)
    part = qm.error_split(w, clip=1.5, bits=4)
    assert part["rounding_mse"] + part["clipping_mse"] == pytest.approx(part["mse"])
    assert part["clipping_mse"] > 0
    assert qm.error_split(w, clip=np.abs(w).max(), bits=4)["clipping_mse"] == 0


def test_kmeans_codebook_beats_the_linear_grid_on_bell_shaped_weights():
    w = np.random.default_rng(3).normal(0, 0.05, (64, 32, 3, 3))
    codebook, idx = qm.kmeans_codebook(w, bits=4)
    assert codebook.shape == (16,) and np.all(np.diff(codebook) > 0)
    assert idx.shape == w.shape and idx.dtype == np.uint8 and idx.max() < 16
    km = qm.quant_error(w, codebook[idx])["sqnr_db"]
    lin = qm.quant_error(w, qm.fake_quantize(w, 4))["sqnr_db"]
    assert km > lin + 3
    # fewer distinct values than codes: a smaller codebook, exact reconstruction
    cb, ix = qm.kmeans_codebook(np.array([0.5, 0.5, -1.0, 2.0]), bits=4)
    assert len(cb) == 3 and np.allclose(cb[ix], [0.5, 0.5, -1.0, 2.0])
    with pytest.raises(ValueError):
        qm.kmeans_codebook(w, bits=0)


def test_quant_error_and_layer_errors():
    w = np.arange(10.0)
    assert qm.quant_error(w, w)["sqnr_db"] == float("inf")
    from labkit.core.models import TeacherCNN

    df = qm.layer_errors(TeacherCNN())
    assert len(df) == 6 * len(qm.SCHEMES)
    assert set(df["scheme"]) == set(qm.SCHEMES)
    per = df.pivot(index="layer", columns="scheme", values="sqnr_db")
    assert (per["int8 per-channel sym"] > per["int4 per-channel sym"] + 15).all()


def test_with_quantized_weights_leaves_the_original_alone():
    from labkit.core.models import TeacherCNN

    model = TeacherCNN().eval()
    before = model.features[0].weight.detach().clone()
    twin = qm.with_quantized_weights(model, lambda w: qm.fake_quantize(w, 4))
    assert torch.equal(model.features[0].weight, before)
    assert len(torch.unique(twin.features[0].weight)) <= 16


def test_memory_arithmetic():
    table = qm.memory_table((1e9, 7e9, 70e9), (16, 8, 4))
    assert table.shape == (3, 3)
    assert table.loc["7B params", "4-bit (GiB)"] == pytest.approx(7e9 * 0.5 / 2 ** 30)
    assert table.loc["70B params", "16-bit (GiB)"] == pytest.approx(130.39, abs=0.01)
    assert qm.weight_memory(1e9, 8) == 1e9
    with pytest.raises(ValueError):
        qm.weight_memory(-1, 8)


def test_calibration_reader_feeds_every_image_once_then_none():
    x = np.zeros((70, 1, 28, 28), np.float32)
    reader = q.NumpyCalibrationReader(x, "image", batch_size=32)
    sizes = []
    while (batch := reader.get_next()) is not None:
        sizes.append(len(batch["image"]))
    assert sizes == [14] * 5 and len(reader) == 5  # equal batches: 14 is the largest divisor of 70 up to 32
    reader.rewind()
    assert len(reader.get_next()["image"]) == 14
    assert q.NumpyCalibrationReader(np.zeros((64, 1, 28, 28), np.float32), batch_size=32).batch_size == 32
    with pytest.raises(ValueError):
        q.NumpyCalibrationReader(np.zeros((0, 1, 28, 28)))
    with pytest.raises(ValueError):
        q.NumpyCalibrationReader(x, batch_size=0)


def test_sizes_of_torch_models():
    from labkit.core.models import TeacherCNN

    model = TeacherCNN()
    assert sizes.torch_bytes(model) > 4 * 468_000
    with pytest.raises(TypeError):
        sizes.graph_bytes(model)
    gm = torch.fx.symbolic_trace(torch.nn.Linear(4, 2))
    assert sizes.graph_bytes(gm) > 0


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    from labkit.core.models import StudentCNN
    from labkit.techniques.export import export_onnx

    torch.manual_seed(0)
    return export_onnx(StudentCNN().eval(), tmp_path_factory.mktemp("q") / "student.onnx")


def test_quantize_onnx_static_shrinks_and_runs(tiny_onnx, tmp_path):
    from labkit.core.targets import resolve
    from labkit.measure.runtimes import ort_runner

    calib = np.random.default_rng(0).normal(size=(40, 1, 28, 28)).astype(np.float32)
    out = q.quantize_onnx_static(tiny_onnx, tmp_path / "int8.onnx", calib)
    assert out.exists() and not (tmp_path / "int8.pre.onnx").exists()
    assert out.stat().st_size < 0.4 * tiny_onnx.stat().st_size
    target, _ = resolve("cpu")
    logits = ort_runner(out, target)(calib[:3])
    assert logits.shape == (3, 10) and np.isfinite(logits).all()
    ops = profiler.ort_op_times(out, calib[:8], target, runs=2)
    assert ops and all(v >= 0 for v in ops.values())
    qop = q.quantize_onnx_static(tiny_onnx, tmp_path / "qop.onnx", calib, quant_format="QOperator", per_channel=False)
    from labkit.techniques.export import op_histogram

    assert "QLinearConv" in op_histogram(qop)


def test_histogram_calibration_with_an_uneven_image_count(tiny_onnx, tmp_path):
    calib = np.random.default_rng(1).normal(size=(40, 1, 28, 28)).astype(np.float32)  # 32 + 8 broke Entropy
    out = q.quantize_onnx_static(tiny_onnx, tmp_path / "entropy.onnx", calib, method="Entropy")
    assert out.exists() and out.stat().st_size < 0.4 * tiny_onnx.stat().st_size


def test_quantize_onnx_static_rejects_bad_arguments(tiny_onnx, tmp_path):
    calib = np.zeros((4, 1, 28, 28), np.float32)
    with pytest.raises(ValueError):
        q.quantize_onnx_static(tiny_onnx, tmp_path / "x.onnx", calib, quant_format="QQQ")
    with pytest.raises(ValueError):
        q.quantize_onnx_static(tiny_onnx, tmp_path / "x.onnx", calib, method="Median")
    with pytest.raises(FileNotFoundError):
        q.quantize_onnx_static(tmp_path / "missing.onnx", tmp_path / "x.onnx", calib)
