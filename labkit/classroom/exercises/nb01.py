"""Notebook 01's exercise: a parity check that catches the trace pitfall."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labkit.classroom.checking import Case, Exercise


def _parity(reference, candidate, atol: float, distance: Callable[[np.ndarray], float]) -> dict:
    ref, cand = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    max_abs = float(distance(ref - cand))
    top1 = float(np.mean(ref.argmax(1) == cand.argmax(1)))
    return {"max_abs": max_abs, "top1": top1, "passed": max_abs <= atol and top1 == 1.0}


def parity_check(reference, candidate, atol: float = 1e-4) -> dict:
    """Reference: largest |difference|, share of equal top-1 decisions, and whether both are within tolerance."""
    if np.shape(reference) != np.shape(candidate):
        raise ValueError(f"shapes differ: {np.shape(reference)} vs {np.shape(candidate)}")
    return _parity(reference, candidate, atol, lambda d: np.abs(d).max())


def _parity_cases() -> list[Case]:
    ref = np.random.default_rng(1).normal(0, 3, (6, 4)).astype(np.float32)
    other_branch = ref.copy()
    other_branch[3:] = -other_branch[3:]  # as if these images took the branch the trace did not record
    shifted = ref + np.float32(1e-3)
    return [Case("identical logits", (ref, ref.copy())),
            Case("float32 rounding noise (1e-6)", (ref, ref + np.float32(1e-6))),
            Case("trace pitfall: half the images took another branch", (ref, other_branch)),
            Case("same decisions, every logit 1e-3 too high", (ref, shifted)),
            Case("the same, with atol=1e-2", (ref, shifted), {"atol": 1e-2}),
            Case("shapes differ", (ref, ref[:3]), raises=ValueError)]


def _parity_signed(reference, candidate, atol=1e-4):
    return _parity(reference, candidate, atol, lambda d: d.max())


def _parity_top1_only(reference, candidate, atol=1e-4):
    out = parity_check(reference, candidate, atol)
    return {**out, "passed": out["top1"] == 1.0}


def _parity_mean(reference, candidate, atol=1e-4):
    return _parity(reference, candidate, atol, lambda d: np.abs(d).mean())


PARITY_CHECK = Exercise(
    "01.parity_check", "parity_check", "A parity check that catches the trace pitfall",
    "max |reference - candidate|, the top-1 agreement and the verdict on six small logit pairs: identical, "
    "rounding noise (passes), a traced branch gone wrong (fails), every logit 1e-3 off (fails at 1e-4, "
    "passes at atol=1e-2), and a ValueError when the shapes differ",
    "max_abs is the largest |reference - candidate|, top1 the share of rows whose argmax agrees, "
    "passed is max_abs <= atol and top1 == 1.0; raise ValueError when the shapes differ",
    parity_check, _parity_cases,
    ((_parity_signed, "take the absolute value of the difference before the max: a candidate below the "
                      "reference is as wrong as one above"),
     (_parity_top1_only, "passed needs both: max_abs <= atol AND every top-1 decision equal; equal decisions "
                         "alone miss logits that drifted"),
     (_parity_mean, "use the largest difference, not the mean: one bad image must fail the check")))

EXERCISES = [PARITY_CHECK]
