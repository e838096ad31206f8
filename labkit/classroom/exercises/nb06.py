"""Notebook 06's exercises: the Pareto front of latency against accuracy, and the choice of the model to
ship under budgets."""

from __future__ import annotations

import numpy as np

from labkit.classroom.checking import Case, Exercise
from labkit.measure.pareto import pareto_mask


def pareto_front(latency_ms, accuracy) -> np.ndarray:
    """Reference: True for the candidates no other one beats (as fast or faster and as accurate or more,
    strictly better in one)."""
    return pareto_mask(np.asarray(latency_ms, float), np.asarray(accuracy, float))


def _pareto_cases() -> list[Case]:
    return [Case("five candidates", ([3.0, 1.0, 2.0, 5.0, 4.0], [0.90, 0.80, 0.88, 0.93, 0.89])),
            Case("a tie on latency", ([1.0, 1.0, 2.0], [0.80, 0.85, 0.90])),
            Case("two identical candidates", ([1.0, 1.0, 2.0], [0.85, 0.85, 0.80])),
            Case("a single candidate", ([2.5], [0.9]))]


def _pareto_non_strict(latency_ms, accuracy):
    c, b = np.asarray(latency_ms, float), np.asarray(accuracy, float)
    return np.array([not (((c <= c[i]) & (b >= b[i])).sum() > 1) for i in range(len(c))])


def _pareto_slowest(latency_ms, accuracy):
    return pareto_mask(-np.asarray(latency_ms, float), np.asarray(accuracy, float))


PARETO_FRONT = Exercise(
    "06.pareto_front", "pareto_front", "The Pareto front of latency against accuracy",
    "the front mask of four small candidate sets: a plain set, a tie on latency, two identical candidates "
    "(both stay on the front), a single candidate",
    "a candidate is off the front when another is at least as fast AND at least as accurate, and strictly "
    "better in one of the two",
    pareto_front, _pareto_cases,
    ((_pareto_non_strict, "a candidate dominates another only if it is strictly better in at least one: "
                          "two identical candidates do not remove each other"),
     (_pareto_slowest, "lower latency is better: a faster candidate beats a slower one")))


def choose_within_budgets(candidates, latency_budget_ms: float, size_budget_bytes: float,
                          accuracy_floor: float) -> str | None:
    """Reference: the label of the most accurate candidate within all three budgets (limits included);
    ties go to the faster, then the smaller; None when nothing fits."""
    return _choose(candidates, latency_budget_ms, size_budget_bytes, accuracy_floor)


def _choose(df, latency_budget_ms, size_budget_bytes, accuracy_floor, strict=False, size_matters=True):
    lat, size, acc = df["latency_ms_p50"], df["size_bytes"], df["accuracy"]
    fits = ((lat < latency_budget_ms) & (size < size_budget_bytes) & (acc > accuracy_floor) if strict else
            (lat <= latency_budget_ms) & ((size <= size_budget_bytes) | (not size_matters)) & (acc >= accuracy_floor))
    if not fits.any():
        return None
    best = df[fits].sort_values(["accuracy", "latency_ms_p50", "size_bytes"], ascending=[False, True, True])
    return str(best["label"].iloc[0])


def _choose_cases() -> list[Case]:
    import pandas as pd

    df = pd.DataFrame({"label": ["teacher", "int8", "pruned", "student", "student int8"],
                       "accuracy": [0.937, 0.935, 0.925, 0.915, 0.913],
                       "latency_ms_p50": [8.0, 4.0, 3.0, 1.0, 0.8],
                       "size_bytes": [1.7e6, 0.45e6, 0.5e6, 0.15e6, 0.05e6]})
    tie = df.assign(accuracy=[0.937, 0.925, 0.925, 0.925, 0.90])
    return [Case("everything fits: the most accurate", (df, 10.0, 2e6, 0.9)),
            Case("the most accurate is too slow", (df, 5.0, 2e6, 0.9)),
            Case("the most accurate fast ones are too large", (df, 5.0, 4e5, 0.9)),
            Case("budgets met exactly count as fitting", (df, 3.0, 0.5e6, 0.925)),
            Case("a tie on accuracy goes to the faster", (tie, 5.0, 2e6, 0.9)),
            Case("nothing fits: None", (df, 0.5, 2e6, 0.9))]


CHOOSE = Exercise(
    "06.choose", "choose_within_budgets", "The choice of the model to ship under budgets",
    "the chosen label on six small candidate tables: all fit, the most accurate too slow, too large, "
    "budgets met exactly, a tie on accuracy, nothing fits (None)",
    "keep the rows with latency_ms_p50 <= latency budget, size_bytes <= size budget and accuracy >= floor; "
    "return the label of the most accurate (ties: faster, then smaller), or None when none is left",
    choose_within_budgets, _choose_cases,
    ((lambda df, lat, size, acc: _choose(df, lat, size, acc, strict=True),
      "a budget is a limit you may reach: use <= for latency and size and >= for the accuracy floor"),
     (lambda df, lat, size, acc: _choose(df, lat, size, acc, size_matters=False),
      "all three budgets apply: the size budget too")),
    libraries=("pandas", "numpy"))

EXERCISES = [PARETO_FRONT, CHOOSE]
