"""Every solution notebook passes all its checks in its smoke run, and every student notebook runs to the end
unsolved (the cells after an exercise fall back to the kit's reference)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labkit.classroom import exercises, release
from labkit.core import notebooks


def _check_pattern(exercise_id: str) -> re.Pattern:
    """Matches a code cell that checks this exercise (`lk.exercises.check("03.fake_quant", ...`)."""
    return re.compile(r"exercises\.check\(\s*['\"]" + re.escape(exercise_id) + r"['\"]")


def _checked_in(notebook: str | Path) -> list[str]:
    """The ids of the exercises whose check cell the notebook file holds, in the kit's order."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return [ex for ex in exercises.EXERCISES if any(_check_pattern(ex).search(src) for src in code)]


@pytest.mark.parametrize("number", ["01", "02", "03", "04", "05", "06", "07"])
def test_solution_notebook_passes_all_its_checks(number, smoke_run, exercise_records):
    expected = [ex.id for ex in exercises.of_notebook(number)]
    assert _checked_in(notebooks.find_notebook(number)) == expected, "a check cell is missing"
    out, _ = smoke_run(number)
    records = exercise_records(out)
    assert sorted(records) == sorted(expected)
    for ex_id in expected:
        assert records[ex_id]["status"] == "passed", records[ex_id]["message"]
        assert records[ex_id]["cases_passed"] == records[ex_id]["cases_total"] >= 3


@pytest.mark.parametrize("number", ["01", "02", "03", "04", "05", "06", "07"])
def test_student_notebook_runs_to_the_end_unsolved(number, student_run, exercise_records):
    student = next(release.STUDENT_DIR.glob(f"{number}_*.ipynb"))
    expected = [ex.id for ex in exercises.of_notebook(number)]
    assert _checked_in(student) == expected, "a check cell is missing"
    out = student_run(number)  # fails unless it ran to the end
    records = exercise_records(out)
    assert {ex: r["status"] for ex, r in records.items()} == dict.fromkeys(expected, "not implemented")
    executed = (out / "notebooks" / student.name).read_text()
    assert executed.count("because its check says: not implemented") >= len(expected)  # the fallback, said
