"""CPU detection on canned inputs from each kind of machine a learner may bring, and the rules the kit
derives from the flags (int8 dot products, bf16, reduce_range, personalities)."""

from __future__ import annotations

import pytest

from labkit.core import cpu

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni vaes
"""
XEON_CASCADE = """model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz
flags\t\t: sse4_2 avx fma avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx_vnni avx512_bf16
"""
XEON_SAPPHIRE = """model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: avx2 fma avx512f avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
"""
GRAVITON3 = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm asimddp i8mm bf16
CPU implementer\t: 0x41
"""
MAC_M2 = """hw.optional.arm.FEAT_AdvSIMD: 1
hw.optional.arm.FEAT_DotProd: 1
hw.optional.arm.FEAT_FP16: 1
hw.optional.arm.FEAT_BF16: 1
hw.optional.arm.FEAT_I8MM: 1
hw.optional.arm.FEAT_SME: 0
machdep.cpu.brand_string: Apple M2
"""
MAC_INTEL = """machdep.cpu.brand_string: Intel(R) Core(TM) i9-9880H CPU @ 2.30GHz
machdep.cpu.features: FPU VME SSE SSE2 SSE4.1 SSE4.2 AVX1.0 FMA
machdep.cpu.leaf7_features: RDWRFSGS BMI1 AVX2 SMEP BMI2 ERMS
"""

def view(text: str, machine: str, parse=cpu.parse_proc_cpuinfo, forced=None) -> dict:
    model, flags = parse(text)
    return cpu.describe(model, flags, machine, forced)


@pytest.mark.parametrize("text, machine, parse, model, int8_dot, bf16, reduce_range", [
    (EPYC, "x86_64", cpu.parse_proc_cpuinfo, "AMD EPYC 7B13", False, False, True),
    (XEON_CASCADE, "x86_64", cpu.parse_proc_cpuinfo, "Intel(R) Xeon(R) CPU @ 2.20GHz", True, True, False),
    (XEON_SAPPHIRE, "x86_64", cpu.parse_proc_cpuinfo, "Intel(R) Xeon(R) Platinum 8480+", True, True, False),
    (GRAVITON3, "aarch64", cpu.parse_proc_cpuinfo, "aarch64", True, True, False),
    (MAC_M2, "arm64", cpu.parse_sysctl, "Apple M2", True, True, False),
    (MAC_INTEL, "x86_64", cpu.parse_sysctl, "Intel(R) Core(TM) i9-9880H CPU @ 2.30GHz", False, False, True),
])
def test_each_kind_of_cpu(text, machine, parse, model, int8_dot, bf16, reduce_range):
    info = view(text, machine, parse)
    assert info["model"] == model and info["flags_known"]
    assert info["capabilities"]["int8_dot"] is int8_dot
    assert info["capabilities"]["bf16_native"] is bf16
    assert cpu.needs_reduce_range(info) is reduce_range
    assert cpu.int8_outlook(info) and cpu.bf16_outlook(info)


def test_amx_and_fp16_are_told_apart():
    spr, cascade = view(XEON_SAPPHIRE, "x86_64"), view(XEON_CASCADE, "x86_64")
    assert spr["capabilities"]["amx"] and spr["capabilities"]["fp16_native"]
    assert not cascade["capabilities"]["amx"] and not cascade["capabilities"]["fp16_native"]
    assert "AMX" in cpu.int8_outlook(spr) and "VNNI" in cpu.int8_outlook(cascade)
    assert "SDOT" in cpu.int8_outlook(view(GRAVITON3, "aarch64"))


def test_unknown_flags_claim_nothing():
    info = cpu.describe(None, set(), "x86_64")
    assert not info["flags_known"] and info["capabilities"]["int8_dot"] is None
    assert cpu.needs_reduce_range(info) is False
    assert "unknown" in cpu.int8_outlook(info)


def test_avx2_personality_hides_everything_above_avx2():
    info = view(XEON_SAPPHIRE, "x86_64", forced=cpu.PERSONALITIES["avx2"])
    assert info["personality"] == "avx2"
    assert [f for f, on in info["flags"].items() if on] == ["avx2", "fma"]
    assert not info["capabilities"]["int8_dot"] and not info["capabilities"]["bf16_native"]
    assert cpu.needs_reduce_range(info) is True
    env = cpu.PERSONALITIES["avx2"].env
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["ONEDNN_MAX_CPU_ISA"] == "AVX2"


def test_personality_variable(monkeypatch):
    monkeypatch.setenv(cpu.PERSONALITY_VAR, "avx2")
    assert cpu.personality().name == "avx2"
    monkeypatch.setenv(cpu.PERSONALITY_VAR, "pentium")
    with pytest.raises(ValueError, match="not a CPU personality the kit knows; use one of avx2"):
        cpu.personality()
    monkeypatch.delenv(cpu.PERSONALITY_VAR)
    assert cpu.personality() is None
