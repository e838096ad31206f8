"""Notebook 03's challenge: configure ONNX Runtime's static quantization to reach a size and an accuracy."""

from __future__ import annotations

from labkit.classroom.challenges import metrics as m
from labkit.classroom.challenges.judging import Challenge, Ground, Target, points_lost_target
from labkit.measure.acceptance import SMALL


def _metrics(observed: dict, g: Ground) -> dict[str, float]:
    return {"size_ratio": m.fp32_size_ratio(observed, g.teacher_params),
            "points_lost": m.points_lost(observed, g.test.y, g.teacher_accuracy)}


STATIC_INT8 = Challenge(
    id="03.static_int8",
    artifact="03_int8.onnx",
    task="configure onnxruntime.quantization.quantize_static on the teacher's fp32 ONNX file (format, granularity, "
         "types, calibration) to reach the size and accuracy targets",
    measures="the file's bytes against the teacher's fp32 weights (4 bytes per parameter); top-1 accuracy in ONNX "
             "Runtime on the profile's test images against the shipped teacher's on the same images",
    targets=(Target("size_ratio", "file <= {t}x the teacher's fp32 weights", True, 0.27,
                    "quantize weights and activations to 8 bits (weight_type=QuantType.QInt8, static, QDQ); "
                    "a float16 or dynamic model keeps more bytes", digits=".3f"),
             points_lost_target(0.5,
                    "calibrate on real training images (calib), per_channel=True, calibrate_method MinMax or "
                    "Percentile; on CPUs without int8 dot products set reduce_range=lk.cpu.needs_reduce_range()",
                    1.5, SMALL)),
    requests=m.test_image_requests,
    metrics=_metrics,
)

CHALLENGES = [STATIC_INT8]
