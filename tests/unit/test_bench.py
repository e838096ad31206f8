import os
import statistics
import time
import timeit

import numpy as np
import pytest

from labkit.measure import bench
from labkit.measure.pareto import pareto_mask


def _workload():
    time.sleep(0.010)  # a call of known length that a busy CPU barely stretches (CPU-bound work would)


def test_harness_agrees_with_independent_timing():
    res = bench.compare({"w": lambda _x: _workload()}, {1: np.zeros(1)}, rounds=3, repeats=5, progress=False)
    harness = res[("w", 1)].p50
    independent = statistics.median(t * 1000 for t in timeit.repeat(_workload, number=1, repeat=15))
    assert abs(harness - independent) / independent < 0.10
    assert 10.0 <= harness < 12.0  # the known length, plus the OS's wake-up delay


def test_summary_percentiles_and_throughput():
    stats = bench.summarize("v", 64, [float(v) for v in range(1, 101)])
    assert stats.p50 == 50.5 and stats.p90 > stats.p50 and stats.p99 > stats.p90
    assert stats.iqr == stats.samples[74] + 0.25 - (stats.samples[24] + 0.75)
    assert abs(stats.throughput_sps - 64 / 0.0505) < 1e-6


def test_interleaving_measures_every_variant_and_batch():
    res = bench.compare({"a": lambda x: x.sum(), "b": lambda x: x.mean()}, {1: np.ones(1), 8: np.ones(8)},
                        rounds=3, repeats=2, progress=False)
    assert set(res) == {("a", 1), ("a", 8), ("b", 1), ("b", 8)}
    assert all(r.n >= 6 for r in res.values())


def test_pareto_mask():
    cost = np.array([1.0, 2.0, 3.0, 2.0])
    benefit = np.array([0.8, 0.9, 0.85, 0.7])
    assert pareto_mask(cost, benefit).tolist() == [True, True, False, False]


def test_machine_load_leaves_out_this_process(monkeypatch):
    """Other processes' CPU time only: the notebook's own work must not make it warn about itself."""
    ticks = iter([1000, 1000 + 2 * 30])  # 0.6 s of CPU in a 0.3 s window at 100 ticks per second: 2 cores busy
    own = iter([5.0, 5.3])  # ... of which this process used 0.3 s
    monkeypatch.setattr(bench, "_busy_jiffies", lambda: next(ticks))
    monkeypatch.setattr(bench.time, "process_time", lambda: next(own))
    monkeypatch.setattr(bench, "_family_seconds", lambda: 0.0)
    monkeypatch.setattr(bench.os, "sysconf", lambda name: 100)
    monkeypatch.setattr(bench, "cpu_count", lambda: 2)
    clock = iter([0.0, 0.3])
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(bench.time, "sleep", lambda s: None)
    assert bench.machine_load() == pytest.approx(0.5)  # (0.6 - 0.3) s / 0.3 s = one core of two


def test_machine_load_is_at_most_every_core(monkeypatch):
    """Tick counts and the wall clock disagree a little: the load never reads above 100% of the cores."""
    ticks = iter([1000, 1000 + 2 * 32])  # 0.64 s of CPU in a 0.3 s window on 2 cores, none of it this process's
    monkeypatch.setattr(bench, "_busy_jiffies", lambda: next(ticks))
    monkeypatch.setattr(bench, "_family_seconds", lambda: 0.0)
    monkeypatch.setattr(bench.time, "process_time", lambda: 1.0)
    monkeypatch.setattr(bench.os, "sysconf", lambda name: 100)
    monkeypatch.setattr(bench, "cpu_count", lambda: 2)
    clock = iter([0.0, 0.3])
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(bench.time, "sleep", lambda s: None)
    assert bench.machine_load() == 1.0


def test_the_notebooks_own_child_processes_count_as_its_own_work():
    """A child the kernel started (a compile worker) is the notebook's work: its CPU time is counted as its own,
    while it runs and after it has ended."""
    import subprocess
    import sys

    if not os.path.exists("/proc/self/stat"):
        pytest.skip("counting child processes' CPU time needs Linux's /proc")
    burn = "import time\nwhile time.process_time() < 0.35: pass\nprint('ready', flush=True)\ntime.sleep(30)"
    before = bench._family_seconds()
    child = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert bench._family_seconds() - before >= 0.3  # alive: read from /proc (in clock ticks)
    finally:
        child.kill()
        child.wait()
    assert bench._family_seconds() - before >= 0.3  # ended and reaped: in this process's children's times


def test_the_busy_warning_is_one_line(monkeypatch):
    import warnings

    import labkit  # noqa: F401  (installs the one-line format for the kit's warnings)

    monkeypatch.setattr(bench, "machine_load", lambda: 0.9)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bench.check_load()
    w = caught[0]
    text = warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
    assert text == "BusyMachineWarning: other processes keep 90% of the CPU busy; timings will be noisy. " \
                   "Close other notebooks or wait, then re-run this cell.\n"
