"""Take an exercise's function out of a submitted notebook, with only what it needs: the exercise's cell is found
by its nbgrader metadata (`grade_id`), and the imports and definitions it depends on are found by reading the
code (`ast`), never by running the notebook. Also says when a solution reaches labkit or a library its exercise
does not allow (status "forbidden"), and puts the kit's own check cells back into a notebook."""

from __future__ import annotations

import ast
import builtins
import copy
import sys
from dataclasses import dataclass

from labkit.classroom.checking import Exercise

KIT = "labkit"


class ExtractError(Exception):
    """The exercise cannot be taken out of this notebook; `status` is "missing" or "error"."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Extracted:
    """The code to run for one exercise (its dependencies, then the function) and, when the solution is not its
    own work, why ("" otherwise)."""

    code: str
    forbidden: str


def grade_id(ex: Exercise, check: bool = False) -> str:
    """The nbgrader `grade_id` of an exercise's solution cell ("03-fake_quant") or of its check cell."""
    return ex.id.replace(".", "-") + ("-check" if check else "")


def cell_grade_id(cell: dict) -> str | None:
    """The nbgrader grade_id in a cell's metadata, or None."""
    meta = cell.get("metadata")
    grading = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = grading.get("grade_id") if isinstance(grading, dict) else None
    return gid if isinstance(gid, str) else None


def cell_source(cell: dict, index: int) -> str:
    """A cell's text; ValueError with a sentence for a malformed cell (a number, a list of non-text)."""
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    if not isinstance(src, str):
        raise ValueError(f"cell {index + 1} (counting from 1) is damaged: its source is {type(src).__name__}, not "
                         f"text; open the notebook in JupyterLab, fix or delete that cell and save it again")
    return src


def _python(src: str) -> str:
    """The cell's text with IPython's magics and shell lines blanked out (a %%cell magic: nothing)."""
    if src.lstrip().startswith("%%"):
        return ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.split("\n"))


def _bound(stmt: ast.stmt) -> list[str]:
    """The names a top-level statement binds that a function may depend on."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*"]
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) \
        else []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _free(node: ast.AST) -> set[str]:
    """The names `node` reads but neither binds itself nor gets from Python's builtins (an over-approximation
    that treats every name bound anywhere inside as local)."""
    loads, stores = set(), set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (loads if isinstance(n.ctx, ast.Load) else stores).add(n.id)
        elif isinstance(n, ast.arg):
            stores.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n is not node:
            stores.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in n.names)
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return set()
    return loads - stores - set(dir(builtins))


def _imported(stmt: ast.AST) -> list[str]:
    """The top-level modules an import statement loads ("" for a relative import)."""
    if isinstance(stmt, ast.Import):
        return [a.name.split(".")[0] for a in stmt.names]
    if isinstance(stmt, ast.ImportFrom):
        return [(stmt.module or "").split(".")[0] if not stmt.level else ""]
    return []


def _allowed(ex: Exercise) -> str:
    return f"exercise {ex.id}'s solution may use {', '.join(ex.libraries)} and Python's standard library"


def kit_reached(ex: Exercise, how: str) -> str:
    """The feedback of a "forbidden" grade: the solution reached the kit (`how`, e.g. "it imports labkit")."""
    return (f"{ex.function} uses the kit's own code ({how}): solving the exercise means computing the answer "
            f"yourself; {_allowed(ex)}")


def forbidden(tree: list[ast.stmt], ex: Exercise) -> str:
    """Why this code is not the learner's own solution of `ex` ("" when nothing is wrong): it reaches labkit (an
    import, or the kit's name in a string for a dynamic import), or imports a package the exercise does not
    allow (Python's own modules are always allowed)."""
    for node in (n for stmt in tree for n in ast.walk(stmt)):
        for module in _imported(node):
            if module == KIT:
                return kit_reached(ex, f"it imports {KIT}")
            if module not in ex.libraries and module not in sys.stdlib_module_names:
                return f"{ex.function} imports {module or 'a relative module'}: {_allowed(ex)}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and KIT in node.value:
            return kit_reached(ex, f"it names '{KIT}' in a string")
    return ""


def extract(cells: list[dict], ex: Exercise) -> Extracted:
    """`ex`'s function from the notebook's `cells` (nbformat 4 dicts) with the top-level imports, definitions and
    assignments of the cells up to its own that it needs, transitively. ExtractError when the exercise's cell is
    gone ("missing"), or it does not parse or define the function ("error")."""
    gid = grade_id(ex)
    marked = [i for i, c in enumerate(cells) if cell_grade_id(c) == gid]
    if not marked:
        raise ExtractError("missing", f"the exercise's cell (nbgrader grade_id {gid!r}) is not in the notebook; "
                                      f"copy it back from the student edition")
    if len(marked) > 1:
        raise ExtractError("error", f"{len(marked)} cells claim the exercise's grade_id {gid!r}; keep one")
    own = marked[0]
    bindings: dict[str, tuple[int, ast.stmt]] = {}
    defined_here: set[str] = set()
    order = 0
    for i, cell in enumerate(cells[:own + 1]):
        if cell.get("cell_type") != "code":
            continue
        src = cell_source(cell, i)
        try:
            body = ast.parse(_python(src)).body
        except SyntaxError as err:
            if i == own:
                raise ExtractError("error", f"the cell of {ex.function} does not parse: {err.msg} (line "
                                            f"{err.lineno})") from None
            continue  # a broken cell elsewhere only matters if the function needs what it defines
        for stmt in body:
            order += 1
            for name in _bound(stmt):
                bindings[name] = (order, stmt)
            if i == own and isinstance(stmt, ast.FunctionDef):
                defined_here.add(stmt.name)
    target = bindings.get(ex.function)
    if ex.function not in defined_here or not isinstance(target[1], ast.FunctionDef):
        raise ExtractError("error", f"the exercise's cell no longer defines {ex.function}(); keep its name")
    needed: dict[int, ast.stmt] = {}
    todo = [target]
    while todo:
        order_no, stmt = todo.pop()
        if order_no in needed:
            continue
        needed[order_no] = stmt
        todo += [bindings[n] for n in _free(stmt) if n in bindings]
    tree = [needed[k] for k in sorted(needed)]
    return Extracted("\n\n".join(ast.unparse(s) for s in tree) + "\n", forbidden(tree, ex))


def restore_check_cells(cells: list[dict], kit_cells: list[dict]) -> list[dict]:
    """A copy of `cells` in which every check cell of the kit's notebook is the kit's own (nbgrader's overwriting
    of locked cells): an edited one is replaced, a deleted one is put back after its exercise's cell (else at the
    end), and any further cell that claims a check's grade_id is dropped."""
    kit = {cell_grade_id(c): c for c in kit_cells if (cell_grade_id(c) or "").endswith("-check")}
    out, placed = [], set()
    for cell in cells:
        gid = cell_grade_id(cell)
        if gid not in kit:
            out.append(copy.deepcopy(cell))
        elif gid not in placed:
            out.append(copy.deepcopy(kit[gid]))
            placed.add(gid)
    for gid, check in kit.items():
        if gid not in placed:
            solution = gid.removesuffix("-check")
            at = next((i + 1 for i, c in enumerate(out) if cell_grade_id(c) == solution), len(out))
            out.insert(at, copy.deepcopy(check))
    return out
