"""`labkit release`: solutions become NotImplementedError stubs with a hint, the shipped student/ folder is
what `labkit release` writes now, and every student notebook runs to the end with its checks reporting
"not implemented"."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from labkit import cli
from labkit.classroom import challenges, exercises, release
from labkit.core import notebooks

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
        release.release(notebooks.all_notebooks()[0].parent)
    assert cli.main(["release", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([release.MANIFEST, *(p.name for p in notebooks.all_notebooks())])


def test_shipped_student_edition_is_up_to_date(tmp_path):
    fresh = {p.name: p.read_bytes() for p in release.release(tmp_path).notebooks}
    shipped = {p.name: p.read_bytes() for p in sorted(release.STUDENT_DIR.glob("*.ipynb"))}
    assert list(shipped) == list(fresh), "student/ lists other notebooks: run `labkit release`"
    for name in fresh:
        assert shipped[name] == fresh[name], f"student/{name} is stale: run `labkit release` and commit student/"
    manifest = (release.STUDENT_DIR / release.MANIFEST).read_bytes()
    assert manifest == (tmp_path / release.MANIFEST).read_bytes(), f"commit student/{release.MANIFEST} too"


def _snapshot(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _learner_folder(folder, manifest: bool):
    """A copy of the shipped student edition (with or without the release record) in which a learner edited 03
    and added a notebook and notes of their own."""
    folder.mkdir()
    for nb in [*release.STUDENT_DIR.glob("*.ipynb"), *([release.STUDENT_DIR / release.MANIFEST] * manifest)]:
        (folder / nb.name).write_bytes(nb.read_bytes())
    edited = next(folder.glob("03_*.ipynb"))
    nb = json.loads(edited.read_text())
    nb["cells"][1]["source"] = ["# my answer\n", "x = 42"]
    edited.write_text(json.dumps(nb, indent=1))
    (folder / "07_my_experiment.ipynb").write_text(json.dumps({"cells": [], "note": "mine"}))
    (folder / "notes.txt").write_text("my notes")
    return edited.name


@pytest.mark.parametrize("default_folder", [True, False], ids=["student/", "--out L without a record"])
def test_release_over_a_learners_edits_changes_nothing_and_names_them(tmp_path, monkeypatch, capsys,
                                                                        default_folder):
    folder = tmp_path / "L"
    edited = _learner_folder(folder, manifest=default_folder)
    monkeypatch.setattr(release, "STUDENT_DIR", folder)
    before = _snapshot(folder)
    assert cli.main(["release"] if default_folder else ["release", "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    why = ("differ from what `labkit release` last wrote there" if default_folder else
           "differ from the student edition and have no record of a release there")
    assert f"{folder} holds 1 notebook(s) that {why} ({edited}), so nothing was changed" in err
    assert "nothing was changed" in err and "--force" in err and "Traceback" not in err
    assert _snapshot(folder) == before  # every file byte-identical, the learner's own ones included


def test_force_moves_edits_into_a_backup_and_leaves_the_learners_files(tmp_path, capsys):
    folder = tmp_path / "L"
    edited = _learner_folder(folder, manifest=True)
    before = _snapshot(folder)
    assert cli.main(["release", "--out", str(folder), "--force"]) == 0
    (backup,) = [p for p in folder.iterdir() if p.is_dir()]
    assert backup.name.startswith("backup-20") and str(backup) in capsys.readouterr().out
    assert _snapshot(backup) == {Path(edited): before[Path(edited)]}  # the edit, moved unchanged
    after = _snapshot(folder)
    for own in ("07_my_experiment.ipynb", "notes.txt"):  # files the kit did not write are never touched
        assert after[Path(own)] == before[Path(own)]
    assert after[Path(edited)] == (release.STUDENT_DIR / edited).read_bytes()  # a fresh edition in place
    assert cli.main(["release", "--out", str(folder)]) == 0  # and the next release goes through


def test_only_unchanged_notebooks_of_an_earlier_release_are_removed(tmp_path):
    kit = notebooks.all_notebooks()
    release.release(tmp_path, kit)
    last = tmp_path / kit[-1].name
    release.release(tmp_path, kit[:-1])  # the kit dropped its last notebook: the released copy goes
    assert not last.exists() and json.loads((tmp_path / release.MANIFEST).read_text())["notebooks"].keys() == {
        p.name for p in kit[:-1]}
    release.release(tmp_path, kit)
    last.write_text(last.read_text() + "\n")  # any edit, even a blank line
    edited = last.read_bytes()
    with pytest.raises(FileExistsError, match=last.name):
        release.release(tmp_path, kit[:-1])
    assert last.read_bytes() == edited


def test_release_out_a_file_is_one_sentence(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert cli.main(["release", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == (f"labkit release: --out {target} is a file, not a folder; give the path of a new or existing "
                   "folder instead (nothing was changed).\n")
    assert target.read_text() == "mine"


# Every notebook with exercises, from the kit's own registry (a typed list once missed 07).
WITH_EXERCISES = sorted({ex.id[:2] for ex in exercises.EXERCISES.values()})


def _student(number: str):
    return next(release.STUDENT_DIR.glob(f"{number}_*.ipynb"))


@pytest.mark.parametrize("number", WITH_EXERCISES)
def test_student_notebooks_hold_stubs_not_solutions(number):
    text = json.loads(_student(number).read_text())
    code = ["".join(c["source"]) for c in text["cells"] if c["cell_type"] == "code"]
    assert not any("### BEGIN SOLUTION" in src for src in code)
    for ex in exercises.of_notebook(number):
        (stub,) = [src for src in code if f"def {ex.function}(" in src]
        assert f"raise NotImplementedError(\"exercise {ex.id}: " in stub.replace("'", '"'), ex.id


def _taught_before(number: str) -> set[str]:
    """The calls that the notebooks before `number` show outside their solutions (the solution edition)."""
    taught = set()
    for path in notebooks.all_notebooks():
        if path.stem[:2] >= number:
            continue
        for cell in json.loads(path.read_text())["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "code" and release.BEGIN not in src:
                taught |= _calls(_magic_body(src))
    return taught


def _magic_body(src: str) -> str:
    """A cell's code as Python: under a cell magic (%%writefile PATH) the body it holds, elsewhere the cell with
    its line magics turned into the calls IPython makes of them."""
    from IPython.core.inputtransformer2 import TransformerManager

    return src.partition("\n")[2] if src.startswith("%%") else TransformerManager().transform_cell(src)


def _calls(code: str) -> set[str]:
    """Fingerprints of the calls in `code` that say more than a name: the callee's last name, the callees of its
    arguments that are calls themselves, and its keywords with their constant values
    (`kl_div(log_softmax,softmax;reduction='batchmean')`), whatever the variables are called. Python's builtins
    (`float(np.mean(...))`) tell nothing."""
    import ast
    import builtins

    def name(node):
        return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "?")

    out = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and name(node.func) not in dir(builtins):
            inner = [name(a.func) for a in node.args if isinstance(a, ast.Call)]
            kws = sorted(f"{k.arg}={ast.unparse(k.value)}" for k in node.keywords
                         if isinstance(k.value, (ast.Constant, ast.List, ast.Tuple)))
            if inner or kws:
                out.add(f"{name(node.func)}({','.join(inner)};{','.join(kws)})")
    return out


def _solution_blocks(number: str) -> list[str]:
    """The notebook's exercise solution blocks and the bodies of its exercises' references in the kit (docstrings
    left out). A challenge's block is left out: it is the real call of the tool the notebook shows above it, with
    the learner's own settings; test_challenges.py checks that the student edition's challenge cell is stubbed."""
    import ast
    import inspect

    blocks = []
    for ex in exercises.of_notebook(number):
        (fn,) = ast.parse(textwrap.dedent(inspect.getsource(ex.reference))).body
        body = fn.body[1:] if isinstance(fn.body[0], ast.Expr) else fn.body
        blocks.append("\n".join(ast.unparse(stmt) for stmt in body))
    nb = json.loads(notebooks.find_notebook(number).read_text())
    challenge_ids = {challenges.grade_id(c) for c in challenges.of_notebook(number)}
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in challenge_ids:
            continue
        src = "".join(cell["source"])
        while release.BEGIN in src:
            _, _, rest = src.partition(release.BEGIN)
            block, _, src = rest.partition(release.END)
            blocks.append(block)
    return blocks


@pytest.mark.parametrize("number", WITH_EXERCISES)
def test_student_edition_holds_no_solution_code(tmp_path, number):
    """Released anew, the student edition's code cells hold neither a line of any solution (20 characters or
    more, spaces ignored) nor any of its telling calls, in any notebook (a later notebook may show an earlier
    exercise's answer). A call that an earlier notebook teaches in the open (03's `np.clip(np.round(w / scale))`,
    which 07's int4 exercise builds on) is the course, not a leak."""
    released = {p.name: json.loads(p.read_text()) for p in release.release(tmp_path).notebooks}
    blocks = _solution_blocks(number)
    assert blocks, f"notebook {number} has no solution block"
    lines = {"".join(line.split()) for b in blocks for line in b.splitlines()
             if len("".join(line.split())) >= 20 and not line.strip().startswith("#")}
    calls = set().union(*(_calls(textwrap.dedent(b)) for b in blocks)) - _taught_before(number)
    leaks = []
    for name, nb in released.items():
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            flat = "".join(src.split())
            leaks += [f"{name} {cell['id']}: line {line}" for line in lines if line in flat]
            try:  # as IPython runs it: a cell magic's body (%%writefile) is read as the Python it holds
                found = _calls(_magic_body(src))
            except SyntaxError as err:  # a cell this test cannot read could hide anything
                leaks.append(f"{name} {cell['id']}: does not parse ({err.msg}), so it was not checked")
                continue
            leaks += [f"{name} {cell['id']}: call {c}" for c in calls & found]
    assert not leaks, "solution code in the student edition:\n" + "\n".join(leaks)


def test_check_cells_are_locked_in_the_student_edition():
    for path in [_student(number) for number in WITH_EXERCISES]:
        checks = [c for c in json.loads(path.read_text())["cells"]
                  if c["metadata"].get("nbgrader", {}).get("grade_id", "").endswith("-check")]
        assert checks, path.name
        for c in checks:
            assert c["metadata"]["editable"] is False and c["metadata"]["deletable"] is False
            assert c["metadata"]["nbgrader"]["locked"] is True
