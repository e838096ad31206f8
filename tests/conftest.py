"""Shared fixtures: each notebook is executed once per session, in the smoke profile, in a fresh
kernel, into its own run folder; tests then assert on that run's ledger. Tests under tests/notebooks/ run
notebooks (or grading, a browser, mutated kernels) and carry the `notebook` marker; tests/unit/ runs in about
a minute: `pytest tests/unit` or `pytest -m "not notebook"`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.classroom import exercises, release
from labkit.core import ledger, notebooks


def pytest_collection_modifyitems(items):
    for item in items:
        if "notebooks" in item.path.parent.parts[-1:]:
            item.add_marker(pytest.mark.notebook)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """smoke_run("03") -> (run folder, that notebook's ledger rows as a DataFrame); fails with the
    notebook's error if it did not run to the end. `personality` runs it as on a lower CPU."""
    done: dict[tuple[str, str | None], tuple[Path, dict]] = {}

    def get(name: str, personality: str | None = None):
        key = (name, personality)
        if key not in done:  # run each notebook once, even when it fails
            nb = notebooks.find_notebook(name)
            out = tmp_path_factory.mktemp(f"run-{nb.stem}-{personality or 'native'}")
            notebooks.run([nb], out, profile="smoke", target="auto", personality=personality)
            done[key] = (out, json.loads((out / "summary.json").read_text())["notebooks"][nb.stem])
        out, result = done[key]
        if result["status"] != "ok":
            pytest.fail(f"{name} failed at cell {result.get('cell')}: {result.get('error')}")
        return out, ledger.load(out)

    return get


@pytest.fixture(scope="session")
def student_run(tmp_path_factory):
    """student_run("03") -> the run folder of the student edition's notebook 03 (unsolved), run once per session
    in smoke like `smoke_run`; fails with the notebook's error if it did not run to the end."""
    done: dict[str, tuple[Path, dict]] = {}

    def get(number: str) -> Path:
        if number not in done:
            nb = next(release.STUDENT_DIR.glob(f"{number}_*.ipynb"))
            out = tmp_path_factory.mktemp(f"student-{nb.stem}")
            notebooks.run([nb], out, profile="smoke")
            done[number] = (out, json.loads((out / "summary.json").read_text())["notebooks"][nb.stem])
        out, result = done[number]
        if result["status"] != "ok":
            pytest.fail(f"student edition {number} failed at cell {result.get('cell')}: {result.get('error')}")
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
