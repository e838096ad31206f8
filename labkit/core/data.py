"""Fashion-MNIST from the shipped IDX files: verified once, cached decoded, served as arrays,
torch loaders or tf datasets."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import os
import secrets
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labkit.core.paths import cache_dir, data_dir

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
FILES = {
    ("train", "images"): "train-images-idx3-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("test", "images"): "t10k-images-idx3-ubyte.gz",
    ("test", "labels"): "t10k-labels-idx1-ubyte.gz",
}
TEST_IMAGES = 10_000  # the size of Fashion-MNIST's test split
# Pixel statistics of the training set, used to normalise every input the kit feeds a model.
MEAN, STD = 0.2860, 0.3530
RESTORE_HINT = (
    "Restore it with `git checkout -- data/fashion-mnist` (the kit ships these files), "
    "or copy it from Debian's dataset-fashion-mnist package."
)


class DataError(RuntimeError):
    """A shipped data file is missing, corrupt or unreadable."""


@dataclass(frozen=True)
class Split:
    """Normalised images (N, 1, 28, 28) float32 and labels (N,) int64."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def head(self, n: int | None) -> Split:
        """The first `n` examples (all of them when `n` is None)."""
        return self if n is None else Split(self.x[:n], self.y[:n])


def dataset_dir() -> Path:
    return data_dir() / "fashion-mnist"


def expected_checksums() -> dict[str, str]:
    sums = dataset_dir() / "SHA256SUMS"
    if not sums.exists():
        raise DataError(f"{sums} is missing, so the data cannot be verified. {RESTORE_HINT}")
    pairs = (line.split() for line in sums.read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def verify_checksums() -> dict[str, str]:
    """Hash every shipped file; raise DataError naming the first missing or corrupt one."""
    expected = expected_checksums()
    for name in FILES.values():
        path = dataset_dir() / name
        if not path.exists():
            raise DataError(f"{path} is missing. {RESTORE_HINT}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected.get(name):
            raise DataError(
                f"{path} is corrupt: its SHA-256 is {digest[:12]}..., "
                f"SHA256SUMS says {str(expected.get(name))[:12]}... {RESTORE_HINT}"
            )
    return expected


def _read_idx(path: Path) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as err:
        raise DataError(f"{path} is not a readable gzip file ({err}). {RESTORE_HINT}") from err
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _stamp() -> str:
    """Size and modification time of each source file: a changed file invalidates the cache."""
    stamp = {}
    for name in FILES.values():
        path = dataset_dir() / name
        if not path.exists():
            raise DataError(f"{path} is missing. {RESTORE_HINT}")
        st = path.stat()
        stamp[name] = [st.st_size, st.st_mtime_ns]
    return json.dumps(stamp, sort_keys=True)


def _read_cache(cache: Path, stamp: str, report: bool = True) -> dict[str, np.ndarray] | None:
    """The decoded arrays in `cache` if it is a whole copy of the current data files, else None. A file that
    fails to load is damaged: with `report`, one line on stderr says so (the caller rebuilds it)."""
    if not cache.exists():
        return None
    try:
        with np.load(cache) as npz:
            if "stamp" not in npz.files or str(npz["stamp"]) != stamp:
                return None  # made from other data files, or by an older labkit
            return {f"{split}_{kind}": npz[f"{split}_{kind}"] for split, kind in FILES}
    except Exception as err:  # truncated, overwritten, not a zip, a member missing: rebuild it
        if report:
            print(f"labkit: the data cache {cache} is damaged ({type(err).__name__}: {err}); "
                  "rebuilding it from the shipped data.", file=sys.stderr)
        return None


def _write_cache(cache: Path, stamp: str, arrays: dict[str, np.ndarray]) -> None:
    """Write `cache` under a name of its own, then rename it into place: readers and other writers only
    ever see a whole file."""
    tmp = cache.with_name(f"{cache.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, stamp=np.array(stamp), **arrays)
        os.replace(tmp, cache)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on `path` (created if needed), so one process decodes while the others wait."""
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: the atomic rename alone keeps the cache whole
            pass
        yield


def load_raw() -> dict[str, np.ndarray]:
    """uint8 images and labels for both splits, verified on first use and cached decoded. Any number of
    processes may fill the cache at once; a damaged cache file is rebuilt."""
    cache = cache_dir() / "fashion-mnist.npz"
    stamp = _stamp()
    arrays = _read_cache(cache, stamp)
    if arrays is not None:
        return arrays
    with _locked(cache.with_suffix(".lock")):
        arrays = _read_cache(cache, stamp, report=False)  # filled by another process while this one waited?
        if arrays is None:
            verify_checksums()
            arrays = {f"{split}_{kind}": _read_idx(dataset_dir() / name) for (split, kind), name in FILES.items()}
            _write_cache(cache, stamp, arrays)
    return arrays


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) to normalised float32 (N, 1, 28, 28), the layout every model here takes."""
    return ((images.astype(np.float32) / 255.0 - MEAN) / STD)[:, None, :, :]


def load(split: str, n: int | None = None, seed: int | None = None) -> Split:
    """A split ("train" or "test"), optionally `n` examples drawn at random with `seed`."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    raw = load_raw()
    images, labels = raw[f"{split}_images"], raw[f"{split}_labels"].astype(np.int64)
    if n is not None and n < len(labels):
        rng = np.random.default_rng(0 if seed is None else seed)
        idx = np.sort(rng.permutation(len(labels))[:n])
        images, labels = images[idx], labels[idx]
    return Split(normalize(images), labels)
