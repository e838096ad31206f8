"""`labkit grade` on a class of hostile and broken submissions of notebook 03 (the kit's own notebook with the
exercise cell changed): each student's expected gradebook row, the honest students' grades the same as when they
are graded alone, every submission and the kit byte-identical afterwards. Only the extracted functions run (in
the sandbox), so the whole class takes seconds."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from labkit import cli
from labkit.classroom import challenges, exercises, grade, sandbox, wire
from labkit.classroom.checking import run_check
from labkit.classroom.extract import grade_id
from labkit.core import notebooks
from labkit.core.paths import REPO_DIR

EX = exercises.get("03.fake_quant")
NO_BUBBLEWRAP = bool(sandbox.bubblewrap()) and os.environ.get("CI") != "true"  # CI fails without it, never skips
CHALLENGE = "03.static_int8"  # a column too: tests/notebooks/test_challenges.py grades handed-in artifacts
NAME = "03_quantization.ipynb"
CASE = 2.0  # seconds per call of a learner's function in these tests
SIGNATURE = "def fake_quant_per_channel(w, bits=8):\n"
STUB = f"{SIGNATURE}    raise NotImplementedError('not yet')\n"


def _kit_nb() -> dict:
    return json.loads(notebooks.find_notebook("03").read_text())


def _with(body: str | None = None, extra: list[str] = (), edit=None) -> dict:
    """The kit's notebook 03 with the exercise cell's source replaced by `body`, `extra` code cells added after the
    check cell, and `edit(nb)` applied last."""
    nb = _kit_nb()
    cells = nb["cells"]
    at = next(i for i, c in enumerate(cells) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id(EX))
    if body is not None:
        cells[at]["source"] = body
    for k, src in enumerate(extra):
        cells.insert(at + 2 + k, {"cell_type": "code", "id": f"x{k}", "metadata": {}, "execution_count": None,
                                  "outputs": [], "source": src})
    if edit:
        edit(nb)
    return nb


def _body(lines: str) -> str:
    return SIGNATURE + "".join(f"    {line}\n" for line in lines.split("\n"))


def _message(fn) -> str:
    return run_check(EX, fn).message


def _hashes(root) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def _rows(out) -> dict:
    with (out / "gradebook.csv").open() as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def _write(root, student: str, nb, name: str = NAME):
    (root / student).mkdir(parents=True, exist_ok=True)
    (root / student / name).write_text(nb if isinstance(nb, str) else json.dumps(nb, indent=1))


def _spelled(path) -> str:
    """A Python expression for `path` in which no string names the kit ('lab' + 'kit' + ...), wherever the kit is
    cloned (a clone folder may itself be called labkit-something)."""
    return " + 'kit' + ".join(repr(part) for part in str(path).split("kit"))


def _class(root) -> dict[str, tuple[str, str]]:
    """Write the class into `root`; returns student -> (status, feedback) expected, or (status, prefix) for the
    messages that carry a path or the sandbox's words ("..." ends them)."""
    alice = root / "alice" / NAME
    ok = ("passed", _message(EX.reference))
    stub = ("not implemented", f"{EX.function} is not implemented yet (it raises NotImplementedError). Hint: {EX.hint}")
    reference_in = ("fake_quant_per_channel uses the kit's own code (it imports labkit): solving the exercise means "
                    "computing the answer yourself; exercise 03.fake_quant's solution may use numpy and Python's "
                    "standard library")
    refused = "5 of 5 cases wrong; case '3 channels with ranges 0.01, 1 and 100': raised PermissionError: the " \
              "grader's sandbox refuses"
    class_ = {
        "alice": (_kit_nb(), ok),
        "zoë ünal (2nd try)": (_kit_nb(), ok),  # spaces and non-ASCII in the folder's name
        "judy": (_with(edit=lambda nb: nb["cells"][1].update(source='PROFILE = "class"\nTARGET = "cuda"\nSEED = 0')),
                 ok),  # TARGET = "cuda" left in the parameters: nothing of it runs
        "kim": (_with(edit=lambda nb: nb["metadata"].update(kernelspec={"name": "ir", "display_name": "R",
                                                                         "language": "R"})), ok),
        "no_check": (_with(edit=lambda nb: nb.__setitem__("cells", [
            c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != grade_id(EX, True)])),
                     ok),  # the check cell deleted: the grader does not need it
        "grace": (_with(STUB), stub),
        "wrong": (_with(_body("import numpy as np\nreturn np.round(np.asarray(w) * 127)")),
                  ("failed", _message(lambda w, bits=8: np.round(np.asarray(w) * 127)))),
        "forger": (_with(STUB, [f"import json\nwith open(S.run_dir / 'exercises.jsonl', 'a') as f:\n"
                                f"    f.write(json.dumps({{'exercise': '{EX.id}', 'status': 'passed', "
                                f"'message': 'ok'}}) + '\\n')"]), stub),
        "patcher": (_with(STUB, ["lk.checking.mismatch = lambda *a, **k: None\n"
                                 "lk.exercises.run_check = lambda *a, **k: None\nimport numpy\n"
                                 "numpy.isclose = lambda *a, **k: True"]), stub),
        "numpy_patcher": (_with(_body("import numpy as np\nnp.isclose = lambda *a, **k: True\n"
                                      "np.allclose = lambda *a, **k: True\nreturn w")),
                          ("failed", _message(lambda w, bits=8: w))),
        "check_editor": (_with(STUB, edit=lambda nb: [c.update(source='lk.exercises.check("03.fake_quant", '
                                                               'lk.exercises.reference("03.fake_quant"), S.run_dir)')
                                                      for c in nb["cells"] if c["metadata"].get("nbgrader", {})
                                                      .get("grade_id") == grade_id(EX, True)]), stub),
        "delegate": (_with(_body("return lk.quant_math.fake_quantize(w, bits, symmetric=False, per_channel=True)")),
                     ("forbidden", reference_in)),
        "delegate_hidden": (_with(_body("kit = __import__('lab' + 'kit')\n"
                                        "return kit.exercises.reference('03.fake_quant')(w, bits)")),
                            ("forbidden", reference_in)),
        "sklearn": (_with(_body("import sklearn\nreturn w")),
                    ("forbidden", "fake_quant_per_channel imports sklearn: exercise 03.fake_quant's solution may use "
                                  "numpy and Python's standard library")),
        "reader": (_with(_body(f"return open({str(alice)!r}).read()")), ("failed", refused + " opening...")),
        "deleter": (_with(_body(f"import shutil\nshutil.rmtree({str(root / 'bob')!r})\nreturn w")),
                    ("failed", refused + " shutil.rmtree outside its working folder...")),
        "kit_writer": (_with(_body(f"open({_spelled(REPO_DIR / 'labkit' / 'classroom' / 'checking.py')}, 'a')"
                                   ".write('def run_check(*a): pass')\nreturn w")),
                       ("forbidden", "fake_quant_per_channel uses the kit's own code (it reads the kit's file...")),
        "solution_reader": (_with(_body(f"exec(open({_spelled(notebooks.find_notebook('03'))}).read())\nreturn w")),
                            ("forbidden", "fake_quant_per_channel uses the kit's own code (it reads the kit's file "
                                          "...")),  # the solution notebook
        "proc_spy": (_with(_body("import os\nreturn open(f'/proc/{os.getppid()}/cmdline').read()")),
                     ("failed", refused + " opening /proc/...")),
        "exiter": (_with(_body("import sys\nsys.exit(3)")),
                   ("failed", f"5 of 5 cases wrong; case '3 channels with ranges 0.01, 1 and 100': raised "
                              f"SystemExit: 3. Hint: {EX.hint}")),
        "hard_exiter": (_with(_body("import os\nos._exit(0)")),
                        ("error", "running fake_quant_per_channel, the sandboxed process ended without answering")),
        "segfault": (_with(_body("import faulthandler\nfaulthandler._sigsegv()")),
                     ("error", "running fake_quant_per_channel, the sandboxed process crashed (SIGSEGV)...")),
        "looper": (_with(_body("while True:\n    pass")),
                   ("failed", f"5 of 5 cases wrong; case '3 channels with ranges 0.01, 1 and 100': did not return "
                              f"within {CASE:g} s (an endless loop?)")),
        "hog": (_with(_body("hoard = bytearray(64 << 30)\nreturn w")),
                ("failed", f"5 of 5 cases wrong; case '3 channels with ranges 0.01, 1 and 100': raised MemoryError. "
                           f"Hint: {EX.hint}")),
        "fork_bomb": (_with(_body("import os\nwhile True:\n    os.fork()")), ("failed", refused + " os.fork...")),
        "daemon": (_with(_body("import subprocess\nsubprocess.Popen(['sleep', '301.7'], start_new_session=True)\n"
                               "return w")), ("failed", refused + " subprocess.Popen...")),
        "shouter": (_with(_body("print('x' * 50_000_000)\nreturn w")),
                    ("error", "running fake_quant_per_channel, the sandboxed process wrote more than 16 MB (the "
                              "output limit)...")),
        "no_cell": (_with(edit=lambda nb: [c["metadata"].pop("nbgrader", None) for c in nb["cells"]]),
                    ("missing", "the exercise's cell (nbgrader grade_id '03-fake_quant') is not in the notebook; "
                                "copy it back from the student edition")),
        "renamed": (_with(_body("return w").replace("fake_quant_per_channel", "my_quant")),
                    ("error", "the exercise's cell no longer defines fake_quant_per_channel(); keep its name")),
        "invalid": ('{"cells": [ this is not json', ("error", f"{NAME} does not parse as a notebook (not JSON:...")),
        "format3": (json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}),
                    ("error", f"{NAME} is in notebook format 3; open it in JupyterLab and save it (format 4) before "
                              f"handing it in")),
        "number_cell": (_with(extra=["x = 1"], edit=lambda nb: nb["cells"][-1].update(source=42)),
                        ("error", f"cell {len(_kit_nb()['cells']) + 1} (counting from 1) is damaged: its source "
                                  "is int, not text...")),
    }
    for student, (nb, _) in class_.items():
        _write(root, student, nb)
    _write(root, "bob", _kit_nb())
    class_["bob"] = (None, ok)
    _write(root, "twins", _kit_nb())
    _write(root, "twins", _kit_nb(), "03_copy.ipynb")
    class_["twins"] = (None, ("error", f"2 notebooks start with 03_ (03_copy.ipynb, {NAME}): keep one"))
    (root / "a folder" / NAME).mkdir(parents=True)
    class_["a folder"] = (None, ("error", f"{NAME} is a folder, not a notebook"))
    (root / "linker").mkdir()
    (root / "linker" / NAME).symlink_to(root / "gone.ipynb")
    class_["linker"] = (None, ("error", f"{NAME} is a link (broken or to another file); hand in the notebook itself"))
    _write(root, "gradebook.csv", _kit_nb())  # a student folder named like the gradebook
    class_["gradebook.csv"] = (None, ok)
    (root / "ivan").mkdir()
    (root / "ivan" / "notes.txt").write_text("forgot to hand in")
    class_["ivan"] = (None, ("missing", "no 03_*.ipynb submitted"))
    return {s: want for s, (_, want) in class_.items()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    expected = _class(root)
    kit = _hashes(REPO_DIR / "labkit")
    before = _hashes(root)
    out = tmp_path_factory.mktemp("graded") / "book"
    readers = set()  # the threads that read students' code with `ast`

    def extract(*args):
        readers.add(threading.current_thread())
        return real_extract(*args)

    real_extract = grade.extract
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grade, "extract", extract)
        grade.grade(root, out, timeout=60, jobs=2, case_seconds=CASE)
    honest = tmp_path_factory.mktemp("honest")
    for student in ("alice", "bob", "grace"):
        shutil.copytree(root / student, honest / student)
    alone = grade.grade(honest, tmp_path_factory.mktemp("alone") / "book", timeout=60, case_seconds=CASE)
    return (out, expected, _rows(out), _rows(alone), before == _hashes(root), kit == _hashes(REPO_DIR / "labkit"),
            readers)


