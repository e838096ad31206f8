"""Tiny Shakespeare from data/tinyshakespeare/: verified against its checksum, split at a fixed point
(the last 10% of characters held out)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from labkit.core.data import DataError
from labkit.core.paths import data_dir

FILE = "input.txt"
HELD_OUT = 0.10  # the last 10% of the characters
RESTORE_HINT = "Restore it with `git checkout -- data/tinyshakespeare` (the kit ships this file)."


def dataset_dir() -> Path:
    return data_dir() / "tinyshakespeare"


def verify_checksum() -> str:
    """Hash the shipped text; raise DataError when it or SHA256SUMS is missing, or the hash differs."""
    sums, path = dataset_dir() / "SHA256SUMS", dataset_dir() / FILE
    for needed in (sums, path):
        if not needed.exists():
            raise DataError(f"{needed} is missing. {RESTORE_HINT}")
    expected = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line.strip())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected.get(FILE):
        raise DataError(f"{path} is corrupt: its SHA-256 is {digest[:12]}..., SHA256SUMS says "
                        f"{str(expected.get(FILE))[:12]}... {RESTORE_HINT}")
    return digest


@lru_cache(maxsize=1)
def _text(digest: str) -> str:
    return (dataset_dir() / FILE).read_text(encoding="utf-8")


def load(split: str) -> str:
    """The "train" text (the first 90%) or the "test" text (the last 10%), verified on every call."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    text = _text(verify_checksum())
    cut = int(len(text) * (1 - HELD_OUT))
    return text[:cut] if split == "train" else text[cut:]
