"""`labkit grade SUBMISSIONS_DIR`: grade every student's exercises and write a gradebook an instructor can trust.

SUBMISSIONS_DIR holds one folder per student; a notebook is matched to the kit's by its number prefix ("03_...").
For each exercise the grader takes the learner's function out of the notebook (the cell with the exercise's
nbgrader `grade_id`, plus the imports and definitions it needs: `labkit.classroom.extract`), runs it on the
check's inputs in a sandboxed child process (`labkit.classroom.sandbox`), receives only its answers in a plain
format (`labkit.classroom.wire`) and compares them with the kit's reference in its own process
(`labkit.classroom.checking.judge`). Nothing the submission writes or patches reaches the grade; a solution
that reaches labkit is graded "forbidden". Submissions are only read. Anything odd in one submission becomes
that student's "error" row with a sentence; the gradebook is always written.

Each challenge of a graded notebook (`labkit.classroom.challenges`) adds a column: the artifact the student handed
in (`submit/<file>` in the student's folder, as the notebook writes it) is copied into the sandbox, observed there
by the kit's probe (ONNX Runtime runs only in the child) and judged here by the notebook's own code in `profile`
(the smoke profile's looser thresholds unless asked): passed, failed (measured against each target, with the hint),
missing, or error (not an ONNX file, a link, too large, a model that does not run).

`run_notebooks=True` also runs each notebook whole (check cells restored from the kit, PROFILE and TARGET forced)
in a kernel, unsandboxed as before, to report where it stopped; the grades still come from the sandbox."""

from __future__ import annotations

import csv
import html
import json
import math
import queue
import shutil
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from labkit.classroom import challenges, exercises, sandbox, wire
from labkit.classroom.challenges import grading as challenge_grading
from labkit.classroom.checking import Exercise, judge
from labkit.classroom.extract import (
    Extracted,
    ExtractError,
    cell_source,
    extract,
    kit_reached,
    restore_check_cells,
)
from labkit.core.notebooks import find_notebook, kernel_env, kernel_name, prepare_out
from labkit.core.paths import REPO_DIR, notebooks_dir, runs_dir
from labkit.core.session import new_run_dir

STUDENTS = "students"  # out/students/<student>/: no student's folder can take the gradebook's name
COLORS = {"passed": "#dafbe1", "failed": "#ffebe9", "not implemented": "#ffebe9", "error": "#ffebe9",
          "missing": "#ffebe9", "forbidden": "#ffd8b5"}
MAX_NOTEBOOK_BYTES = 20 << 20
PRELOAD = ("numpy", "pandas", "torch")  # the libraries exercises may allow, imported once by each sandbox
_TRACEBACK_LOCK = threading.Lock()


@dataclass(frozen=True)
class Grade:
    """One gradebook cell: a status from labkit.classroom.checking.STATUSES and the feedback."""

    status: str
    message: str


@dataclass
class Row:
    """One student's line of the gradebook."""

    student: str
    grades: dict[str, Grade] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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


def read_cells(path: Path) -> list[dict]:
    """The cells of a submitted notebook, read once and never written; ValueError with a sentence for anything
    that is not a format-4 notebook file of its own (a link, a folder, not JSON, an old format, no cells)."""
    if path.is_symlink():
        return _refuse(path, "is a link (broken or to another file); hand in the notebook itself")
    if path.is_dir():
        return _refuse(path, "is a folder, not a notebook")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return _refuse(path, f"is larger than {MAX_NOTEBOOK_BYTES >> 20} MB; clear its outputs and save it again")
    try:
        nb = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        return _refuse(path, f"does not parse as a notebook (not JSON: {str(err)[:120]})")
    if isinstance(nb, dict) and nb.get("nbformat") not in (4, None):
        return _refuse(path, f"is in notebook format {nb.get('nbformat')!r}; open it in JupyterLab and save it "
                             f"(format 4) before handing it in")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or nb.get("nbformat") != 4:
        return _refuse(path, "is JSON but not a notebook (no format number or no list of cells)")
    if not all(isinstance(c, dict) for c in nb["cells"]):
        return _refuse(path, "has a cell that is not a JSON object; the file is damaged")
    return nb["cells"]


def _refuse(path: Path, why: str) -> list[dict]:
    raise ValueError(f"{path.name} {why}")


