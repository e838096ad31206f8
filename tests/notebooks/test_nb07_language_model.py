"""Notebook 07 (a language model on a laptop): the smoke run's ledger, the shipped model against its manifest,
and unit tests of the memory arithmetic, the generation loop and the text data."""


from __future__ import annotations

import math

import pytest

from labkit.core.ledger import PRECISIONS

FP32, ORT_FP32 = "torch fp32", "ORT fp32"


ORT_INT4, AO_INT8, AO_INT4 = "ORT int4 MatMulNBits g32", "torchao int8 weight-only", "torchao int4 weight-only g32"
NNCF_INT8, NNCF_INT4, GENAI = "OpenVINO NNCF int8", "OpenVINO NNCF int4 g32", "onnxruntime-genai fp32"


LM_KEYS = ("perplexity", "prefill_tokens_per_s", "decode_tokens_per_s", "context")


@pytest.fixture(scope="module")
def rows(smoke_run):
    _, df = smoke_run("07")
    return df


def first(df, variant):
    hit = df[df["variant"] == variant]
    assert len(hit), f"no ledger row for {variant!r}; rows: {sorted(df['variant'])}"
    return hit.iloc[0]


def test_rows_carry_the_language_model_keys(rows):
    for variant in (FP32, ORT_FP32, ORT_INT4, AO_INT8, AO_INT4, NNCF_INT8, NNCF_INT4, GENAI):
        row = first(rows, variant)
        assert row["technique"] == "language-model" and row["precision"] in PRECISIONS
        for key in LM_KEYS:
            assert row[key] is not None and row[key] > 0, (variant, key)
        assert row["context"] == 256 and row["batch"] == 1
    assert first(rows, ORT_INT4)["precision"] == "int4" and first(rows, AO_INT8)["precision"] == "int8"


def test_onnx_runtime_greedy_parity(rows):
    row = first(rows, ORT_FP32)
    assert row["greedy_identical"] == 64  # 64 new greedy tokens, identical to PyTorch
    assert row["parity_passed"] and row["parity_max_abs"] <= 1e-4  # the fp32 tolerance of lk.parity


def test_int4_file_at_most_035_of_fp32(rows):
    assert first(rows, ORT_INT4)["size_bytes"] <= 0.35 * first(rows, ORT_FP32)["size_bytes"]


def test_weight_only_perplexity_ratios(rows):
    # Held to the bars at smoke scale: the ratios are taken on the same held-out windows for every
    # variant, so fewer windows add noise to each perplexity but little to their ratio.
    fp32 = first(rows, FP32)["perplexity"]
    assert first(rows, AO_INT8)["perplexity"] <= 1.03 * fp32
    assert first(rows, ORT_INT4)["perplexity"] <= 1.10 * fp32
    assert first(rows, AO_INT4)["perplexity"] <= 1.10 * fp32
    assert abs(first(rows, ORT_FP32)["perplexity"] / fp32 - 1) < 1e-3  # the same model, exported


def test_kv_cache_speedup_is_recorded(rows):
    # a benchmark (the >= 3x bar is the acceptance cell's, in class): here only that it was measured
    speedup = first(rows, FP32)["kv_cache_speedup"]
    assert speedup is not None and math.isfinite(speedup) and speedup > 0


def test_openvino_ran_in_fp32_with_parity(rows):
    row = first(rows, "OpenVINO fp32")
    assert row["precision"] == "fp32" and row["parity_passed"] and row["greedy_identical"] == 64


def test_nncf_weight_compression_for_openvino(rows):
    fp32, ort_fp32 = first(rows, FP32)["perplexity"], first(rows, ORT_FP32)["size_bytes"]
    int8, int4 = first(rows, NNCF_INT8), first(rows, NNCF_INT4)
    for row in (int8, int4):
        assert row["runtime"] == "openvino" and row["computed_in"] == "fp32"  # f32 asked for, and reported
    assert int8["precision"] == "int8" and int4["precision"] == "int4" and int4["group"] == 32
    # the bars: int8 within 3% of fp32, int4 within 10% (on the same held-out windows)
    assert int8["perplexity"] <= 1.03 * fp32 and int4["perplexity"] <= 1.10 * fp32
    # 8 of 32 bits plus a scale and zero point per row; 4 bits plus a scale per group (the embedding and output
    # layer kept in int8 by NNCF's default): the same size bars as the kit's other int8 and int4 files
    assert int8["size_bytes"] <= 0.27 * ort_fp32 and int4["size_bytes"] <= 0.35 * ort_fp32
    assert int4["size_bytes"] < int8["size_bytes"]


def test_onnxruntime_genai_greedy_parity(rows):
    row = first(rows, GENAI)
    assert row["runtime"] == "onnxruntime-genai" and row["precision"] == "fp32"
    assert row["greedy_identical"] == 64  # its own greedy search, 64 new tokens identical to PyTorch
    assert row["parity_passed"] and row["parity_max_abs"] <= 1e-4  # the fp32 tolerance of lk.parity
    assert abs(row["perplexity"] / first(rows, FP32)["perplexity"] - 1) < 1e-3  # the same model, rebuilt


def test_timing_twins_are_labelled_and_carry_their_roofline(rows):
    twins = rows[rows["timing_twin"].eq(True)]
    assert set(zip(twins["runtime"], twins["precision"], strict=True)) == {
        ("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("onnxruntime", "int4"), ("onnxruntime-genai", "fp32"),
        ("onnxruntime-genai", "int4"), ("openvino", "fp32"), ("openvino", "int8"), ("openvino", "int4")}
    for key in ("shape", "weight_bytes", "bandwidth_gbs", "roofline_tokens_per_s", "prefill_tokens_per_s",
                "decode_tokens_per_s", "decode_tokens_per_s_q1", "decode_tokens_per_s_q3"):
        assert twins[key].notna().all(), key
    assert twins["perplexity"].isna().all()  # a twin's text is noise: no quality is claimed for it
    assert twins["variant"].str.contains(" twin").all()
    for _, group in twins.groupby("runtime"):
        by = group.set_index("precision")["weight_bytes"]
        assert by["int4"] < by["fp32"] / 5  # 4 bits and their scales against 32
    assert (twins["roofline_tokens_per_s"] > 0).all() and (twins["bandwidth_gbs"] > 1).all()
