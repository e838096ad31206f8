"""Notebook 05's exercise: the distillation loss with T squared, checked on its value and its gradient."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from labkit.classroom.calls import loss_and_gradient
from labkit.classroom.checking import Case, Exercise
from labkit.techniques.distill import kd_loss


def distillation_loss(s: torch.Tensor, t: torch.Tensor, y: torch.Tensor, T: float = 4.0,
                      alpha: float = 0.9) -> torch.Tensor:
    """Reference: alpha * T**2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y) (lk.distill.kd_loss)."""
    return kd_loss(s, t, y, T, alpha)


def _kd_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)

    def logits():
        return torch.randn(5, 4, generator=g) * 3

    s, t, y = logits(), logits(), torch.tensor([0, 1, 2, 3, 1])
    return [Case("T=1, alpha=0.5", (s, t, y, 1.0, 0.5)),
            Case("T=4, alpha=0.9 (where T squared matters)", (s, t, y, 4.0, 0.9)),
            Case("alpha=0: plain cross-entropy", (s, t, y, 2.0, 0.0)),
            Case("alpha=1: pure distillation at T=2", (s, t, y, 2.0, 1.0))]


def _kd(s, t, y, T, alpha, soft_scale=None, reduction="batchmean", hard_T=1.0, swap=False):
    a, b = (F.log_softmax(t / T, 1), F.softmax(s / T, 1)) if swap else (F.log_softmax(s / T, 1), F.softmax(t / T, 1))
    soft = F.kl_div(a, b, reduction=reduction)
    return alpha * (T * T if soft_scale is None else soft_scale) * soft + (1 - alpha) * F.cross_entropy(s / hard_T, y)


KD_LOSS = Exercise(
    "05.kd_loss", "distillation_loss", "The distillation loss with T squared",
    "the loss value and its gradient w.r.t. the student logits on four small batches (T=1, T=4, "
    "alpha=0 and alpha=1) against lk.distill.kd_loss",
    "the soft term is the KL divergence between the softened distributions (F.kl_div takes the student's "
    "log-probabilities at temperature T first, the teacher's probabilities second, reduction='batchmean'), "
    "weighted by alpha and T**2; add (1 - alpha) times the cross-entropy of the raw logits with the labels",
    distillation_loss, _kd_cases,
    ((lambda s, t, y, T, a: _kd(s, t, y, T, a, soft_scale=1.0), "multiply the soft term by T**2: its "
                                                                 "gradient shrinks like 1/T**2"),
     (lambda s, t, y, T, a: _kd(s, t, y, T, a, reduction="mean"), "use reduction='batchmean' (sum over "
                                                                   "classes, mean over the batch): 'mean' "
                                                                   "also divides by the number of classes"),
     (lambda s, t, y, T, a: _kd(s, t, y, T, a, hard_T=T), "the hard term uses the raw student logits "
                                                           "(temperature 1)"),
     (lambda s, t, y, T, a: _kd(s, t, y, T, a, swap=True), "F.kl_div takes the student's log-probabilities "
                                                            "first and the teacher's probabilities second"),
     (lambda s, t, y, T, a: _kd(s, t, y, T, 1 - a), "alpha weights the soft (teacher) term, 1 - alpha the "
                                                     "cross-entropy")),
    call=loss_and_gradient, libraries=("torch", "numpy"))

EXERCISES = [KD_LOSS]