def _prepare(nbs: dict[str, list[Path]], numbers: list[str], row: Row) -> dict[str, tuple[Exercise, Extracted]]:
    """Fill `row` with the grades known before anything runs (missing, error, forbidden) and return what must run:
    exercise id -> (exercise, extracted code)."""
    todo = {}
    for number in numbers:
        ids = exercises.of_notebook(number)
        paths = nbs.get(number, [])
        if len(paths) != 1:
            why = (f"no {number}_*.ipynb submitted" if not paths else
                   f"{len(paths)} notebooks start with {number}_ ({', '.join(p.name for p in paths)}): keep one")
            row.grades.update({ex.id: Grade("missing" if not paths else "error", why) for ex in ids})
            row.notes.append(f"{number}: {why}")
            continue
        try:
            cells = read_cells(paths[0])
            for i, cell in enumerate(cells):
                cell_source(cell, i)  # a damaged cell anywhere is named, even far from the exercises
        except (OSError, ValueError) as err:
            row.grades.update({ex.id: Grade("error", str(err)) for ex in ids})
            row.notes.append(f"{number}: {err}")
            continue
        for ex in ids:
            try:
                code = extract(cells, ex)
            except ExtractError as err:
                row.grades[ex.id] = Grade(err.status, str(err))
                continue
            if code.forbidden:
                row.grades[ex.id] = Grade("forbidden", code.forbidden)
            else:
                todo[ex.id] = (ex, code)
    return todo


def _outcome_grade(ex: Exercise, cases: list, outcomes: list[dict]) -> Grade:
    """The grade of one exercise from what its child returned."""
    first = outcomes[0] if outcomes else {"kind": "value"}
    if first["kind"] == "forbidden":
        return Grade("forbidden", kit_reached(ex, first["message"]))
    if first["kind"] == "setup":  # defining the function (or what it needs) raised or ran out of time
        name = first["types"][0] if first["was"] == "raised" else "timeout"
        return Grade("error", f"the code {ex.function} needs could not run: {name}: {first['message'][:200]}")
    result = judge(ex, cases, outcomes)
    return Grade(result.status, result.message)


