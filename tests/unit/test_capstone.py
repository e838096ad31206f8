"""Units of the capstone's plumbing (labkit.pipeline: candidates, the choice under budgets, the decision file; the
budget picker) and of the capstone's stage logic in labkit.measure.acceptance; notebook 06's run is in
tests/notebooks/test_nb06_capstone.py."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labkit.measure import acceptance
from labkit.techniques import pipeline
from labkit.ui import widgets

NB = "06_capstone"


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
