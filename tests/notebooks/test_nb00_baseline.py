from labkit.core.ledger import FIELDS
from labkit.measure import report


def test_baseline_rows(smoke_run):
    run, df = smoke_run("00")
    assert set(FIELDS) <= set(df.columns)
    assert {(v, b) for v, b in zip(df["variant"], df["batch"], strict=True)} == {
        ("teacher (torch eager)", 1), ("teacher (torch eager)", 64),
        ("teacher (onnxruntime)", 1), ("teacher (onnxruntime)", 64)}
    assert (df["accuracy"] > 0.85).all()
    ort = df[df["runtime"] == "onnxruntime"]
    assert (ort["parity_max_abs"] <= 1e-4).all() and (ort["parity_top1"] == 1.0).all()
    assert (df["latency_ms_p50"] > 0).all() and (df["latency_ms_p90"] >= df["latency_ms_p50"]).all()
    assert (ort["size_bytes"] > 4 * 400_000).all()  # fp32 weights are in the file


def test_report_renders_the_run(smoke_run):
    run, _ = smoke_run("00")
    html = report.write_report(run).read_text()
    assert "teacher (onnxruntime)" in html and "plotly" in html
