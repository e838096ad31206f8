"""Run the grader's child (`sandbox_child.py`) on a work folder, isolated from everything else: with bubblewrap
(Linux, where `bwrap` is installed) a read-only root, a throw-away /tmp holding only the work folder, no network,
its own PID namespace (no view of the grader's or anyone's processes) and the folders the grader hides (the
submissions, its output, earlier runs) replaced by empty ones. Without bubblewrap (macOS, or Linux without it) the
fallback is resource limits, a process group of its own and the child's audit hook. Either way: limits on
memory, CPU time, file size (its output) and processes, and at the end of its time the child is killed with every
process it started. `isolation()` says which is in force."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CHILD = Path(__file__).resolve().parent / "sandbox_child.py"
INSIDE = "/tmp/work"  # where the work folder appears inside bubblewrap
TOKEN = "LABKIT_SANDBOX_TOKEN"  # marks the fallback child's processes, to find any that left its process group


@dataclass(frozen=True)
class Limits:
    """What one child may use: wall-clock seconds, bytes of address space, CPU seconds, bytes per file written
    (its printed output included) and processes (enforced where the OS applies it: not for root)."""

    seconds: float = 120.0
    memory: int = 3 << 30
    cpu_seconds: int = 120
    output: int = 16 << 20
    processes: int = 64


@dataclass(frozen=True)
class Finished:
    """How the child ended: its exit code (negative: the signal that ended it), whether the grader killed it at
    its time limit, the last of what it printed, and why it did not end normally, in words ("" if it did)."""

    returncode: int
    timed_out: bool
    output: str
    why: str


@functools.cache
def bubblewrap() -> str:
    """Why bubblewrap cannot be used here ("" when it can)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap is Linux-only (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net",
                            "--unshare-pid", "true"], capture_output=True, text=True, timeout=30)
    return "" if probe.returncode == 0 else f"bwrap does not start here: {probe.stderr.strip()[:200]}"


def isolation() -> str:
    """The isolation the grader uses on this machine, in words (for the screen and the gradebook)."""
    why = bubblewrap()
    if not why:
        return "bubblewrap (read-only system, no network, own PID namespace, other folders hidden) and resource limits"
    return f"resource limits and a process group only ({why})"


def _limit(limits: Limits) -> None:
    """In the child, before it starts: its resource limits (a fork bomb is bounded by RLIMIT_NPROC where the OS
    applies it, and by the kill at the time limit everywhere)."""
    import resource

    for what, value in ((resource.RLIMIT_AS, limits.memory), (resource.RLIMIT_CPU, limits.cpu_seconds),
                        (resource.RLIMIT_FSIZE, limits.output), (resource.RLIMIT_CORE, 0),
                        (resource.RLIMIT_NPROC, limits.processes + _own_processes())):
        try:
            resource.setrlimit(what, (value, value))
        except (ValueError, OSError):  # a hard limit already lower, or a platform without it
            pass


def _own_processes() -> int:
    """How many processes this user runs now (RLIMIT_NPROC counts all of them)."""
    uid = os.getuid()
    try:
        return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and p.stat().st_uid == uid)
    except OSError:
        return 512


def _command(work: Path, hidden: list[Path]) -> list[str]:
    python = [sys.executable, "-I", str(CHILD)]
    if bubblewrap():  # it cannot be used: the fallback
        return [*python, str(work)]
    hide = []
    for path in hidden:
        if path.is_dir() and not str(path).startswith("/tmp/"):
            hide += ["--tmpfs", str(path)]
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", *hide,
            "--bind", str(work), INSIDE, "--chdir", INSIDE, "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--die-with-parent", "--new-session", *python, INSIDE]


def _kill_leftovers(pgid: int, token: str) -> None:
    """Kill the child's process group, and any process that carries its token but left the group (setsid)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if f"{TOKEN}={token}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def _why(code: int, timed_out: bool, limits: Limits) -> str:
    """Why the child ended early, in words ("" for a normal end). A signal shows as a negative code, or through
    bubblewrap's init as 128 + its number."""
    if timed_out:
        return f"did not finish within {limits.seconds:g} s (killed with every process it started)"
    number = -code if code < 0 else code - 128 if code > 128 else 0
    if number == signal.SIGXFSZ:
        return f"wrote more than {limits.output >> 20} MB (the output limit)"
    if number == signal.SIGXCPU:
        return f"used more than {limits.cpu_seconds} s of CPU time"
    if number in signal.valid_signals():
        return f"crashed ({signal.Signals(number).name})"
    return f"exited with code {code} before answering" if code else ""


def run(work: Path, hidden: list[Path], limits: Limits) -> Finished:
    """Run the child on `work` (holding job.json and the inputs) inside the sandbox; `hidden` are folders it must
    not see. Its printed output goes to work/output.txt (bounded by the output limit)."""
    token = uuid.uuid4().hex
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work) if bubblewrap() else INSIDE, "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "HF_HUB_OFFLINE": "1", TOKEN: token}
    with (work / "output.txt").open("wb") as out:
        proc = subprocess.Popen(_command(work, hidden), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=work, env=env, start_new_session=True, preexec_fn=lambda: _limit(limits))
        deadline, timed_out = time.monotonic() + limits.seconds, False
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_leftovers(proc.pid, token)
            proc.wait()
    with (work / "output.txt").open("rb") as f:
        f.seek(max(0, (work / "output.txt").stat().st_size - 2000))
        tail = f.read().decode(errors="replace")
    return Finished(proc.returncode, timed_out, tail, _why(proc.returncode, timed_out, limits))
