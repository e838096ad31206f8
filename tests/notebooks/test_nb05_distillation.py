"""Notebook 05 (knowledge distillation) and labkit.distill."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def rows(smoke_run):
    _, df = smoke_run("05")
    assert not df.empty, "notebook 05 recorded nothing"
    return df


def test_ledger_holds_both_arms_and_the_deployment(rows):
    assert set(rows["technique"]) <= {"baseline", "distillation"}
    assert rows["variant"].str.startswith("student scratch").any()
    assert rows["variant"].str.startswith("student distilled (seed").any()
    onnx = rows[rows["runtime"] == "onnxruntime"]
    assert set(onnx["variant"]) == {"teacher (onnxruntime)", "student (distilled) (onnxruntime)"}
    for _, group in onnx.groupby("variant"):
        assert sorted(group["batch"]) == [1, 64]
        assert group["latency_ms_p50"].gt(0).all() and group["size_bytes"].gt(0).all()
    assert not rows.duplicated(["variant", "target", "batch"]).any()


def test_student_parameter_budget_from_ledger(rows):
    onnx = rows[rows["runtime"] == "onnxruntime"].set_index("variant")
    teacher, student = onnx.loc["teacher (onnxruntime)"].iloc[0], onnx.loc["student (distilled) (onnxruntime)"].iloc[0]
    assert student["params"] * 8 <= teacher["params"]
    assert student["macs"] < teacher["macs"]
    assert student["size_bytes"] < teacher["size_bytes"] / 4  # the ONNX file is weights, mostly
    assert rows[rows["variant"].str.startswith("student")]["params"].eq(student["params"]).all()


def test_onnx_parity_from_ledger(rows):
    onnx = rows[rows["runtime"] == "onnxruntime"]
    assert len(onnx) == 4
    assert onnx["parity_passed"].astype(bool).all()
    assert onnx["parity_max_abs"].le(1e-4).all()
    assert onnx["parity_top1"].eq(1.0).all()
    assert set(onnx["reference"]) == {"teacher (torch)", "student (distilled) (torch)"}


def test_accuracies_are_real(rows):
    teacher = rows[rows["variant"] == "teacher (onnxruntime)"]["accuracy"].iloc[0]
    assert teacher > 0.85  # the shipped teacher, even on the smoke subset of the test set
    students = rows[rows["variant"].str.startswith("student") & rows["runtime"].eq("torch")]
    assert students["accuracy"].between(0.3, 1.0).all()  # smoke trains briefly, but it does learn
    mean_row = rows[rows["variant"].str.contains("mean of")].iloc[0]
    per_seed = rows[rows["variant"].str.startswith("student scratch (seed") & rows["runtime"].eq("torch")]
    assert mean_row["scratch_accuracy"] == pytest.approx(per_seed["accuracy"].mean())  # the mean of what was run


def test_sweep_points_are_recorded_against_a_scratch_reference(rows):
    sweep = rows[rows["variant"].str.startswith("sweep")]
    assert sorted(sweep["T"]) == [2.0, 8.0] and set(sweep["alpha"]) == {0.5}  # smoke's two points
    assert sweep["scratch_accuracy"].between(0.25, 1.0).all()  # well above chance (0.1): it learned