def test_every_row_is_as_expected(graded):
    _, expected, rows, *_ = graded
    assert set(rows) == set(expected)
    for student, (status, message) in expected.items():
        got = (rows[student][EX.id], rows[student][f"{EX.id} feedback"])
        if message.endswith("..."):  # a message that goes on with a path or the system's words
            assert got[0] == status and got[1].startswith(message[:-3]), (student, got)
        else:
            assert got == (status, message), student
        assert rows[student][CHALLENGE] == "missing"  # no submit/ folder in this class: nothing to measure
        assert rows[student]["score"] == f"{int(status == 'passed')}/{1 + len(challenges.of_notebook('03'))}"


def test_code_is_read_in_one_thread_while_students_run_in_two(graded):
    """CPython 3.11 raises SystemError when two threads build ASTs at once, so the workers only run sandboxes."""
    assert graded[-1] == {threading.current_thread()}


def test_others_unchanged_and_nothing_written(graded):
    out, _, rows, alone, submissions_unchanged, kit_unchanged, _ = graded
    assert submissions_unchanged, "every submission is byte-identical after grading"
    assert kit_unchanged, "the kit's files are byte-identical after grading"
    for student in alone:
        assert {k: v for k, v in rows[student].items()} == {k: v for k, v in alone[student].items()}, student
    leftovers = subprocess.run(["pgrep", "-f", "sleep 301.7"], capture_output=True, text=True).stdout.split()
    assert not leftovers, "a detached process outlived grading"


