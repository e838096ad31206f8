"""Notebook 02's challenge: convert the Keras twin to ONNX with tf2onnx, taking the kit's NCHW images."""

from __future__ import annotations

from labkit.classroom.challenges import metrics as m
from labkit.classroom.challenges.judging import Challenge, Ground, Target
from labkit.measure.parity import TOLERANCES

ATOL = TOLERANCES["fp32"]["max_abs"]
BATCHES = (1, 37)
HINT_LAYOUT = ("ask tf2onnx for a PyTorch-style input: tf2onnx.convert.from_function(..., inputs_as_nchw=[\"image\"]) "
               "with a TensorSpec of shape (None, 28, 28, 1)")
HINT_PARITY = ("convert the twin itself (its weights ported from the teacher) at fp32, with a dynamic batch (None in "
               "the TensorSpec); no quantization or float16 on this route")


def _takes_nchw(observed: dict) -> float:
    dims = list(observed.get("inputs", {}).values())
    return float(len(dims) == 1 and len(dims[0]) == 4 and list(dims[0][1:]) == [1, 28, 28])


def _metrics(observed: dict, g: Ground) -> dict[str, float]:
    return {"tf2onnx": float(observed.get("producer") == "tf2onnx"),
            "nchw": _takes_nchw(observed),
            **{f"max_abs_{b}": m.max_abs(observed, f"batch {b}", g.teacher_logits[:b]) for b in BATCHES}}


TWIN_NCHW = Challenge(
    id="02.twin_nchw",
    artifact="02_twin.onnx",
    task="convert the Keras twin with tf2onnx into an ONNX file that takes the kit's NCHW images with a dynamic batch",
    measures="the tool that wrote the file and the input it declares; its logits in ONNX Runtime on normalised "
             "NCHW test images at batch 1 and 37 against the shipped PyTorch teacher's",
    targets=(Target("tf2onnx", "converted by tf2onnx (the producer the file names)", False, 1.0,
                    "convert the Keras twin with tf2onnx.convert.from_function (an export from PyTorch is another "
                    "route)", digits=".0f"),
             Target("nchw", "takes (batch, 1, 28, 28) images, as PyTorch does", False, 1.0, HINT_LAYOUT, digits=".0f"),
             *(Target(f"max_abs_{b}", f"batch {b}: max |logit - teacher's| <= {{t}}", True, ATOL, HINT_PARITY,
                      digits=".1e") for b in BATCHES)),
    requests=lambda g: {f"batch {b}": {"": g.test.x[:b]} for b in BATCHES},
    metrics=_metrics,
    judges_inputs=True,
)

CHALLENGES = [TWIN_NCHW]
