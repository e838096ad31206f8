"""`labkit grade-bench`: generate a class of students handing in notebooks 01-06 (correct, wrong, stubbed,
cheating, broken and missing exercises, mixed), grade it, and report how long grading took and whether the
gradebook is exactly the expected one. The time depends on the machine and on what else runs on it."""

from __future__ import annotations

import ast
import csv
import json
import time
from pathlib import Path

from labkit.classroom import exercises, release
from labkit.classroom.extract import cell_grade_id, grade_id
from labkit.core.notebooks import find_notebook

KINDS = {"correct": "passed", "wrong": "failed", "stub": "not implemented", "cheat": "forbidden",
         "broken": "error"}
NUMBERS = ("01", "02", "03", "04", "05", "06")


def _variant(source: str, ex: exercises.Exercise, kind: str) -> str:
    """The exercise cell's source as a student of this kind hands it in."""
    if kind == "correct":
        return source
    if kind == "stub":
        return release.strip_solutions(source, ex.notebook)
    fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == ex.function)
    params = [a.arg for a in fn.args.args]
    body = {"wrong": f"return {params[0]}",  # the input handed back: the wrong type or the wrong values
            "cheat": f"return lk.exercises.reference({ex.id!r})({', '.join(params)})",
            "broken": "return ("}[kind]
    return f"def {ex.function}({', '.join(params)}):\n    {body}\n"


def make_class(root: Path, students: int = 30) -> dict[str, dict[str, str]]:
    """Write `students` folders into `root` (every kind of answer spread over students and exercises; now and then
    a notebook not handed in) and return student -> exercise id -> the status the gradebook must show."""
    kit = {n: json.loads(find_notebook(n).read_text()) for n in NUMBERS}
    kinds = list(KINDS)
    expected: dict[str, dict[str, str]] = {}
    for s in range(students):
        name = f"student{s + 1:02d}"
        (root / name).mkdir(parents=True)
        expected[name] = {}
        for j, number in enumerate(NUMBERS):
            ids = exercises.of_notebook(number)
            if (s + j) % 11 == 10:
                expected[name].update({ex.id: "missing" for ex in ids})
                continue
            nb = json.loads(json.dumps(kit[number]))
            for k, ex in enumerate(ids):
                kind = kinds[(s + 2 * j + k) % len(kinds)]
                cell = next(c for c in nb["cells"] if cell_grade_id(c) == grade_id(ex))
                cell["source"] = _variant("".join(cell["source"]), ex, kind)
                expected[name][ex.id] = KINDS[kind]
            (root / name / find_notebook(number).name).write_text(json.dumps(nb, indent=1))
    return expected


def differences(out: Path, expected: dict[str, dict[str, str]]) -> list[str]:
    """Where the gradebook in `out` differs from `expected`, one line each (empty: exactly as expected)."""
    with (out / "gradebook.csv").open() as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    wrong = [f"{s}: not in the gradebook" for s in expected if s not in rows]
    wrong += [f"{s} {ex}: expected {status}, got {rows[s][ex]} ({rows[s][ex + ' feedback'][:120]})"
              for s, want in expected.items() if s in rows for ex, status in want.items() if rows[s][ex] != status]
    return wrong


def benchmark(folder: Path, students: int = 30, jobs: int = 2) -> dict:
    """Generate a class in `folder`/submissions, grade it into `folder`/book with `jobs` at once, and return (and
    write to book/benchmark.json) the seconds taken, the isolation and the gradebook's differences from the
    expected one."""
    from labkit.classroom.grade import grade
    from labkit.classroom.sandbox import isolation

    expected = make_class(folder / "submissions", students)
    t0 = time.perf_counter()
    book = grade(folder / "submissions", folder / "book", jobs=jobs)
    seconds = time.perf_counter() - t0
    result = {"students": students, "exercises": len(exercises.EXERCISES), "jobs": jobs, "seconds": round(seconds, 1),
              "isolation": isolation(), "differences": differences(book, expected)}
    (book / "benchmark.json").write_text(json.dumps(result, indent=1) + "\n")
    return result
