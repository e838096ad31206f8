"""Facts about this machine and software stack: CPU flags, versions, an environment fingerprint."""

from __future__ import annotations

import hashlib
import platform
from functools import lru_cache
from importlib import metadata

from labkit.targets import cpu_count

STACK = ("torch", "torchao", "torch-pruning", "onnx", "onnxruntime", "onnxscript", "openvino",
         "tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "ai-edge-litert", "numpy", "papermill")
# CPU features that decide whether int8 and low-precision kernels are fast.
FLAGS_OF_INTEREST = {
    "avx2": "256-bit SIMD: the baseline for fast fp32 and int8 kernels",
    "fma": "fused multiply-add",
    "avx512f": "512-bit SIMD",
    "avx512_vnni": "int8 dot products in one instruction (VNNI), the big int8 speed-up",
    "avx_vnni": "VNNI on 256-bit registers",
    "avx512_bf16": "native bf16 arithmetic",
    "amx_tile": "AMX matrix tiles (Sapphire Rapids and later)",
    "amx_int8": "AMX int8 matrix multiply",
}


def versions() -> dict[str, str]:
    """Installed versions of the kit's stack (missing packages are left out)."""
    out = {"python": platform.python_version()}
    for name in STACK:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    """CPU model name and the flags in FLAGS_OF_INTEREST that this CPU has."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("", platform.machine(), platform.processor()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:  # not Linux: flags stay unknown
        pass
    return {"model": model, "cores": cpu_count(), "flags": {f: f in flags for f in FLAGS_OF_INTEREST},
            "flags_known": bool(flags)}


def int8_outlook() -> str:
    """One sentence on what int8 can gain on this CPU, from its flags."""
    info = cpu_info()
    if not info["flags_known"]:
        return "CPU flags unknown on this OS: measure int8 before expecting a speed-up."
    f = info["flags"]
    if f["amx_int8"]:
        return "AMX int8 tiles present: int8 matrix work can be several times faster than fp32."
    if f["avx512_vnni"] or f["avx_vnni"]:
        return "VNNI present: int8 convolutions and matmuls can run about 2-3x faster than fp32."
    if f["avx2"]:
        return ("AVX2 without VNNI: int8 saves about 4x memory, but its arithmetic is barely faster "
                "than a well-optimised fp32 runtime; expect small speed-ups except against slow eager code.")
    return "No AVX2: expect int8 and fp32 to be slow alike."


@lru_cache(maxsize=1)
def fingerprint() -> dict:
    """A compact description of the environment, stored with every ledger row."""
    info, vers = cpu_info(), versions()
    flags = ",".join(k for k, v in info["flags"].items() if v)
    key = f"{info['model']}|{info['cores']}|{flags}|{sorted(vers.items())}"
    return {"cpu": info["model"], "cores": info["cores"], "flags": flags, "os": platform.platform(),
            "versions": vers, "id": hashlib.sha256(key.encode()).hexdigest()[:12]}
