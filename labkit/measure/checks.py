"""Pass/fail checks, one format for `labkit doctor` and the acceptance tables: what was checked, whether it
held (None: information only), what was measured, and what to do when it did not."""

from __future__ import annotations

from dataclasses import dataclass

COLORS = {True: "#1a7f37", False: "#cf222e", None: "#57606a"}
MARKS = {True: "ok", False: "not met", None: "--"}


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
