"""`labkit grade` on synthetic submissions: a small assignment made of notebook 02's real exercise cells,
in the variants a class hands in. The expected gradebook is asserted cell by cell, feedback included."""

from __future__ import annotations

import csv
import hashlib
import json

import nbformat
import pytest

from labkit import cli
from labkit.classroom import exercises, grade, release
from labkit.classroom.checking import run_check
from labkit.core import notebooks

CONV, DENSE = "02.conv_kernel", "02.dense_after_flatten"
TIMEOUT = 60  # per notebook: a correct one takes about 15 s here, the endless one uses all of it


def _real_cells() -> dict[str, str]:
    """The solution and check cells of notebook 02's exercises, as the kit ships them."""
    nb = json.loads(notebooks.find_notebook("02").read_text())
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]

    def one(text):
        (cell,) = [s for s in sources if text in s]
        return cell

    return {"conv": one("def conv_kernel_to_keras("), "conv check": one(f'check("{CONV}"'),
            "dense": one("def dense_after_flatten_to_keras("), "dense check": one(f'check("{DENSE}"')}


def _notebook(cells: list[str], target: str = "auto") -> str:
    params = nbformat.v4.new_code_cell(f'PROFILE = "class"\nTARGET = "{target}"\nSEED = 0')
    params.metadata["tags"] = ["parameters"]
    start = nbformat.v4.new_code_cell('import labkit as lk\nS = lk.start(PROFILE, TARGET, SEED, notebook="02_hw", '
                                      'quiet=True)')
    end = nbformat.v4.new_code_cell(f'lk.exercises.use("{CONV}", globals().get("conv_kernel_to_keras"))\n'
                                    f'lk.exercises.use("{DENSE}", globals().get("dense_after_flatten_to_keras"))')
    nb = nbformat.v4.new_notebook(cells=[params, start, *map(nbformat.v4.new_code_cell, cells), end])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nb)


def _body(solution: str, new_body: str) -> str:
    head, rest = solution.split("    ### BEGIN SOLUTION\n")
    return head + new_body + rest.split("    ### END SOLUTION")[1]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    c = _real_cells()
    wrong_conv = _body(c["conv"], "    return weight.transpose(3, 2, 1, 0)\n")
    plain_transpose = _body(c["dense"], "    return weight.T\n")
    submissions = {
        "alice": [c["conv"], c["conv check"], c["dense"], c["dense check"]],  # all correct
        "bob": [c["conv"], c["conv check"], plain_transpose, c["dense check"]],  # half correct
        "carol": [wrong_conv, c["conv check"], plain_transpose, c["dense check"]],  # wrong answers
        "dave": [c["conv"].replace("(2, 3, 1, 0)", "(2, 3, 1, 0"), c["conv check"], c["dense"], c["dense check"]],
        "erin": [c["conv"], c["conv check"], "while True:\n    pass", c["dense"], c["dense check"]],  # endless
        "frank": [c["conv"], c["conv check"], c["dense"]],  # the dense check cell deleted
        "grace": [release.strip_solutions(s, "02") for s in c.values()],  # the student edition, untouched
    }
    root = tmp_path_factory.mktemp("submissions")
    for student, cells in submissions.items():
        (root / student).mkdir()
        (root / student / "02_tensorflow_conversion.ipynb").write_text(_notebook(cells))
    (root / "judy").mkdir()  # all correct, but left TARGET = "cuda" on a machine without one: the grader forces cpu
    (root / "judy" / "02_tensorflow_conversion.ipynb").write_text(_notebook(submissions["alice"], target="cuda"))
    (root / "henry").mkdir()
    (root / "henry" / "02_tensorflow_conversion.ipynb").write_text('{"cells": [ this is not json')
    (root / "ivan").mkdir()
    (root / "ivan" / "notes.txt").write_text("forgot to hand in")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}
    out = tmp_path_factory.mktemp("graded") / "book"
    assert cli.main(["grade", str(root), "--out", str(out), "--timeout", str(TIMEOUT)]) == 0
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}
    with (out / "gradebook.csv").open() as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return out, rows, before == after


def _message(exercise_id: str, fn) -> str:
    return run_check(exercises.get(exercise_id), fn).message


