"""Shared fixtures: each notebook is executed once per session, in the smoke profile, in a fresh
kernel, into its own run folder; tests then assert on that run's ledger. Tests under tests/notebooks/ run
notebooks (or grading, a browser, mutated kernels, the shipped weights on whole test sets) and carry the
`notebook` marker; tests/unit/ runs in under a minute on two cores: `pytest tests/unit` or
`pytest -m "not notebook"`. With pytest-xdist (`-n auto` in pyproject.toml) the scheduler below keeps the tests
of one run in one worker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labkit.classroom import exercises, release
from labkit.core import ledger, notebooks


def pytest_collection_modifyitems(items):
    for item in items:
        if "notebooks" in item.path.parent.parts[-1:]:
            item.add_marker(pytest.mark.notebook)
            if {"smoke_run", "student_run"} & set(item.fixturenames) and shared_run(item.nodeid) is None:
                raise pytest.UsageError(f"{item.nodeid} uses a notebook's run but its id does not say which: "
                                        f"put it in test_nbNN_*.py or parametrize it by `number`")


def shared_run(nodeid: str) -> str | None:
    """What a notebook test shares with others, from its id: the smoke run of notebook NN (`test_nbNN_*`, or a
    test parametrized `[NN]` or by a challenge `[NN.name]`), its student edition's run (tests named `student`, and
    the personality tests: see STUDENT_PERSONALITY; the browser test's for BROWSER_STUDENTS), or a module's fixture
    (a JupyterLab server, a graded class), or TensorFlow's import (TENSORFLOW_UNIT_TESTS).
    None: the test shares nothing."""
    path, _, test = nodeid.partition("::")
    module = Path(path).stem
    if nodeid in TENSORFLOW_UNIT_TESTS:
        return "unit-tensorflow"
    if Path(path).parent.name != "notebooks":
        return None
    if module in ("test_browser", "test_grade"):
        return module
    if re.match(r"test_nb\d\d_", module):
        return f"smoke-{module[7:9]}"
    number = re.search(r"\[(\d\d)[.\]]", test)  # [03], or a challenge's id [03.static_int8]
    if number is None:
        return None
    if module == "test_personalities" or "student" in test:
        return "test_browser" if number[1] in BROWSER_STUDENTS else f"student-{number[1]}"
    return f"smoke-{number[1]}"


# The unit tests that import TensorFlow (seconds, the first time in a process): one worker runs them all, so the other
# never imports it.
TENSORFLOW_UNIT_TESTS = {"tests/unit/test_conversion.py::test_keras_port_round_trip_is_exact",
                         "tests/unit/test_conversion.py::test_keras_from_onnx_matches_and_refuses_unknown_ops",
                         "tests/unit/test_models.py::test_keras_twin_matches_teacher_logits"}


def pytest_xdist_make_scheduler(config, log):
    """Tests that share a run go to one worker, so each notebook runs once (pytest-xdist's own `xdist_group` marks
    are lost with pytest 9's test ids); the largest groups start first."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedRuns(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return shared_run(nodeid) or nodeid

    return SharedRuns(config, log)


# The most one cell of a notebook may take in these runs: a stuck cell fails its notebook's tests with the stacks of
# the kernel's threads (labkit.watchdog) instead of holding a worker until CI gives up. The longest cell in smoke
# takes under a minute on two busy cores. pytest-timeout (pyproject.toml) bounds each whole test the same way.
CELL_SECONDS = 600


def pytest_report_header(config) -> str:
    """The CPU the tests run on, first in the output: what a result depends on is then known for every run."""
    from labkit.core.cpu import cpu_info

    info = cpu_info()
    flags = ", ".join(f for f, present in info["flags"].items() if present) or "none of interest"
    return f"CPU: {info['model']} ({info['arch']}, {info['cores']} cores); flags: {flags}"


def _run_once(done: dict, key: str, nb: Path, out: Path, **options) -> None:
    """Run `nb` in smoke into `out` and keep its result in `done[key]`. The entry is there before the run starts, so
    a run stopped by the test's timeout is reported, not started again by the next test of that notebook."""
    done[key] = (out, {"status": "interrupted", "error": "its first run was stopped (the test's timeout?)"})
    notebooks.run([nb], out, profile="smoke", timeout=CELL_SECONDS, **options)
    done[key] = (out, json.loads((out / "summary.json").read_text())["notebooks"][nb.stem])


def _failure(what: str, out: Path, result: dict) -> str:
    """Why a notebook run failed, with the stacks its kernel wrote if a cell ran long."""
    why = f"{what} failed at cell {result.get('cell')}: {result.get('error')} (run folder {out})"
    if result.get("stacks"):
        why += "\nwhere each thread of the kernel was:\n" + Path(result["stacks"]).read_text()[-6000:]
    return why


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """smoke_run("03") -> (run folder, that notebook's ledger rows as a DataFrame); fails with the
    notebook's error if it did not run to the end."""
    done: dict[str, tuple[Path, dict]] = {}

    def get(name: str):
        if name not in done:  # run each notebook once, even when it fails
            nb = notebooks.find_notebook(name)
            _run_once(done, name, nb, tmp_path_factory.mktemp(f"run-{nb.stem}"), target="auto")
        out, result = done[name]
        if result["status"] != "ok":
            pytest.fail(_failure(name, out, result))
        return out, ledger.load(out)

    return get


# The student editions of the notebooks whose results depend on the instruction set run as on an AVX2-only CPU
# (tests/notebooks/test_personalities.py): a learner's laptop is as likely to be one, and a lower CPU is then checked
# without a third run of each.
STUDENT_PERSONALITY = {"01": "avx2", "03": "avx2"}


# The student editions that the browser test (tests/notebooks/test_browser.py) also runs to the end in smoke: their
# student tests go to its worker, after it, and use its run folder (`browser_runs`) instead of a second run. Only
# a saving: where there is no browser, or its run failed, `student_run` runs the notebook itself.
BROWSER_STUDENTS = {"06"}


@pytest.fixture(scope="session")
def browser_runs() -> dict[str, Path]:
    """number -> the run folder of a student edition the browser test ran to the end (filled by that test)."""
    return {}


@pytest.fixture(scope="session")
def student_run(tmp_path_factory, browser_runs):
    """student_run("03") -> the run folder of the student edition's notebook 03 (unsolved), run once per session
    in smoke like `smoke_run` (as the CPU of STUDENT_PERSONALITY where it names one), or the browser test's run of
    it (BROWSER_STUDENTS); fails with the notebook's error if it did not run to the end."""
    done: dict[str, tuple[Path, dict]] = {}

    def get(number: str) -> Path:
        if number not in done and number in browser_runs and number not in STUDENT_PERSONALITY:
            done[number] = (browser_runs[number], {"status": "ok"})
        if number not in done:
            nb = next(release.STUDENT_DIR.glob(f"{number}_*.ipynb"))
            _run_once(done, number, nb, tmp_path_factory.mktemp(f"student-{nb.stem}"),
                      personality=STUDENT_PERSONALITY.get(number))
        out, result = done[number]
        if result["status"] != "ok":
            pytest.fail(_failure(f"student edition {number}", out, result))
        return out

    return get


@pytest.fixture
def exercise_records():
    """exercise_records(run_dir) -> the last recorded check of each exercise in a run folder."""
    return _load_records


def _load_records(run_dir: str | Path) -> dict[str, dict]:
    """The last recorded check of each exercise in a run folder (empty when none was recorded); lines that are
    not JSON are skipped (a killed kernel may leave half a line)."""
    path = Path(run_dir) / exercises.RECORDS
    out: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("exercise") in exercises.EXERCISES:
                out[rec["exercise"]] = rec
    return out
