"""Honest latency measurement: warm-up, a machine-load check, variants interleaved across rounds,
percentiles with spread, throughput."""

from __future__ import annotations

import os
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from labkit.core.cpu import cpu_count
from labkit.core.progress import tqdm


@dataclass(frozen=True)
class LatencyStats:
    """Per-call latency of one variant at one batch size, in milliseconds."""

    variant: str
    batch: int
    n: int
    p50: float
    p90: float
    p99: float
    iqr: float
    mean: float
    throughput_sps: float
    samples: tuple[float, ...]

    def as_row(self) -> dict:
        row = asdict(self)
        row.pop("samples")
        return row


class BusyMachineWarning(UserWarning):
    """Other processes are using the CPU while the kit times something."""


def _busy_jiffies() -> int:
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
    return user + nice + system + irq + softirq + steal


def _family_seconds() -> float:
    """CPU seconds used so far by this process's descendants, living (Linux /proc) or finished and reaped
    (`os.times`): a notebook's own child processes (compile workers, converters) are its work, not another's."""
    done = os.times()
    total = done.children_user + done.children_system
    parent, ticks = {}, {}
    try:
        tick = os.sysconf("SC_CLK_TCK")
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"{entry.path}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
                except OSError:  # it ended while we looked
                    continue
                parent[int(entry.name)] = int(fields[1])
                ticks[int(entry.name)] = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    except (OSError, ValueError, AttributeError, IndexError):
        return total
    family, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - family
        family |= frontier
    return total + sum(ticks[pid] for pid in family) / tick


def machine_load(window_s: float = 0.3) -> float | None:
    """How busy the other processes keep the CPU, in cores per core (0: idle, 1: every core taken).

    On Linux it is measured now, over `window_s`, from /proc/stat minus the CPU time of this process and of the
    processes it started, so the notebook's own work (a training cell that just ended, this kernel's threads, its
    compile workers) does not count: only what else runs on the machine. Elsewhere it is the 1-minute load average
    per core, which does count it; None where the OS reports neither."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        busy0, own0, t0 = _busy_jiffies(), time.process_time() + _family_seconds(), time.perf_counter()
        time.sleep(window_s)
        busy1, own1, t1 = _busy_jiffies(), time.process_time() + _family_seconds(), time.perf_counter()
        others = (busy1 - busy0) / tick - (own1 - own0)
        return min(1.0, max(0.0, others / (t1 - t0)) / cpu_count())  # the clock and the tick counts differ a little
    except (OSError, ValueError, AttributeError):
        pass
    try:
        return os.getloadavg()[0] / cpu_count()
    except (AttributeError, OSError):
        return None


def check_load(threshold: float = 0.5) -> float | None:
    """Warn (one line, BusyMachineWarning) when other processes are likely to disturb timings."""
    load = machine_load()
    if load is not None and load > threshold:
        warnings.warn(BusyMachineWarning(
            f"other processes keep {load:.0%} of the CPU busy; timings will be noisy. "
            "Close other notebooks or wait, then re-run this cell."), stacklevel=3)
    return load


def summarize(variant: str, batch: int, samples_ms: list[float]) -> LatencyStats:
    a = np.asarray(samples_ms, dtype=float)
    p25, p50, p75, p90, p99 = np.percentile(a, [25, 50, 75, 90, 99])
    return LatencyStats(variant, batch, len(a), float(p50), float(p90), float(p99), float(p75 - p25),
                        float(a.mean()), float(batch / (p50 / 1000.0)), tuple(a.tolist()))


def time_call(fn: Callable[[], object], repeats: int) -> list[float]:
    """Milliseconds per call, one sample per call."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def compare(
    variants: dict[str, Callable[[np.ndarray], object]],
    inputs: dict[int, np.ndarray],
    rounds: int = 5,
    repeats: int = 10,
    warmup: int = 3,
    min_round_ms: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> dict[tuple[str, int], LatencyStats]:
    """Time every variant at every batch size in `inputs` ({batch: array}).

    Each round visits the variants in a fresh random order, so drift in machine speed spreads
    over all of them instead of favouring whichever ran first. `min_round_ms` raises `repeats`
    for very fast calls so each round lasts long enough to be meaningful.
    """
    check_load()
    rng = random.Random(seed)
    samples: dict[tuple[str, int], list[float]] = {(v, b): [] for v in variants for b in inputs}
    plan = {}
    for (v, b) in samples:
        fn, x = variants[v], inputs[b]
        for _ in range(warmup):
            fn(x)
        per_call = max(time_call(partial(fn, x), 1)[0], 1e-3)
        plan[(v, b)] = max(repeats, int(min_round_ms / per_call))
    keys = list(samples)
    for _ in tqdm(range(rounds), desc="benchmark", leave=False, disable=not progress):
        rng.shuffle(keys)
        for v, b in keys:
            fn, x = variants[v], inputs[b]
            samples[(v, b)] += time_call(partial(fn, x), plan[(v, b)])
    return {k: summarize(k[0], k[1], s) for k, s in samples.items()}


def table(results: dict[tuple[str, int], LatencyStats]):
    """Results as a DataFrame: one row per variant and batch size."""
    import pandas as pd

    return pd.DataFrame([r.as_row() for r in results.values()]).rename(
        columns={"p50": "latency_ms_p50", "p90": "latency_ms_p90", "p99": "latency_ms_p99", "iqr": "latency_ms_iqr"}
    )
