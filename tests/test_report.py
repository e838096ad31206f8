"""The report groups results by the CPU they were measured on and says what its flags decided."""

from __future__ import annotations

from labkit.core import ledger
from labkit.measure import report

EPYC = {"cpu": "AMD EPYC", "arch": "x86_64", "flags": "avx2,fma", "personality": None}
XEON = {"cpu": "Intel Xeon", "arch": "x86_64", "flags": "avx2,fma,avx512f,avx512_vnni,avx512_bf16",
        "personality": None}


def test_report_has_one_machine_row_per_cpu(tmp_path):
    for env, notebook in ((EPYC, "01_pytorch_export"), (EPYC, "03_quantization"), (XEON, "03_quantization")):
        ledger.Ledger(tmp_path / "ledger.jsonl", {"notebook": notebook, "env": env}).record("v", "export")
    page = report.render(tmp_path)
    machines = page[page.index("<h2>Machines</h2>"):page.index("<h2>Notebooks</h2>")]
    assert machines.count("<tr>") == 3  # header + two CPUs
    assert "AVX2 without VNNI" in machines and "reduce_range=True" in machines
    assert "VNNI present" in machines and "reduce_range=False" in machines and "bf16 is native" in machines
    assert "2 rows from 01_pytorch_export, 03_quantization" in machines
