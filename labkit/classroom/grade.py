"""`labkit grade SUBMISSIONS_DIR`: run every student's notebooks headlessly, each in a fresh kernel inside its
own run folder with a time budget, and write a gradebook (CSV and standalone HTML): a row per student, a
column per exercise with its status and feedback.

SUBMISSIONS_DIR holds one folder per student; a notebook is matched to the kit's by its number prefix
("03_..."). A submission is copied before it runs and is never modified. A notebook that does not parse,
raises, loops forever or lost cells is graded as far as it got; no submission stops the batch."""

from __future__ import annotations

import csv
import html
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.classroom import exercises
from labkit.core.notebooks import kernel_env, kernel_name, prepare_out
from labkit.core.session import new_run_dir

STUDENTS = "students"  # out/students/<student>/<notebook>/: no student's folder can take the gradebook's name
COLORS = {"passed": "#dafbe1", "failed": "#ffebe9", "not implemented": "#ffebe9", "error": "#ffebe9",
          "missing": "#ffebe9"}


@dataclass(frozen=True)
class Grade:
    """One gradebook cell: a status from labkit.checking.STATUSES and the feedback."""

    status: str
    message: str


def find_submissions(folder: str | Path) -> dict[str, dict[str, list[Path]]]:
    """student -> notebook number -> that student's notebooks with this prefix (hidden folders are skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; give the folder that holds one subfolder per student")
    found: dict[str, dict[str, list[Path]]] = {}
    for student in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found[student.name] = {}
        for nb in sorted(student.glob("[0-9][0-9]_*.ipynb")):
            found[student.name].setdefault(nb.name[:2], []).append(nb)
    if not any(found.values()):
        raise FileNotFoundError(f"no submissions found in {folder}: expected one folder per student holding "
                                f"notebooks named like 03_quantization.ipynb")
    return found


def _execute(nb, run_dir: Path, timeout: float) -> str:
    """Run every code cell of `nb` in place, in a fresh kernel working in `run_dir`, past errors, until the
    notebook's `timeout` seconds are spent (a running cell is interrupted then). Returns what stopped it early,
    or "" when it ran to the end. The kernel is killed afterwards, whatever happened."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, kernel_name=kernel_name(), allow_errors=True, interrupt_on_timeout=True,
                            error_on_timeout={"ename": "Timeout", "evalue": f"the notebook ran past {timeout:g} s",
                                              "traceback": []},
                            shutdown_kernel="immediate", resources={"metadata": {"path": str(run_dir)}})
    client.reset_execution_trackers()
    deadline, index = time.monotonic() + timeout, 0
    try:
        with kernel_env({"LABKIT_RUN_DIR": str(run_dir.resolve())}), client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                client.timeout = max(1, math.ceil(deadline - time.monotonic()))
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                if time.monotonic() >= deadline:
                    return f"ran out of its {timeout:g} s in cell {index}"
    except Exception as err:  # the kernel died or could not start: grade what ran
        return f"execution stopped at cell {index}: {type(err).__name__}: {str(err)[:200]}"
    return ""


def _check_cells(nb, exercise_id: str) -> list:
    pattern = exercises.check_pattern(exercise_id)
    return [c for c in nb.cells if c.cell_type == "code" and pattern.search(c.source)]


def _without_record(nb, exercise_id: str, note: str) -> Grade:
    """Why an exercise has no recorded check: its check cell is gone, was not reached, or raised."""
    cells = _check_cells(nb, exercise_id)
    if not cells:
        return Grade("missing", "its check cell was deleted")
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        return Grade("error", f"the check cell raised {errors[-1]['ename']}: {errors[-1]['evalue'][:200]}")
    return Grade("missing", f"the check cell did not run ({note or 'not reached'})")


def grade_notebook(path: Path, run_dir: Path, expected: list[str], profile: str = "smoke",
                   timeout: float = 600) -> tuple[dict[str, Grade], str]:
    """Grade one submitted notebook in `run_dir`: (exercise id -> Grade, a note on the notebook as a whole)."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    run_dir.mkdir(parents=True, exist_ok=False)
    copy = run_dir / f"submitted_{path.name}"
    shutil.copyfile(path, copy)  # the submission itself is only read, once
    try:
        nb = load_notebook_node(str(copy))
        # every parameter a grade depends on is forced, whatever the submission's parameters cell says
        nb = parameterize_notebook(nb, {"PROFILE": profile, "TARGET": "cpu"}, kernel_name=kernel_name(),
                                   language="python")
    except Exception as err:
        why = f"the notebook does not parse ({type(err).__name__}: {str(err)[:200]})"
        return {ex: Grade("error", why) for ex in expected}, why
    stopped = _execute(nb, run_dir, timeout)
    nbformat.write(nb, run_dir / path.name)
    records = exercises.load_records(run_dir)
    grades = {ex: Grade(records[ex]["status"], records[ex]["message"]) if ex in records
              else _without_record(nb, ex, stopped) for ex in expected}
    raised = [f"{i} {o['ename']}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return grades, "; ".join(filter(None, [stopped, raised and "cells that raised: " + ", ".join(raised)]))


def _grade_contained(path: Path, run_dir: Path, expected: list[str], profile: str,
                     timeout: float) -> tuple[dict[str, Grade], str]:
    """`grade_notebook`, with anything odd in this one submission (a folder or a broken link where a notebook
    should be, a malformed cell, a run folder that is already taken) turned into this student's "error" grades
    with a sentence, so that one submission never stops the others' grading."""
    try:
        return grade_notebook(path, run_dir, expected, profile, timeout)
    except Exception as err:
        why = f"grading stopped: {type(err).__name__}: {str(err)[:200]}"
        return {ex: Grade("error", why) for ex in expected}, why


