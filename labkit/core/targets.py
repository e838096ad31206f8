"""Hardware targets: what this machine can run on, why something is unavailable, and which
target a notebook uses (papermill parameter, then `LABKIT_TARGET`, then the widget)."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, replace

from labkit.core.cpu import cpu_count

KNOWN_ORT_PROVIDERS = {
    "CPUExecutionProvider": "always part of onnxruntime",
    "CUDAExecutionProvider": "needs the onnxruntime-gpu package and an NVIDIA GPU",
    "TensorrtExecutionProvider": "needs onnxruntime-gpu built with TensorRT and an NVIDIA GPU",
    "OpenVINOExecutionProvider": "needs the onnxruntime-openvino package",
}


class TargetUnavailable(RuntimeError):
    """A target was asked for by name but this machine cannot run it."""


@dataclass(frozen=True)
class Backend:
    """One runtime-device pair found (or not) on this machine."""

    runtime: str
    device: str
    available: bool
    reason: str = ""


@dataclass(frozen=True)
class Target:
    """Where benchmarks run: a device, a thread budget and the matching provider for each runtime."""

    name: str
    description: str
    threads: int
    torch_device: str
    ort_providers: tuple[str, ...]
    openvino_device: str
    available: bool = True
    reason: str = ""

    def with_threads(self, threads: int) -> Target:
        return replace(self, threads=max(1, int(threads)))


def _torch_cuda() -> Backend:
    import torch

    if torch.cuda.is_available():
        return Backend("torch", "cuda", True, torch.cuda.get_device_name(0))
    why = "this torch is a CPU-only build" if torch.version.cuda is None else "no CUDA device visible"
    return Backend("torch", "cuda", False, why)


def _ort_backends() -> list[Backend]:
    import onnxruntime as ort

    have = set(ort.get_available_providers())
    out = [Backend("onnxruntime", name, name in have, "" if name in have else f"not installed: {hint}")
           for name, hint in KNOWN_ORT_PROVIDERS.items()]
    out += [Backend("onnxruntime", name, True) for name in sorted(have - set(KNOWN_ORT_PROVIDERS))]
    return out


def _openvino_backends() -> list[Backend]:
    if importlib.util.find_spec("openvino") is None:
        return [Backend("openvino", "CPU", False, "openvino is not installed")]
    import openvino as ov

    devices = ov.Core().available_devices
    out = [Backend("openvino", d, True, ov.Core().get_property(d, "FULL_DEVICE_NAME")) for d in devices]
    if "GPU" not in devices:
        out.append(Backend("openvino", "GPU", False, "OpenVINO found no Intel GPU"))
    return out


def _module_backend(runtime: str, module: str, device: str = "CPU") -> Backend:
    found = importlib.util.find_spec(module.split(".")[0]) is not None
    return Backend(runtime, device, found, "" if found else f"the {module} package is not installed")


def discover() -> list[Backend]:
    """Every runtime-device pair the kit knows, each with availability and the reason if not."""
    return [
        Backend("torch", "cpu", True, f"{cpu_count()} cores"),
        _torch_cuda(),
        *_ort_backends(),
        *_openvino_backends(),
        _module_backend("tensorflow", "tensorflow"),
        _module_backend("litert", "ai_edge_litert"),
    ]


def targets(backends: list[Backend] | None = None) -> dict[str, Target]:
    """The targets a learner can pick, each marked available or not with the reason."""
    backends = discover() if backends is None else backends
    cuda = next(b for b in backends if b.runtime == "torch" and b.device == "cuda")
    ort_cuda = [b.device for b in backends
                if b.runtime == "onnxruntime" and b.device == "CUDAExecutionProvider" and b.available]
    n = cpu_count()
    return {
        "cpu": Target("cpu", f"all {n} CPU cores", n, "cpu", ("CPUExecutionProvider",), "CPU"),
        "edge": Target("edge", "one CPU core, like a small edge device", 1, "cpu",
                       ("CPUExecutionProvider",), "CPU"),
        "cuda": Target("cuda", f"NVIDIA GPU ({cuda.reason})" if cuda.available else "NVIDIA GPU", n, "cuda",
                       (*ort_cuda, "CPUExecutionProvider"), "CPU", cuda.available, cuda.reason),
    }


def resolve(name: str = "auto", backends: list[Backend] | None = None) -> tuple[Target, str]:
    """The target to use and a sentence saying how it was chosen.

    `auto` defers to `LABKIT_TARGET`, then picks cuda if available, else cpu, saying why.
    A target named explicitly but unavailable raises TargetUnavailable.
    """
    name = (name or "auto").strip().lower()
    if name == "auto" and os.environ.get("LABKIT_TARGET"):
        name = os.environ["LABKIT_TARGET"].strip().lower()
        source = "LABKIT_TARGET"
    else:
        source = "parameter"
    table = targets(backends)
    if name == "auto":
        if table["cuda"].available:
            return table["cuda"], "auto: a CUDA device is available"
        return table["cpu"], f"auto: cuda unavailable ({table['cuda'].reason}), using cpu"
    if name not in table:
        raise ValueError(f"unknown target {name!r} (from {source}); choose one of auto, {', '.join(table)}")
    target = table[name]
    if not target.available:
        raise TargetUnavailable(
            f"target {name!r} (from {source}) is unavailable on this machine: {target.reason}. "
            "Use TARGET='auto' to fall back, or run `labkit doctor` to see what is installed."
        )
    return target, f"{name}: chosen by {source}"


def backends_table(backends: list[Backend] | None = None):
    """The discovery results as a DataFrame for display."""
    import pandas as pd

    rows = [vars(b) for b in (discover() if backends is None else backends)]
    return pd.DataFrame(rows, columns=["runtime", "device", "available", "reason"])