def test_gradebook_is_exactly_as_expected(graded):
    _, rows, _ = graded
    ok_conv = _message(CONV, exercises.reference(CONV))
    ok_dense = _message(DENSE, exercises.reference(DENSE))
    transposed = _message(DENSE, lambda w, c, h, wd: w.T)
    mirrored = _message(CONV, lambda w: w.transpose(3, 2, 1, 0))
    stub = "is not implemented yet (it raises NotImplementedError). Hint: "
    unparsable = rows["henry"][CONV + " feedback"]
    expected = {
        "alice": ("passed", ok_conv, "passed", ok_dense, "2/2", ""),
        "bob": ("passed", ok_conv, "failed", transposed, "1/2", ""),
        "carol": ("failed", mirrored, "failed", transposed, "0/2", ""),
        "dave": ("error", "the check cell raised NameError: name 'conv_kernel_to_keras' is not defined",
                 "passed", ok_dense, "1/2", "02: cells that raised: 3 SyntaxError, 4 NameError"),
        "erin": ("passed", ok_conv, "missing", f"the check cell did not run (ran out of its {TIMEOUT} s in cell 5)",
                 "1/2", f"02: ran out of its {TIMEOUT} s in cell 5; cells that raised: 5 KeyboardInterrupt"),
        "frank": ("passed", ok_conv, "missing", "its check cell was deleted", "1/2", ""),
        "grace": ("not implemented", "conv_kernel_to_keras " + stub + exercises.get(CONV).hint,
                  "not implemented", "dense_after_flatten_to_keras " + stub + exercises.get(DENSE).hint, "0/2", ""),
        "henry": ("error", unparsable, "error", unparsable, "0/2", "02: " + unparsable),
        "judy": ("passed", ok_conv, "passed", ok_dense, "2/2", ""),
        "ivan": ("missing", "no 02_*.ipynb submitted", "missing", "no 02_*.ipynb submitted", "0/2",
                 "02: no 02_*.ipynb submitted"),
    }
    assert unparsable.startswith("the notebook does not parse (NotJSONError")
    got = {s: (r[CONV], r[CONV + " feedback"], r[DENSE], r[DENSE + " feedback"], r["score"], r["notes"])
           for s, r in rows.items()}
    assert got == expected
    assert "Hint: a plain transpose has the right shape but the wrong order" in transposed
    assert "Hint: transpose(3, 2, 1, 0) also swaps kh and kw" in mirrored


def test_submissions_untouched_and_each_ran_in_its_own_folder(graded):
    out, rows, unchanged = graded
    assert unchanged
    for student in ("alice", "bob", "erin"):
        run = out / "students" / student / "02_tensorflow_conversion"
        assert (run / "02_tensorflow_conversion.ipynb").exists()  # the executed copy, for the instructor
        assert (run / "submitted_02_tensorflow_conversion.ipynb").exists()
        recorded = [json.loads(line)["exercise"] for line in (run / exercises.RECORDS).read_text().splitlines()]
        assert recorded == ([CONV] if student == "erin" else [CONV, DENSE])


def test_gradebook_html_is_standalone_and_coloured(graded):
    out, _, _ = graded
    page = (out / "gradebook.html").read_text()
    assert page.count("<tr>") == 1 + 10 and "<script" not in page and "http" not in page
    assert page.count(grade.COLORS["passed"]) == 8  # alice and judy 2 each; bob, dave, erin and frank 1 each
    assert "a plain transpose has the right shape" in page


def test_grade_needs_submissions(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "bob").mkdir()
    assert cli.main(["grade", str(tmp_path)]) == 2
    assert "no submissions found" in capsys.readouterr().err
    (tmp_path / "bob" / "00_setup_and_baseline.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="have no exercises"):
        grade.grade(tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="timeout"):
        grade.grade(tmp_path, tmp_path / "out", timeout=0)


def test_odd_submissions_become_their_own_error_rows(tmp_path):
    """Nothing odd in one submission stops the batch: the gradebook is always written, with a sentence per row."""
    root = tmp_path / "subs"
    (root / "gradebook.csv").mkdir(parents=True)  # a student folder named like the gradebook
    (root / "gradebook.csv" / "02_tensorflow_conversion.ipynb").write_text('{"not": "a notebook"}')
    (root / "a folder").mkdir()
    (root / "a folder" / "02_tensorflow_conversion.ipynb").mkdir()  # a folder where the notebook should be
    (root / "zoë link").mkdir()
    (root / "zoë link" / "02_tensorflow_conversion.ipynb").symlink_to(tmp_path / "gone.ipynb")  # a broken link
    out = tmp_path / "book"
    assert cli.main(["grade", str(root), "--out", str(out), "--timeout", "30"]) == 0
    with (out / "gradebook.csv").open() as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"gradebook.csv", "a folder", "zoë link"}
    assert rows["gradebook.csv"][CONV] == "error" and "does not parse" in rows["gradebook.csv"][f"{CONV} feedback"]
    assert rows["a folder"][CONV] == "error" and "IsADirectoryError" in rows["a folder"][f"{CONV} feedback"]
    assert rows["zoë link"][DENSE] == "error" and "FileNotFoundError" in rows["zoë link"][f"{DENSE} feedback"]
