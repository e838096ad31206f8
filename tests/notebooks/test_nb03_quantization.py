"""Notebook 03 (quantization): the smoke run's ledger, and unit tests of labkit.quantize."""

from __future__ import annotations

import pytest

from labkit.core.ledger import PRECISIONS, TECHNIQUES
from labkit.core.registry import ledger_names

FP32 = "torch fp32 eager"


ORT_FP32 = "ORT fp32"


ORT_INT8 = "ORT int8 static QDQ per-channel MinMax"


PT2E = "torch int8 pt2e PTQ compiled"


QAT = "torch int8 pt2e QAT compiled"


LITERT = "LiteRT int8 full-integer"


EXPECTED = [FP32, ORT_FP32, ORT_INT8, PT2E, QAT, LITERT, "ORT fp16", "ORT int8 static QOperator per-channel MinMax",
            "ORT int8 static QDQ per-tensor MinMax", "ORT int8 static QDQ per-channel Entropy",
            "ORT int8 static QDQ per-channel Percentile", "ORT int8 dynamic MatMul/Gemm",
            "ORT int8 dynamic default (Conv too)", "torch int8 dynamic Linear (torchao)",
            "torch int8 weight-only Linear (torchao)"]


RUNTIMES = {*ledger_names(), None}


@pytest.fixture(scope="module")
def rows(smoke_run):
    _, df = smoke_run("03")
    return df


def first(df, variant):
    hit = df[df["variant"] == variant]
    assert len(hit), f"{variant!r} is missing from the ledger; variants: {sorted(df['variant'].unique())}"
    return hit.iloc[0]


def test_nb03_records_every_variant_with_valid_fields(rows):
    for variant in EXPECTED:
        first(rows, variant)
    assert set(rows["technique"]) <= TECHNIQUES
    assert set(rows["runtime"]) <= RUNTIMES
    assert set(rows["precision"]) <= PRECISIONS
    assert {"torch", "torch-compiled", "onnxruntime", "litert"} <= set(rows["runtime"])
    assert (rows["notebook"] == "03_quantization").all()
    # unique per (variant, target, batch)
    assert not rows.duplicated(["variant", "target", "batch"]).any()


def test_nb03_latency_rows_at_batch_1_and_64(rows):
    for variant in (FP32, ORT_FP32, ORT_INT8, PT2E, LITERT):
        timed = rows[(rows["variant"] == variant) & rows["latency_ms_p50"].notna()]
        assert set(timed["batch"].astype(int)) == {1, 64}, variant
        assert (timed["latency_ms_p50"] > 0).all() and (timed["latency_ms_p90"] >= timed["latency_ms_p50"]).all()


def test_nb03_ort_static_int8_is_at_most_027x_fp32(rows):
    ratio = first(rows, ORT_INT8)["size_bytes"] / first(rows, ORT_FP32)["size_bytes"]
    assert ratio <= 0.27, ratio
    assert first(rows, ORT_INT8)["size_ratio"] == pytest.approx(ratio)


def test_nb03_int8_models_are_about_4x_smaller_on_every_runtime(rows):
    for variant in (ORT_INT8, PT2E, QAT, LITERT, "ORT int8 static QOperator per-channel MinMax"):
        assert first(rows, variant)["size_ratio"] < 0.3, variant
    # dynamic/weight-only quantization of the Linear layers only: smaller, but not 4x
    assert 0.25 < first(rows, "torch int8 weight-only Linear (torchao)")["size_ratio"] < 0.5
    assert first(rows, "ORT fp16")["size_ratio"] == pytest.approx(0.5, abs=0.05)


def test_nb03_int8_agreement_with_fp32(rows):
    int8 = rows[rows["precision"] == "int8"].groupby("variant").first()
    assert len(int8) >= 12
    issues = int8["known_issue"] if "known_issue" in int8 else None
    excused = [v for v in int8.index if issues is not None and isinstance(issues.get(v), str)]
    assert excused in ([], ["ORT int8 static QDQ per-channel full-range"]), excused
    for variant, row in int8.iterrows():
        if variant in excused:  # int16 saturation, excused only where the CPU really lacks int8 dot products
            flags = set(row["env"]["flags"].split(","))
            assert not flags & {"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"}, (variant, flags)
            assert "reduce_range" in issues[variant], variant
            continue
        # smoke: 500 test images and 64 calibration images; the legacy eager flow gets a little slack
        floor = 0.97 if "legacy" in variant else 0.99
        assert row["parity_top1"] >= floor, f"{variant}: top-1 agreement {row['parity_top1']:.2%}"
    for variant in (ORT_INT8, PT2E, LITERT):
        assert int8.loc[variant, "parity_top1"] >= 0.99, variant


def test_nb03_accuracy_floors(rows):
    base = first(rows, FP32)
    assert base["accuracy"] >= 0.90 and base["n_eval"] == 500
    for variant in (ORT_INT8, PT2E, QAT, LITERT, ORT_FP32, "ORT fp16"):
        row = first(rows, variant)
        assert row["n_eval"] == base["n_eval"], variant
        # smoke has 500 images (one image = 0.2 points); class asserts 0.5 points on the full 10k in the notebook
        assert row["accuracy"] >= base["accuracy"] - 0.01, f"{variant}: {row['accuracy']:.2%}"


def test_nb03_fp32_and_fp16_paths_pass_parity(rows):
    assert first(rows, ORT_FP32)["parity_max_abs"] <= 1e-4
    assert bool(first(rows, ORT_FP32)["parity_passed"])
    assert bool(first(rows, "ORT fp16")["parity_passed"])
