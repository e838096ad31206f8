"""Hardware targets: what this machine can run on, why something is unavailable, and which
target a notebook uses (papermill parameter, then `LABKIT_TARGET`, then the widget)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from labkit.core import registry
from labkit.core.cpu import cpu_count
from labkit.core.probes import Backend


class TargetUnavailable(RuntimeError):
    """A target was asked for by name but this machine cannot run it."""


@dataclass(frozen=True)
class Target:
    """Where benchmarks run: a thread budget and, per runtime, the devices or providers it uses there."""

    name: str
    description: str
    threads: int
    placement: Mapping[str, tuple[str, ...]] = field(hash=False)  # runtime -> devices, preferred first
    available: bool = True
    reason: str = ""

    def devices(self, runtime: str) -> tuple[str, ...]:
        """The devices or providers `runtime` uses here, preferred first (ONNX Runtime's providers list)."""
        if runtime not in self.placement:
            raise ValueError(f"unknown runtime {runtime!r}; the kit runs {', '.join(self.placement)}")
        return self.placement[runtime]

    def device(self, runtime: str) -> str:
        """The device `runtime` runs on here: "cpu" or "cuda" for torch, "CPU" for OpenVINO, ..."""
        return self.devices(runtime)[0]

    def with_threads(self, threads: int) -> Target:
        return replace(self, threads=max(1, int(threads)))


def discover() -> list[Backend]:
    """Every runtime-device pair of the registry's runtimes, each with availability and the reason if not."""
    return [b for rt in registry.RUNTIMES for b in rt.backends()]


def targets(backends: list[Backend] | None = None) -> dict[str, Target]:
    """The targets a learner can pick, each marked available or not with the reason."""
    backends = discover() if backends is None else backends
    cuda = next(b for b in backends if b.runtime == "torch" and b.device == "cuda")
    n = cpu_count()
    kinds = {  # name -> description, threads, available, reason
        "cpu": (f"all {n} CPU cores", n, True, ""),
        "edge": ("one CPU core, like a small edge device", 1, True, ""),
        "cuda": (f"NVIDIA GPU ({cuda.reason})" if cuda.available else "NVIDIA GPU", n, cuda.available, cuda.reason),
    }
    return {name: Target(name, desc, threads, registry.placement(name, backends), ok, why)
            for name, (desc, threads, ok, why) in kinds.items()}


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
