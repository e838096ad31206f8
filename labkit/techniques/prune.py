"""Pruning plumbing: sparsity bookkeeping, magnitude masks (torch.nn.utils.prune), per-layer
sensitivity scans, structural channel pruning (torch-pruning) and honest size accounting.

The notebooks show the real calls (`prune.global_unstructured`, `tp.pruner.MetaPruner(...).step()`);
these helpers are what a second notebook reuses so nothing is copy-pasted.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune as tprune

PRUNABLE = (nn.Conv2d, nn.Linear)
SCOPES = ("global", "layer")


def prunable_layers(model: nn.Module, include_last: bool = True) -> dict[str, nn.Module]:
    """The conv and linear layers by name, in forward order (the last one is the classifier)."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, PRUNABLE)}
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Conv2d or Linear layers to prune")
    if not include_last:
        layers.pop(list(layers)[-1])
    return layers


def _weight(module: nn.Module) -> torch.Tensor:
    # With a torch.nn.utils.prune hook active, `module.weight` is the masked tensor (weight_orig * mask).
    return module.weight.detach()


def layer_sparsity(model: nn.Module) -> dict[str, float]:
    """Fraction of exactly-zero weights per conv/linear layer."""
    return {name: float((_weight(m) == 0).float().mean()) for name, m in prunable_layers(model).items()}


def sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero weights over all conv/linear weights (biases and BatchNorm excluded)."""
    layers = prunable_layers(model).values()
    zeros = sum(int((_weight(m) == 0).sum()) for m in layers)
    total = sum(_weight(m).numel() for m in layers)
    return zeros / total


def _check_amount(amount: float) -> float:
    if not isinstance(amount, (int, float)) or not 0.0 <= amount < 1.0:
        raise ValueError(f"amount is the fraction of weights to remove, in [0, 1); got {amount!r}")
    return float(amount)


def magnitude_prune(model: nn.Module, amount: float, scope: str = "global",
                    layers: Iterable[str] | None = None) -> nn.Module:
    """Mask the smallest-|w| weights in place with torch.nn.utils.prune (L1 magnitude).

    scope="global": one threshold over all chosen layers (`prune.global_unstructured`);
    scope="layer": the same fraction removed from every layer (`prune.l1_unstructured` per layer).
    The masks stay as forward hooks (weight = weight_orig * weight_mask), so fine-tuning keeps
    pruned weights at zero; call `make_permanent` before saving or exporting.
    """
    amount = _check_amount(amount)
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    all_layers = prunable_layers(model)
    names = list(all_layers) if layers is None else list(layers)
    unknown = [n for n in names if n not in all_layers]
    if unknown:
        raise ValueError(f"unknown layer(s) {unknown}; prunable layers are {list(all_layers)}")
    if amount == 0.0:
        return model
    if scope == "global":
        tprune.global_unstructured([(all_layers[n], "weight") for n in names],
                                   pruning_method=tprune.L1Unstructured, amount=amount)
    else:
        for n in names:
            tprune.l1_unstructured(all_layers[n], "weight", amount=amount)
    return model


def apply_plan(model: nn.Module, plan: dict[str, float]) -> nn.Module:
    """Layer-wise magnitude pruning with a per-layer fraction, e.g. from `plan_from_sensitivity`."""
    layers = prunable_layers(model)
    for name, amount in plan.items():
        if name not in layers:
            raise ValueError(f"unknown layer {name!r}; prunable layers are {list(layers)}")
        if _check_amount(amount) > 0:
            tprune.l1_unstructured(layers[name], "weight", amount=amount)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """`prune.remove` on every masked layer: the zeros are baked into a plain `weight` parameter,
    the hooks and the extra `weight_orig`/`weight_mask` tensors disappear (state_dict keys are the dense ones)."""
    for m in prunable_layers(model).values():
        if tprune.is_pruned(m):
            tprune.remove(m, "weight")
    return model


def masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """Boolean keep-masks per layer: the attached prune masks, or where the weights are non-zero."""
    out = {}
    for name, m in prunable_layers(model).items():
        mask = getattr(m, "weight_mask", None)
        out[name] = (mask != 0) if mask is not None else (_weight(m) != 0)
    return {k: v.clone() for k, v in out.items()}


@torch.no_grad()
def weights(model: nn.Module, nonzero_only: bool = False) -> np.ndarray:
    """All conv/linear weights as one flat array (for histograms)."""
    w = np.concatenate([_weight(m).flatten().numpy() for m in prunable_layers(model).values()])
    return w[w != 0] if nonzero_only else w


def sensitivity(model: nn.Module, evaluate: Callable[[nn.Module], float], ratios: Iterable[float],
                layers: Iterable[str] | None = None, progress: bool = True):
    """Prune one layer at a time (L1 magnitude) at each ratio on a copy and evaluate it.

    Returns a DataFrame with columns layer, ratio, accuracy, drop (baseline minus accuracy), params.
    """
    import pandas as pd

    from labkit.core.progress import tqdm

    ratios = [_check_amount(r) for r in ratios]
    all_layers = prunable_layers(model)
    names = list(all_layers) if layers is None else list(layers)
    base = evaluate(model)
    rows = []
    jobs = [(n, r) for n in names for r in ratios]
    for name, ratio in tqdm(jobs, desc="sensitivity", leave=False, disable=not progress):
        trial = copy.deepcopy(model)
        magnitude_prune(trial, ratio, scope="layer", layers=[name])
        acc = evaluate(trial)
        rows.append({"layer": name, "ratio": ratio, "accuracy": acc, "drop": base - acc,
                     "params": all_layers[name].weight.numel()})
    return pd.DataFrame(rows).assign(baseline=base)


def plan_from_sensitivity(scan, max_drop: float = 0.005, cap: float = 0.95) -> dict[str, float]:
    """Per layer, the largest scanned ratio whose accuracy drop stays within `max_drop` (0 if none)."""
    if scan is None or len(scan) == 0:
        raise ValueError("the sensitivity scan is empty; run `sensitivity(...)` first")
    plan = {}
    for layer, rows in scan.groupby("layer", sort=False):
        ok = rows[(rows["drop"] <= max_drop) & (rows["ratio"] <= cap)]
        plan[layer] = float(ok["ratio"].max()) if len(ok) else 0.0
    return plan


def prune_channels(model: nn.Module, ratio: float, example: torch.Tensor | np.ndarray | None = None,
                   ignored_layers: list[nn.Module] | None = None, importance=None, iterative_steps: int = 1,
                   global_pruning: bool = False, round_to: int | None = None) -> nn.Module:
    """Structural pruning with torch-pruning: a copy of `model` with `ratio` of the channels removed
    from every conv/linear group by L2 magnitude (the last classifier layer is kept whole).

    The copy is a physically smaller network (fewer parameters and MACs). Its saved state needs
    `torch.load(..., weights_only=False)` because the module classes change; ship it as .pt2 or ONNX.
    """
    import torch_pruning as tp

    if not isinstance(ratio, (int, float)) or not 0.0 <= ratio < 1.0:
        raise ValueError(f"ratio is the fraction of channels to remove, in [0, 1); got {ratio!r}")
    if int(iterative_steps) < 1:
        raise ValueError(f"iterative_steps must be at least 1, got {iterative_steps!r}")
    pruned = copy.deepcopy(model).eval()
    if ratio == 0.0:
        return pruned
    if example is None:
        example = torch.zeros(2, 1, 28, 28)
    elif isinstance(example, np.ndarray):
        example = torch.from_numpy(np.asarray(example[:2], np.float32))
    if ignored_layers is None:
        last = list(prunable_layers(pruned).values())[-1]
        ignored = [last]
    else:
        # the caller names layers of `model`; find the same modules in the copy
        ids = {id(m): name for name, m in model.named_modules()}
        names = {ids[id(m)] for m in ignored_layers if id(m) in ids}
        if len(names) != len(ignored_layers):
            raise ValueError("ignored_layers must be modules of `model`")
        ignored = [m for name, m in pruned.named_modules() if name in names]
    pruner = tp.pruner.MetaPruner(
        pruned, example, importance=importance or tp.importance.MagnitudeImportance(p=2),
        pruning_ratio=float(ratio), iterative_steps=int(iterative_steps), ignored_layers=ignored,
        global_pruning=global_pruning, round_to=round_to,
    )
    for _ in range(int(iterative_steps)):
        pruner.step()
    return pruned


def channel_widths(model: nn.Module) -> dict[str, int]:
    """Output channels / features per conv and linear layer (shows what structural pruning removed)."""
    return {name: (m.out_channels if isinstance(m, nn.Conv2d) else m.out_features)
            for name, m in prunable_layers(model).items()}
