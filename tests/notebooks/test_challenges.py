"""The challenges in the notebooks and in the grader: each passes with the instructor's solution (its smoke run),
is missing with its hints in the student edition (its student run, which still runs to the end), and `labkit
grade` measures the handed-in files again in its sandbox: the instructor's artifacts pass, weak ones fail with
the hint, hostile or broken ones become a sentence, and nothing is written into the submissions."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import shutil
import warnings

import pytest
import torch

from labkit.classroom import challenges, grade
from labkit.classroom.challenges.judging import HAND_IN, judge_file
from labkit.core import data, models, notebooks
from labkit.techniques import distill, export, quantize

IDS = list(challenges.CHALLENGES)


def _records(run_dir) -> dict[str, dict]:
    path = run_dir / challenges.RECORDS
    lines = path.read_text().splitlines() if path.exists() else []
    return {r["challenge"]: r for r in map(json.loads, lines)}


@pytest.mark.parametrize("cid", IDS)
def test_the_instructors_solution_meets_every_target(cid, smoke_run):
    out, _ = smoke_run(cid[:2])
    record = _records(out)[cid]
    assert record["status"] == "passed", record
    assert all(r["met"] and r["value"] is not None for r in record["rows"])
    artifact = out / HAND_IN / challenges.get(cid).artifact
    assert artifact.is_file()  # handed in inside the run folder, not beside the kit's notebooks
    again = judge_file(challenges.get(cid), artifact, "smoke")  # measured again, the same verdict
    assert again.passed and [r["value"] for r in again.rows] == pytest.approx([r["value"] for r in record["rows"]])


@pytest.mark.parametrize("cid", IDS)
def test_the_student_edition_is_told_what_is_missing_and_which_knob(cid, student_run):
    out = student_run(cid[:2])
    record = _records(out)[cid]
    assert record["status"] == "missing" and record["hints"], record
    executed = (out / "notebooks").glob(f"{cid[:2]}_*.ipynb")
    text = next(executed).read_text()
    assert f"challenge {cid}" in text and "no artifact yet" in text
    assert all(t.hint.split(":")[0][:40] in text for t in challenges.get(cid).targets)


def _serving(path, batch: int | None):
    """01's artifact, exported here in seconds (TorchScript exporter): the teacher behind its normalisation, raw
    pixels in; `batch=None` gives it a dynamic batch (the instructor's answer), a number fixes it (a weak attempt)."""
    teacher = models.load_teacher()

    class Raw(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = teacher

        def forward(self, x):
            return self.net((x / 255.0 - data.MEAN) / data.STD)

    dynamic = {"pixels": {0: "batch"}} if batch is None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Raw().eval(), (torch.zeros(batch or 2, 1, 28, 28),), str(path), dynamo=False,
                          input_names=["pixels"], dynamic_axes=dynamic)


def _int8(fp32_path, path):
    """03's artifact: the teacher's fp32 ONNX file quantized statically, per channel, on real training images."""
    quantize.quantize_onnx_static(fp32_path, path, data.load("train").x[:64])


def _recipe(path, T: float, alpha: float):
    """05's hand-in: the knobs of a kd_loss_fn loss (the grader trains with them itself)."""
    distill.save_recipe(distill.kd_loss_fn(torch.zeros(1, 10).numpy(), T=T, alpha=alpha), path)


def _hashes(root) -> dict:
    return {str(p): (os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_symlink() or p.is_file()}


def test_the_grader_measures_each_artifact_again_in_its_sandbox(tmp_path, monkeypatch):
    """Files made here (no notebook run): the grading path is one probe for every challenge's ONNX file, and for
    05's recipe the kit's own two trainings at smoke's budget in the grader's process (seconds)."""
    numbers = sorted({cid[:2] for cid in IDS})
    subs = tmp_path / "subs"
    for student in ("ada", "bo", "cy", "di"):
        (subs / student / HAND_IN).mkdir(parents=True)
        for n in numbers:
            shutil.copy(notebooks.find_notebook(n), subs / student)
    fp32 = export.export_onnx(models.load_teacher(), tmp_path / "teacher_fp32.onnx")
    _serving(subs / "ada" / HAND_IN / "01_serving.onnx", None)  # ada: the instructor's answers
    _int8(fp32, subs / "ada" / HAND_IN / "03_int8.onnx")
    _serving(subs / "bo" / HAND_IN / "01_serving.onnx", 2)  # bo: weak attempts
    shutil.copy(fp32, subs / "bo" / HAND_IN / "03_int8.onnx")  # not quantized at all
    os.symlink(subs / "ada" / HAND_IN / "01_serving.onnx", subs / "cy" / HAND_IN / "01_serving.onnx")  # cy: hostile
    (subs / "cy" / HAND_IN / "03_int8.onnx").write_bytes(b"\x08\x07garbage" * 100)
    shutil.copy(subs / "ada" / HAND_IN / "03_int8.onnx", subs / "cy" / HAND_IN / "04_pruned.onnx")  # fine, but ...
    _recipe(subs / "ada" / HAND_IN / "05_kd.json", 4.0, 0.9)  # the instructor's recipe
    _recipe(subs / "bo" / HAND_IN / "05_kd.json", 4.0, 0.0)  # no teacher at all: the scratch recipe
    (subs / "cy" / HAND_IN / "05_kd.json").write_text('{"T": 4, "alpha": 0.9, "__reduce__": "os.system"}')
    big = dataclasses.replace(challenges.get("04.channel_budget"), max_bytes=1000)  # ... over a 1 kB limit
    monkeypatch.setitem(challenges.CHALLENGES, big.id, big)
    before = _hashes(subs)

    out = grade.grade(subs, tmp_path / "out", notebooks=numbers, timeout=120)

    assert _hashes(subs) == before  # the submissions are only read
    with (out / "gradebook.csv").open() as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    for cid in IDS:
        assert cid in rows["ada"], "a column per challenge"
        assert rows["di"][cid] == "missing" and "Hint:" in rows["di"][f"{cid} feedback"]
    for cid in ("01.serving_onnx", "03.static_int8", "05.kd_recipe"):
        assert rows["ada"][cid] == "passed", rows["ada"][f"{cid} feedback"]
    assert rows["bo"]["01.serving_onnx"] == "failed"
    assert "dynamic_shapes" in rows["bo"]["01.serving_onnx feedback"]
    assert rows["bo"]["03.static_int8"] == "failed" and rows["bo"]["03.static_int8 feedback"].count("(missed)") == 1
    assert "QuantType.QInt8" in rows["bo"]["03.static_int8 feedback"]
    assert rows["bo"]["05.kd_recipe"] == "failed" and "raise alpha" in rows["bo"]["05.kd_recipe feedback"]
    assert rows["cy"]["01.serving_onnx"] == "error" and "is a link" in rows["cy"]["01.serving_onnx feedback"]
    assert rows["cy"]["03.static_int8"] == "error" and "not an ONNX model" in rows["cy"]["03.static_int8 feedback"]
    assert rows["cy"]["04.channel_budget"] == "error" and "more than" in rows["cy"]["04.channel_budget feedback"]
    assert rows["cy"]["05.kd_recipe"] == "error" and "exactly the keys" in rows["cy"]["05.kd_recipe feedback"]


# Weak attempts the notebooks' own runs leave behind (each costs a re-measurement, no export): the file the learner
# would hand in without the challenge's knob, and the target and hint it must miss.
WEAK = [("02.twin_nchw", "keras_from_function.onnx", {"nchw", "max_abs_1", "max_abs_37"},  # NHWC: it cannot run
         "inputs_as_nchw"),
        ("07.lm_int4", "lm_fp32.onnx", {"nbits_nodes", "size_ratio"}, "MatMulNBitsQuantizer"),  # not quantized
        ("07.lm_int4", "lm_int4_matmulnbits.onnx", {"size_ratio"}, "larger blocks")]  # blocks of 32: 5 bits a weight


@pytest.mark.parametrize(("cid", "name", "missed", "hint"), WEAK, ids=[f"{w[0]}-{w[1]}" for w in WEAK])
def test_a_weak_attempt_from_the_notebooks_run_misses_its_target_with_the_hint(cid, name, missed, hint, smoke_run):
    out, _ = smoke_run(cid[:2])
    path = next((out / "artifacts").rglob(name))
    j = judge_file(challenges.get(cid), path, "smoke")
    assert j.status == "failed" and {r["metric"] for r in j.rows if not r["met"]} == missed, j.message()
    assert hint in " ".join(j.hints)
