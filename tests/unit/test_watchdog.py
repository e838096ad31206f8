"""A run with a per-cell timeout says where a stuck cell was stuck (labkit.core.watchdog)."""

from __future__ import annotations

import json

import nbformat

from labkit.core import notebooks

WATCH = "import os\nfrom pathlib import Path\nfrom labkit.core.watchdog import watch_cells\n" \
        "watch_cells(Path(os.environ['LABKIT_RUN_DIR']), '{name}')"  # what lk.start does


def _notebook(tmp_path, name: str, last_cell: str):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('PROFILE = "smoke"\nTARGET = "auto"\nSEED = 0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(WATCH.format(name=name)), nbformat.v4.new_code_cell(last_cell)]
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_stuck_cell_writes_its_stack_and_fails_its_notebook(tmp_path):
    stuck = _notebook(tmp_path, "98_stuck", "import time\n\ndef waiting_for_ever():\n    time.sleep(600)\n\n"
                                            "waiting_for_ever()")
    quick = _notebook(tmp_path, "99_quick", "x = 1")
    out = notebooks.run([stuck, quick], tmp_path / "run", profile="smoke", timeout=5)
    results = json.loads((out / "summary.json").read_text())["notebooks"]
    assert results["98_stuck"]["status"] == "failed" and "timed out" in results["98_stuck"]["error"]
    stacks = (out / "stacks-98_stuck.txt").read_text()
    assert results["98_stuck"]["stacks"] == str(out / "stacks-98_stuck.txt") and "in waiting_for_ever" in stacks
    assert results["99_quick"]["status"] == "ok" and not (out / "stacks-99_quick.txt").exists()
