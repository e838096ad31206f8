"""labkit: the plumbing behind the notebooks (data, models, runtimes, targets, benchmarks,
parity, the results ledger, plots). The techniques themselves stay visible in the notebooks."""

import os

# ONNX Runtime and OpenMP worker threads must not spin between calls, or they starve
# whichever runtime is measured next in the same process. Set before torch/ORT start threads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from labkit import (  # noqa: E402
    bench,
    convert,
    cpu,
    data,
    distill,
    exercises,
    export,
    keras_twin,
    ledger,
    models,
    parity,
    pipeline,
    plots,
    profiles,
    prune,
    quantize,
    report,
    runtimes,
    sysinfo,
    targets,
    train,
    widgets,
)
from labkit.session import Session, start  # noqa: E402

__all__ = [
    "Session", "bench", "convert", "cpu", "data", "distill", "exercises", "export", "keras_twin", "ledger", "models",
    "parity", "pipeline", "plots", "profiles", "prune", "quantize", "report", "runtimes", "start", "sysinfo", "targets",
    "train", "widgets",
]
__version__ = "0.1.0"
