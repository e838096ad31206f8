"""Notebook 06 (the capstone pipeline and the choice of what to ship) and labkit.pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit.measure import acceptance
from labkit.measure.parity import TOLERANCES
from labkit.techniques import pipeline
from labkit.ui import widgets

NB = "06_capstone"
STAGES = ["teacher", "distilled student", "pruned + KD fine-tune", "static int8"]


def _pipeline_rows(smoke_run):
    run, df = smoke_run("06")
    rows = df[(df["notebook"] == NB) & (df["technique"] == "pipeline")]
    assert len(rows), "notebook 06 recorded no pipeline rows"
    return run, rows


# ---------------------------------------------------------------- the smoke run's ledger


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


# ---------------------------------------------------------------- labkit.pipeline


def _cands():
    return pd.DataFrame([
        {"notebook": NB, "variant": "teacher", "runtime": "onnxruntime", "target": "cpu", "batch": 64,
         "accuracy": 0.937, "size_bytes": 1_900_000, "latency_ms_p50": 3.3, "parity_passed": True,
         "parity_top1": 1.0, "reference": "teacher (torch)"},
        {"notebook": NB, "variant": "student", "runtime": "onnxruntime", "target": "cpu", "batch": 64,
         "accuracy": 0.925, "size_bytes": 230_000, "latency_ms_p50": 0.6},
        {"notebook": NB, "variant": "int8", "runtime": "onnxruntime", "target": "cpu", "batch": 64,
         "accuracy": 0.925, "size_bytes": 45_000, "latency_ms_p50": 0.5},
        {"notebook": "05_distillation", "variant": "student (onnxruntime)", "runtime": "onnxruntime",
         "target": "cpu", "batch": 64, "accuracy": 0.91, "size_bytes": 230_000, "latency_ms_p50": 0.4},
        {"notebook": NB, "variant": "teacher", "runtime": "onnxruntime", "target": "cpu", "batch": 1,
         "accuracy": 0.937, "size_bytes": 1_900_000, "latency_ms_p50": 0.2},
        {"notebook": NB, "variant": "no latency", "runtime": "torch", "target": "cpu", "batch": None,
         "accuracy": 0.99, "size_bytes": 10, "latency_ms_p50": None},
    ])


def test_candidates_keeps_comparable_rows_and_labels_them():
    c = pipeline.candidates(_cands(), batch=64)
    assert len(c) == 4 and (c["batch"] == 64).all()
    assert "05_distillation: student (onnxruntime) [onnxruntime, cpu]" in set(c["label"])
    assert "teacher [onnxruntime, cpu]" in set(c["label"])
    assert len(pipeline.candidates(_cands(), batch=1)) == 1


def test_candidates_from_a_run_folder_and_bad_input(tmp_path):
    assert pipeline.candidates(tmp_path).empty  # no ledger yet
    with (tmp_path / "ledger.jsonl").open("w") as f:
        for r in _cands().to_dict("records"):
            f.write(json.dumps({k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}) + "\n")
    assert len(pipeline.candidates(tmp_path)) == 4
    with pytest.raises(ValueError, match="latency_ms_p50"):
        pipeline.candidates(pd.DataFrame([{"variant": "x", "batch": 64, "accuracy": 0.9, "size_bytes": 1}]))


def test_choose_most_accurate_within_budgets_ties_to_faster():
    c = pipeline.candidates(_cands())
    row, why = pipeline.choose(c, latency_budget_ms=1.0, size_budget_bytes=300_000, accuracy_floor=0.92)
    assert row["variant"] == "int8"  # as accurate as the student, and faster
    assert "most accurate" in why and "1 too slow" in why
    row, _ = pipeline.choose(c, latency_budget_ms=10, size_budget_bytes=2e6, accuracy_floor=0.9)
    assert row["variant"] == "teacher"
    row, _ = pipeline.choose(c, latency_budget_ms=0.45, size_budget_bytes=2e6, accuracy_floor=0.9)
    assert row["label"].startswith("05_distillation")


def test_choose_when_nothing_fits():
    c = pipeline.candidates(_cands())
    row, why = pipeline.choose(c, latency_budget_ms=1.0, size_budget_bytes=300_000, accuracy_floor=0.95)
    assert row["variant"] == "int8" and "misses the accuracy floor" in why
    row, why = pipeline.choose(c, latency_budget_ms=0.1, size_budget_bytes=300_000, accuracy_floor=0.5)
    assert row is None and "fastest" in why
    row, why = pipeline.choose(c.iloc[:0], 1.0, 1e6, 0.9)
    assert row is None and "no candidates" in why


@pytest.mark.parametrize("args, match", [
    ((0, 1e6, 0.9), "latency_budget_ms"), ((-1, 1e6, 0.9), "latency_budget_ms"),
    ((1.0, float("nan"), 0.9), "size_budget_bytes"), ((1.0, 1e6, 92.0), "accuracy_floor"),
    ((1.0, 1e6, "0.9"), "accuracy_floor"),
])
def test_choose_rejects_bad_budgets(args, match):
    with pytest.raises(ValueError, match=match):
        pipeline.choose(pipeline.candidates(_cands()), *args)


def test_decision_round_trip(tmp_path):
    c = pipeline.candidates(_cands())
    row, why = pipeline.choose(c, 10, 2e6, 0.9)
    budgets = {"latency_ms_p50_b64": 10, "size_bytes": 2e6, "accuracy_floor": 0.9}
    d = pipeline.decision(row, why, budgets, pipeline.parity_of(row))
    assert d["parity"] == {"reference": "teacher (torch)", "passed": True, "top1": 1.0}
    path = pipeline.write_decision(tmp_path, d)
    back = json.loads(path.read_text())
    assert back["chosen"] == "teacher [onnxruntime, cpu]" and back["latency_ms_p50_b64"] == 3.3
    assert pipeline.decision(None, "nothing fits", budgets)["chosen"] is None
    with pytest.raises(ValueError, match="missing"):
        pipeline.write_decision(tmp_path, {"chosen": "x"})


def test_acceptance_and_monotone():
    rows = pd.DataFrame([
        {"technique": "pipeline", "stage": s, "variant": f"{s} v", "runtime": "onnxruntime", "target": "cpu",
         "batch": 64, "accuracy": a, "size_bytes": b, "latency_ms_p50": ms}
        for s, a, b, ms in ((1, 0.937, 1_900_000, 4.0), (2, 0.926, 230_000, 0.9), (3, 0.925, 140_000, 0.7),
                            (4, 0.924, 50_000, 0.8))])
    best = acceptance.best_stage(rows)
    assert best["stage"] == 3  # stage 2 is not 10x smaller; 3 is more accurate than 4
    assert best["loss_points"] == pytest.approx(1.2) and best["smaller"] == pytest.approx(1_900_000 / 140_000)
    verdicts = {v.bar.name: v for v in acceptance.evaluate("06_capstone", rows.assign(notebook="06_capstone",
                                                                                     precision="fp32"), "class")}
    assert verdicts["06.smaller"].passed and verdicts["06.faster"].passed and verdicts["06.loss"].passed
    assert verdicts["06.shrink"].passed
    worse = rows.assign(notebook="06_capstone", precision="fp32", accuracy=[0.937, 0.926, 0.915, 0.916])
    assert not {v.bar.name: v for v in acceptance.evaluate("06_capstone", worse, "class")}["06.loss"].passed
    assert acceptance.monotone_decreasing([3, 2, 1]) and not acceptance.monotone_decreasing([3, 3, 1])
    with pytest.raises(ValueError, match="no pipeline rows"):
        acceptance.best_stage(rows, target="edge")
    with pytest.raises(ValueError, match="stage"):
        acceptance.stage_rows(rows.drop(columns="stage"))


def test_budget_picker_updates_in_place():
    c = pipeline.candidates(_cands())
    picker = widgets.BudgetPicker(c, 1.0, 300_000, 0.92)
    assert picker.chosen["variant"] == "int8" and "ship: int8" in picker.why.value
    fig = picker.figure
    picker.floor.value = 0.93  # nothing within 1 ms and 300 KB is that accurate
    assert picker.figure is fig and "misses the accuracy floor" in picker.why.value
    picker.latency.value = 5.0
    picker.size_kb.value = 2000.0
    assert picker.chosen["variant"] == "teacher"
    assert list(fig.data[-1].x) == [3.3]
    with pytest.raises(ValueError, match="no candidates"):
        widgets.BudgetPicker(c.iloc[:0], 1.0, 1e6, 0.9)
