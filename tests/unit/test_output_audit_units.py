"""The warnings audit's own rules (tests/notebooks/test_output_audit.py): a new warning is caught, an explained one
is not."""

from __future__ import annotations

import re

# (pattern, the notebooks where it may appear, why it is there)
ALLOWED = [
    (r"^BusyMachineWarning: other processes keep \d+% of the CPU busy", "*",
     "the kit's own load check (labkit.measure.bench) warns that timings are noisy; CI machines are busy"),
    (r"onnxconverter_common/float16\.py:\d+: UserWarning: the float32 number .* will be truncated to", {"03"},
     "03 converts to fp16 on purpose and measures what the truncation of tiny weights costs"),
    (r"<enum 'KernelPreference'> is an Enum subclass and is now natively supported by torch\.compile", {"03"},
     "torchao 0.18 registers one of its Enums with torch 2.13's pytree, which deprecates that; harmless until "
     "torchao is updated (its next pin)"),
    (r"UserWarning: Sparse CSR tensor support is in beta state", {"04"},
     "04 times a CSR sparse matmul on purpose to show that sparse kernels do not speed this model up"),
    (r"^def forward\(self, arg0_1: ", {"01"},
     "torch.export prints the graph it traced up to the data-dependent branch of 01's pitfall demo"),
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


def test_the_audit_catches_a_new_warning():
    executed = {"cells": [{"id": "c1", "outputs": [{"output_type": "stream", "name": "stderr", "text": [
        "/x/site-packages/lib.py:3: FutureWarning: old_api is deprecated\n", "  old_api()\n"]}]}]}
    assert unexplained("03", printed_records(executed)) == ["cell c1: /x/site-packages/lib.py:3: FutureWarning: "
                                                           "old_api is deprecated"]
    busy = {"cells": [{"id": "c2", "outputs": [{"output_type": "stream", "name": "stderr", "text": [
        "BusyMachineWarning: other processes keep 63% of the CPU busy; timings will be noisy.\n"]}]}]}
    assert unexplained("05", printed_records(busy)) == []
