"""The notebooks whose results depend on the instruction set run a second time as on an AVX2-only CPU
(torch, oneDNN and OpenVINO capped; ONNX Runtime and LiteRT cannot be), so a change that works on one
kind of CPU only is caught on any machine."""

from __future__ import annotations

import pytest

PERSONALITY = "avx2"


# 01 (OpenVINO's precision, torch's kernels) and 03 (int8 and reduce_range) hold what depends on the instruction
# set; the capstone reuses the same paths, so it is not run a second time (CI time).
@pytest.mark.parametrize("name", ["01", "03"])
def test_runs_to_the_end_as_an_avx2_cpu(smoke_run, name):
    _, df = smoke_run(name, PERSONALITY)
    assert not df.empty
    envs = df["env"].tolist()
    assert all(e["personality"] == PERSONALITY for e in envs)
    assert all(set(e["flags"].split(",")) <= {"avx2", "fma"} for e in envs)


@pytest.mark.parametrize("number", ["01"])  # the id [01] puts it beside 01's run (tests/conftest.py: shared_run)
def test_openvino_computes_fp32_as_an_avx2_cpu(smoke_run, number):
    _, df = smoke_run(number, PERSONALITY)
    assert set(df[df["runtime"] == "openvino"]["precision"]) <= {"fp32", "fp16"}  # fp16: the fp16-weights IR
    assert set(df[df["variant"] == "openvino default precision"]["precision"]) == {"fp32"}


@pytest.mark.parametrize("number", ["03"])
def test_reduce_range_is_decided_from_the_capped_flags(smoke_run, number):
    _, df = smoke_run(number, PERSONALITY)
    qdq = df[df["variant"] == "ORT int8 static QDQ per-channel MinMax"]
    assert qdq["reduce_range"].astype(bool).all()
    assert (qdq["parity_top1"] >= 0.99).all()
