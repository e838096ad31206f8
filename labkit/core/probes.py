"""What a runtime finds on this machine: its devices or providers as `Backend` rows, each with the reason
when it is unavailable. The registry (labkit.core.registry) names the probe of each runtime that has more
than one device; it calls a probe only when the runtime is installed."""

from __future__ import annotations

from dataclasses import dataclass

from labkit.core.cpu import cpu_count

KNOWN_ORT_PROVIDERS = {
    "CPUExecutionProvider": "always part of onnxruntime",
    "CUDAExecutionProvider": "needs the onnxruntime-gpu package and an NVIDIA GPU",
    "TensorrtExecutionProvider": "needs onnxruntime-gpu built with TensorRT and an NVIDIA GPU",
    "OpenVINOExecutionProvider": "needs the onnxruntime-openvino package",
}


@dataclass(frozen=True)
class Backend:
    """One runtime-device pair found (or not) on this machine."""

    runtime: str
    device: str
    available: bool
    reason: str = ""


def torch_devices() -> list[Backend]:
    """The CPU, and CUDA with its device name or why it is missing."""
    import torch

    cpu = Backend("torch", "cpu", True, f"{cpu_count()} cores")
    if torch.cuda.is_available():
        return [cpu, Backend("torch", "cuda", True, torch.cuda.get_device_name(0))]
    why = "this torch is a CPU-only build" if torch.version.cuda is None else "no CUDA device visible"
    return [cpu, Backend("torch", "cuda", False, why)]


def onnxruntime_providers() -> list[Backend]:
    """Every execution provider the kit knows (with what it needs when missing), and any other one found."""
    import onnxruntime as ort

    have = set(ort.get_available_providers())
    out = [Backend("onnxruntime", name, name in have, "" if name in have else f"not installed: {hint}")
           for name, hint in KNOWN_ORT_PROVIDERS.items()]
    return out + [Backend("onnxruntime", name, True) for name in sorted(have - set(KNOWN_ORT_PROVIDERS))]


def openvino_devices() -> list[Backend]:
    """OpenVINO's devices with their full names, and the Intel GPU when there is none."""
    import openvino as ov

    core = ov.Core()
    devices = core.available_devices
    out = [Backend("openvino", d, True, core.get_property(d, "FULL_DEVICE_NAME")) for d in devices]
    if "GPU" not in devices:
        out.append(Backend("openvino", "GPU", False, "OpenVINO found no Intel GPU"))
    return out


def coreml_devices() -> list[Backend]:
    """Core ML's compute units: coremltools converts anywhere, but only macOS (and iOS) can run a model."""
    import platform

    system = platform.system()
    if system != "Darwin":
        return [Backend("coreml", "ALL", False, f"Core ML runs models only on macOS and iOS (this is {system}); "
                                                 "coremltools still converts and inspects them here")]
    return [Backend("coreml", "ALL", True, "CPU, GPU and Neural Engine, as Core ML chooses"),
            Backend("coreml", "CPU_ONLY", True, "the CPU alone")]
