"""Every promise a notebook makes (labkit/measure/acceptance.py) holds in its smoke run at its smoke threshold."""

from __future__ import annotations

import pytest

from labkit.core import notebooks
from labkit.measure import acceptance


@pytest.mark.parametrize("number", [p.name[:2] for p in notebooks.all_notebooks()])
def test_the_smoke_run_keeps_its_promises(number, smoke_run):
    out, rows = smoke_run(number)
    name = next((out / "notebooks").glob(f"{number}_*.ipynb")).stem
    verdicts = acceptance.evaluate(name, rows, "smoke")
    assert verdicts, f"{name} promises nothing: add its bars to labkit/measure/acceptance.py"
    failed = [f"{v.bar.name}: {acceptance.frame([v]).iloc[0].to_dict()}" for v in verdicts if v.passed is False]
    assert not failed, "\n".join(failed)
    assert any(v.passed for v in verdicts)


