"""Where an ONNX model spends its time, op type by op type, from ONNX Runtime's own profiler."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from labkit.core.targets import Target
from labkit.measure.runtimes import ort_session


def ort_op_times(path: str | Path, x: np.ndarray, target: Target, runs: int = 10) -> dict[str, float]:
    """Milliseconds per call spent in each op type of an ONNX model in ONNX Runtime, from the
    runtime's own profiler: the ops as placed after graph optimisation (fused QLinearConv, say),
    averaged over `runs` calls after one warm-up call."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        sess = ort_session(path, target, profile_prefix=os.path.join(tmp, "ort"))
        feed = {sess.get_inputs()[0].name: np.ascontiguousarray(x, np.float32)}
        for _ in range(runs + 1):
            sess.run(None, feed)
        events = json.loads(Path(sess.end_profiling()).read_text())
    model_runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    warm_end = model_runs[0]["ts"] + model_runs[0]["dur"] if model_runs else -1
    totals: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] > warm_end:
            op = e.get("args", {}).get("op_name", "?")
            totals[op] = totals.get(op, 0.0) + e["dur"] / 1000.0 / runs
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))
