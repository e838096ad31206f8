"""The notebooks' prose states rules, not one machine's facts: a markdown sentence that pins a hardware
fact or a speed result on the machine in hand ("this CPU has no VNNI", "several times faster") is a defect,
because learners run the kit on other CPUs. What holds here is printed from the flags and the run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labkit.core.paths import notebooks_dir

# "this CPU", "our machine", "this lab's AVX2 machine", "this kind of CPU", ...
MACHINE = re.compile(r"\b(this|our|the lab's|this lab's|the current)\s+(\S+\s+){0,2}?"
                     r"(cpu|cpus|machine|laptop|processor|computer|hardware)\b", re.I)
HARDWARE = re.compile(r"vnni|avx|amx|bf16|fp16|int8|simd|arithmetic|instructions?|faster|slower|speed", re.I)
# a speed ratio typed as a result rather than printed from the run
TYPED_SPEEDUP = re.compile(r"\b(several|many|\d+(\.\d+)?)\s*(times|x)\s+(faster|slower)\b", re.I)
# sentences that say where the fact comes from, or state a condition, are rules
# (a bar such as "at least 4x faster" is a target the run is checked against, not a result)
SOURCED = re.compile(r"\b(prints?|printed|reads?|shows?|tells?|decides?|if|whether|check|offers|can|may|"
                     r"up to|at least|at most|depends?)\b", re.I)


def sentences(text: str) -> list[str]:
    text = re.sub(r"`[^`]*`", "CODE", text.replace("\n", " "))
    return [s.strip() for s in re.split(r"(?<=[.!?:;])\s+|\s+-\s+", text) if s.strip()]


def machine_claims(nb: dict) -> list[str]:
    """Markdown sentences of a notebook that assert a fact about the machine in hand."""
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for s in sentences("".join(cell["source"])):
            pinned = MACHINE.search(s) and HARDWARE.search(s)
            if s.endswith("?"):  # a question the notebook answers from the run
                continue
            if (pinned or TYPED_SPEEDUP.search(s)) and not SOURCED.search(s):
                found.append(s)
    return found


@pytest.mark.parametrize("path", sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_no_machine_specific_claims_in_markdown(path: Path):
    claims = machine_claims(json.loads(path.read_text()))
    assert not claims, "state the rule per kind of CPU and print what holds here:\n" + "\n".join(claims)


@pytest.mark.parametrize("sentence", [
    "On a CPU without VNNI (this lab's AVX2 machine) it is well below 99%.",
    "float16 halves the file; this CPU has no fp16 arithmetic, so expect no speed-up.",
    "On this kind of CPU int8 is mostly a **size** win.",
    "They come from ONNX Runtime, which runs this CNN several times faster than eager PyTorch.",
])
def test_the_check_catches_typed_machine_facts(sentence):
    """Sentences the notebooks held before this check existed."""
    assert machine_claims({"cells": [{"cell_type": "markdown", "source": [sentence]}]})
