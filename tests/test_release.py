"""`labkit release`: solutions become NotImplementedError stubs with a hint, the shipped student/ folder is
what `labkit release` writes now, and every student notebook runs to the end with its checks reporting
"not implemented"."""

from __future__ import annotations

import json

import pytest

from labkit import cli, exercises, release, runner

SOLUTION = '''def parity_check(reference, candidate, atol=1e-4):
    """Docstring stays."""
    x = 1  # code before the block stays
    ### BEGIN SOLUTION
    secret = "the answer"
    return secret
    ### END SOLUTION'''


def test_a_solution_block_becomes_a_stub_with_the_hint():
    out = release.strip_solutions(SOLUTION, "01")
    assert "secret" not in out and "BEGIN SOLUTION" not in out and "END SOLUTION" not in out
    assert out.splitlines()[:3] == SOLUTION.splitlines()[:3]
    stub = out.splitlines()[-1]
    assert stub.startswith("    raise NotImplementedError('exercise 01.parity_check: ")
    assert exercises.get("01.parity_check").hint in stub
    namespace = {}
    exec(out, namespace)  # the stub is valid Python and raises as promised
    with pytest.raises(NotImplementedError, match="01.parity_check"):
        namespace["parity_check"](None, None)


@pytest.mark.parametrize("source, error", [
    (SOLUTION.replace("    ### END SOLUTION", ""), "is not closed"),
    (SOLUTION.replace("    ### BEGIN SOLUTION\n", ""), "without"),
    (SOLUTION.replace("def parity_check", "def helper"), "helper\\(\\), which is not an exercise of notebook 01"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "no function"),
])
def test_bad_markers_are_refused(source, error):
    with pytest.raises(ValueError, match=error):
        release.strip_solutions(source, "01", "01 cell c007")


def test_release_refuses_the_solution_folder(tmp_path):
    with pytest.raises(ValueError, match="holds the solution notebooks"):
        release.release(runner.all_notebooks()[0].parent)
    (tmp_path / "99_gone.ipynb").write_text("{}")  # a stale student notebook is removed
    assert cli.main(["release", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in runner.all_notebooks()]


def test_shipped_student_edition_is_up_to_date(tmp_path):
    fresh = {p.name: p.read_bytes() for p in release.release(tmp_path)}
    shipped = {p.name: p.read_bytes() for p in sorted(release.STUDENT_DIR.glob("*.ipynb"))}
    assert list(shipped) == list(fresh), "student/ lists other notebooks: run `labkit release`"
    for name in fresh:
        assert shipped[name] == fresh[name], f"student/{name} is stale: run `labkit release` and commit student/"


def _student(number: str):
    return next(release.STUDENT_DIR.glob(f"{number}_*.ipynb"))


@pytest.mark.parametrize("number", ["01", "02", "03", "04", "05", "06"])
def test_student_notebooks_hold_stubs_not_solutions(number):
    text = json.loads(_student(number).read_text())
    code = ["".join(c["source"]) for c in text["cells"] if c["cell_type"] == "code"]
    assert not any("### BEGIN SOLUTION" in src for src in code)
    for ex in exercises.of_notebook(number):
        (stub,) = [src for src in code if f"def {ex.function}(" in src]
        assert f"raise NotImplementedError(\"exercise {ex.id}: " in stub.replace("'", '"'), ex.id
