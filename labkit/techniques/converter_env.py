"""Converters that cannot live beside the kit's pins run in an environment of their own. litert-torch 0.10.0
needs a typing-extensions older than Jupyter allows (envs/litert-torch.txt), so `make setup` builds
`.venv-litert-torch` with the kit's torch, and a notebook hands it a script and files: a torch.export program in,
`.tflite` files out. Nothing but files crosses between the two environments."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from labkit.core.paths import REPO_DIR

# converter -> (its environment's folder in the kit, the variable that points at another Python instead)
CONVERTERS = {"litert-torch": (".venv-litert-torch", "LABKIT_LITERT_TORCH_PYTHON")}


class ConverterError(RuntimeError):
    """A converter's environment is missing, or its script failed."""


def _known(name: str) -> tuple[str, str]:
    if name not in CONVERTERS:
        raise ValueError(f"unknown converter {name!r}; the kit has an environment for {', '.join(CONVERTERS)}")
    return CONVERTERS[name]


def converter_python(name: str = "litert-torch") -> Path | None:
    """The Python of a converter's environment ($LABKIT_LITERT_TORCH_PYTHON, else the kit's
    .venv-litert-torch), or None when it is not there."""
    folder, variable = _known(name)
    python = Path(os.environ.get(variable) or REPO_DIR / folder / "bin" / "python")
    return python if python.exists() else None


def converter_version(name: str = "litert-torch") -> str:
    """The converter's version in its environment, e.g. "0.10.0"."""
    return run_converter(name, ["-c", f"import importlib.metadata as m; print(m.version({name!r}))"]).strip()


def run_converter(name: str, args: list[str | Path], timeout: float = 900, announce: bool = False) -> str:
    """Run `python ARGS` (a script and its arguments) in the converter's environment and return what it printed
    on stdout; its log goes nowhere unless it fails, then ConverterError carries the end of it. `announce` prints
    one line while it runs (seconds to minutes), then its time."""
    python = converter_python(name)
    if python is None:
        folder, variable = _known(name)
        raise ConverterError(f"{name}'s environment is missing: run `make setup` in {REPO_DIR} (it builds {folder}), "
                             f"or point ${variable} at a Python that has {name}")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    t0 = time.perf_counter()
    if announce:
        print(f"running {Path(args[0]).name} in {name}'s environment ...", end="", flush=True)
    try:
        done = subprocess.run([str(python), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                              env=env)
    except subprocess.TimeoutExpired as err:
        raise ConverterError(f"{name} did not finish within {timeout:g} s") from err
    finally:
        if announce:
            print(f" ended after {time.perf_counter() - t0:.0f} s", flush=True)
    if done.returncode != 0:
        raise ConverterError(f"{name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout
