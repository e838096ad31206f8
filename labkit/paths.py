"""Where the kit keeps its files: shipped data, the decoded-data cache and run folders."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def data_dir() -> Path:
    """The shipped data folder (`LABKIT_DATA` overrides it)."""
    return Path(os.environ.get("LABKIT_DATA", REPO_DIR / "data"))


def cache_dir() -> Path:
    """A folder outside git for decoded data (`LABKIT_CACHE` overrides it)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "labkit"
    path = Path(os.environ.get("LABKIT_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    """The parent of new run folders (`LABKIT_RUNS` overrides it)."""
    return Path(os.environ.get("LABKIT_RUNS", REPO_DIR / "runs"))


def notebooks_dir() -> Path:
    return REPO_DIR / "notebooks"
