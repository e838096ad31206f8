"""Facts about the software stack: versions, and the environment fingerprint stored with every ledger row
(the CPU itself is described by labkit.cpu)."""

from __future__ import annotations

import hashlib
import platform
from functools import lru_cache
from importlib import metadata

from labkit.core import registry
from labkit.core.cpu import cpu_info

# Recorded besides the runtimes' own distributions (labkit.core.registry): the tools that make the artifacts.
TOOLS = ("torchao", "torch-pruning", "onnx", "onnxscript", "tf2onnx", "litert-torch", "coremltools", "nncf",
         "numpy", "papermill")


def versions() -> dict[str, str]:
    """Installed versions of the runtimes and tools (missing packages are left out)."""
    out = {"python": platform.python_version()}
    for name in dict.fromkeys((*registry.distributions(), *TOOLS)):
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
