"""The exercises of notebooks 01-07, one module per notebook (`nb01` ... `nb07`): each declares its
exercises (reference, fixed cases, known mistakes) in its list `EXERCISES`, and this registry gathers them
in notebook order. In a notebook:

    result = lk.exercises.check("03.fake_quant", fake_quant_per_channel, S.run_dir)   # green or red
    quant = lk.exercises.use("03.fake_quant", fake_quant_per_channel)  # yours if it passed, else the reference

`check` appends its result to `exercises.jsonl` in the run folder (the tests read it back). `labkit grade`
does not use it: a kernel can write anything there; the grader runs the function itself, sandboxed.
A new exercise goes into its notebook's module (a new notebook's module joins the tuple in `EXERCISES` below); then
`labkit docs` rewrites the README's exercise table from `readme_table()`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from labkit.classroom.checking import Exercise, Result, run_check
from labkit.classroom.exercises import nb01, nb02, nb03, nb04, nb05, nb06, nb07
from labkit.classroom.exercises.nb01 import parity_check
from labkit.classroom.exercises.nb02 import conv_kernel_to_keras, dense_after_flatten_to_keras
from labkit.classroom.exercises.nb03 import fake_quant_per_channel
from labkit.classroom.exercises.nb04 import global_magnitude_masks
from labkit.classroom.exercises.nb05 import distillation_loss
from labkit.classroom.exercises.nb06 import choose_within_budgets, pareto_front
from labkit.classroom.exercises.nb07 import int4_groupwise, kv_cache_bytes
from labkit.core.paths import env_path

__all__ = ["EXERCISES", "RECORDS", "check", "get", "of_notebook",
           "readme_table", "reference", "use",
           # the references, under the names the learner's functions have (lk.exercises.parity_check)
           "parity_check", "conv_kernel_to_keras", "dense_after_flatten_to_keras", "fake_quant_per_channel",
           "global_magnitude_masks", "distillation_loss", "pareto_front", "choose_within_budgets", "kv_cache_bytes",
           "int4_groupwise"]

RECORDS = "exercises.jsonl"
EXERCISES: dict[str, Exercise] = {ex.id: ex for nb in (nb01, nb02, nb03, nb04, nb05, nb06, nb07)
                                   for ex in nb.EXERCISES}

_CHECKED: dict[str, tuple[Callable, Result]] = {}  # the last check of each exercise in this kernel


def get(exercise_id: str) -> Exercise:
    """The exercise with this id ("03.fake_quant")."""
    if exercise_id not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise_id!r}; the kit has: {', '.join(EXERCISES)}")
    return EXERCISES[exercise_id]


def of_notebook(notebook: str) -> list[Exercise]:
    """The exercises of a notebook, by its number ("03") or file stem ("03_quantization")."""
    number = Path(notebook).name[:2]
    return [ex for ex in EXERCISES.values() if ex.notebook == number]


def reference(exercise_id: str) -> Callable:
    """The kit's reference implementation of an exercise."""
    return get(exercise_id).reference


def _run_dir(run_dir: str | Path | None) -> Path | None:
    return Path(run_dir) if run_dir is not None else env_path("LABKIT_RUN_DIR")


def check(exercise_id: str, fn: Callable, run_dir: str | Path | None = None, seconds: float = 10.0) -> Result:
    """Run the learner's `fn` on the exercise's fixed cases and compare with the reference; record the result
    in `run_dir/exercises.jsonl` (default: $LABKIT_RUN_DIR; nothing is recorded without either). Each call
    of `fn` may take at most `seconds`."""
    result = run_check(get(exercise_id), fn, seconds)
    _CHECKED[exercise_id] = (fn, result)
    folder = _run_dir(run_dir)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / RECORDS).open("a") as f:
            f.write(json.dumps(result.as_record()) + "\n")
    return result


def use(exercise_id: str, fn: Callable) -> Callable:
    """`fn` if its last check in this kernel passed, else the kit's reference; says which, so that a notebook
    with unsolved exercises still runs to the end."""
    ex = get(exercise_id)
    fn_checked, result = _CHECKED.get(exercise_id, (None, None))
    if result is not None and result.passed and fn_checked is fn:
        print(f"exercise {exercise_id}: your {ex.function} passed its check; the cells below use it.")
        return fn
    why = ("it was never checked in this kernel (run its check cell)" if result is None else
           "it changed since its check (run the check cell again)" if fn_checked is not fn else
           f"its check says: {result.status}")
    print(f"exercise {exercise_id}: the cells below use the kit's reference {ex.function}, because {why}.")
    return ex.reference


def readme_table() -> str:
    """The README's table of exercises (Markdown), a row per exercise from its declaration: id, the function
    the learner writes, what its check checks (`Exercise.checks`) and what a graded solution may import."""
    rows = ["| exercise | you write | what its check checks | a solution may import |", "|---|---|---|---|"]
    for ex in EXERCISES.values():
        checks = ex.checks.replace("|", r"\|")
        libraries = ", ".join(ex.libraries)
        rows.append(f"| `{ex.id}` | `{ex.function}` | {checks} | {libraries}, Python's standard library |")
    return "\n".join(rows)
