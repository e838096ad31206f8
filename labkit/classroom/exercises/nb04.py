"""Notebook 04's exercise: a global magnitude-pruning mask."""

from __future__ import annotations

import numpy as np
import torch

from labkit.classroom.checking import Case, Exercise


def global_magnitude_masks(weights: list[torch.Tensor], amount: float) -> list[torch.Tensor]:
    """Reference: keep-masks (True keeps) removing the round(amount * n) smallest |w| over all layers at once."""
    flat = torch.cat([w.detach().abs().reshape(-1) for w in weights])
    keep = torch.ones_like(flat, dtype=torch.bool)
    k = round(amount * flat.numel())
    if k:
        keep[torch.topk(flat, k, largest=False).indices] = False
    return [m.reshape(w.shape) for m, w in zip(keep.split([w.numel() for w in weights]), weights, strict=True)]


def _mask_cases() -> list[Case]:
    r = np.random.default_rng(4)

    def t(shape, scale):
        return torch.from_numpy((r.normal(0, 1, shape) * scale).astype(np.float32))

    return [Case("three layers, amount 0.8", ([t((5,), 1.0), t((3, 4), 0.5), t((2, 2, 2), 2.0)], 0.8)),
            Case("two layers of very different scale, amount 0.5", ([t((4, 3), 1.0), t((6, 2), 0.1)], 0.5)),
            Case("amount 0 keeps every weight", ([t((3, 3), 1.0)], 0.0)),
            Case("a conv (4, 2, 3, 3) and a linear (5, 72), amount 0.3",
                 ([t((4, 2, 3, 3), 0.3), t((5, 72), 0.05)], 0.3))]


def _layerwise_masks(weights, amount):
    return [global_magnitude_masks([w], amount)[0] for w in weights]


def _largest_masks(weights, amount):
    return global_magnitude_masks([1 / (w.abs() + 1e-12) for w in weights], amount)


def _truncated_masks(weights, amount):
    n = sum(w.numel() for w in weights)
    return global_magnitude_masks(weights, int(amount * n) / n)


def _inverted_masks(weights, amount):
    return [~m for m in global_magnitude_masks(weights, amount)]


GLOBAL_MASK = Exercise(
    "04.global_mask", "global_magnitude_masks", "A global magnitude-pruning mask",
    "the keep-masks of four small sets of layers: one threshold over all layers, exactly round(amount * n) "
    "weights removed, amount 0 keeps everything, shapes preserved",
    "concatenate |w| of every layer, remove the round(amount * n) smallest (torch.topk(..., largest=False)), "
    "split the mask back into the layers' shapes; True (or 1) keeps a weight",
    global_magnitude_masks, _mask_cases,
    ((_layerwise_masks, "one threshold over all layers together: concatenate |w| of every layer first "
                        "(this is layer-wise pruning)"),
     (_inverted_masks, "masks are keep-masks: True/1 keeps a weight, False/0 removes it "
                       "(as torch.nn.utils.prune), and the smallest |w| go"),
     (_largest_masks, "remove the smallest |w| and keep the largest"),
     (_truncated_masks, "remove round(amount * n) weights, as torch.nn.utils.prune does (not int(...))")),
    libraries=("torch", "numpy"))

EXERCISES = [GLOBAL_MASK]
