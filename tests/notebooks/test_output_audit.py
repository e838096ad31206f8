"""The warnings audit: every warning and stderr line that the smoke runs print must be explained here. A library
upgrade that deprecates an API the kit uses then fails this test at once, instead of surprising a learner."""

from __future__ import annotations

import json
import re

import pytest

from labkit.core import notebooks

# (pattern, the notebooks where it may appear, why it is there)
ALLOWED = [
    (r"^BusyMachineWarning: other processes keep \d+% of the CPU busy", "*",
     "the kit's own load check (labkit.measure.bench) warns that timings are noisy; CI machines are busy"),
    (r"<enum '\w+'> is an Enum subclass and is now natively supported by torch\.compile",
     {"01", "02", "03", "06", "07"},
     "torchao 0.18 registers its Enums with torch 2.13's pytree, which deprecates that; harmless until torchao is "
     "updated (its next pin)"),
    (r"^(WARNING:torchao:)?Failed to load .*/torchao/_C_\w+.*\.so: Could not load this library", {"01", "02", "06"},
     "torchao's optional CUDA and MX kernels are not in the CPU build; ExecuTorch's XNNPACK quantizer imports torchao"),
    (r"Detected no triton, on systems without Triton certain kernels will not work", {"01", "02", "06", "07"},
     "torchao notes that Triton (a GPU compiler) is absent; the kit runs on the CPU"),
    (r"UserWarning: Sparse CSR tensor support is in beta state", {"04"},
     "04 times a CSR sparse matmul on purpose to show that sparse kernels do not speed this model up"),
    (r"^def forward\(self, arg0_1: ", {"01"},
     "torch.export prints the graph it traced up to the data-dependent branch of 01's pitfall demo"),
    (r"^(\[|\]\s*|:|\d+|\w+\.cpp|"
     r"Attempted to resize a bounded tensor with a maximum capacity of \d+ elements to \d+ elements\.|"
     r"Error resizing tensor at input 0)$", {"01"},
     "01's ExecuTorch pitfall: a batch above the planned bound fails, and the runtime logs why (its C++ log reaches "
     "the notebook in pieces: file, line, message); the runtime's start-up lines are kept out by "
     "labkit.core.native_logs"),
    (r"^(Converting PyTorch Frontend ==> MIL Ops|Running MIL \w+ pipeline):", {"01"},
     "coremltools' conversion progress bars (01 converts to Core ML on purpose)"),
    (r"_onnx_program\.py:\d+: UserWarning: # The axis name: past will not be used", {"07"},
     "the exporter merges the KV cache's length axis with an equal one; the export is checked by greedy parity"),
]


def printed_records(executed: dict) -> list[tuple[str, str]]:
    """(cell id, record) for everything a notebook printed to stderr; a record is a line starting at column 0 with
    the indented lines under it (a warning's source line, a traceback's frames)."""
    records = []
    for cell in executed["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                for line in "".join(out["text"]).splitlines():
                    if line.strip() and not line[0].isspace():
                        records.append((cell.get("id", "?"), line))
    return records


def unexplained(number: str, records: list[tuple[str, str]]) -> list[str]:
    allowed = [(re.compile(p), where) for p, where, _ in ALLOWED]
    return [f"cell {cid}: {text[:200]}" for cid, text in records
            if not any(rx.search(text) and (where == "*" or number in where) for rx, where in allowed)]


@pytest.mark.parametrize("number", [p.name[:2] for p in notebooks.all_notebooks()])
def test_every_printed_warning_is_explained(number, smoke_run):
    out, _ = smoke_run(number)
    executed = next((out / "notebooks").glob(f"{number}_*.ipynb"))
    left = unexplained(number, printed_records(json.loads(executed.read_text())))
    assert not left, "printed to stderr and not explained in ALLOWED (this file):\n" + "\n".join(left)


BAR = re.compile(r"\d+%\||\d+it \[")  # a tqdm line: "desc:  40%|####      | 2/5 [...]" or "7it [...]"


def live_bars(executed: dict) -> list[str]:
    """Progress bars an executed notebook still shows as widgets: reopened after a save, each one reads
    "Error displaying widget: model not found" instead of its final line."""
    return [f"cell {cell.get('id', '?')}: {''.join(out['data'].get('text/plain', ''))[:80]}"
            for cell in executed["cells"] for out in cell.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
            and BAR.search("".join(out["data"].get("text/plain", "")))]


@pytest.mark.parametrize("number", [p.name[:2] for p in notebooks.all_notebooks()])
def test_finished_progress_bars_leave_text(number, smoke_run):
    out, _ = smoke_run(number)
    executed = next((out / "notebooks").glob(f"{number}_*.ipynb"))
    left = live_bars(json.loads(executed.read_text()))
    assert not left, "progress bars saved as widgets (use labkit.core.progress.tqdm):\n" + "\n".join(left)


def test_the_audit_catches_a_new_warning():
    executed = {"cells": [{"id": "c1", "outputs": [{"output_type": "stream", "name": "stderr", "text": [
        "/x/site-packages/lib.py:3: FutureWarning: old_api is deprecated\n", "  old_api()\n"]}]}]}
    assert unexplained("03", printed_records(executed)) == ["cell c1: /x/site-packages/lib.py:3: FutureWarning: "
                                                           "old_api is deprecated"]
    busy = {"cells": [{"id": "c2", "outputs": [{"output_type": "stream", "name": "stderr", "text": [
        "BusyMachineWarning: other processes keep 63% of the CPU busy; timings will be noisy.\n"]}]}]}
    assert unexplained("05", printed_records(busy)) == []


def test_the_bar_check_tells_a_live_bar_from_its_text():
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "m1"},
              "text/plain": ["schemes:   0%|          | 0/6 [00:00<?, ?it/s]"]}
    picker = {"application/vnd.jupyter.widget-view+json": {"model_id": "m2"}, "text/plain": ["VBox(children=(...))"]}
    done = {"text/plain": "schemes: 100%|##########| 6/6 [00:01<00:00,  4.1it/s]"}
    executed = {"cells": [{"id": "c1", "outputs": [{"output_type": "display_data", "data": d}]}
                          for d in (widget, picker, done)]}
    assert live_bars(executed) == ["cell c1: schemes:   0%|          | 0/6 [00:00<?, ?it/s]"]
