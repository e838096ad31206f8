"""Taking an exercise's function out of a notebook: by its nbgrader grade_id, with exactly the imports and
definitions it needs (read with ast, nothing run), "forbidden" when it reaches the kit, and the kit's check
cells put back over edited or deleted ones."""

from __future__ import annotations

import json

import pytest

from labkit.classroom import exercises
from labkit.classroom.extract import ExtractError, extract, grade_id, restore_check_cells
from labkit.core import notebooks

EX = exercises.get("03.fake_quant")


def _cell(source, gid: str | None = None, kind: str = "code") -> dict:
    meta = {"nbgrader": {"grade_id": gid}} if gid else {}
    return {"cell_type": kind, "metadata": meta, "source": source, "outputs": [], "execution_count": None}


def _cells(body: str, before: list[str] = ()) -> list[dict]:
    return [*map(_cell, before), _cell(f"def fake_quant_per_channel(w, bits=8):\n{body}", grade_id(EX))]


def test_only_what_the_function_needs_comes_along():
    cells = _cells("    return helper(w) * SCALE", [
        "%matplotlib inline\nimport numpy as np\nimport torch\nimport labkit as lk",  # a magic, unused imports
        "SCALE = 2.0\nteacher = lk.models.load_teacher()",  # the notebook's state: not needed
        "def helper(x):\n    return np.asarray(x, np.float32)",
        "this cell does not parse (",
    ])
    got = extract(cells, EX)
    assert got.forbidden == ""
    assert got.code.split("\n\n") == ["import numpy as np", "SCALE = 2.0",
                                      "def helper(x):\n    return np.asarray(x, np.float32)",
                                      "def fake_quant_per_channel(w, bits=8):\n    return helper(w) * SCALE\n"]


def test_a_local_name_does_not_pull_in_a_global_of_the_same_name():
    cells = _cells("    scale = 1.0\n    return w * scale", ["scale = lk.something()"])
    assert extract(cells, EX).code == "def fake_quant_per_channel(w, bits=8):\n    scale = 1.0\n    return w * scale\n"


@pytest.mark.parametrize("body, before, why", [
    ("    return lk.quant_math.fake_quantize(w, bits)", ["import labkit as lk"], "(it imports labkit)"),
    ("    return q(w, bits)", ["from labkit.techniques.quant_math import fake_quantize as q"], "(it imports labkit)"),
    ("    return __import__('lab' 'kit')", [], "(it names 'labkit' in a string)"),
    ("    import sklearn\n    return w", [], "imports sklearn: exercise 03.fake_quant's solution may use numpy"),
])
def test_reaching_the_kit_or_another_library_is_forbidden(body, before, why):
    assert why in extract(_cells(body, before), EX).forbidden


def test_missing_renamed_and_broken_cells():
    with pytest.raises(ExtractError, match="grade_id '03-fake_quant'") as err:
        extract([_cell("def fake_quant_per_channel(w, bits=8):\n    return w")], EX)
    assert err.value.status == "missing"
    with pytest.raises(ExtractError, match="no longer defines fake_quant_per_channel") as err:
        extract([_cell("def mine(w):\n    return w", grade_id(EX))], EX)
    assert err.value.status == "error"
    with pytest.raises(ExtractError, match="does not parse"):
        extract(_cells("    return (w"), EX)
    with pytest.raises(ExtractError, match="2 cells claim"):
        extract(_cells("    return w") * 2, EX)


def test_check_cells_are_the_kits_again():
    kit = json.loads(notebooks.find_notebook("02").read_text())["cells"]
    check = grade_id(exercises.get("02.conv_kernel"), check=True)
    edited = [dict(c, source="print('no check')") if c["metadata"].get("nbgrader", {}).get("grade_id") == check
              else c for c in kit]
    deleted = [c for c in kit if c["metadata"].get("nbgrader", {}).get("grade_id") != check]
    doubled = [*kit, *[c for c in kit if c["metadata"].get("nbgrader", {}).get("grade_id") == check]]
    for cells in (edited, deleted, doubled):
        assert restore_check_cells(cells, kit) == kit