def _run_sandboxed(todo: dict[str, tuple[Exercise, Extracted]], box: sandbox.Sandbox, hidden: list[Path],
                   case_seconds: float) -> dict[str, Grade]:
    """Run every extracted function of one student in a sandboxed child (a child that dies takes only the
    exercise it was running with it: the rest run again in a new one) and judge the answers here."""
    work = Path(tempfile.mkdtemp(dir=box.root))
    tasks, cases = [], {}
    for k, (ex_id, (ex, code)) in enumerate(todo.items()):
        cases[ex_id] = ex.cases()
        wire.save(work / f"cases_{k}", [[c.args, c.kwargs] for c in cases[ex_id]])
        tasks.append({"id": f"t{k}", "exercise": ex_id, "function": ex.function, "code": code.code,
                      "call": ex.call.__name__ if ex.call else None, "cases": f"cases_{k}",
                      "seconds": min(case_seconds, box.limits.seconds)})
    (work / "job.json").write_text(json.dumps({"hidden": [str(h) for h in hidden], "tasks": tasks}))
    grades: dict[str, Grade] = {}
    try:
        while len(grades) < len(tasks):
            finished = box.run(work.name)
            progress = False
            for task in tasks:
                ex_id, ex = task["exercise"], todo[task["exercise"]][0]
                if ex_id in grades:
                    continue
                answer, started = work / "answers" / task["id"], work / "answers" / f"{task['id']}.started"
                if answer.with_suffix(".json").exists():
                    try:
                        outcomes = wire.load(answer)
                    except ValueError as err:
                        grades[ex_id] = Grade("error", f"its answers could not be read: {err}")
                    else:
                        grades[ex_id] = _outcome_grade(ex, cases[ex_id], outcomes)
                elif started.exists():
                    why = finished.why or "ended without answering"
                    tail = finished.output.strip().splitlines()[-1:] if finished.output.strip() else []
                    grades[ex_id] = Grade("error", f"running {ex.function}, the sandboxed process {why}"
                                                   + (f" (last output: {tail[0][:160]})" if tail else ""))
                else:
                    continue
                progress = True
            if not progress:
                why = finished.why or "ended without answering"
                for task in tasks:
                    grades.setdefault(task["exercise"], Grade("error", f"the sandboxed process {why}: "
                                                                       f"{finished.output.strip()[-200:]}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return grades


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
    except Exception as err:  # the kernel died or could not start: report what ran
        return f"execution stopped at cell {index}: {type(err).__name__}: {str(err)[:200]}"
    return ""


def run_whole(path: Path, run_dir: Path, profile: str, timeout: float) -> str:
    """Run a submitted notebook whole in `run_dir` (the check cells restored from the kit's notebook, PROFILE and
    TARGET forced) and return where it stopped and which cells raised ("" when it ran clean). It runs in a
    kernel as the grader's user, without the sandbox; the executed copy is kept for the instructor."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    cells = read_cells(path)
    kit_cells = json.loads(find_notebook(path.name[:2]).read_text())["cells"]
    run_dir.mkdir(parents=True, exist_ok=False)
    restored = run_dir / f"restored_{path.name}"  # the submission with the kit's check cells, before it runs
    restored.write_text(json.dumps({"cells": restore_check_cells(cells, kit_cells), "metadata": {}, "nbformat": 4,
                                    "nbformat_minor": 5}, indent=1, ensure_ascii=False))
    nb = parameterize_notebook(load_notebook_node(str(restored)), {"PROFILE": profile, "TARGET": "cpu"},
                               kernel_name=kernel_name(), language="python")
    stopped = _execute(nb, run_dir, timeout)
    nbformat.write(nb, run_dir / path.name)
    raised = [f"{i} {o['ename']}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    return "; ".join(filter(None, [stopped, raised and "cells that raised: " + ", ".join(raised)]))


def _read_student(student: str, nbs: dict[str, list[Path]], numbers: list[str],
                  cids: list[str]) -> tuple[Row, dict[str, tuple[Exercise, Extracted]]]:
    """One student's row with the grades known before anything runs, and what must run. This reads code with
    `ast`, so it runs in one thread: CPython 3.11's AST constructor keeps one recursion counter for every thread
    and raises SystemError ("AST constructor recursion depth mismatch") when two threads parse at once."""
    row = Row(student)
    try:
        return row, _prepare(nbs, numbers, row)
    except Exception as err:  # anything unforeseen stays this student's
        _stopped(row, err, numbers, cids)
        return row, {}


def _stopped(row: Row, err: Exception, numbers: list[str], cids: list[str]) -> None:
    """Every grade of `row` not given yet becomes an error that names `err`."""
    why = f"grading stopped: {type(err).__name__}: {str(err)[:200]}"
    row.grades.update({i: row.grades.get(i, Grade("error", why)) for n in numbers
                       for i in [*(ex.id for ex in exercises.of_notebook(n)), *cids]})
    with _TRACEBACK_LOCK:  # formatting a traceback parses code with `ast` too (see _read_student)
        trace = traceback.format_exc(limit=2)
    row.notes.append(why + " | " + trace.replace("\n", " ")[-300:])


def _grade_student(row: Row, todo: dict[str, tuple[Exercise, Extracted]], nbs: dict[str, list[Path]],
                   numbers: list[str], cids: list[str], out: Path, box: sandbox.Sandbox, hidden: list[Path],
                   case_seconds: float, run_notebooks: str | None, student_dir: Path, profile: str) -> Row:
    """Run what `_read_student` found for one student, and fill the rest of the row; nothing in it can stop another
    student's grading."""
    try:
        if todo:
            row.grades.update(_run_sandboxed(todo, box, hidden, case_seconds))
        if cids:  # each handed-in artifact measured again in the sandbox, judged here
            found = challenge_grading.grade_artifacts(cids, student_dir, box, hidden, profile, box.limits.seconds)
            row.grades.update({cid: Grade(*g) for cid, g in found.items()})
        for number in numbers if run_notebooks else ():
            paths = nbs.get(number, [])
            if len(paths) == 1:
                note = run_whole(paths[0], out / STUDENTS / row.student / paths[0].stem, run_notebooks,
                                 box.limits.seconds)
                row.notes.append(f"{number} run whole: {note or 'ran to the end'}")
    except Exception as err:  # anything unforeseen stays this student's
        _stopped(row, err, numbers, cids)
    return row


def grade(submissions: str | Path, out: str | Path | None = None, profile: str = "smoke", timeout: float = 120,
          notebooks: list[str] | None = None, jobs: int = 1, run_notebooks: bool = False,
          case_seconds: float = 10.0) -> Path:
    """Grade every student in `submissions` into `out` (a new or empty folder; default: a new folder under runs/):
    gradebook.csv and .html, scores.csv, and students/<student>/feedback.html. The exercises graded are those of
    `notebooks` (numbers such as "03"; default: every notebook number any student submitted). `timeout` bounds
    one student's sandboxed run (and, with `run_notebooks`, each whole notebook), `case_seconds` each call of a
    learner's function; `jobs` students are graded at once. Returns `out`."""
    if timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    found = find_submissions(submissions)
    asked = sorted(notebooks or {n for nbs in found.values() for n in nbs})
    numbers = [n for n in asked if exercises.of_notebook(n)]  # notebooks without exercises have nothing to grade
    ids = [ex.id for n in numbers for ex in exercises.of_notebook(n)]
    cids = [c.id for n in numbers for c in challenges.of_notebook(n)]
    if not ids:
        raise ValueError(f"notebook(s) {', '.join(asked)} have no exercises; the kit's exercises are in "
                         f"{', '.join(sorted({ex.notebook for ex in exercises.EXERCISES.values()}))}")
    out = prepare_out(Path(out)) if out is not None else new_run_dir("grade")
    isolation = sandbox.isolation()
    print(f"isolation: {isolation}", flush=True)
    limits = sandbox.Limits(seconds=timeout, cpu_seconds=math.ceil(timeout))
    scratch = Path(tempfile.mkdtemp(prefix="labkit-grade-"))
    hidden = [Path(submissions).resolve(), out.resolve(), scratch.resolve(), runs_dir().resolve(),
              notebooks_dir().resolve(), (REPO_DIR / ".git").resolve()]  # and the kit's solutions and history

    read = {student: _read_student(student, nbs, numbers, cids) for student, nbs in found.items()}
    preload = [lib for lib in PRELOAD if any(lib in exercises.get(i).libraries for i in ids)]
    preload += list(challenge_grading.PRELOAD) if cids else []
    boxes: queue.Queue[sandbox.Sandbox] = queue.Queue()  # one sandboxed server per job, each in its own folder
    for k in range(jobs):
        (scratch / f"worker{k}").mkdir()
        boxes.put(sandbox.Sandbox(scratch / f"worker{k}", hidden, limits, preload))

    def one(item):
        student, nbs = item
        box = boxes.get()
        try:
            row = _grade_student(*read[student], nbs, numbers, cids, out, box, hidden, case_seconds,
                                 profile if run_notebooks else None, Path(submissions) / student, profile)
        finally:
            boxes.put(box)
        print(f"graded {student}: {sum(row.grades[i].status == 'passed' for i in ids + cids)}/{len(ids + cids)} passed",
              flush=True)
        return row

    try:
        with ThreadPoolExecutor(jobs) as pool:
            rows = list(pool.map(one, found.items()))
    finally:
        while not boxes.empty():
            boxes.get().close()
        shutil.rmtree(scratch, ignore_errors=True)
    write_gradebook(rows, ids + cids, out, isolation)
    return out


def _score(row: Row, ids: list[str]) -> int:
    return sum(row.grades[i].status == "passed" for i in ids)


def write_gradebook(rows: list[Row], ids: list[str], out: Path, isolation: str) -> list[Path]:
    """gradebook.csv (per exercise a status and a feedback column, then the score, notes and the isolation in
    force), scores.csv (one row per student: the score, to import into a course site), a standalone
    gradebook.html and one students/<student>/feedback.html each. Returns the files written."""
    out = Path(out)
    with (out / "gradebook.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *[c for ex in ids for c in (ex, f"{ex} feedback")], "score", "notes",
                         "isolation"])
        for r in rows:
            writer.writerow([r.student, *[v for ex in ids for v in (r.grades[ex].status, r.grades[ex].message)],
                             f"{_score(r, ids)}/{len(ids)}", "; ".join(r.notes), isolation])
    with (out / "scores.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "score", "out of"])
        writer.writerows([r.student, _score(r, ids), len(ids)] for r in rows)
    written = [out / "gradebook.csv", out / "scores.csv", out / "gradebook.html"]
    body = []
    for r in rows:
        cells = "".join(f"<td style='background:{COLORS[r.grades[ex].status]}'><b>{html.escape(r.grades[ex].status)}"
                        f"</b><div class='fb'>{html.escape(r.grades[ex].message)}</div></td>" for ex in ids)
        body.append(f"<tr><th>{html.escape(r.student)}</th>{cells}<td>{_score(r, ids)}/{len(ids)}</td>"
                    f"<td class='fb'>{html.escape('; '.join(r.notes))}</td></tr>")
        page = out / STUDENTS / r.student / "feedback.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        items = "".join(f"<tr><th>{html.escape(ex)}</th><td style='background:{COLORS[r.grades[ex].status]}'>"
                        f"<b>{html.escape(r.grades[ex].status)}</b></td><td>{html.escape(r.grades[ex].message)}</td>"
                        f"</tr>" for ex in ids)
        page.write_text(_page(f"feedback for {r.student}", f"<p>score: {_score(r, ids)} of {len(ids)}</p>"
                              f"<table><tr><th>exercise</th><th>status</th><th>feedback</th></tr>{items}</table>"))
        written.append(page)
    heads = "".join(f"<th>{html.escape(ex)}</th>" for ex in ids)
    (out / "gradebook.html").write_text(_page(
        "labkit gradebook", f"<p>isolation: {html.escape(isolation)}</p><table><tr><th>student</th>{heads}"
                            f"<th>score</th><th>notes</th></tr>{''.join(body)}</table>"))
    return written


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title><style>"
            "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 6px;"
            "vertical-align:top;max-width:24em}.fb{font-size:80%}</style></head><body><h1>" + html.escape(title) +
            "</h1>" + body + "</body></html>\n")
