"""Notebook 04 (pruning): ledger properties of a smoke run, and unit tests of labkit.prune."""

def _rows(df, variant):
    rows = df[df["variant"] == variant]
    assert len(rows), f"no ledger row named {variant!r}; have {sorted(df['variant'].unique())}"
    return rows


def test_global_unstructured_reaches_its_sparsity(smoke_run):
    _, df = smoke_run("04")
    masked = _rows(df, "global 85% masked + ft")
    assert set(masked["batch"]) == {1, 64}
    assert (masked["technique"] == "pruning").all()
    assert (masked["sparsity"] >= 0.80).all()
    assert (masked["latency_ms_p50"] > 0).all()
    # the curves span 0..95% and every pruning row carries its sparsity
    pruning = df[df["technique"] == "pruning"]
    assert pruning["sparsity"].notna().all()
    layer = df[df["variant"].str.startswith("layer-wise ")]
    assert layer["sparsity"].max() >= 0.94 and layer["sparsity"].min() <= 0.01


def test_masked_model_keeps_dense_size_but_compresses(smoke_run):
    _, df = smoke_run("04")
    dense = _rows(df, "teacher (torch)").iloc[0]
    masked = _rows(df, "global 85% masked + ft").iloc[0]
    # same number of float32 values in the file (within pickling overhead)
    assert abs(masked["size_bytes"] - dense["size_bytes"]) / dense["size_bytes"] < 0.01
    assert masked["params"] == dense["params"] and masked["macs"] == dense["macs"]
    # but gzip finds the zeros
    assert masked["gzip_bytes"] < 0.6 * dense["gzip_bytes"]


def test_channel_pruning_shrinks_params_and_macs(smoke_run):
    _, df = smoke_run("04")
    teacher = _rows(df, "teacher (onnxruntime)").iloc[0]
    for variant in ("channels 50% + ft (torch)", "channels 50% + ft (onnxruntime)"):
        rows = _rows(df, variant)
        assert set(rows["batch"]) == {1, 64}
        r = rows.iloc[0]
        assert r["params"] < 0.35 * teacher["params"]
        assert r["macs"] < 0.35 * teacher["macs"]
        assert r["sparsity"] < 0.05  # a smaller dense network, not a masked one
    onnx = _rows(df, "channels 50% + ft (onnxruntime)").iloc[0]
    assert onnx["size_bytes"] < 0.35 * teacher["size_bytes"]


def test_pruned_onnx_parity(smoke_run):
    _, df = smoke_run("04")
    for variant in ("channels 50% + ft (onnxruntime)", "teacher (onnxruntime)"):
        rows = _rows(df, variant)
        assert (rows["parity_max_abs"] <= 1e-4).all()
        assert (rows["parity_top1"] == 1.0).all()
        assert rows["parity_passed"].all()
    assert (_rows(df, "channels 50% + ft (onnxruntime)")["reference"] == "pruned (torch)").all()


def test_ledger_rows_are_unique_and_accurate(smoke_run):
    _, df = smoke_run("04")
    keys = list(zip(df["variant"], df["target"], df["batch"].fillna(-1), strict=True))
    assert len(keys) == len(set(keys))
    assert df["accuracy"].between(0, 1).all()
