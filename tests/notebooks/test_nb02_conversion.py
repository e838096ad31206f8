"""Notebook 02 (TensorFlow and cross-framework conversion): the smoke run's ledger must show every
path it calls working within its parity tolerance; plus unit tests of labkit.convert."""

from __future__ import annotations

import pytest

from labkit.core import profiles

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
    """litert-torch's .tflite files from the PyTorch module, converted in its own environment (.venv-litert-torch,
    which `make setup` builds): fp32 within 1e-4 of eager, int8 (pt2e) agreeing on at least 99% of decisions, int8
    under 0.35x the fp32 file, both timed at batch 1 and 64 in LiteRT, all judged on the profile's whole test set."""
    from labkit.core import models, profiles

    lt = rows[rows["variant"].str.startswith("litert-torch ")]
    fp32, int8 = lt[lt["variant"] == "litert-torch fp32"], lt[lt["variant"] == "litert-torch int8"]
    for df, precision in ((fp32, "fp32"), (int8, "int8")):
        assert set(df["batch"]) == {1, 64} and set(df["runtime"]) == {"litert"}
        assert set(df["precision"]) == {precision} and df["parity_passed"].astype(bool).all()
        assert df["converter"].str.match(r"litert-torch \d+\.\d+").all()
    assert fp32["parity_max_abs"].max() <= 1e-4 and fp32["parity_top1"].min() == 1.0
    assert (lt["n_eval"] == profiles.get("smoke").n_test).all()  # every test image, not the parity subset
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
    assert pt_lite.startswith("litert-torch"), pt_lite  # converted in .venv-litert-torch, which make setup builds
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


