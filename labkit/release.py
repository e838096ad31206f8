"""`labkit release`: the student edition of the notebooks. One source serves both editions: solutions sit
between nbgrader's markers (`### BEGIN SOLUTION` / `### END SOLUTION`) inside the exercise's function,
and the student edition replaces each block by a stub raising NotImplementedError with the exercise's
hint. Outputs are cleared; everything else is kept byte for byte in the notebooks' own JSON style."""

from __future__ import annotations

import json
import re
from pathlib import Path

from labkit import exercises
from labkit.paths import REPO_DIR, notebooks_dir

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUDENT_DIR = REPO_DIR / "student"


def _function_of(lines: list[str], begin: int) -> str | None:
    """The name of the innermost `def` that encloses line `begin`."""
    indent = len(lines[begin]) - len(lines[begin].lstrip())
    for line in reversed(lines[:begin]):
        m = re.match(r"^(\s*)def\s+(\w+)\s*\(", line)
        if m and len(m.group(1)) < indent:
            return m.group(2)
    return None


def strip_solutions(source: str, notebook: str, where: str = "a cell") -> str:
    """`source` with every solution block replaced by a NotImplementedError stub carrying the hint of the
    exercise whose function encloses it; ValueError for unbalanced markers or an unknown function."""
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
        if name not in by_function:
            raise ValueError(f"{where}: a solution block in {name or 'no function'}(), which is not an exercise of "
                             f"notebook {notebook} (its exercises: {', '.join(by_function) or 'none'})")
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == END), None)
        if end is None or any(lines[j].strip() == BEGIN for j in range(i + 1, end)):
            raise ValueError(f"{where}: '{BEGIN}' in {name}() is not closed by '{END}'")
        ex = by_function[name]
        pad = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        out += [f"{pad}# YOUR CODE HERE (exercise {ex.id}), then run the check cell below",
                f"{pad}raise NotImplementedError({f'exercise {ex.id}: {ex.hint}'!r})"]
        i = end + 1
    return "\n".join(out)


def student_notebook(nb: dict, notebook: str) -> dict:
    """A student copy of a notebook (as JSON): solutions stubbed, outputs and execution counts cleared."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        source = "".join(cell["source"])
        if BEGIN in source or END in source:
            text = strip_solutions(source, notebook, f"{notebook} cell {cell.get('id', '?')}")
            cell["source"] = text.splitlines(keepends=True)
    return nb


def release(out: str | Path | None = None, notebooks: list[Path] | None = None) -> list[Path]:
    """Write the student edition of `notebooks` (default: all of the kit's) to `out` (default: student/);
    numbered notebooks in `out` that are not part of this release are removed. Returns the written paths."""
    from labkit.runner import all_notebooks

    out = STUDENT_DIR if out is None else Path(out)
    notebooks = all_notebooks() if notebooks is None else [Path(p) for p in notebooks]
    if not notebooks:
        raise FileNotFoundError("no notebooks to release")
    source_dirs = {notebooks_dir().resolve(), *(p.parent.resolve() for p in notebooks)}
    if out.resolve() in source_dirs:
        raise ValueError(f"{out} holds the solution notebooks; release the student edition to another folder")
    prepared = {}
    for path in notebooks:  # every notebook is checked before anything is written
        prepared[path.name] = student_notebook(json.loads(path.read_text()), path.stem)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("[0-9][0-9]_*.ipynb"):
        if stale.name not in prepared:
            stale.unlink()
    written = []
    for name, nb in prepared.items():
        (out / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        written.append(out / name)
    return written
