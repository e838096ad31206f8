"""The CPU in hand: its model and the feature flags that decide how fast (and how exact) int8, bf16 and
fp16 run, read on Linux (x86 and arm64) and macOS (Intel and Apple Silicon); and *personalities* that
cap the runtimes that allow it (PyTorch, oneDNN, OpenVINO) at a lower instruction set, so the kit can be tested as
on a smaller CPU."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache

# Feature flags that decide what low precision buys, per architecture, by the names Linux's /proc/cpuinfo uses.
X86_FLAGS = {
    "avx2": "256-bit SIMD: the baseline for fast fp32 and int8 kernels",
    "fma": "fused multiply-add",
    "avx512f": "512-bit SIMD",
    "avx512_vnni": "int8 dot products in one instruction (VNNI on 512-bit registers)",
    "avx_vnni": "VNNI on 256-bit registers",
    "avx512_bf16": "native bf16 dot products",
    "avx512_fp16": "native fp16 arithmetic",
    "amx_tile": "AMX matrix tiles (Sapphire Rapids and later)",
    "amx_int8": "AMX int8 matrix multiply",
    "amx_bf16": "AMX bf16 matrix multiply",
}
ARM64_FLAGS = {
    "asimd": "NEON SIMD",
    "asimddp": "int8 dot products (SDOT/UDOT)",
    "i8mm": "int8 matrix multiply (SMMLA)",
    "bf16": "native bf16 arithmetic",
    "asimdhp": "native fp16 arithmetic",
}
FLAGS_OF_INTEREST = {**X86_FLAGS, **ARM64_FLAGS}


def flags_for(arch: str) -> dict[str, str]:
    """The flags of interest on `arch` ("arm64" or x86), with what each does."""
    return ARM64_FLAGS if arch == "arm64" else X86_FLAGS


# What each capability needs: any one of the flags listed.
CAPABILITIES = {
    "int8_dot": ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp"),
    "bf16_native": ("avx512_bf16", "amx_bf16", "bf16"),
    "fp16_native": ("avx512_fp16", "asimdhp"),
    "amx": ("amx_tile",),
}

# macOS names (sysctl) -> Linux names. Intel Macs list features in machdep.cpu.*features,
# Apple Silicon reports each arm feature as hw.optional.arm.FEAT_X: 1.
_SYSCTL_NAMES = {
    "AVX2": "avx2", "FMA": "fma", "AVX512F": "avx512f", "AVX512VNNI": "avx512_vnni", "AVXVNNI": "avx_vnni",
    "AVX512BF16": "avx512_bf16", "AVX512FP16": "avx512_fp16", "AMX_TILE": "amx_tile", "AMX_INT8": "amx_int8",
    "AMX_BF16": "amx_bf16", "FEAT_AdvSIMD": "asimd", "FEAT_DotProd": "asimddp", "FEAT_I8MM": "i8mm",
    "FEAT_BF16": "bf16", "FEAT_FP16": "asimdhp",
}

PERSONALITY_VAR = "LABKIT_CPU_PERSONALITY"


@dataclass(frozen=True)
class Personality:
    """A lower CPU the kit can pretend to be: the flags it keeps and how each runtime is capped."""

    name: str
    keeps: frozenset[str]
    env: dict[str, str]
    openvino: dict[str, str]
    cannot_force: tuple[str, ...] = field(default=())


PERSONALITIES = {
    "avx2": Personality(
        name="avx2",
        keeps=frozenset({"avx2", "fma"}),
        env={"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},  # torch; oneDNN in torch, TF, OpenVINO
        openvino={"INFERENCE_PRECISION_HINT": "f32"},  # OpenVINO picks bf16 from the real flags otherwise
        cannot_force=("ONNX Runtime (MLAS picks its kernels from the real CPU)",
                      "LiteRT (XNNPACK picks its kernels from the real CPU)"),
    ),
}


def cpu_count() -> int:
    """Cores this process may use (respects affinity and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def parse_proc_cpuinfo(text: str) -> tuple[str | None, set[str]]:
    """Model name and flags from Linux's /proc/cpuinfo (x86 `flags`, arm64 `Features`)."""
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model, flags


def parse_sysctl(text: str) -> tuple[str | None, set[str]]:
    """Model name and flags (Linux names) from `sysctl -a` output on macOS."""
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "machdep.cpu.brand_string":
            model = value
        elif key in ("machdep.cpu.features", "machdep.cpu.leaf7_features", "machdep.cpu.extfeatures"):
            flags |= {_SYSCTL_NAMES[f] for f in value.split() if f in _SYSCTL_NAMES}
        elif key.startswith("hw.optional.arm.") and value == "1":
            name = _SYSCTL_NAMES.get(key.removeprefix("hw.optional.arm."))
            if name:
                flags.add(name)
    return model, flags


def _read_flags() -> tuple[str | None, set[str]]:
    try:
        with open("/proc/cpuinfo") as f:
            return parse_proc_cpuinfo(f.read())
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            out = subprocess.run(["sysctl", "-a"], capture_output=True, text=True, timeout=10).stdout
            return parse_sysctl(out)
        except (OSError, subprocess.SubprocessError):
            pass
    return None, set()


def real_flags() -> set[str]:
    """The flags the CPU really has, whatever personality the kit plays: what runtimes that pick their kernels from
    the CPU itself (ONNX Runtime's MLAS, LiteRT's XNNPACK) go by."""
    return _read_flags()[1]


def personality() -> Personality | None:
    """The personality forced through LABKIT_CPU_PERSONALITY, if any (ValueError for an unknown name)."""
    name = os.environ.get(PERSONALITY_VAR, "").strip()
    if not name:
        return None
    if name not in PERSONALITIES:
        raise ValueError(f"{PERSONALITY_VAR}={name!r} is not a CPU personality the kit knows; "
                         f"use one of {', '.join(PERSONALITIES)} or unset it")
    return PERSONALITIES[name]


def describe(model: str | None, flags: set[str], machine: str, forced: Personality | None = None) -> dict:
    """The kit's view of a CPU from its model, raw flags and architecture, capped by a personality."""
    if forced is not None:
        flags = flags & forced.keeps
    known = bool(flags) or forced is not None
    have = {f: f in flags for f in FLAGS_OF_INTEREST}
    caps = {c: (any(have[f] for f in needs) if known else None) for c, needs in CAPABILITIES.items()}
    arch = "arm64" if machine.lower() in ("arm64", "aarch64") else "x86_64" if machine.lower() in (
        "x86_64", "amd64") else machine
    return {"model": model or machine or "unknown CPU", "arch": arch, "cores": cpu_count(),
            "flags": have, "flags_known": known, "capabilities": caps,
            "personality": forced.name if forced else None}


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    """This CPU: model, architecture, cores, the flags of interest, derived capabilities, and the
    personality in force (flags above it are reported absent)."""
    model, flags = _read_flags()
    forced = personality()
    if forced is not None and platform.machine().lower() not in ("x86_64", "amd64"):
        raise ValueError(f"{PERSONALITY_VAR}={forced.name} caps an x86 CPU; this one is {platform.machine()}: unset it")
    return describe(model, flags, platform.machine(), forced)


def int8_outlook(info: dict | None = None) -> str:
    """One sentence on what int8 can gain on this CPU, from its flags."""
    info = info or cpu_info()
    if not info["flags_known"]:
        return "CPU flags unknown on this OS: measure int8 before expecting a speed-up."
    f, caps = info["flags"], info["capabilities"]
    if caps["amx"] and f["amx_int8"]:
        return "AMX int8 tiles present: int8 matrix work can be several times faster than fp32."
    if caps["int8_dot"]:
        which = "SDOT/UDOT" if info["arch"] == "arm64" else "VNNI"
        return f"{which} present: int8 convolutions and matmuls can run about 2-3x faster than fp32."
    if f["avx2"]:
        return ("AVX2 without VNNI: int8 saves about 4x memory, but its arithmetic is barely faster "
                "than a well-optimised fp32 runtime; expect small speed-ups except against slow eager code.")
    return "No int8 dot-product instructions found: expect int8 to save memory more than time."


def bf16_outlook(info: dict | None = None) -> str:
    """One sentence on bf16 on this CPU: native (fast, and picked by some runtimes by default) or emulated."""
    info = info or cpu_info()
    if not info["flags_known"]:
        return "CPU flags unknown on this OS: check what precision each runtime actually ran."
    if info["capabilities"]["bf16_native"]:
        return ("bf16 is native here: OpenVINO (and oneDNN) run bf16 by default unless asked for f32, "
                "faster but only about 3 significant digits.")
    return "bf16 is not native here: runtimes stay in fp32 unless forced, and forced bf16 is emulated (slower)."


def needs_reduce_range(info: dict | None = None) -> bool:
    """True on x86 CPUs without int8 dot-product instructions (VNNI, AMX).

    There, ONNX Runtime's and fbgemm's int8 kernels multiply uint8 by int8 with `vpmaddubsw`, which
    adds pairs of products into a *saturating* int16: with full 8-bit weights and activations the
    sum can overflow and the logits go wrong. Quantizing weights to 7 bits (`reduce_range=True`)
    keeps every pair sum in range. VNNI and AMX accumulate in int32 directly; arm64 kernels widen
    products before they add them.
    """
    info = info or cpu_info()
    return info["flags_known"] and info["arch"] == "x86_64" and not info["capabilities"]["int8_dot"]
