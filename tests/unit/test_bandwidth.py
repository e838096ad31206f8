"""labkit.measure.bandwidth: cache sizes from the OS, the read probe and the decode roofline."""

from __future__ import annotations

import pytest

from labkit.measure import bandwidth as bw


def _cache(root, cpu: int, index: int, level: int, kind: str, size: str, shared: str) -> None:
    folder = root / f"cpu{cpu}" / "cache" / f"index{index}"
    folder.mkdir(parents=True)
    for name, value in (("level", level), ("type", kind), ("size", size), ("shared_cpu_list", shared)):
        (folder / name).write_text(f"{value}\n")


def test_sysfs_caches_count_each_shared_cache_once(tmp_path):
    """Two cores, each with its own L1d, L1i and L2, sharing one L3 (as on the kit's reference machines)."""
    for cpu in (0, 1):
        _cache(tmp_path, cpu, 0, 1, "Data", "48K", str(cpu))
        _cache(tmp_path, cpu, 1, 1, "Instruction", "32K", str(cpu))
        _cache(tmp_path, cpu, 2, 2, "Unified", "1024K", str(cpu))
        _cache(tmp_path, cpu, 3, 3, "Unified", "32768K", "0-1")
    assert bw._sysfs_caches(tmp_path) == {"L1d": 96 << 10, "L2": 2 << 20, "L3": 32 << 20}
    assert bw.describe_caches(bw._sysfs_caches(tmp_path)) == "L1d 96 KiB, L2 2 MiB, L3 32 MiB (whole machine)"
    assert bw._sysfs_caches(tmp_path / "none") == {}


def test_the_roofline_is_bandwidth_over_bytes_per_token():
    assert bw.roofline_tokens_per_s(1.5e9, 30.0) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="positive"):
        bw.roofline_tokens_per_s(0, 30.0)


def test_the_read_probe_reports_a_median_within_its_quartiles():
    got = bw.read_bandwidth(threads=1, buffer_bytes=64 << 20, rounds=5)
    assert got.threads == 1 and got.buffer_bytes == 64 << 20
    assert 0 < got.low <= got.gbs <= got.high and got.spread >= 0
    assert "GB/s" in str(got) and "1 thread" in str(got)


def test_spread_is_the_larger_side_of_the_quartiles():
    assert bw.Bandwidth(20.0, 18.0, 21.0, 2, 1 << 29).spread == pytest.approx(0.1)