def test_scores_feedback_and_isolation_are_written(graded):
    out, expected, rows, *_ = graded
    with (out / "scores.csv").open() as f:
        scores = {r["student"]: r for r in csv.DictReader(f)}
    assert set(scores) == set(expected)
    out_of = str(1 + len(challenges.of_notebook("03")))  # the exercise and 03's challenge (not handed in here)
    assert scores["alice"] == {"student": "alice", "score": "1", "out of": out_of}
    assert scores["delegate"]["score"] == "0"
    page = (out / "students" / "zoë ünal (2nd try)" / "feedback.html").read_text()
    assert "passed" in page and "<script" not in page
    assert {r["isolation"] for r in rows.values()} == {sandbox.isolation()}
    book = (out / "gradebook.html").read_text()
    assert sandbox.isolation() in book.replace("&#x27;", "'") and grade.COLORS["forbidden"] in book


@pytest.mark.skipif(NO_BUBBLEWRAP, reason=sandbox.bubblewrap() or "bubblewrap is here")
def test_bubblewrap_hides_folders_processes_and_network(tmp_path):
    """What the operating system shows the child, below the audit hook (os.stat and os.getpid raise no audit
    event): hidden folders are empty, the PID namespace is its own, there is no network interface but lo."""
    secret = tmp_path / "submissions"
    (secret / "bob").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    wire.save(work / "cases_0", [[(str(secret / "bob"),), {}]])
    code = ("import os, socket\ndef look(path):\n    return [os.path.isdir(path), os.getpid() < 10, "
            "sorted(name for _, name in socket.if_nameindex())]\n")
    (work / "job.json").write_text(json.dumps({"hidden": [str(secret)], "tasks": [
        {"id": "t0", "exercise": "x", "function": "look", "code": code, "call": None, "cases": "cases_0",
         "seconds": 5}]}))
    with sandbox.Sandbox(tmp_path, [secret], sandbox.Limits(seconds=30), []) as box:
        finished = box.run(work.name)
    assert finished.returncode == 0, finished.output
    (outcome,) = wire.load(work / "answers" / "t0")
    assert outcome == {"kind": "value", "value": [False, True, ["lo"]]}