def grade(submissions: str | Path, out: str | Path | None = None, profile: str = "smoke", timeout: float = 600,
          notebooks: list[str] | None = None) -> Path:
    """Grade every student in `submissions` into `out` (a new or empty folder; default: a new folder under
    runs/); each notebook runs in `out/students/<student>/<notebook>/`. The exercises graded are those of `notebooks`
    (numbers such as "03"; default: every notebook number any student submitted). Returns `out`."""
    if timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    found = find_submissions(submissions)
    numbers = sorted(notebooks or {n for nbs in found.values() for n in nbs})
    expected = {n: [ex.id for ex in exercises.of_notebook(n)] for n in numbers}
    if not any(expected.values()):
        raise ValueError(f"notebook(s) {', '.join(numbers)} have no exercises; the kit's exercises are in "
                         f"{', '.join(sorted({ex.notebook for ex in exercises.EXERCISES.values()}))}")
    out = prepare_out(Path(out)) if out is not None else new_run_dir("grade")
    rows = []
    for student, nbs in found.items():
        row, notes = {"student": student}, []
        for number in numbers:
            ids = expected[number]
            paths = nbs.get(number, [])
            if len(paths) != 1:
                why = (f"no {number}_*.ipynb submitted" if not paths else
                       f"{len(paths)} notebooks start with {number}_ ({', '.join(p.name for p in paths)}): keep one")
                grades, note = {ex: Grade("missing" if not paths else "error", why) for ex in ids}, why
            else:
                print(f"grading {student}/{paths[0].name}", flush=True)
                grades, note = _grade_contained(paths[0], out / STUDENTS / student / paths[0].stem, ids, profile,
                                                timeout)
            row.update({ex: g for ex, g in grades.items()})
            if note:
                notes.append(f"{number}: {note}")
        row["notes"] = "; ".join(notes)
        rows.append(row)
    write_gradebook(rows, [ex for n in numbers for ex in expected[n]], out)
    return out


def write_gradebook(rows: list[dict], exercise_ids: list[str], out: Path) -> tuple[Path, Path]:
    """gradebook.csv (per exercise a status column and a feedback column, then the score and notes) and a
    standalone gradebook.html (a green or red cell per exercise, the feedback inside)."""
    out = Path(out)
    header = ["student", *[c for ex in exercise_ids for c in (ex, f"{ex} feedback")], "score", "notes"]
    with (out / "gradebook.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in rows:
            score = f"{sum(r[ex].status == 'passed' for ex in exercise_ids)}/{len(exercise_ids)}"
            writer.writerow([r["student"], *[v for ex in exercise_ids for v in (r[ex].status, r[ex].message)],
                             score, r["notes"]])
    body = []
    for r in rows:
        cells = "".join(f"<td style='background:{COLORS[r[ex].status]}'><b>{html.escape(r[ex].status)}</b>"
                        f"<div class='fb'>{html.escape(r[ex].message)}</div></td>" for ex in exercise_ids)
        score = sum(r[ex].status == "passed" for ex in exercise_ids)
        body.append(f"<tr><th>{html.escape(r['student'])}</th>{cells}<td>{score}/{len(exercise_ids)}</td>"
                    f"<td class='fb'>{html.escape(r['notes'])}</td></tr>")
    heads = "".join(f"<th>{html.escape(ex)}</th>" for ex in exercise_ids)
    (out / "gradebook.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>labkit gradebook</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 6px;"
        "vertical-align:top;max-width:24em}.fb{font-size:80%}</style></head><body><h1>labkit gradebook</h1>"
        f"<table><tr><th>student</th>{heads}<th>score</th><th>notes</th></tr>{''.join(body)}</table></body></html>\n")
    return out / "gradebook.csv", out / "gradebook.html"
