"""Notebook 01's challenge: export a serving model that takes raw 0-255 pixels, with a dynamic batch."""

from __future__ import annotations

import numpy as np

from labkit.classroom.challenges import metrics as m
from labkit.classroom.challenges.judging import Challenge, Ground, Target
from labkit.core.data import MEAN, STD
from labkit.measure.parity import TOLERANCES

ATOL = TOLERANCES["fp32"]["max_abs"]  # an fp32 export reproduces the eager logits
BATCHES = (1, 37)
HINT_BATCH = ("declare the batch dimension dynamic: dynamic_shapes=({0: Dim('batch', min=1, max=1024)},) with an "
              "example batch of at least 2 images")
HINT_RAW = ("the graph must normalise raw pixels itself, always: (x / 255 - lk.data.MEAN) / lk.data.STD before the "
            "teacher, with no Python `if` on the input's values (export the model you run, not the teacher alone)")


def raw_pixels(g: Ground) -> np.ndarray:
    """The ground's test images back as raw 0-255 pixels (float32, NCHW)."""
    return np.rint((g.test.x * STD + MEAN) * 255.0).astype(np.float32)


def _requests(g: Ground) -> dict[str, dict]:
    return {f"batch {b}": {"": raw_pixels(g)[:b]} for b in BATCHES}


def _metrics(observed: dict, g: Ground) -> dict[str, float]:
    return {"dynamic": m.runs(observed, *(f"batch {b}" for b in BATCHES)),
            **{f"max_abs_{b}": m.max_abs(observed, f"batch {b}", g.teacher_logits[:b]) for b in BATCHES}}


SERVING = Challenge(
    id="01.serving_onnx",
    artifact="01_serving.onnx",
    task="export, with torch.onnx.export, a model that takes raw 0-255 pixels and returns the teacher's logits, "
         "with a dynamic batch",
    measures="runs the file in ONNX Runtime on raw test images at batch 1 and 37; max |logit difference| against "
             "the shipped teacher on the same images normalised",
    targets=(Target("dynamic", "runs at batch 1 and at batch 37 (a dynamic batch)", False, 1.0, HINT_BATCH,
                    digits=".0f"),
             *(Target(f"max_abs_{b}", f"raw pixels, batch {b}: max |logit - teacher's| <= {{t}}", True, ATOL,
                      HINT_RAW, digits=".1e") for b in BATCHES)),
    requests=_requests,
    metrics=_metrics,
)

CHALLENGES = [SERVING]