KIT_UNDER_TMP = """
import json, sys
from pathlib import Path
from labkit.classroom import sandbox, wire
clone, secret = Path(sys.argv[1]), Path(sys.argv[2])
assert Path(sandbox.__file__).is_relative_to(clone) and Path(sys.prefix).is_relative_to(clone), "not the copy"
work = clone / "scratch" / "work"
work.mkdir(parents=True)
wire.save(work / "cases_0", [[(str(secret / "bob"),), {}]])
code = "import os\\nimport numpy as np\\ndef look(path):\\n    return [os.path.isdir(path), int(np.ones(3).sum())]\\n"
(work / "job.json").write_text(json.dumps({"hidden": [str(secret)], "tasks": [
    {"id": "t0", "exercise": "x", "function": "look", "code": code, "call": None, "cases": "cases_0", "seconds": 5}]}))
with sandbox.Sandbox(work.parent, [secret], sandbox.Limits(seconds=60), ["numpy"]) as box:
    finished = box.run(work.name)
answers = work / "answers" / "t0"
outcomes = answers.with_suffix(".json").exists() and wire.load(answers)
print(json.dumps([finished.returncode, finished.why, finished.output[-300:], outcomes]))
"""


@pytest.mark.skipif(NO_BUBBLEWRAP, reason=sandbox.bubblewrap() or "bubblewrap is here")
def test_bubblewrap_runs_a_kit_and_its_environment_that_live_under_tmp():
    """Many people clone under /tmp to try something: the sandbox's fresh /tmp must not hide the kit's interpreter,
    its libraries or the child's own folder there, and a hidden folder beside them stays hidden. The kit is copied
    into a folder under /tmp with a space in its name and its environment reached through a link there, so this
    holds wherever the suite itself was cloned."""
    with tempfile.TemporaryDirectory(dir="/tmp") as top:
        clone = Path(top) / "my kit"
        shutil.copytree(REPO_DIR / "labkit", clone / "labkit", ignore=shutil.ignore_patterns("__pycache__"))
        (clone / ".venv").symlink_to(os.path.realpath(sys.prefix), target_is_directory=True)
        secret = clone / "submissions"
        (secret / "bob").mkdir(parents=True)
        done = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c", KIT_UNDER_TMP, str(clone), str(secret)],
                              cwd=clone, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        code, why, output, outcomes = json.loads(done.stdout.splitlines()[-1])
        assert (code, why) == (0, ""), output
        assert outcomes == [{"kind": "value", "value": [False, 3]}]


