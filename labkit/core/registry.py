"""The runtimes the kit runs, each declared once in `RUNTIMES`.

Readers: `targets` (discover() and each target's device per runtime), `ledger` (the runtime names a row may
carry), `sysinfo` (the versions recorded with every row), `labkit doctor` (its runtimes section) and
`runtimes.load` (which runner opens which artifact). Nothing else lists runtimes.

Adding a runtime:
1. Add one `Runtime(...)` to `RUNTIMES` below: its ledger name (and aliases such as "torch-compiled"), the
   import name that tells whether it is installed, its pip distributions, the devices or providers it
   prefers per target, and the artifact kinds it loads, each with its runner factory.
2. Write the runner factory in labkit/measure/runtimes.py as `factory(path, target, name=..., **opts) -> Runner`,
   recording the runtime's ledger name in the Runner; it reads its device with `target.device("<name>")`, or
   the whole preference list with `target.devices("<name>")` (ONNX Runtime's providers). Name it here as
   "labkit.measure.runtimes:<function>": core does not import measure, so the name is resolved on first use.
3. If it has more than one device (GPUs, execution providers), write a probe in labkit/core/probes.py that
   returns its `Backend` rows and name it in `probe`; without one, discover() shows a single "CPU" row.
4. Pin each of its distributions in pyproject.toml and in environment.yml's pip section
   (tests/unit/test_registry.py and tests/unit/test_packaging.py check both).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata

from labkit.core import probes
from labkit.core.probes import Backend

RUNNERS = "labkit.measure.runtimes"


@dataclass(frozen=True)
class Runtime:
    """One runtime: how the kit names it, finds it, places it on a target and loads artifacts into it."""

    name: str  # the ledger's `runtime` value
    module: str  # top-level import name: the runtime is installed when it can be found
    distributions: tuple[str, ...]  # pip distributions whose versions are recorded; the first installed is its own
    # artifact kind (a suffix such as ".onnx", or "savedmodel" for a folder) -> "module:runner factory";
    # where two runtimes load one kind, the first declared is the default
    loads: Mapping[str, str] = field(default_factory=dict)
    # target name -> devices or providers, preferred first; targets not named here use the "cpu" entry
    devices: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"cpu": ("CPU",)})
    probe: Callable[[], list[Backend]] | None = None  # its Backend rows when installed; None: one "CPU" row
    aliases: tuple[str, ...] = ()  # more ledger names for the same runtime

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def version(self) -> str | None:
        """The version of its first installed distribution, or None."""
        for dist in self.distributions:
            try:
                return metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
        return None

    def backends(self) -> list[Backend]:
        """Its rows for discover(): the probe's, or one CPU row; a single unavailable row when not installed."""
        if not self.installed():
            return [Backend(self.name, self.devices["cpu"][0], False,
                            f"the {self.distributions[0]} package is not installed")]
        return self.probe() if self.probe else [Backend(self.name, self.devices["cpu"][0], True)]

    def pick(self, target: str, backends: Iterable[Backend]) -> tuple[str, ...]:
        """Its devices on `target`, preferred first: those found available, else all it prefers."""
        wanted = self.devices.get(target, self.devices["cpu"])
        found = {b.device for b in backends if b.runtime == self.name and b.available}
        return tuple(d for d in wanted if d in found) or wanted

    def factory(self, kind: str) -> Callable:
        """The runner factory for an artifact kind, imported on first use."""
        module, _, function = self.loads[kind].partition(":")
        return getattr(importlib.import_module(module), function)


RUNTIMES: tuple[Runtime, ...] = (
    Runtime("torch", "torch", ("torch",), {".pt2": f"{RUNNERS}:pt2_runner"},
            devices={"cpu": ("cpu",), "cuda": ("cuda",)}, probe=probes.torch_devices, aliases=("torch-compiled",)),
    Runtime("onnxruntime", "onnxruntime", ("onnxruntime",), {".onnx": f"{RUNNERS}:ort_runner"},
            devices={"cpu": ("CPUExecutionProvider",), "cuda": ("CUDAExecutionProvider", "CPUExecutionProvider")},
            probe=probes.onnxruntime_providers),
    Runtime("openvino", "openvino", ("openvino",), {".onnx": f"{RUNNERS}:openvino_runner"},
            probe=probes.openvino_devices),
    # generation only (a model folder with genai_config.json, run by labkit.techniques.generation.GenaiLM)
    Runtime("onnxruntime-genai", "onnxruntime_genai", ("onnxruntime-genai",)),
    Runtime("tensorflow", "tensorflow", ("tensorflow-cpu", "tensorflow", "keras"),
            {".keras": f"{RUNNERS}:keras_runner", "savedmodel": f"{RUNNERS}:savedmodel_runner"}),
    Runtime("litert", "ai_edge_litert", ("ai-edge-litert",), {".tflite": f"{RUNNERS}:litert_runner"}),
    Runtime("executorch", "executorch", ("executorch",), {".pte": f"{RUNNERS}:executorch_runner"}),
    Runtime("coreml", "coremltools", ("coremltools",), {".mlpackage": f"{RUNNERS}:coreml_runner"},
            devices={"cpu": ("ALL", "CPU_ONLY"), "edge": ("CPU_ONLY",)}, probe=probes.coreml_devices),
)


def ledger_names() -> tuple[str, ...]:
    """Every runtime name a ledger row may carry."""
    return tuple(n for rt in RUNTIMES for n in rt.names)


def distributions() -> tuple[str, ...]:
    """The pip distributions of all runtimes, in declaration order."""
    return tuple(dict.fromkeys(d for rt in RUNTIMES for d in rt.distributions))


def loaders(kind: str) -> dict[str, Runtime]:
    """The runtimes that load an artifact kind, by name, the default first."""
    return {rt.name: rt for rt in RUNTIMES if kind in rt.loads}


def artifact_kinds() -> tuple[str, ...]:
    """Every artifact kind some runtime loads."""
    return tuple(dict.fromkeys(k for rt in RUNTIMES for k in rt.loads))


def placement(target: str, backends: Iterable[Backend]) -> dict[str, tuple[str, ...]]:
    """Each runtime name (aliases included) -> its devices on `target`, preferred first."""
    backends = list(backends)
    return {n: rt.pick(target, backends) for rt in RUNTIMES for n in rt.names}
