import statistics
import time
import timeit

import numpy as np

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
