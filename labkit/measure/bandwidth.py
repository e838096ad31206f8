"""What limits a language model's decode on this machine: the sizes of its caches (read from the operating system)
and how fast its memory streams bytes to all the threads a runtime uses (a read probe far larger than the last-level
cache), and the roofline that follows: at batch 1 every decode step reads every weight once, so tokens per second
can be at most bandwidth / bytes read per token."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEVELS = ("L1d", "L2", "L3")


def caches() -> dict[str, int]:
    """Bytes of each cache level, summed over the machine's instances of it ({} where the OS does not say). Linux
    reads sysfs, macOS sysctl."""
    if platform.system() == "Darwin":
        found = {}
        for level, key in (("L1d", "hw.l1dcachesize"), ("L2", "hw.l2cachesize"), ("L3", "hw.l3cachesize")):
            out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True).stdout.strip()
            if out.isdigit() and int(out):
                found[level] = int(out)
        return found
    return _sysfs_caches(Path("/sys/devices/system/cpu"))


def _sysfs_caches(root: Path) -> dict[str, int]:
    """Linux's view: each cache of each CPU once, per distinct set of CPUs sharing it."""
    seen: dict[tuple[str, str], int] = {}
    for index in root.glob("cpu[0-9]*/cache/index[0-9]*"):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = (index / "size").read_text().strip()
            shared = (index / "shared_cpu_list").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        name = "L1d" if level == 1 else f"L{level}"
        seen[(name, shared)] = _bytes(size)
    totals: dict[str, int] = {}
    for (name, _), size in seen.items():
        totals[name] = totals.get(name, 0) + size
    return {level: totals[level] for level in LEVELS if level in totals}


def _bytes(size: str) -> int:
    """sysfs's '32768K' or '2M' in bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)


@dataclass(frozen=True)
class Bandwidth:
    """A read probe's result: GB/s (10^9 bytes) as the median of its rounds with the quartiles as its spread, the
    threads that read and the bytes of the buffer."""

    gbs: float
    low: float
    high: float
    threads: int
    buffer_bytes: int

    @property
    def spread(self) -> float:
        """The quartiles' distance from the median, as a fraction of it (the larger side)."""
        return max(self.high - self.gbs, self.gbs - self.low) / self.gbs

    def __str__(self) -> str:
        return (f"{self.gbs:.1f} GB/s (quartiles {self.low:.1f}-{self.high:.1f}) reading "
                f"{self.buffer_bytes / 2**20:,.0f} MiB with {self.threads} thread{'s' * (self.threads != 1)}")


def read_bandwidth(threads: int | None = None, buffer_bytes: int | None = None, rounds: int = 9) -> Bandwidth:
    """Memory bandwidth as a runtime's matrix-vector products see it: torch sums a float32 buffer of `buffer_bytes`
    (default: 8x the last-level cache, at least 512 MiB) on `threads` threads (default: torch's), one warm-up and
    `rounds` timed passes. A sum does one addition per 4 bytes read, so memory, not arithmetic, sets its pace. (A
    single-threaded numpy copy is the naive probe: one core cannot keep the memory system busy.)"""
    import torch

    last = max(caches().values(), default=32 << 20)
    size = buffer_bytes or max(8 * last, 512 << 20)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        x = torch.ones(size // 4, dtype=torch.float32)
        x.sum()
        seconds = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            x.sum()
            seconds.append(time.perf_counter() - t0)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    gbs = x.numel() * 4 / np.array(seconds) / 1e9
    low, mid, high = np.percentile(gbs, [25, 50, 75])
    return Bandwidth(float(mid), float(low), float(high), used, x.numel() * 4)


def single_thread_copy(buffer_bytes: int = 256 << 20, rounds: int = 5) -> float:
    """GB/s moved by one `np.copyto` on one thread (read and write counted): the naive probe, for contrast."""
    src = np.ones(buffer_bytes // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(rounds))
    return 2 * buffer_bytes / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def roofline_tokens_per_s(bytes_per_token: float, bandwidth_gbs: float) -> float:
    """The most decode tokens per second at batch 1 when each token must read `bytes_per_token` from memory."""
    if bytes_per_token <= 0:
        raise ValueError(f"bytes per token must be positive, got {bytes_per_token}")
    return bandwidth_gbs * 1e9 / bytes_per_token


def describe_caches(found: dict[str, int] | None = None) -> str:
    """The cache sizes in words, e.g. 'L1d 96 KiB, L2 2 MiB, L3 32 MiB (whole machine)'."""
    found = caches() if found is None else found
    if not found:
        return f"cache sizes not reported by the OS ({platform.system()}, {os.cpu_count()} CPUs)"
    parts = [f"{k} {v / 2**20:g} MiB" if v >= 1 << 20 else f"{k} {v >> 10} KiB" for k, v in found.items()]
    return ", ".join(parts) + " (whole machine)"
