"""Where the kit keeps its files: shipped data, the decoded-data cache and run folders. Every path is resolved
before anything checks it; a relative path in a LABKIT_* variable is taken from the kit's folder, because
kernels run in their notebook's folder while the variable was set where `make lab` ran."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # labkit/
REPO_DIR = PACKAGE_DIR.parent


def env_path(name: str) -> Path | None:
    """The path in environment variable `name`, resolved (relative to the kit's folder), or None if unset."""
    value = os.environ.get(name)
    return (REPO_DIR / Path(value).expanduser()).resolve() if value else None


def folder(path: str | Path, what: str = "--out") -> Path:
    """`path` resolved, refused with a sentence when it, or a folder it would be created in, is a file;
    nothing is created."""
    path = Path(path).expanduser().resolve()
    blocker = next(p for p in (path, *path.parents) if p.exists())
    if not blocker.is_dir():
        where = "" if blocker == path else f" lies inside {blocker}, which"
        raise NotADirectoryError(f"{what} {path}{where} is a file, not a folder; give the path of a new or "
                                 "existing folder instead (nothing was changed).")
    return path


def data_dir() -> Path:
    """The shipped data folder (`LABKIT_DATA` overrides it)."""
    return env_path("LABKIT_DATA") or REPO_DIR / "data"


def cache_dir() -> Path:
    """A folder outside git for decoded data (`LABKIT_CACHE` overrides it)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "labkit"
    path = folder(env_path("LABKIT_CACHE") or default, "the data cache (LABKIT_CACHE)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    """The parent of new run folders (`LABKIT_RUNS` overrides it)."""
    return env_path("LABKIT_RUNS") or REPO_DIR / "runs"


def notebooks_dir() -> Path:
    return REPO_DIR / "notebooks"
