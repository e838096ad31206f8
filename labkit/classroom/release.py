"""`labkit release`: the student edition of the notebooks. One source serves both editions: solutions sit
between nbgrader's markers (`### BEGIN SOLUTION` / `### END SOLUTION`) inside the exercise's function,
and the student edition replaces each block by a stub raising NotImplementedError with the exercise's
hint. A challenge's cell (nbgrader `grade_id` "01-serving_onnx") holds its solution block at the top level; the
student edition replaces it by a comment naming the task, so that the notebook still runs to the end (the judge
cell then says that no artifact was handed in). Check cells (nbgrader metadata `locked`) are locked against
editing and deleting. Outputs are cleared; everything else is kept byte for byte in the notebooks' own JSON
style."""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.classroom import challenges, exercises
from labkit.core.paths import REPO_DIR, folder, notebooks_dir

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUDENT_DIR = REPO_DIR / "student"
MANIFEST = ".labkit-release.json"  # what the last release wrote, with hashes: anything else is a learner's


def _function_of(lines: list[str], begin: int) -> str | None:
    """The name of the innermost `def` that encloses line `begin`."""
    indent = len(lines[begin]) - len(lines[begin].lstrip())
    for line in reversed(lines[:begin]):
        m = re.match(r"^(\s*)def\s+(\w+)\s*\(", line)
        if m and len(m.group(1)) < indent:
            return m.group(2)
    return None


def strip_solutions(source: str, notebook: str, where: str = "a cell", challenge: str | None = None) -> str:
    """`source` with every solution block replaced by a NotImplementedError stub carrying the hint of the
    exercise whose function encloses it, or, in the cell of `challenge` (its id), by a comment naming the task;
    ValueError for unbalanced markers or an unknown function."""
    lines = source.split("\n")
    by_function = {ex.function: ex for ex in exercises.of_notebook(notebook)}
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == END:
            raise ValueError(f"{where}: '{END}' without '{BEGIN}' before it")
        if lines[i].strip() != BEGIN:
            out.append(lines[i])
            i += 1
            continue
        name = _function_of(lines, i)
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == END), None)
        if challenge is not None and name not in by_function and end is not None:
            pad = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            out += [f"{pad}# YOUR CODE HERE (challenge {challenge}): {challenges.get(challenge).task}.",
                    f"{pad}# The cell below measures the file; until it exists it says so, and the notebook runs on."]
            i = end + 1
            continue
        if name not in by_function:
            raise ValueError(f"{where}: a solution block in {name or 'no function'}(), which is not an exercise of "
                             f"notebook {notebook} (its exercises: {', '.join(by_function) or 'none'})")
        if end is None or any(lines[j].strip() == BEGIN for j in range(i + 1, end)):
            raise ValueError(f"{where}: '{BEGIN}' in {name}() is not closed by '{END}'")
        ex = by_function[name]
        pad = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        out += [f"{pad}# YOUR CODE HERE (exercise {ex.id}), then run the check cell below",
                f"{pad}raise NotImplementedError({f'exercise {ex.id}: {ex.hint}'!r})"]
        i = end + 1
    return "\n".join(out)


def student_notebook(nb: dict, notebook: str) -> dict:
    """A student copy of a notebook (as JSON): solutions stubbed, outputs and execution counts cleared, check cells
    (nbgrader `locked`) neither editable nor deletable in JupyterLab; the grader restores them anyway."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if cell.get("metadata", {}).get("nbgrader", {}).get("locked"):
            cell["metadata"].update({"editable": False, "deletable": False})
        cell["outputs"], cell["execution_count"] = [], None
        source = "".join(cell["source"])
        if BEGIN in source or END in source:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            challenge = next((c.id for c in challenges.of_notebook(notebook) if challenges.grade_id(c) == gid), None)
            text = strip_solutions(source, notebook, f"{notebook} cell {cell.get('id', '?')}", challenge)
            cell["source"] = text.splitlines(keepends=True)
    return nb


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_manifest(out: Path) -> dict[str, str]:
    """Notebook name -> SHA-256 of what the last release wrote into `out`; {} when there is no readable record,
    so that every notebook there counts as not written by the kit."""
    try:
        record = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    written = record.get("notebooks") if isinstance(record, dict) else None
    if not isinstance(written, dict):
        return {}
    return {name: digest for name, digest in written.items() if Path(name).name == name and isinstance(digest, str)}


def _edited(out: Path, fresh: dict[str, bytes], manifest: dict[str, str]) -> list[str]:
    """Notebooks in `out` that this release would replace or remove and that are not what the last release wrote
    there: a learner's edits, or their own files under a name the release needs."""
    edited = []
    for name in sorted({*fresh, *manifest}):
        path = out / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if data != fresh.get(name) and _sha256(data) != manifest.get(name):
            edited.append(name)
    return edited


def _move_aside(out: Path, names: list[str]) -> Path:
    """Move `names` from `out` into a new dated backup folder inside it; returns that folder."""
    stamp, n = time.strftime("%Y%m%d-%H%M%S"), 1
    backup = out / f"backup-{stamp}"
    while backup.exists():  # two releases within a second
        n += 1
        backup = out / f"backup-{stamp}-{n}"
    backup.mkdir()
    for name in names:
        (out / name).rename(backup / name)
    return backup


@dataclass(frozen=True)
class Released:
    """What a release did: the notebooks it wrote, and the edited ones it moved into `backup` first."""

    notebooks: list[Path]
    moved: list[str]
    backup: Path | None


def release(out: str | Path | None = None, notebooks: list[Path] | None = None, force: bool = False) -> Released:
    """Write the student edition of `notebooks` (default: all of the kit's) to `out` (default: student/) and
    record what it wrote in `out/.labkit-release.json`. Notebooks there that differ from the last release (edited
    by a learner) stop it with a FileExistsError naming them; with `force` they are moved into a dated backup
    folder first. Notebooks of the last release that are no longer part of the kit are removed; files the kit
    did not write are never touched."""
    from labkit.core.notebooks import all_notebooks

    out = STUDENT_DIR if out is None else folder(out)
    notebooks = all_notebooks() if notebooks is None else [Path(p) for p in notebooks]
    if not notebooks:
        raise FileNotFoundError("no notebooks to release")
    source_dirs = {notebooks_dir().resolve(), *(p.parent.resolve() for p in notebooks)}
    if out in source_dirs:
        raise ValueError(f"{out} holds the solution notebooks; release the student edition to another folder")
    fresh = {}
    for path in notebooks:  # every notebook is checked before anything is written
        nb = student_notebook(json.loads(path.read_text()), path.stem)
        fresh[path.name] = (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()
    manifest = _read_manifest(out)
    edited = _edited(out, fresh, manifest)
    if edited and not force:
        why = ("differ from what `labkit release` last wrote there" if manifest else
               "differ from the student edition and have no record of a release there")
        raise FileExistsError(
            f"{out} holds {len(edited)} notebook(s) that {why} ({', '.join(edited)}), so nothing was changed: "
            "move or rename them to keep them, or add --force to have them moved into a dated backup folder "
            "inside it first.")
    out.mkdir(parents=True, exist_ok=True)
    backup = _move_aside(out, edited) if edited else None
    for name in manifest.keys() - fresh.keys():  # left by an earlier release and unchanged since
        (out / name).unlink(missing_ok=True)
    for name, data in fresh.items():
        (out / name).write_bytes(data)
    record = {"written_by": "labkit release", "notebooks": {name: _sha256(data) for name, data in fresh.items()}}
    (out / MANIFEST).write_text(json.dumps(record, indent=1) + "\n")
    return Released([out / name for name in fresh], edited, backup)
