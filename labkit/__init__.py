"""labkit: the plumbing behind the notebooks (data, models, runtimes, targets, benchmarks,
parity, the results ledger, plots). The techniques themselves stay visible in the notebooks.

`import labkit as lk` is cheap: each module (and torch, TensorFlow or ipywidgets behind it) is imported
the first time a notebook touches `lk.<module>`."""

import importlib
import os
import warnings

# The one place the kit sets process-wide variables, before any runtime starts its threads:
# ONNX Runtime and OpenMP worker threads must not spin between calls, or they starve whichever runtime
# is measured next in the same process; TensorFlow's C++ INFO lines stay out of the notebooks.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _one_line_for_the_kits_warnings(message, category, filename, lineno, line=None, _default=warnings.formatwarning):
    """The kit's own warnings print as one line (`BusyMachineWarning: ...`), without the source line under them."""
    if category.__module__.startswith("labkit."):
        return f"{category.__name__}: {message}\n"
    return _default(message, category, filename, lineno, line)


warnings.formatwarning = _one_line_for_the_kits_warnings

# In a notebook kernel, TensorFlow's first import prints one progress line and keeps its C++ start-up lines out.
importlib.import_module("labkit.core.native_logs").announce_slow_imports()

# The layers, bottom up (ARCHITECTURE.md): each module imports only from its own layer and those below.
LAYERS = {
    "core": ("paths", "profiles", "cpu", "probes", "registry", "targets", "data", "models", "train", "session",
             "ledger", "sysinfo", "teacher", "notebooks", "batches", "text", "lm", "lm_train", "native_logs",
             "progress", "watchdog", "torch_fixes"),
    "measure": ("bench", "parity", "checks", "sizes", "runtimes", "profiler", "channel_blocks", "bandwidth", "pareto",
                "plots", "acceptance", "units", "results", "report", "markdown_report"),
    "techniques": ("export", "convert", "keras_twin", "quant_math", "quantize", "prune", "distill", "pipeline",
                   "ondevice", "language_model", "generation", "twins", "converter_env"),
    "ui": ("widgets", "playground"),
    "classroom": ("checking", "calls", "wire", "extract", "sandbox", "sandbox_child", "exercises", "release",
                  "challenges", "grade", "classbench"),
}
# `lk.<name>` -> the module's place in the tree
MODULES = {name: f"labkit.{layer}.{name}" for layer, names in LAYERS.items() for name in names}
__all__ = ["Session", "start", *MODULES]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in MODULES:
        return importlib.import_module(MODULES[name])
    if name in ("Session", "start"):
        return getattr(importlib.import_module("labkit.core.session"), name)
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
