"""Notebook 04's challenge: prune channels with torch-pruning to a MAC budget, without losing the accuracy."""

from __future__ import annotations

from labkit.classroom.challenges import metrics as m
from labkit.classroom.challenges.judging import Challenge, Ground, Target, points_lost_target
from labkit.measure.acceptance import SHORT_TRAINING


def _metrics(observed: dict, g: Ground) -> dict[str, float]:
    return {"macs_ratio": m.ratio(observed["macs"], g.teacher_macs),
            "points_lost": m.points_lost(observed, g.test.y, g.teacher_accuracy)}


CHANNEL_BUDGET = Challenge(
    id="04.channel_budget",
    artifact="04_pruned.onnx",
    task="prune the teacher's channels with a torch-pruning pruner (importance, pruning_ratio, ignored layers), "
         "fine-tune it and export it to ONNX, within the MAC budget",
    measures="multiply-accumulates per image of the file's convolutions and matrix products (counted from the ONNX "
             "graph) against the teacher's; top-1 accuracy in ONNX Runtime on the profile's test images against the "
             "teacher's on the same images",
    targets=(Target("macs_ratio", "<= {t}x the teacher's MACs per image", True, 0.20,
                    "prune more channels: a layer's MACs scale with its input width times its output width, so "
                    "pruning_ratio r leaves about (1 - r)^2 of them", digits=".3f"),
             points_lost_target(2.0,
                    "fine-tune after pruning (more images; about twice the learning rate of the unstructured "
                    "fine-tune), prune a little less, or keep the classifier's last layer in ignored_layers",
                    50.0, SHORT_TRAINING + ": judged only far from chance (10%)")),
    requests=m.test_image_requests,
    metrics=_metrics,
)

CHALLENGES = [CHANNEL_BUDGET]
