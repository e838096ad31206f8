"""Notebook 02 (TensorFlow and cross-framework conversion): the smoke run's ledger must show every
path it calls working within its parity tolerance; plus unit tests of labkit.convert."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from torch import nn

from labkit.core import profiles
from labkit.measure.parity import card
from labkit.measure.runtimes import Runner
from labkit.techniques import convert

SMOKE = profiles.get("smoke")
MATRIX_DESTS = {"TorchScript", ".pt2", "ONNX / ORT", "ONNX / OpenVINO", "SavedModel", "TFLite / LiteRT",
                ".pte / ExecuTorch"}


@pytest.fixture(scope="module")
def rows(smoke_run):
    _, df = smoke_run("02")
    assert not df.empty, "notebook 02 recorded nothing"
    return df


def _parity_rows(df):
    return df[df["parity_top1"].notna()]


def test_every_row_is_a_known_technique_with_eval_size(rows):
    assert set(rows["technique"]) <= {"baseline", "export", "conversion", "quantization"}
    checked = _parity_rows(rows)
    assert (checked["n_eval"] >= SMOKE.n_parity).all()


def test_fp32_paths_reproduce_their_source(rows):
    fp32 = _parity_rows(rows)
    fp32 = fp32[fp32["precision"] == "fp32"]
    assert len(fp32) >= 20
    assert (fp32["parity_max_abs"] <= 1e-4).all(), fp32.loc[fp32["parity_max_abs"] > 1e-4, "variant"].tolist()
    assert (fp32["parity_top1"] == 1.0).all()
    assert fp32["parity_passed"].all()


def test_keras_twin_matches_pytorch_to_rounding(rows):
    twin = rows[rows["variant"] == "Keras twin"]
    assert len(twin) == 2 and set(twin["batch"]) == {1, 64}
    assert (twin["parity_max_abs"] <= 1e-4).all()
    assert (twin["parity_ulps"] <= 64).all()  # a few float32 rounding steps at the largest logit
    assert (twin["reference"] == "PyTorch eager").all()


def test_saved_formats_and_three_tf2onnx_routes(rows):
    names = set(rows["variant"])
    for v in ("Keras .keras reload", "SavedModel", "Keras -> ONNX (from_function)", "Keras -> ONNX (tf2onnx CLI)",
              "Keras -> ONNX (model.export)", "Keras -> ONNX (NCHW input)", "PyTorch -> ONNX -> Keras"):
        assert v in names, v
    layouts = rows.drop_duplicates("variant").set_index("variant")["input_layout"]
    assert layouts["Keras -> ONNX (from_function)"] == "NHWC"
    assert layouts["Keras -> ONNX (NCHW input)"] == "NCHW"
    assert layouts["PyTorch -> ONNX (dynamo)"] == "NCHW"


def test_tflite_variants_parity_and_size(rows):
    lite = rows[rows["runtime"] == "litert"].drop_duplicates("variant").set_index("variant")
    for mode in ("fp32", "dynamic", "fp16", "int8"):
        assert f"LiteRT {mode}" in lite.index, mode
    assert lite.loc["LiteRT fp32", "parity_max_abs"] <= 1e-4
    for mode in ("dynamic", "int8"):
        assert lite.loc[f"LiteRT {mode}", "parity_top1"] >= 0.99, mode
    assert lite.loc["LiteRT fp16", "parity_top1"] >= 0.99
    assert lite.loc["LiteRT int8", "precision"] == "int8"
    # int8 weights: about 4x smaller than fp32; fp16 about 2x
    assert lite.loc["LiteRT int8", "size_bytes"] < lite.loc["LiteRT fp32", "size_bytes"] / 3
    assert lite.loc["LiteRT fp16", "size_bytes"] < lite.loc["LiteRT fp32", "size_bytes"] * 0.6


def test_quantized_paths_agree_on_99_percent(rows):
    q = _parity_rows(rows)
    q = q[q["precision"].isin(["int8", "mixed"])]
    assert len(q) >= 4
    assert (q["parity_top1"] >= 0.99).all()


def test_litert_torch_converts_pytorch_directly(rows):
    """litert-torch's .tflite files from the PyTorch module: fp32 within 1e-4 of eager, int8 (pt2e) agreeing on
    at least 99% of decisions, int8 under 0.35x the fp32 file, both timed at batch 1 and 64 in LiteRT."""
    pytest.importorskip("litert_torch", reason="litert-torch cannot be installed beside the pins (its xdsl caps "
                        "typing-extensions below what jupyter-client needs): see notebook 02")
    from labkit.core import models

    lt = rows[rows["variant"].str.startswith("litert-torch ")]
    fp32, int8 = lt[lt["variant"] == "litert-torch fp32"], lt[lt["variant"] == "litert-torch int8"]
    for df, precision in ((fp32, "fp32"), (int8, "int8")):
        assert set(df["batch"]) == {1, 64} and set(df["runtime"]) == {"litert"}
        assert set(df["precision"]) == {precision} and df["parity_passed"].astype(bool).all()
        assert df["converter"].str.match(r"litert-torch \d+\.\d+").all()
    assert fp32["parity_max_abs"].max() <= 1e-4 and fp32["parity_top1"].min() == 1.0
    assert int8["parity_top1"].min() >= 0.99
    weights = 4 * models.count_params(models.TeacherCNN())
    assert 0.95 * weights < fp32["size_bytes"].iloc[0] < 1.1 * weights
    assert int8["size_bytes"].iloc[0] < 0.35 * fp32["size_bytes"].iloc[0]


def test_conversion_matrix_is_complete_and_passes(rows):
    m = rows[rows["variant"].str.startswith("matrix: ")]
    cells = m.drop_duplicates(["matrix_source", "matrix_dest"])
    assert set(cells["matrix_source"]) == {"PyTorch", "Keras"}
    assert set(cells["matrix_dest"]) == MATRIX_DESTS
    assert len(cells) == 14
    # every route is a pinned tool of the kit's stack: none may fail (a failure would carry its reason)
    assert (cells["matrix_status"] == "passed").all(), cells.loc[cells["matrix_status"] != "passed",
                                                                  ["matrix_source", "matrix_dest", "reason"]]
    # each route names its tool with the version that ran (e.g. "litert-torch 0.10.0 (section 5)")
    assert cells["route"].str.contains(r"\d+\.\d+").all(), cells.loc[~cells["route"].str.contains(r"\d+\.\d+"), "route"]
    pt_lite = cells.set_index(["matrix_source", "matrix_dest"]).loc[("PyTorch", "TFLite / LiteRT"), "route"]
    has_litert_torch = importlib.util.find_spec("litert_torch") is not None
    assert pt_lite.startswith("litert-torch" if has_litert_torch else "hand port"), pt_lite
    worked = m
    assert (worked["parity_max_abs"] <= 1e-4).all() and (worked["parity_top1"] == 1.0).all()
    # every working cell is timed at batch 1 and 64
    for _, grp in worked.groupby("variant"):
        assert set(grp["batch"]) == {1, 64}


def test_latency_rows_at_both_batches(rows):
    timed = rows[rows["latency_ms_p50"].notna()]
    assert set(timed["batch"]) == {1, 64}
    assert (timed["latency_ms_p50"] > 0).all()
    assert not timed.duplicated(["variant", "batch"]).any()


# ------------------------------------------------------------------ unit tests of labkit.convert

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
