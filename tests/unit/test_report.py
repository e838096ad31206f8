"""The report reads like a document: the machine card first, the run, the model to ship, one section per notebook
with its promises and its rows in units a person reads; `labkit report --markdown` writes the same as a Markdown
page that depends on the run folder alone, and the shipped reference page in docs/reference/ is what the current
code renders from the ledger shipped beside it."""

from __future__ import annotations

import html
import json
import re
import shutil

import pytest

from labkit import cli
from labkit.core import ledger
from labkit.core.paths import REPO_DIR
from labkit.measure import markdown_report, report, units

EPYC = {"cpu": "AMD EPYC", "arch": "x86_64", "cores": 2, "flags": "avx2,fma", "personality": None,
        "versions": {"torch": "2.13.0"}}
XEON = {"cpu": "Intel Xeon", "arch": "x86_64", "cores": 8, "flags": "avx2,fma,avx512f,avx512_vnni,avx512_bf16",
        "personality": None, "versions": {"torch": "2.13.0"}}
REFERENCE = REPO_DIR / "docs" / "reference"


def _record(run, notebook, env, variant, technique, **measured):
    ledger.Ledger(run / "ledger.jsonl", {"notebook": notebook, "env": env, "profile": "class", "seed": 0,
                                         "target": "cpu"}).record(variant, technique, **measured)


def _run(tmp_path):
    """A class run folder of notebooks 00 and 03 with long floats, as the notebooks record them, and a decision."""
    run = tmp_path / "run"
    for batch, ms in ((1, 0.59759050031971), (64, 19.026835125009529)):
        _record(run, "00_setup_and_baseline", EPYC, "teacher (torch eager)", "baseline", runtime="torch",
                batch=batch, accuracy=0.9374, params=468010, n_eval=10000, latency_ms_p50=ms * 3.1,
                latency_ms_p90=ms * 3.4)
        _record(run, "00_setup_and_baseline", EPYC, "teacher (onnxruntime)", "baseline", runtime="onnxruntime",
                batch=batch, accuracy=0.9374, params=468010, size_bytes=1893007, n_eval=10000, latency_ms_p50=ms,
                latency_ms_p90=ms * 1.2, parity_max_abs=7.62939453125e-06, parity_top1=1.0, parity_passed=True)
    for variant, precision, acc, size, ms in (("ORT fp32", "fp32", 0.9374, 1893007, 19.0268351250095),
                                             ("ORT int8 static QDQ per-channel MinMax", "int8", 0.9351, 484123,
                                              16.123456789012345),
                                             ("ORT int8 dynamic", "int8", 0.9312, 480001, 25.987654321098765)):
        _record(run, "03_quantization", EPYC, variant, "quantization", runtime="onnxruntime", precision=precision,
                batch=64, accuracy=acc, size_bytes=size, n_eval=10000, latency_ms_p50=ms, latency_ms_p90=ms * 1.1,
                parity_top1=0.99321, parity_max_abs=0.0123456789, parity_passed=True)
    (run / "summary.json").write_text(json.dumps({
        "profile": "class", "target": "auto", "seed": 0, "started": "2026-11-29T15:23:06", "env": EPYC,
        "notebooks": {"00_setup_and_baseline": {"status": "ok", "seconds": 43.4},
                      "03_quantization": {"status": "failed", "seconds": 404.1, "cell": 7,
                                          "error": "ZeroDivisionError: division by zero"}}}))
    (run / "decision.json").write_text(json.dumps({
        "chosen": "ORT int8", "why": "the most accurate that fits",
        "budgets": {"latency_ms_p50_b64": 12.920526375012287, "size_bytes": 189295.1, "accuracy_floor": 0.915},
        "accuracy": 0.9351, "size_bytes": 484123, "latency_ms_p50_b64": 16.123456789012345,
        "parity": {"reference": "ORT fp32", "passed": True, "top1": 0.99321, "max_abs": 9.5367431640625e-06},
        "pipeline_stages": "1 teacher: 93.00% | 2 int8: 92.00%"}))
    return run


