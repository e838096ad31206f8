"""The machinery behind exercise checks: run a learner's function on small fixed cases under a time
limit, compare each answer with the reference, and explain the first mismatch (expected vs got, and
a specific hint when the answer matches a known mistake). The exercises themselves live in
`labkit.classroom.exercises`, one module per notebook."""

from __future__ import annotations

import copy
import html
import signal
import threading
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

# What a gradebook cell can say about one exercise.
STATUSES = ("passed", "failed", "not implemented", "error", "missing", "forbidden")


@dataclass(frozen=True)
class Case:
    """One fixed input of a check: a readable name, the arguments, and the exception the function must
    raise instead of returning (None: it must return the reference's answer)."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    raises: type[Exception] | None = None


@dataclass(frozen=True)
class Exercise:
    """A piece of a technique the learner writes, with its reference implementation and its check."""

    id: str  # "NN.name": NN is the notebook's number
    function: str  # the name the learner's function has in the notebook
    title: str
    checks: str  # what the check checks, in one sentence
    hint: str  # the general hint; the released stub raises NotImplementedError with it
    reference: Callable
    cases: Callable[[], list[Case]]  # fresh inputs on every call (a learner may modify them in place)
    mistakes: tuple[tuple[Callable, str], ...] = ()  # (a known wrong implementation, its specific hint)
    call: Callable[[Callable, tuple, dict], object] | None = None  # fn, args, kwargs -> answer (a function of
    # labkit.classroom.calls, which the grader's sandbox can load); default fn(*args, **kwargs)
    libraries: tuple[str, ...] = ("numpy",)  # the only packages a solution may import (besides Python's own)
    rtol: float = 1e-5
    atol: float = 1e-6

    @property
    def notebook(self) -> str:
        """The notebook's number, e.g. "03"."""
        return self.id.split(".", 1)[0]

    def run(self, fn: Callable, case: Case):
        """Call `fn` on its own copy of the case's inputs."""
        case = Case(case.name, copy.deepcopy(case.args), copy.deepcopy(case.kwargs), case.raises)
        return self.call(fn, case.args, case.kwargs) if self.call else fn(*case.args, **case.kwargs)


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    message: str


