"""Facts about the software stack: versions, and the environment fingerprint stored with every ledger row
(the CPU itself is described by labkit.cpu)."""

from __future__ import annotations

import hashlib
import platform
from functools import lru_cache
from importlib import metadata

from labkit.core.cpu import cpu_info

STACK = ("torch", "torchao", "torch-pruning", "onnx", "onnxruntime", "onnxscript", "openvino",
         "tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "ai-edge-litert", "numpy", "papermill")


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
def fingerprint() -> dict:
    """A compact description of the environment, stored with every ledger row."""
    info, vers = cpu_info(), versions()
    flags = ",".join(k for k, v in info["flags"].items() if v)
    key = f"{info['model']}|{info['cores']}|{flags}|{info['personality']}|{sorted(vers.items())}"
    return {"cpu": info["model"], "cores": info["cores"], "arch": info["arch"], "flags": flags,
            "personality": info["personality"], "os": platform.platform(), "versions": vers,
            "id": hashlib.sha256(key.encode()).hexdigest()[:12]}