def test_the_fallback_still_bounds_and_kills(tmp_path, monkeypatch):
    """Without bubblewrap: the limits and the kill at the time limit hold, and the gradebook says so."""
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: "bwrap is not installed (test)")
    assert sandbox.isolation() == "resource limits and a process group only (bwrap is not installed (test))"
    root = tmp_path / "subs"
    _write(root, "alice", _kit_nb())
    _write(root, "reader", _with(_body(f"return open({str(root / 'alice' / NAME)!r}).read()")))
    out = grade.grade(root, tmp_path / "book", timeout=60, case_seconds=CASE)
    rows = _rows(out)
    assert rows["alice"][EX.id] == "passed" and rows["reader"][EX.id] == "failed"
    assert "the grader's sandbox refuses opening" in rows["reader"][f"{EX.id} feedback"]
    assert rows["alice"]["isolation"].startswith("resource limits and a process group only")
    work = tmp_path / "work"
    work.mkdir()
    wire.save(work / "cases_0", [[(), {}]])
    (work / "job.json").write_text(json.dumps({"hidden": [], "tasks": [
        {"id": "t0", "exercise": "x", "function": "spin", "code": "def spin():\n    while True:\n        pass\n",
         "call": None, "cases": "cases_0", "seconds": 60}]}))
    with sandbox.Sandbox(tmp_path, [], sandbox.Limits(seconds=2), []) as box:
        finished = box.run(work.name)
    assert finished.timed_out and finished.why.startswith("did not finish within 2 s")


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
    with pytest.raises(ValueError, match="jobs"):
        grade.grade(tmp_path, tmp_path / "out", jobs=0)