@dataclass(frozen=True)
class Result:
    """The outcome of one check: a status from STATUSES, one feedback message, and every case."""

    exercise: str
    function: str
    status: str
    message: str
    cases: tuple[CaseResult, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_record(self) -> dict:
        """A JSON-ready dict (one line of exercises.jsonl)."""
        return {"exercise": self.exercise, "notebook": self.exercise.split(".", 1)[0], "function": self.function,
                "status": self.status, "message": self.message, "cases_passed": sum(c.passed for c in self.cases),
                "cases_total": len(self.cases),
                "cases": [{"name": c.name, "passed": c.passed, "message": c.message} for c in self.cases]}

    def __str__(self) -> str:
        lines = [f"[{self.status.upper()}] exercise {self.exercise} ({self.function}): {self.message}"]
        lines += [f"  {'ok ' if c.passed else 'BAD'} {c.name}" + ("" if c.passed else f": {c.message}")
                  for c in self.cases]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#cf222e"
        items = "".join(
            f"<li style='color:{'#1a7f37' if c.passed else '#cf222e'}'>{'&#10003;' if c.passed else '&#10007;'} "
            f"{html.escape(c.name)}{'' if c.passed else ': ' + html.escape(c.message)}</li>" for c in self.cases)
        return (f"<div style='border-left:5px solid {color};padding:4px 10px;background:{color}14'>"
                f"<b>Exercise {html.escape(self.exercise)}</b> (<code>{html.escape(self.function)}</code>): "
                f"<b style='color:{color}'>{html.escape(self.status.upper())}</b>"
                f"<div>{html.escape(self.message)}</div><ul style='margin:2px 0'>{items}</ul></div>")


class CaseTimeout(BaseException):
    """A learner's function ran past its time limit (a BaseException, so `except Exception` in the
    learner's own code cannot swallow it)."""


@contextmanager
def time_limit(seconds: float | None):
    """Raise CaseTimeout in the block after `seconds` (Unix main thread only; elsewhere no limit)."""
    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise CaseTimeout(f"did not return within {seconds:g} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _plain(value):
    """Tensors to numpy arrays, numpy scalars to Python; containers recursively."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        flat = np.array2string(value.ravel()[:6], precision=4, separator=", ")
        return f"array of shape {value.shape} {flat[:-1]}{', ...' if value.size > 6 else ''}]"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _array_mismatch(exp: np.ndarray, got, rtol: float, atol: float) -> str | None:
    try:
        got = np.asarray(got)
    except Exception:
        return f"expected {_short(exp)}, got {type(got).__name__}"
    if got.shape != exp.shape:
        return f"expected an array of shape {exp.shape}, got shape {got.shape}"
    if exp.dtype == bool:
        if got.dtype != bool and not np.isin(got, (0, 1)).all():
            return f"expected a mask of True/False (or 1/0), got values such as {np.unique(got)[:4].tolist()}"
        wrong = got.astype(bool) != exp
        if not wrong.any():
            return None
        i = tuple(int(k) for k in np.argwhere(wrong)[0])
        return (f"{int(wrong.sum())} of {exp.size} mask entries differ (first at index {i}: expected {bool(exp[i])}, "
                f"got {bool(got[i])})")
    if not np.issubdtype(got.dtype, np.number):
        return f"expected numbers, got an array of {got.dtype}"
    if np.isnan(got).any() and not np.isnan(exp).any():
        return f"expected {_short(exp)}, got {int(np.isnan(got).sum())} NaN value(s) (a division by zero?)"
    close = np.isclose(got, exp, rtol=rtol, atol=atol)
    if close.all():
        return None
    i = tuple(int(k) for k in np.argwhere(~close)[0])
    return (f"expected {_short(exp)}, got {_short(got)}: {int((~close).sum())} of {exp.size} values differ "
            f"(first at index {i}: expected {exp[i]:.6g}, got {got[i]:.6g})")


def mismatch(expected, got, rtol: float = 1e-5, atol: float = 1e-6) -> str | None:
    """None when `got` equals `expected` (numbers within tolerance), else what differs, in words."""
    expected, got = _plain(expected), _plain(got)
    if isinstance(expected, np.ndarray):
        return _array_mismatch(expected, got, rtol, atol)
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"expected a dict with keys {sorted(expected)}, got {type(got).__name__}"
        if set(got) != set(expected):
            return f"expected the keys {sorted(expected)}, got {sorted(got)}"
        for key in expected:
            diff = mismatch(expected[key], got[key], rtol, atol)
            if diff:
                return f"{key!r}: {diff}"
        return None
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return f"expected a list of {len(expected)}, got {_short(got)}"
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            diff = mismatch(e, g, rtol, atol)
            if diff:
                return f"item {i}: {diff}"
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return None if type(got) is type(expected) and got == expected else f"expected {expected!r}, got {_short(got)}"
    if isinstance(expected, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"expected the number {_short(expected)}, got {_short(got)}"
        return None if np.isclose(got, expected, rtol=rtol, atol=atol) else \
            f"expected {_short(float(expected))}, got {_short(float(got))}"
    try:
        same = bool(got == expected)
    except Exception:  # an object whose == does not give one truth value (a frame, an array)
        same = False
    return None if same else f"expected {_short(expected)}, got {_short(got)}"


def _diagnose(ex: Exercise, case: Case, got) -> str:
    """The hint of the first known mistake that gives exactly the learner's answer, else the general hint."""
    for wrong, hint in ex.mistakes:
        try:
            with warnings.catch_warnings():  # a deliberate mistake may trigger a library's warning
                warnings.simplefilter("ignore")
                if mismatch(ex.run(wrong, case), got, ex.rtol, ex.atol) is None:
                    return hint
        except Exception:  # a mistake may not apply to every case
            continue
    return ex.hint


def call_outcome(run: Callable[[], object], seconds: float | None) -> dict:
    """Call `run()` under a time limit and describe what happened as a plain dict: {"kind": "value", "value": ...},
    {"kind": "raised", "types": [class names along the MRO], "message": ...} or {"kind": "timeout", "message": ...}.
    The grader's sandbox returns the same dicts from its child process."""
    try:
        with time_limit(seconds):
            return {"kind": "value", "value": run()}
    except CaseTimeout as err:
        return {"kind": "timeout", "message": str(err)}
    except (Exception, SystemExit) as err:  # a learner's `raise SystemExit` is an answer too
        return {"kind": "raised", "types": [k.__name__ for k in type(err).__mro__], "message": str(err)[:300]}


def _judge_case(ex: Exercise, case: Case, outcome: dict) -> CaseResult:
    """One case's verdict from its outcome (see `call_outcome`)."""
    if outcome["kind"] == "raised":
        if case.raises and case.raises.__name__ in outcome["types"]:
            return CaseResult(case.name, True, "")
        said = f": {outcome['message'][:200]}" if outcome["message"] else ""
        return CaseResult(case.name, False, f"raised {outcome['types'][0]}{said}. Hint: {ex.hint}")
    got = outcome["value"]
    if case.raises:
        return CaseResult(case.name, False, f"expected {case.raises.__name__} to be raised, got {_short(_plain(got))}")
    diff = mismatch(ex.run(ex.reference, case), got, ex.rtol, ex.atol)
    return CaseResult(case.name, diff is None, "" if diff is None else f"{diff}. Hint: {_diagnose(ex, case, got)}")


def judge(ex: Exercise, cases: list[Case], outcomes: list[dict]) -> Result:
    """The verdict on a learner's function from its outcomes on `cases` (in order; an outcome list may stop early
    after a timeout): NotImplementedError means not implemented, one timeout fails the rest of the cases."""
    results: list[CaseResult] = []
    for case, outcome in zip(cases, outcomes, strict=False):
        if outcome["kind"] == "raised" and "NotImplementedError" in outcome["types"]:
            return Result(ex.id, ex.function, "not implemented",
                          f"{ex.function} is not implemented yet (it raises NotImplementedError). Hint: {ex.hint}")
        if outcome["kind"] == "timeout":  # one endless loop is enough: the other cases are not run
            results.append(CaseResult(case.name, False, outcome["message"]))
            break
        results.append(_judge_case(ex, case, outcome))
    results += [CaseResult(c.name, False, "not run: an earlier case did not return") for c in cases[len(results):]]
    bad = [r for r in results if not r.passed]
    if not bad:
        return Result(ex.id, ex.function, "passed", f"all {len(results)} cases match the reference", tuple(results))
    return Result(ex.id, ex.function, "failed", f"{len(bad)} of {len(results)} cases wrong; case "
                  f"'{bad[0].name}': {bad[0].message}", tuple(results))


def run_check(ex: Exercise, fn: Callable, seconds: float | None = 10.0) -> Result:
    """Run the learner's `fn` on every case of `ex` in this process (each call limited to `seconds`) and judge
    it; `labkit grade` judges the same way on outcomes from its sandbox."""
    if not callable(fn):
        return Result(ex.id, ex.function, "failed", f"{ex.function} must be a function, got {type(fn).__name__}")
    cases, outcomes = ex.cases(), []
    for case in cases:
        outcomes.append(call_outcome(lambda c=case: ex.run(fn, c), seconds))
        if outcomes[-1]["kind"] == "timeout" or "NotImplementedError" in outcomes[-1].get("types", ()):
            break
    return judge(ex, cases, outcomes)
