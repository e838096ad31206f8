"""Notebook 06 (the capstone pipeline and the choice of what to ship) and labkit.pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.measure import acceptance
from labkit.measure.parity import TOLERANCES
from labkit.techniques import pipeline

NB = "06_capstone"


STAGES = ["teacher", "distilled student", "pruned + KD fine-tune", "static int8"]


def _pipeline_rows(smoke_run):
    run, df = smoke_run("06")
    rows = df[(df["notebook"] == NB) & (df["technique"] == "pipeline")]
    assert len(rows), "notebook 06 recorded no pipeline rows"
    return run, rows


def test_stage_order(smoke_run):
    _, rows = _pipeline_rows(smoke_run)
    assert list(rows["stage"]) == sorted(rows["stage"]), "stages must be recorded in pipeline order"
    names = rows.drop_duplicates("stage").sort_values("stage")
    assert list(names["stage"]) == [1, 2, 3, 4]
    assert list(names["stage_name"]) == STAGES
    assert set(rows[rows["stage"] < 4]["precision"]) == {"fp32"}
    assert set(rows[rows["stage"] == 4]["precision"]) == {"int8"}


def test_every_stage_on_every_target_at_both_batches(smoke_run):
    _, rows = _pipeline_rows(smoke_run)
    for stage, g in rows.groupby("stage"):
        combos = set(zip(g["runtime"], g["target"], strict=True))
        assert {("onnxruntime", "cpu"), ("onnxruntime", "edge")} <= combos, stage
        assert (("torch", "cpu") in combos) == (stage < 4), stage  # int8 lives in ONNX and LiteRT only
        for key, h in g.groupby(["runtime", "target"]):
            assert sorted(h["batch"]) == [1, 64], (stage, key)
            assert h["latency_ms_p50"].gt(0).all() and h["latency_n"].ge(2).all()
    stages = {r: set(g["stage"]) for r, g in rows.groupby("runtime")}
    for runtime in ("openvino", "litert"):  # pinned dependencies: always there, every stage
        assert stages.get(runtime) == {1, 2, 3, 4}, runtime
    # variant names are unique per (variant, target, batch)
    assert not rows.duplicated(subset=["variant", "target", "batch"]).any()


def test_executorch_programs_of_the_pruned_student_are_candidates(smoke_run):
    """The pruned student (fp32) and its XNNPACK int8 form as ExecuTorch programs on the edge target: both batch
    sizes timed, parity against the pruned PyTorch model, int8 smaller, and both among the candidates."""
    run, df = smoke_run("06")
    et = df[(df["notebook"] == NB) & (df["runtime"] == "executorch")]
    assert set(et["stage"]) == {3, 4} and set(et["target"]) == {"edge"}
    assert (et["reference"] == "pruned (torch)").all()
    for stage, g in et.groupby("stage"):
        assert sorted(g["batch"]) == [1, 64] and g["latency_ms_p50"].gt(0).all(), stage
        assert set(g["precision"]) == {"fp32" if stage == 3 else "int8"}
    fp32, int8 = (et[et["stage"] == s].iloc[0] for s in (3, 4))
    assert fp32["parity_passed"] and fp32["parity_max_abs"] <= TOLERANCES["fp32"]["max_abs"]
    # the smoke student is barely trained: int8 is held to the capstone's smoke bar for its int8 stage
    assert int8["parity_top1"] >= acceptance.BARS_BY_NAME["06.int8_agreement"].threshold("smoke")
    assert int8["parity_cosine"] >= 0.99
    assert int8["size_bytes"] < 0.5 * fp32["size_bytes"]
    labels = set(pipeline.candidates(run)["label"])
    assert sum("(executorch, edge)" in label for label in labels) == 2, labels


def test_monotone_size_reduction(smoke_run):
    _, rows = _pipeline_rows(smoke_run)
    for runtime, target in (("onnxruntime", "cpu"), ("litert", "edge")):
        if runtime not in set(rows["runtime"]):
            continue
        st = acceptance.stage_rows(rows, runtime, target, 64)
        sizes = list(st["size_bytes"])
        assert acceptance.monotone_decreasing(sizes), f"{runtime} sizes by stage: {sizes}"
    st = acceptance.stage_rows(rows, "onnxruntime", "cpu", 64)
    assert st["size_bytes"].iloc[0] / st["size_bytes"].iloc[-1] >= 10  # the int8 file: at least 10x smaller
    params = list(st["params"])
    assert params[0] > 8 * params[1] and params[1] > params[2] and params[2] == params[3]


def test_parity_from_the_ledger(smoke_run):
    _, rows = _pipeline_rows(smoke_run)
    assert rows["reference"].notna().all()
    fp32 = rows[rows["precision"] == "fp32"]
    assert fp32["parity_passed"].all(), fp32.loc[~fp32["parity_passed"].astype(bool), "variant"].tolist()
    assert (fp32["parity_max_abs"] <= TOLERANCES["fp32"]["max_abs"]).all()
    assert (fp32["parity_top1"] == 1.0).all()
    int8 = rows[rows["precision"] == "int8"]
    assert (int8["reference"] == "pruned (torch)").all()
    # the bar the notebook promises at this profile (a smoke student's close logits flip more often)
    floor = acceptance.BARS_BY_NAME["06.int8_agreement"].threshold("smoke")
    assert (int8["parity_top1"] >= floor).all() and (int8["parity_cosine"] >= 0.99).all(), int8[
        ["variant", "parity_top1", "parity_cosine"]]


def test_accuracy_on_the_whole_test_split(smoke_run):
    _, rows = _pipeline_rows(smoke_run)
    assert (rows["n_eval"] == 500).all()  # the smoke profile's whole test split
    assert rows["accuracy"].between(0, 1).all()
    teacher = rows[rows["stage"] == 1]["accuracy"]
    assert teacher.min() > 0.85 and teacher.max() - teacher.min() < 0.01  # one model, any runtime


def test_decision_and_report(smoke_run):
    run, df = smoke_run("06")
    decided = json.loads((Path(run) / "decision.json").read_text())
    for key in pipeline.DECISION_KEYS:
        assert key in decided
    assert set(decided["budgets"]) >= {"latency_ms_p50_b64", "size_bytes", "accuracy_floor"}
    cands = pipeline.candidates(run)
    if decided["chosen"] is not None:
        hit = cands[cands["label"] == decided["chosen"]]
        assert len(hit) == 1
        assert hit["accuracy"].item() == pytest.approx(decided["accuracy"])
        assert hit["size_bytes"].item() == decided["size_bytes"]
        assert decided["size_bytes"] <= decided["budgets"]["size_bytes"]
        assert decided["latency_ms_p50_b64"] <= decided["budgets"]["latency_ms_p50_b64"]
        assert decided["parity"] and "passed" in decided["parity"]
    html = (Path(run) / "report.html").read_text()
    assert "The model to ship" in html and "06_capstone" in html


