"""Run profiles: how much data and time each notebook spends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """Sizes shared by every notebook. None means the whole split."""

    name: str
    n_train: int | None
    n_test: int | None
    n_parity: int
    n_calib: int
    bench_rounds: int
    bench_repeats: int


PROFILES = {
    "smoke": Profile("smoke", n_train=2000, n_test=500, n_parity=200, n_calib=64,
                     bench_rounds=2, bench_repeats=3),
    "class": Profile("class", n_train=None, n_test=None, n_parity=1000, n_calib=256,
                     bench_rounds=5, bench_repeats=10),
    "full": Profile("full", n_train=None, n_test=None, n_parity=10000, n_calib=1000,
                    bench_rounds=10, bench_repeats=20),
}


def get(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
