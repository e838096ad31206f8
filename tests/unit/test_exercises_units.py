"""Exercise checks: every reference passes, every known mistake fails with its own hint, stubs and endless
loops are reported as such, results are recorded; the notebooks' own runs of their checks are in
tests/notebooks/test_exercises.py."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from labkit.classroom import exercises
from labkit.classroom.checking import STATUSES, mismatch, run_check
from labkit.cli import docs

IDS = list(exercises.EXERCISES)


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_passes_and_each_mistake_gets_its_hint(exercise_id):
    ex = exercises.get(exercise_id)
    assert run_check(ex, ex.reference).status == "passed"
    assert ex.mistakes, "every exercise recognises at least one known mistake"
    for wrong, hint in ex.mistakes:
        result = run_check(ex, wrong)
        assert result.status == "failed", hint
        assert f"Hint: {hint}" in result.message, (hint, result.message)
        assert "expected" in result.message or "raised" in result.message


def test_every_notebook_from_01_to_07_has_an_exercise():
    assert sorted({ex.notebook for ex in exercises.EXERCISES.values()}) == ["01", "02", "03", "04", "05", "06", "07"]
    assert IDS == sorted(IDS, key=lambda ex_id: ex_id[:2]), "the registry keeps the notebooks' order"


def test_readme_table_is_generated_from_the_declarations():
    assert all(f"| `{ex.id}` | `{ex.function}` |" in exercises.readme_table() for ex in exercises.EXERCISES.values())
    text = docs.README.read_text()
    assert docs.with_section(text, "exercises", exercises.readme_table()) == text, (
        "README.md's exercise table differs from the declarations: run `labkit docs`")


def test_stub_endless_loop_crash_and_non_function():
    ex = exercises.get("04.global_mask")

    def stub(weights, amount):
        raise NotImplementedError("write me")

    def endless(weights, amount):
        while True:
            pass

    result = run_check(ex, stub)
    assert result.status == "not implemented" and ex.hint in result.message
    t0 = time.monotonic()
    result = run_check(ex, endless, seconds=0.3)
    assert time.monotonic() - t0 < 3, "one endless case stops the check"
    assert result.status == "failed" and "did not return within 0.3 s" in result.message
    assert [c.message for c in result.cases[1:]] == ["not run: an earlier case did not return"] * 3
    result = run_check(ex, lambda weights, amount: 1 / 0)
    assert result.status == "failed" and "raised ZeroDivisionError" in result.message
    assert run_check(ex, "not a function").status == "failed"


def test_required_exception_and_the_wrong_one():
    ex = exercises.get("01.parity_check")

    def no_shape_check(reference, candidate, atol=1e-4):
        if np.shape(reference) != np.shape(candidate):
            return {"max_abs": 0.0, "top1": 1.0, "passed": True}
        return exercises.parity_check(reference, candidate, atol)

    result = run_check(ex, no_shape_check)
    assert result.status == "failed" and "'shapes differ': expected ValueError to be raised" in result.message
    assert [c.passed for c in result.cases] == [True] * 5 + [False]


def test_mismatch_explains_in_words():
    assert mismatch(np.zeros((2, 3)), np.zeros((3, 2))) == "expected an array of shape (2, 3), got shape (3, 2)"
    assert "1 of 4 values differ (first at index (1, 0)" in mismatch(np.zeros((2, 2)), np.array([[0, 0], [1, 0]]))
    assert "NaN" in mismatch(np.ones(2), np.array([1.0, np.nan]))
    assert mismatch(np.array([True, False]), np.array([1.0, 0.0])) is None  # a 1/0 mask is a mask
    assert "mask entries differ" in mismatch(np.array([True, False]), np.array([False, False]))
    assert mismatch({"a": 1.0}, {"a": 1.0 + 1e-9}) is None
    assert mismatch({"a": 1.0}, {"b": 1.0}) == "expected the keys ['a'], got ['b']"
    assert mismatch(True, 1) == "expected True, got 1"
    assert mismatch(None, "int8") == "expected None, got 'int8'"
    assert mismatch(0.5, "0.5") == "expected the number 0.5, got '0.5'"


def test_check_records_and_use_falls_back(tmp_path, capsys, exercise_records):
    ref = exercises.reference("02.conv_kernel")

    def mine(w):
        return w.transpose(2, 3, 1, 0)

    assert exercises.use("02.conv_kernel", mine) is ref
    assert "never checked" in capsys.readouterr().out
    assert exercises.check("02.conv_kernel", lambda w: w.T, tmp_path).status == "failed"
    assert exercises.use("02.conv_kernel", mine) is ref
    assert "changed since its check" in capsys.readouterr().out
    result = exercises.check("02.conv_kernel", mine, tmp_path)
    assert result.passed and "PASSED" in str(result) and "#1a7f37" in result._repr_html_()
    assert exercises.use("02.conv_kernel", mine) is mine
    assert "your conv_kernel_to_keras passed" in capsys.readouterr().out
    (tmp_path / exercises.RECORDS).open("a").write('{"exercise": "02.conv_kernel", "status": "pas')  # a cut line
    records = exercise_records(tmp_path)
    assert list(records) == ["02.conv_kernel"] and records["02.conv_kernel"]["status"] == "passed"
    lines = (tmp_path / exercises.RECORDS).read_text().splitlines()
    assert [json.loads(x)["status"] for x in lines[:2]] == ["failed", "passed"]


def test_unknown_exercise():
    with pytest.raises(ValueError, match="unknown exercise '99.x'.*01.parity_check"):
        exercises.check("99.x", print)
    assert exercises.of_notebook("03_quantization") == [exercises.get("03.fake_quant")]
    assert set(STATUSES) >= {"passed", "failed", "not implemented", "error", "missing"}
