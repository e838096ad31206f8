"""The notebooks whose results depend on the instruction set run a second time as on an AVX2-only CPU
(torch, oneDNN and OpenVINO capped; ONNX Runtime and LiteRT cannot be), so a change that works on one
kind of CPU only is caught on any machine. That second run is their student edition's (tests/conftest.py:
STUDENT_PERSONALITY), so the unsolved exercises' fallbacks are checked on the lower CPU too."""

from __future__ import annotations

import pytest
from conftest import STUDENT_PERSONALITY

from labkit.core import ledger

PERSONALITY = "avx2"


# 01 (OpenVINO's precision, torch's kernels) and 03 (int8 and reduce_range) hold what depends on the instruction
# set; the capstone reuses the same paths, so it is not run a second time (CI time).
@pytest.mark.parametrize("number", ["01", "03"])
def test_runs_to_the_end_as_an_avx2_cpu(student_run, number):
    assert STUDENT_PERSONALITY[number] == PERSONALITY
    df = ledger.load(student_run(number))
    assert not df.empty
    envs = df["env"].tolist()
    assert all(e["personality"] == PERSONALITY for e in envs)
    assert all(set(e["flags"].split(",")) <= {"avx2", "fma"} for e in envs)


@pytest.mark.parametrize("number", ["01"])
def test_openvino_computes_fp32_as_an_avx2_cpu(student_run, number):
    df = ledger.load(student_run(number))
    assert set(df[df["runtime"] == "openvino"]["precision"]) <= {"fp32", "fp16"}  # fp16: the fp16-weights IR
    assert set(df[df["variant"] == "openvino default precision"]["precision"]) == {"fp32"}


@pytest.mark.parametrize("number", ["03"])
def test_reduce_range_is_decided_from_the_capped_flags(student_run, number):
    df = ledger.load(student_run(number))
    qdq = df[df["variant"] == "ORT int8 static QDQ per-channel MinMax"]
    assert qdq["reduce_range"].astype(bool).all()
    assert (qdq["parity_top1"] >= 0.99).all()
