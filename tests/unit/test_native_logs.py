"""Native log lines: what a child process or a C library writes to file descriptors 1 and 2 inside
`native_logs.quiet()` comes back without the known noise, and nothing real is hidden; a slow import announces
itself in one line."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from labkit.core import native_logs
from labkit.core.paths import REPO_DIR

NOISE_LINE = "I0000 00:00:1795987338.860763     644 cpu_feature_guard.cc:227] This TensorFlow binary is optimized"
REAL_LINE = "E0000 something real went wrong: tensor 3 has no data"


def run_python(code: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=cwd or REPO_DIR, timeout=120)


def test_a_childs_noise_is_dropped_and_its_real_line_kept():
    done = run_python(f"""
        import subprocess, sys
        from labkit.core import native_logs

        child = "import os; os.write(2, b'{NOISE_LINE}\\\\n{REAL_LINE}\\\\n'); os.write(1, b'a real result\\\\n')"
        with native_logs.quiet():
            subprocess.run([sys.executable, "-c", child], check=True)
        print("after the block")
        """)
    assert done.returncode == 0, done.stderr
    assert REAL_LINE in done.stderr
    assert "cpu_feature_guard" not in done.stderr
    assert done.stdout.splitlines() == ["a real result", "after the block"]  # stdout comes back to stdout


def test_c_stdio_buffers_are_flushed_into_the_capture():
    """A line a C library leaves in stdio's buffer is judged too, not printed later past the filter."""
    done = run_python("""
        import ctypes
        from labkit.core import native_logs

        libc = ctypes.CDLL(None)
        with native_logs.quiet():
            libc.printf(b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
            libc.printf(b"kept: a line nobody declared noise\\n")
        """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["kept: a line nobody declared noise"]


def test_python_level_log_lines_are_judged_too():
    """ExecuTorch's bindings write its C++ log to Python's sys.stderr, a piece at a time (in a kernel, not the fd)."""
    done = run_python("""
        import sys
        from labkit.core import native_logs

        with native_logs.quiet(python_streams=True):
            for piece in ("[", "threadpool.cpp", ":", "66", "] ", "Resetting threadpool to 1 threads.", "\\n"):
                sys.stderr.write(piece)
            print("[method.cpp:1243] Error resizing tensor at input 0", file=sys.stderr)
            print("a result")
        """)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["[method.cpp:1243] Error resizing tensor at input 0"]
    assert done.stdout.splitlines() == ["a result"]


def test_a_logging_handler_made_inside_the_block_still_reaches_stderr_after_it():
    """By default Python's own streams are left alone: a handler created inside (absl's, tf2onnx's basicConfig)
    binds to the real sys.stderr, so a later real warning is not swallowed."""
    done = run_python("""
        import logging
        from labkit.core import native_logs

        with native_logs.quiet():
            logging.basicConfig(format="%(levelname)s:%(message)s")
        logging.warning("a real warning after the block")
        """)
    assert done.stderr.splitlines() == ["WARNING:a real warning after the block"]


def test_the_block_raises_through_and_the_descriptors_come_back():
    done = run_python("""
        import os, sys
        from labkit.core import native_logs

        try:
            with native_logs.quiet():
                os.write(2, b"[method.cpp:1243] Error resizing tensor at input 0\\n")
                raise RuntimeError("set_inputs failed")
        except RuntimeError as err:
            print("caught", err)
        os.write(2, b"fd 2 is the terminal again\\n")
        """)
    assert done.stdout.splitlines() == ["caught set_inputs failed"]
    assert done.stderr.splitlines() == ["[method.cpp:1243] Error resizing tensor at input 0",
                                        "fd 2 is the terminal again"]


def test_every_noise_pattern_has_a_reason_and_matches_what_it_names():
    samples = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        NOISE_LINE,
        "I0000 00:00:1795987338.123456  644 port.cc:153] oneDNN custom operations are on. You may see slightly",
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate",
        "fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8",
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        "[cpuinfo_utils.cpp:71] Reading file /sys/devices/soc0/image_version",
        "[cpuinfo_utils.cpp:125] CPU info and manual query on # of cpus dont match.",
        "[threadpool.cpp:66] Resetting threadpool to 1 threads.",
    ]
    assert all(reason.strip() for _, reason in native_logs.NOISE)
    assert all(native_logs.is_noise(s) for s in samples)
    for real in (REAL_LINE, "E0000 00:00:1.0 644 op_kernel.cc:1] Invalid argument: shape mismatch",
                 "[tensor_impl.cpp:135] Attempted to resize a static tensor.", "Traceback (most recent call last):"):
        assert not native_logs.is_noise(real), real


def test_a_slow_import_says_so_once_and_keeps_its_native_noise_out(tmp_path):
    (tmp_path / "slowpkg").mkdir()
    (tmp_path / "slowpkg" / "__init__.py").write_text(
        f"import os\nos.write(2, b'{NOISE_LINE}\\n{REAL_LINE}\\n')\nVALUE = 42\n")
    done = run_python(f"""
        import sys, types
        sys.path.insert(0, {str(tmp_path)!r})
        sys.modules.setdefault("ipykernel", types.ModuleType("ipykernel"))  # as in a notebook kernel
        from labkit.core import native_logs

        native_logs.SLOW_IMPORTS["slowpkg"] = "SlowPkg"
        native_logs.announce_slow_imports()
        native_logs.announce_slow_imports()  # twice: still one finder
        import slowpkg
        import slowpkg as again
        print(slowpkg.VALUE, again.__spec__.name, type(slowpkg.__loader__).__name__)
        """)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("importing SlowPkg ... done in ") and lines[0].endswith(" s")
    assert lines[1] == "42 slowpkg SourceFileLoader"  # the package keeps its own loader once imported
    assert done.stderr.splitlines() == [REAL_LINE]


def test_outside_a_kernel_imports_are_left_alone():
    done = run_python("""
        import sys
        import labkit
        from labkit.core import native_logs
        print(any(isinstance(f, native_logs._SlowImportFinder) for f in sys.meta_path))
        """)
    assert done.stdout.strip() == "False", done.stderr
