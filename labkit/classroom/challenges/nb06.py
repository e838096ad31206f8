"""Notebook 06's challenge: ship the one model that fits every budget."""

from __future__ import annotations

from labkit.classroom.challenges import metrics as m
from labkit.classroom.challenges.judging import Challenge, Ground, Target, points_lost_target
from labkit.measure.acceptance import SHORT_TRAINING


def _metrics(observed: dict, g: Ground) -> dict[str, float]:
    return {"size_ratio": m.fp32_size_ratio(observed, g.teacher_params),
            "macs_ratio": m.ratio(observed["macs"], g.teacher_macs),
            "points_lost": m.points_lost(observed, g.test.y, g.teacher_accuracy)}


SHIP = Challenge(
    id="06.ship",
    artifact="06_ship.onnx",
    task="hand in the ONNX file of the pipeline's stage that fits all three budgets (size, MACs, accuracy)",
    measures="the file's bytes against the teacher's fp32 weights; multiply-accumulates per image (counted from the "
             "ONNX graph) against the teacher's; top-1 accuracy in ONNX Runtime on the profile's test images against "
             "the teacher's",
    targets=(Target("size_ratio", "file <= {t}x the teacher's fp32 weights (10x smaller)", True, 0.10,
                    "ship a smaller stage: the distilled student is far smaller than the teacher, and int8 divides "
                    "its bytes by about 4", digits=".3f"),
             Target("macs_ratio", "<= {t}x the teacher's MACs per image (MACs, not a timing)", True, 0.25,
                    "ship a stage with fewer operations: the student or its pruned version (int8 keeps the MACs, it "
                    "only makes each one cheaper)", digits=".3f"),
             points_lost_target(1.5,
                    "ship a stage that kept its accuracy: compare the stage table's accuracies; a stage far below "
                    "the others needs more distillation epochs or a gentler PRUNE_RATIO",
                    30.0, SHORT_TRAINING + ": only far from chance")),
    requests=m.test_image_requests,
    metrics=_metrics,
)

CHALLENGES = [SHIP]