def _text(page: str) -> str:
    """What a reader sees of an HTML page: no scripts (plotly's data), no raw ledger, no tags."""
    page = re.sub(r"<script.*?</script>|<details>.*?</details>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _headings(markdown: str, level: str) -> list[str]:
    return [line[len(level) + 1:] for line in markdown.splitlines() if line.startswith(level + " ")]


def test_units_and_digits():
    assert units.text("size_bytes", 1893007) == "1.89 MB" and units.text("size_bytes", 189295.1) == "189.3 KB"
    assert units.text("accuracy", 0.9374) == "93.74%" and units.text("latency_ms_p50", 19.026835) == "19.0 ms"
    assert units.text("latency_ms_p50", 0.59759) == "0.598 ms" and units.text("latency_ms_p50", 1956.8) == "1,957 ms"
    assert units.text("parity_max_abs", 7.62939453125e-06) == "7.6e-06" and units.text("parity_passed", False) == \
        "failed"
    assert units.text("accuracy", float("nan")) == "" and units.label("latency_ms_p50") == "median latency"
    assert units.axis_title("latency_ms_p50", 64) == "median latency at batch 64 (ms)"
    assert units.quantity(0.0165982, "") == "0.0166" and units.quantity(0.2574, "x") == "0.257x"
    assert units.quantity(0.99321, "%") == "99.32%" and units.quantity(1.5, "points") == "+1.50 points"


def test_html_reads_like_a_document(tmp_path):
    page = report.render(_run(tmp_path))
    text = _text(page)
    order = [page.index(h) for h in ("<h2 id='machine'>", "<h2 id='run'>", "<h2 id='decision'>",
                                     "<section id='00_setup_and_baseline'>", "<section id='03_quantization'>")]
    assert order == sorted(order), "machine card, run, decision, then the notebooks in run order"
    assert page.count("<section id=") == 2
    card = page[order[0]:order[1]]
    assert "AMD EPYC" in card and "AVX2 without VNNI" in card and "avx2, fma" in card and "yes: int8" in card
    for shown in ("0.7 min", "1.89 MB", "484.1 KB", "93.74%", "19.0 ms", "16.1 ms", "12.9 ms", "189.3 KB", "91.50%",
                  "7.6e-06"):
        assert shown in text, shown
    assert not re.search(r"\d\.\d{7,}", text), "floats with their 16 digits"
    assert "{'" not in text and "': " not in text, "a Python dict printed as is"
    assert "latency_ms_p50" not in text and "size_bytes" not in text, "ledger keys as names"
    assert "ZeroDivisionError" in page and "plotly" in page
    assert "#cf222e" in page[order[4]:], "the failed notebook is marked red"
    assert "<details>" in page and page.index("<details>") > order[4], "the raw ledger last, folded"
    charts = page[order[4]:]  # 03 timed three variants at batch 64, with different accuracies; 00 one accuracy
    assert charts.count("Plotly.newPlot") == 2 and page[order[3]:order[4]].count("Plotly.newPlot") == 1
    assert page[:order[3]].count("Plotly.newPlot") == 0
    assert '"orientation":"h"' in charts and '"text":"median latency at batch 64 (ms)"' in charts
    assert '"tickformat":".1%"' in charts and "+text" not in charts, "names on hover, not overlapping on the chart"


def test_report_has_one_machine_column_per_cpu(tmp_path):
    for env, notebook in ((EPYC, "01_pytorch_export"), (EPYC, "03_quantization"), (XEON, "03_quantization")):
        ledger.Ledger(tmp_path / "ledger.jsonl", {"notebook": notebook, "env": env}).record("v", "export")
    page = report.render(tmp_path)
    card = page[page.index("<h2 id='machine'>"):page.index("<h2 id='run'>")]
    assert "Machines (2 CPUs)" in card and card.count("<th>machine ") == 2
    assert "AVX2 without VNNI" in card and "yes: int8 weights use 7 bits" in card
    assert "VNNI present" in card and "no: full 8-bit weights are safe" in card and "bf16 is native" in card
    assert "2 from 01_pytorch_export, 03_quantization" in card and "1 from 03_quantization" in card


def test_markdown_page_structure(tmp_path):
    run = _run(tmp_path)
    md = markdown_report.render_markdown(run)
    assert _headings(md, "#") == ["labkit results: class profile"]
    assert _headings(md, "##") == ["Machine", "Run", "The model to ship", "00_setup_and_baseline", "03_quantization"]
    assert "[03_quantization](#03_quantization)" in md, "the run table links each notebook's section"
    assert not re.search(r"\d\.\d{7,}", md) and "{'" not in md
    assert "| teacher (onnxruntime) | onnxruntime | 93.74% | 10,000 | 1.89 MB |" in md  # n beside every accuracy
    assert "**failed**: stopped at cell 7: ZeroDivisionError" in md
    for table in re.findall(r"(?:^\|.*\|\n)+", md, flags=re.M):  # every table is rectangular
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert len(widths) == 1, table


def test_markdown_depends_on_the_run_folder_alone(tmp_path):
    run = _run(tmp_path)
    copy = shutil.copytree(run, tmp_path / "elsewhere")
    assert markdown_report.render_markdown(run) == markdown_report.render_markdown(copy)


def test_cli_writes_markdown_beside_the_html(tmp_path, capsys):
    run = _run(tmp_path)
    assert cli.main(["report", str(run), "--markdown"]) == 0
    assert (run / "results.md").read_text() == markdown_report.render_markdown(run)
    assert not (run / "report.html").exists()
    assert cli.main(["report", str(run)]) == 0 and (run / "report.html").exists()


@pytest.mark.skipif(not (REFERENCE / "ledger.jsonl").exists(),
                    reason="docs/reference/ holds no run yet: copy a class run's ledger.jsonl, summary.json and "
                           "decision.json there, then `labkit report docs/reference --markdown` writes results.md")
def test_shipped_reference_page_is_current():
    rows = ledger.load(REFERENCE)
    missing = [k for k in ledger.FIELDS if k not in rows.columns]
    assert not missing, f"docs/reference/ledger.jsonl lacks the ledger keys {missing}: re-run the class profile"
    assert json.loads((REFERENCE / "summary.json").read_text())["profile"] == "class"
    assert (REFERENCE / markdown_report.FILE).read_text() == markdown_report.render_markdown(REFERENCE), (
        "docs/reference/results.md is stale: `labkit report docs/reference --markdown` rewrites it")
