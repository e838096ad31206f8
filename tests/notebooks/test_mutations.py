"""Checks that can fail: a deliberately broken change makes the notebook's acceptance cell fail and
`labkit verify` name the promise it broke. Each mutation (tests/notebooks/mutants/sitecustomize.py) plants one realistic
bug in a library the notebook calls, in the kernel only, and runs the notebook in smoke."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from labkit.core import notebooks
from labkit.measure import acceptance

MUTANTS = Path(__file__).parent / "mutants"
CASES = [  # notebook, mutation, the bar that must catch it
    ("07", "quantizer_that_skips_every_node", "07.int4_size"),
    ("04", "masking_pruner", "04.channel_macs"),
    ("00", "runtime_in_half_precision", "00.ort_parity"),
]


@pytest.mark.parametrize(("notebook", "mutation", "bar"), CASES, ids=[c[1] for c in CASES])
def test_verify_catches_a_broken_change(notebook, mutation, bar, tmp_path):
    path = os.pathsep.join(p for p in (str(MUTANTS), os.environ.get("PYTHONPATH")) if p)
    with notebooks.kernel_env({"PYTHONPATH": path, "LABKIT_MUTATION": mutation}):
        out = notebooks.run([notebooks.find_notebook(notebook)], tmp_path / "run", profile="smoke")
    report = acceptance.verify_run(out)
    failed = {v.bar.name for v in report.verdicts if v.passed is False}
    assert not report.passed and bar in failed, f"{mutation} went unnoticed: failed bars {failed}"
    result = next(iter(json.loads((out / "summary.json").read_text())["notebooks"].values()))
    assert result["status"] == "failed", f"the notebook ran to the end despite {mutation}"
    if result["error"].startswith("AcceptanceError"):  # else an earlier check in the notebook stopped it first
        assert bar in result["error"], result["error"]
