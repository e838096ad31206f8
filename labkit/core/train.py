"""Training and evaluation loops with progress bars; the loss is the caller's to choose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labkit.core.batches import EVAL_BATCH, in_batches, torch_fn
from labkit.core.data import Split
from labkit.core.progress import tqdm

# loss_fn(logits, labels, batch_index_tensor) -> scalar loss; the index lets a caller look up
# per-example extras such as precomputed teacher logits.
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-epoch training loss and held-out accuracy."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, _idx: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


def fit(
    model: nn.Module,
    train: Split,
    epochs: float = 1.0,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    loss_fn: LossFn = cross_entropy,
    val: Split | None = None,
    evals_per_epoch: int = 1,
    desc: str = "train",
    after_step: Callable[[nn.Module], None] | None = None,
    schedule: str = "onecycle",
) -> History:
    """Train with Adam for `epochs` (fractions allowed); return the history.
    `schedule="onecycle"` warms the learning rate up from lr/25 to `lr` over the first quarter of the
    steps, then anneals it (cosine) to almost zero: on short budgets this beats `"cosine"` (plain
    decay from `lr`, the recipe of the shipped teacher) by about half a point.

    `after_step` runs after each optimiser step (for example to re-apply pruning masks).
    Convolutions train in channels-last layout (about 1.2x faster on CPU); the model comes back in the
    default layout, ready to export.
    """
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.from_numpy(train.x), torch.from_numpy(train.y)
    steps_per_epoch = max(1, len(y) // batch_size)
    total = max(1, round(epochs * steps_per_epoch))
    eval_every = max(1, steps_per_epoch // max(1, evals_per_epoch))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    if schedule not in ("onecycle", "cosine"):
        raise ValueError(f"schedule={schedule!r}: use 'onecycle' or 'cosine'")
    if schedule == "onecycle" and total >= 8:  # fewer steps leave no room to warm up: plain decay
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.25)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    hist = History()
    running, seen = 0.0, 0
    order = torch.randperm(len(y), generator=gen)
    pos = 0
    model.to(memory_format=torch.channels_last).train()
    for step in tqdm(range(1, total + 1), desc=desc, leave=False, mininterval=1.0):
        if pos + batch_size > len(y):
            order, pos = torch.randperm(len(y), generator=gen), 0
        idx = order[pos: pos + batch_size]
        pos += batch_size
        loss = loss_fn(model(x[idx].contiguous(memory_format=torch.channels_last)), y[idx], idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if after_step is not None:
            after_step(model)
        running, seen = running + loss.item(), seen + 1
        if step % eval_every == 0 or step == total:
            hist.loss.append(running / seen)
            hist.steps.append(step)
            running, seen = 0.0, 0
            if val is not None:
                hist.accuracy.append(accuracy(model, val))
                model.train()
    model.to(memory_format=torch.contiguous_format).eval()
    with torch.no_grad():  # refresh weights that forward hooks derive (torch.nn.utils.prune) in that layout
        model(x[:1])
    return hist


def predict(model: nn.Module, x: np.ndarray, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Logits of a torch model on normalised NCHW images, as numpy."""
    model.eval()
    return in_batches(torch_fn(model), x, batch_size)


def accuracy(model: nn.Module | Callable[[np.ndarray], np.ndarray], split: Split,
             batch_size: int = EVAL_BATCH) -> float:
    """Top-1 accuracy of a torch model or of any callable mapping NCHW numpy to logits."""
    if isinstance(model, nn.Module):
        logits = predict(model, split.x, batch_size)
    else:
        logits = in_batches(model, split.x, batch_size)
    return float((logits.argmax(1) == split.y).mean())
