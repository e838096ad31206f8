"""Units of labkit.convert and the Keras twin (notebook 02's plumbing); the notebook's run is in
tests/notebooks/test_nb02_conversion.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from labkit.measure.parity import card
from labkit.measure.runtimes import Runner
from labkit.techniques import convert


def test_nchw_to_nhwc_and_bad_shape():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    y = convert.nchw_to_nhwc(x)
    assert y.shape == (2, 4, 5, 3) and y[1, 2, 3, 0] == x[1, 0, 2, 3]
    with pytest.raises(ValueError, match="4-D"):
        convert.nchw_to_nhwc(np.zeros((3, 28, 28)))


def test_representative_dataset_yields_single_nhwc_images():
    gen = convert.representative_dataset(np.zeros((5, 1, 28, 28), np.float32), n=3)
    batches = list(gen())
    assert len(batches) == 3 and batches[0][0].shape == (1, 28, 28, 1) and batches[0][0].dtype == np.float32
    with pytest.raises(ValueError, match="at least one"):
        convert.representative_dataset(np.zeros((0, 1, 28, 28), np.float32))


def test_to_tflite_rejects_bad_mode_and_int8_without_calibration():
    with pytest.raises(ValueError, match="mode must be one of"):
        convert.to_tflite(object(), "int4")
    with pytest.raises(ValueError, match="calib"):
        convert.to_tflite(object(), "int8")


def test_nhwc_input_wrapper_transposes():
    seen = {}

    def fn(x):
        seen["shape"] = x.shape
        return np.zeros((len(x), 10), np.float32)

    wrapped = convert.nhwc_input(Runner("r", "onnxruntime", fn))
    out = wrapped(np.zeros((3, 1, 28, 28), np.float32))
    assert seen["shape"] == (3, 28, 28, 1) and out.shape == (3, 10)
    assert wrapped.info["input_layout"] == "NHWC"
    with pytest.raises(ValueError, match="NCHW"):
        wrapped(np.zeros((3, 28, 28, 1), np.float32))


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                                      nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * 14 * 14, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def _tiny(seed=0):
    torch.manual_seed(seed)
    m = _Tiny().eval()
    bn = m.features[1]
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
    return m


def test_keras_port_round_trip_is_exact():
    from labkit.techniques.keras_twin import keras_twin

    m = _tiny()
    x = np.random.default_rng(0).normal(size=(8, 1, 28, 28)).astype(np.float32)
    twin = keras_twin(m)
    back = convert.port_keras_to_torch(twin, _tiny(seed=1))
    with torch.no_grad():
        a, b = m(torch.from_numpy(x)).numpy(), back(torch.from_numpy(x)).numpy()
    assert np.abs(a - b).max() < 1e-6
    with pytest.raises(ValueError, match="not the same architecture"):
        convert.port_keras_to_torch(twin, lk_teacher())


def lk_teacher():
    from labkit.core.models import TeacherCNN

    return TeacherCNN()


def test_keras_from_onnx_matches_and_refuses_unknown_ops(tmp_path):
    import onnx

    from labkit.techniques.export import export_onnx

    m = _tiny()
    x = np.random.default_rng(1).normal(size=(4, 1, 28, 28)).astype(np.float32)
    path = export_onnx(m, tmp_path / "tiny.onnx")
    layout = convert.onnx_layout(path)
    assert layout["layout"] == "NCHW" and layout["transposes"] == 0 and layout["input_shape"][1:] == [1, 28, 28]
    km = convert.keras_from_onnx(path)
    with torch.no_grad():
        ref = m(torch.from_numpy(x)).numpy()
    assert np.abs(km(convert.nchw_to_nhwc(x)).numpy() - ref).max() < 1e-4
    model = onnx.load(str(path))
    model.graph.node[0].op_type = "Sigmoid"  # an op the importer does not translate
    onnx.save(model, str(tmp_path / "bad.onnx"))
    with pytest.raises(NotImplementedError, match="Sigmoid"):
        convert.keras_from_onnx(tmp_path / "bad.onnx")


def test_run_matrix_records_failures_and_parity():
    ref = np.random.default_rng(0).normal(size=(6, 10)).astype(np.float32)
    x = np.zeros((6, 1, 28, 28), np.float32)

    def good():
        return Runner("good", "onnxruntime", lambda a: ref.copy())

    def drifted():
        return Runner("drift", "onnxruntime", lambda a: ref + 1e-2)

    def broken():
        raise RuntimeError("converter exploded\nsecond line")

    routes = {("A", "X"): ("ok route", good), ("A", "Y"): ("drift", drifted), ("B", "X"): ("broken", broken)}
    cells = convert.run_matrix(routes, {"A": ref, "B": ref}, x, labels=ref.argmax(1), progress=False)
    status = {(c.source, c.dest): c.status for c in cells}
    assert status == {("A", "X"): "passed", ("A", "Y"): "parity failed", ("B", "X"): "failed"}
    assert cells[0].accuracy == 1.0
    assert cells[2].reason == "RuntimeError: converter exploded"
    convert.bench_matrix(cells, {1: x[:1]}, rounds=1, repeats=1, warmup=0, progress=False)
    assert 1 in cells[0].latency and not cells[2].latency
    frame = convert.matrix_frame(cells)
    assert list(frame["status"]) == ["passed", "parity failed", "failed"] and "ms_b1" in frame
    fig = convert.matrix_heatmap(cells)
    assert fig.data[0].z[1][1] is None and fig.data[0].z[0][0] == 2 and fig.data[0].z[1][0] == 0
    with pytest.raises(ValueError, match="no reference"):
        convert.run_matrix(routes, {"A": ref}, x, progress=False)


def test_tflite_modes_have_precision_and_tolerance():
    from labkit.core.ledger import PRECISIONS
    from labkit.measure.parity import TOLERANCES

    for mode in convert.TFLITE_MODES:
        assert convert.TFLITE_PRECISION[mode] in PRECISIONS
        assert convert.TFLITE_TOLERANCE[mode] in TOLERANCES
    assert card(np.eye(3), np.eye(3), convert.TFLITE_TOLERANCE["int8"]).passed
