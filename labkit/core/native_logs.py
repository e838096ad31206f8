"""Native log lines kept out of the notebook. TensorFlow and LiteRT log from C++ straight to the process's file
descriptors 1 and 2, past Python's `sys.stderr` and (with TensorFlow 2.21) past `TF_CPP_MIN_LOG_LEVEL`; ExecuTorch's
bindings send its C++ log to `sys.stderr`: a kernel shows both as pink blocks. `quiet()` captures the descriptors
(and on demand Python's streams) around an import or a call, then writes back every captured line that is not known
noise (NOISE, each with its reason), so a real error still shows. `announce_slow_imports()` says so while TensorFlow
imports (seconds)."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.abc
import io
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator

# (pattern, why the line says nothing a learner needs)
NOISE = [
    (r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
     "absl's notice that it has not been set up yet; the lines after it are judged on their own"),
    (r"^I\d{4} [\d:.]+ +\d+ \w+\.cc:\d+\] ",
     "TensorFlow's C++ INFO lines (CPU feature notes, oneDNN banners): facts about the build, not this run"),
    (r"oneDNN custom operations are on|^To enable the following instructions: .* rebuild TensorFlow",
     "the two halves of TensorFlow's start-up banners about oneDNN and the CPU's instruction sets"),
    (r"^fully_quantize: \d, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+$",
     "the TFLite converter echoes the int8 settings it was given"),
    (r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$",
     "LiteRT says once per process that it uses XNNPACK, its default CPU delegate"),
    (r"^\[cpuinfo_utils\.cpp:\d+\] (Reading file /sys/\S+|Failed to open midr file /sys/\S+|"
     r"CPU info and manual query on # of cpus dont match\.)$",
     "ExecuTorch looks for ARM CPU identification files while it sizes its thread pool; absent on x86"),
    (r"^\[threadpool\.cpp:\d+\] Resetting threadpool to \d+ threads\.$",
     "ExecuTorch confirms the thread-pool size the kit asked for (runtimes.executorch_pool)"),
]
_NOISE = [re.compile(pattern) for pattern, _ in NOISE]


def is_noise(line: str) -> bool:
    """Whether a captured line is on the NOISE list (blank lines count as noise)."""
    return not line.strip() or any(rx.search(line) for rx in _NOISE)


def _flush_c_streams() -> None:
    """Flush C's stdio buffers, so what native code printed lands in the file it was printed to."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library to reach (Windows): nothing buffered to save
        pass


@contextlib.contextmanager
def quiet(python_streams: bool = False) -> Iterator[None]:
    """Run the block with file descriptors 1 and 2 captured; afterwards write each captured line that is not NOISE
    back where it was headed, so real errors and warnings stay. `python_streams` captures Python's `sys.stdout` and
    `sys.stderr` too (ExecuTorch's bindings log there): only around short calls, since a logging handler created
    inside the block would keep writing to the captured stream after it."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    py_out, py_err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved = {fd: os.dup(fd) for fd in (1, 2)}
        _flush_c_streams()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            if python_streams:
                with contextlib.redirect_stdout(py_out), contextlib.redirect_stderr(py_err):
                    yield
            else:
                yield
        finally:
            for stream in (sys.stdout, sys.stderr):  # in a script, Python's own prints reach the files too
                stream.flush()
            _flush_c_streams()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            for native, python, stream in ((out, py_out, sys.stdout), (err, py_err, sys.stderr)):
                native.seek(0)
                text = native.read().decode(errors="replace") + "\n" + python.getvalue()
                kept = [line for line in text.splitlines() if not is_noise(line)]
                if kept:
                    stream.write("\n".join(kept) + "\n")
                    stream.flush()


# Packages whose first import takes seconds and prints native start-up lines: {top-level module: name shown}
SLOW_IMPORTS = {"tensorflow": "TensorFlow"}


class _SlowImportFinder(importlib.abc.MetaPathFinder):
    """Wraps the first import of a SLOW_IMPORTS package: one progress line, native start-up lines kept out."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in SLOW_IMPORTS:
            return None
        spec = _find_without(self, fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _AnnouncedLoader(spec.loader, SLOW_IMPORTS[fullname])
        return spec


def _find_without(finder, fullname, path, target):
    for other in sys.meta_path:
        if other is finder or not hasattr(other, "find_spec"):
            continue
        spec = other.find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


class _AnnouncedLoader(importlib.abc.Loader):
    def __init__(self, loader, shown: str):
        self.loader, self.shown = loader, shown

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        t0 = time.perf_counter()
        print(f"importing {self.shown} ...", end="", flush=True)
        try:
            with quiet():
                self.loader.exec_module(module)
        finally:
            module.__loader__ = module.__spec__.loader = self.loader  # the package's own loader from now on
            print(f" done in {time.perf_counter() - t0:.0f} s", flush=True)

    def __getattr__(self, name):  # get_resource_reader, is_package, ...: the real loader's
        return getattr(self.loader, name)


def announce_slow_imports() -> None:
    """In a notebook kernel, print one line while a SLOW_IMPORTS package imports for the first time and keep its
    native start-up lines out (`quiet`). Does nothing outside a kernel, or once the package is imported."""
    if "ipykernel" not in sys.modules or all(name in sys.modules for name in SLOW_IMPORTS):
        return
    if not any(isinstance(f, _SlowImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SlowImportFinder())
