"""How an exercise's function is called when `fn(*args, **kwargs)` alone does not give what the check compares.
The grader's sandboxed child loads this file by its path, so it imports nothing from labkit."""

from __future__ import annotations

from collections.abc import Callable


def loss_and_gradient(fn: Callable, args: tuple, kwargs: dict) -> dict:
    """Call a loss function whose first argument is the student's logits; return the loss and its gradient with
    respect to those logits (TypeError for a non-scalar result, ValueError for a loss detached from them)."""
    import torch

    s, *rest = args
    s = s.clone().requires_grad_(True)
    loss = fn(s, *rest, **kwargs)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise TypeError(f"the loss must be a scalar torch tensor, got {type(loss).__name__} "
                        f"{tuple(getattr(loss, 'shape', ()))}")
    if not loss.requires_grad:
        raise ValueError("the loss does not depend on the student's logits through torch (detached, or numpy?)")
    loss.backward()
    return {"loss": loss.item(), "gradient w.r.t. the student logits": s.grad.numpy()}


CALLS = {f.__name__: f for f in (loss_and_gradient,)}  # by name, for the sandbox