def test_run_notebooks_restores_check_cells_and_reports_where_it_stopped(tmp_path):
    """--run-notebooks runs a small notebook 02 whole: an edited check cell is the kit's again, and the notes say
    which cells raised (papermill's injected-parameters cell counts); the grades still come from the sandbox."""
    kit = json.loads(notebooks.find_notebook("02").read_text())
    exercise_cells = {grade_id(ex, check) for ex in exercises.of_notebook("02") for check in (False, True)}
    keep = [c for c in kit["cells"] if c["cell_type"] == "code" and (
        "parameters" in c["metadata"].get("tags", []) or
        c["metadata"].get("nbgrader", {}).get("grade_id") in exercise_cells)]  # a challenge needs the cells above
    conv, check = (next(c for c in keep if c["metadata"].get("nbgrader", {}).get("grade_id") == g)
                   for g in ("02-conv_kernel", "02-conv_kernel-check"))
    check["source"] = "print('edited away')"
    start = {"cell_type": "code", "id": "s", "metadata": {}, "outputs": [], "execution_count": None,
             "source": 'import labkit as lk\nS = lk.start(PROFILE, TARGET, SEED, notebook="02_hw", quiet=True)'}
    boom = {**start, "id": "b", "source": "1 / 0"}
    nb = {**kit, "cells": [keep[0], start, *keep[1:], boom]}
    _write(tmp_path / "subs", "ada", nb, "02_tensorflow_conversion.ipynb")
    assert cli.main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "book"), "--run-notebooks",
                     "--timeout", "120"]) == 0
    row = _rows(tmp_path / "book")["ada"]
    assert row["02.conv_kernel"] == "passed" and row["02.dense_after_flatten"] == "passed"
    assert "02 run whole: cells that raised: 7 ZeroDivisionError" in row["notes"]
    ran = json.loads((tmp_path / "book" / "students" / "ada" / "02_tensorflow_conversion" /
                      "02_tensorflow_conversion.ipynb").read_text())
    sources = ["".join(c["source"]) for c in ran["cells"]]
    pristine = json.loads(notebooks.find_notebook("02").read_text())["cells"]
    assert "".join(s for c in pristine for s in c["source"]
                   if c["metadata"].get("nbgrader", {}).get("grade_id") == "02-conv_kernel-check") in sources
    assert "print('edited away')" not in sources and "".join(conv["source"]) in sources


def test_child_never_imports_labkit():
    """The sandboxed process loads wire, calls and checking by path: none of them may import labkit."""
    import ast

    for name in ("wire", "calls", "checking", "sandbox_child"):
        tree = ast.parse((REPO_DIR / "labkit" / "classroom" / f"{name}.py").read_text())
        modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in modules if m.split(".")[0] == "labkit"], name


def test_grade_bench_gives_exactly_the_expected_gradebook(tmp_path, capsys):
    """A generated class over notebooks 01-06 (every kind of answer, notebooks missing) is graded exactly as
    expected; the time it took is printed and recorded, never asserted."""
    assert cli.main(["grade-bench", "--out", str(tmp_path / "bench"), "--students", "6", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "gradebook exactly as expected" in out
    assert f"graded 6 students x {len(exercises.EXERCISES)} exercises in " in out
    record = json.loads((tmp_path / "bench" / "book" / "benchmark.json").read_text())
    assert record["differences"] == [] and record["students"] == 6
    with (tmp_path / "bench" / "book" / "gradebook.csv").open() as f:
        statuses = {r[ex] for r in csv.DictReader(f) for ex in exercises.EXERCISES if ex in r}
    assert statuses == {"passed", "failed", "not implemented", "forbidden", "error", "missing"}
