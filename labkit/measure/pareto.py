"""The Pareto front: the candidates no other candidate beats on both cost and benefit. Plots draw it, the
capstone chooses among it, and exercise 06.pareto_front asks for it."""

from __future__ import annotations

import numpy as np


def pareto_mask(cost: np.ndarray, benefit: np.ndarray) -> np.ndarray:
    """True for points no other point beats (lower or equal cost and higher or equal benefit, one strictly)."""
    cost, benefit = np.asarray(cost, float), np.asarray(benefit, float)
    mask = np.ones(len(cost), bool)
    for i in range(len(cost)):
        dominated = (cost <= cost[i]) & (benefit >= benefit[i]) & ((cost < cost[i]) | (benefit > benefit[i]))
        mask[i] = not dominated.any()
    return mask
