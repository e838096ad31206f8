"""Pass/fail checks, one format for `labkit doctor` and the acceptance tables: what was checked, whether it
held (None: information only), what was measured, and what to do when it did not."""

from __future__ import annotations

import html
from dataclasses import dataclass

COLORS = {True: "#1a7f37", False: "#cf222e", None: "#57606a"}
MARKS = {True: "ok", False: "not met", None: "--"}
PITFALL_COLOR = "#9a6700"  # amber: shown on purpose, not a failure of the run


@dataclass(frozen=True)
class Check:
    """One check: `passed` is None for information that is not a problem either way."""

    name: str
    passed: bool | None
    measured: str = ""
    fix: str = ""


def line(check: Check) -> str:
    """One check as a line of text: `[ok] name: measured`, and the fix on the next line when it failed."""
    text = f"[{MARKS[check.passed]}] {check.name}" + (f": {check.measured}" if check.measured else "")
    return text + (f"\n      fix: {check.fix}" if check.passed is False and check.fix else "")


@dataclass(frozen=True, repr=False)
class Pitfall:
    """A legacy path or a known mistake shown on purpose: the call tried, what it said, and the fix. Displays as
    one short styled block in a notebook (`_repr_html_`), as two lines of text elsewhere."""

    tried: str
    said: tuple[str, ...]
    fix: str

    def __str__(self) -> str:
        return f"{self.tried} -> " + "\n    ".join(self.said) + f"\nfix: {self.fix}"

    __repr__ = __str__  # what a notebook saved as text shows

    def _repr_html_(self) -> str:
        said = "<br>".join(html.escape(s) for s in self.said)
        return (f"<div style='border-left:4px solid {PITFALL_COLOR};padding:2px 8px'>"
                f"<b style='color:{PITFALL_COLOR}'>pitfall</b> <code>{html.escape(self.tried)}</code> &rarr; {said}"
                f"<br><b>fix:</b> {html.escape(self.fix)}</div>")


def pitfall(tried: str, said, fix: str, width: int = 160) -> Pitfall:
    """What a legacy or wrong call said, in short: `said` is the exception it raised (its type and first line), the
    warnings it gave (`warnings.catch_warnings(record=True)`: how many, and each distinct first line) or a text."""
    if isinstance(said, BaseException):
        lines = [f"{type(said).__name__}: {_first_line(said)}"]
    elif isinstance(said, str):
        lines = [said]
    else:
        caught = list(said)
        distinct = sorted({_first_line(w.message) for w in caught})
        lines = [f"{len(caught)} warning(s), {len(distinct)} distinct:", *distinct]
    return Pitfall(tried, tuple(s if len(s) <= width else s[:width - 3] + "..." for s in lines), fix)


def _first_line(obj) -> str:
    text = str(obj).strip()
    return " ".join(text.splitlines()[0].split()) if text else "(no message)"
