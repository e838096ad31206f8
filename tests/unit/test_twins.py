"""labkit.techniques.twins: published shapes, bytes per token, the per-machine cache, and the sweep's verdicts."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from labkit.techniques import generation, twins


@pytest.mark.parametrize("name, params", [("SmolLM2-135M", 134_515_008), ("SmolLM2-360M", 361_821_120),
                                          ("Llama-3.2-1B", 1_235_814_400)])
def test_twins_have_the_published_parameter_counts(name, params):
    assert twins.SHAPES[name].params() == params


def test_bytes_per_token_leave_out_the_embedding_table_only_where_it_is_not_the_output_layer():
    s = twins.SMOLLM2_135M
    assert s.bytes_per_token(32) == 4 * s.params()  # tied: the table is read whole as the output layer
    untied = twins.Published(**{**s.__dict__, "tied": False})
    assert untied.bytes_per_token(32) == 4 * (untied.params() - s.vocab * s.hidden)
    cache = 2 * s.layers * s.kv_heads * s.head_dim * 100 * 4
    assert s.bytes_per_token(4, context=100) == pytest.approx(s.params() / 2 + cache)


def test_a_cut_twin_says_so_and_a_profile_names_it():
    cut = twins.parse("SmolLM2-135M:2")
    assert cut.layers == 2 and cut.label == "SmolLM2-135M twin, 2 of its 30 layers"
    assert twins.parse("SmolLM2-360M") is twins.SMOLLM2_360M
    with pytest.raises(ValueError, match="unknown twin 'GPT-5'"):
        twins.parse("GPT-5")


def test_the_cache_builds_once_and_a_racing_builder_keeps_the_first_copy(tmp_path):
    calls = []

    def make(tmp):
        calls.append(tmp)
        (tmp / "model.onnx").write_text(f"built by call {len(calls)}")

    target = tmp_path / "twin" / "fp32"
    assert twins._cached(target, make) == target and twins._cached(target, make) == target
    assert len(calls) == 1 and (target / "model.onnx").read_text() == "built by call 1"

    other = tmp_path / "twin" / "int4"

    def racing(tmp):  # another kernel finishes while this one builds
        other.mkdir()
        (other / "model.onnx").write_text("the other kernel's")
        (other / "done").touch()
        (tmp / "model.onnx").write_text("this kernel's")

    assert (twins._cached(other, racing) / "model.onnx").read_text() == "the other kernel's"
    assert sorted(p.name for p in other.parent.iterdir()) == ["fp32", "int4"]  # no temporary folder left


def _rows(genai_fp32: float, genai_int4: float) -> pd.DataFrame:
    def row(shape, runtime, precision, weight_bytes, decode, roofline):
        return {"shape": shape, "runtime": runtime, "precision": precision, "weight_bytes": weight_bytes,
                "decode_tokens_per_s": decode, "roofline_tokens_per_s": roofline}

    return pd.DataFrame([row("small", "onnxruntime-genai", "fp32", 20e6, 500.0, 1500.0),
                         row("small", "onnxruntime-genai", "int4", 3e6, 600.0, 9000.0),
                         row("large", "onnxruntime-genai", "fp32", 1.4e9, genai_fp32, 22.0),
                         row("large", "onnxruntime-genai", "int4", 0.23e9, genai_int4, 140.0)])


def test_verdicts_say_what_bounds_each_point_and_where_int4_pays():
    table = twins.verdicts(_rows(16.0, 48.0), last_level_cache=32 << 20)
    bound = dict(zip(table["shape"] + " " + table["precision"], table["bound"], strict=True))
    assert bound == {"small fp32": "cache: overhead decides", "small int4": "cache: overhead decides",
                     "large fp32": "memory bandwidth", "large int4": "overhead or arithmetic"}
    assert table.set_index(["shape", "precision"]).loc[("large", "int4"), "speedup_vs_fp32"] == pytest.approx(3.0)
    (line,) = twins.where_int4_pays(table)
    assert line == ("onnxruntime-genai: int4 decode over fp32: 1.20x at small, 3.00x at large; "
                    "int4 pays (1.5x or more) from large on")
    (line,) = twins.where_int4_pays(twins.verdicts(_rows(16.0, 20.0), 32 << 20))
    assert line.endswith("int4 reached 1.5x at no twin of this run")


class _Steady:
    """A backend whose steps take a fixed time: interleaved rounds must report it whatever the order."""

    def __init__(self, seconds: float):
        self.seconds, self.calls = seconds, 0

    def prefill(self, ids):
        return np.zeros((len(ids), 8)), None

    def step(self, tokens, state):
        self.calls += 1
        threading.Event().wait(self.seconds)
        return np.zeros((len(tokens), 8)), None


def test_interleaved_speed_reports_each_backend_with_its_quartiles():
    fast, slow = _Steady(0.001), _Steady(0.004)
    got = generation.interleaved_speed({"fast": fast, "slow": slow}, np.zeros((1, 4), np.int64), 5, rounds=3)
    assert fast.calls == slow.calls == 1 + 3 * 4  # one warm-up step, then 4 steps in each of 3 rounds
    for name in ("fast", "slow"):
        r = got[name]
        assert r["decode_tokens_per_s_q1"] <= r["decode_tokens_per_s"] <= r["decode_tokens_per_s_q3"]
        assert r["rounds"] == 3 and r["context"] == 4 and r["batch"] == 1
    assert got["fast"]["decode_tokens_per_s"] > 2 * got["slow"]["decode_tokens_per_s"]


def test_the_fused_graph_is_compared_with_the_kits_export_per_precision():
    rows = pd.concat([_rows(16.0, 48.0), _rows(20.0, 24.0).assign(runtime="onnxruntime")], ignore_index=True)
    assert twins.fused_over_exported(twins.verdicts(rows, 32 << 20)) == [
        "onnxruntime-genai over the kit's export in ONNX Runtime, fp32: 1.00x at small, 0.80x at large",
        "onnxruntime-genai over the kit's export in ONNX Runtime, int4: 1.00x at small, 2.00x at large"]
