"""Where a stuck cell is. Under `labkit run --timeout`, the kernel writes every thread's Python stack to the run
folder when one cell has run close to the limit, so a run that hangs says where it hung, even in native code
(a deadlock between thread pools, a runtime that never returns), before the cell is stopped."""

from __future__ import annotations

import faulthandler
import os
import sys
from pathlib import Path
from typing import IO

STACKS_AFTER_VAR = "LABKIT_STACKS_AFTER"  # seconds one cell may run before the stacks are written

_stacks_file: IO | None = None  # open while the kernel watches its cells


def stacks_path(run_dir: Path, notebook: str) -> Path:
    """The file a notebook's kernel writes its threads' stacks to."""
    return Path(run_dir) / f"stacks-{notebook}.txt"


def watch_cells(run_dir: Path, notebook: str) -> Path | None:
    """When $LABKIT_STACKS_AFTER is set, arm a timer at the start of every cell that writes each thread's stack to
    stacks-NOTEBOOK.txt in the run folder once the cell has run that many seconds. Returns that file, or None when
    not asked for, or outside IPython."""
    global _stacks_file
    after = os.environ.get(STACKS_AFTER_VAR)
    shell = sys.modules["IPython"].get_ipython() if after and "IPython" in sys.modules else None  # a kernel has it
    if shell is None:
        return None
    seconds = float(after)
    path = stacks_path(run_dir, notebook)
    if _stacks_file is None:  # once per kernel, however often lk.start runs
        _stacks_file = path.open("w")
        shell.events.register("pre_run_cell", lambda info: faulthandler.dump_traceback_later(seconds,
                                                                                            file=_stacks_file))
        shell.events.register("post_run_cell", lambda result: faulthandler.cancel_dump_traceback_later())
    faulthandler.dump_traceback_later(seconds, file=_stacks_file)  # the cell running lk.start
    return path
