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
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from labkit.classroom.sandbox_child import TOKEN, kill_marked, under

CHILD = Path(__file__).resolve().parent / "sandbox_child.py"
INSIDE = "/tmp/work"  # where the work folder appears inside bubblewrap


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


def _needed() -> list[str]:
    """What the child must see to start: the interpreter, its environment and standard library, and the
    classroom folder it loads wire/calls/checking from, each under the name the child uses and its real path."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, str(Path(sys.executable).parent),
             str(CHILD.parent), *(p for p in sys.path if p and Path(p).is_dir())}
    return sorted({q for p in paths for q in (os.path.abspath(p), os.path.realpath(p))})


def _command(root: Path, hidden: list[Path]) -> list[str]:
    """The child's command line. Under bubblewrap the mounts go in this order: the system read-only, a fresh /tmp
    and an empty folder over each hidden one; then what the child needs to start, bound again wherever the first
    step hid it (a kit cloned under /tmp, a virtual environment inside a hidden folder); then the hidden folders
    that lie inside those, emptied again; last the work folder."""
    python = [sys.executable, "-I", str(CHILD)]
    if bubblewrap():  # it cannot be used: the fallback
        return [*python, str(root)]
    covers = ["/tmp"] + [os.path.realpath(h) for h in hidden]
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    args += [a for h in covers[1:] if not under(h, ["/tmp"]) and Path(h).is_dir() for a in ("--tmpfs", h)]
    shown = [p for p in _needed() if under(p, covers)]
    args += [a for p in shown for a in ("--ro-bind", os.path.realpath(p), p)]
    args += [a for h in covers[1:] if under(h, shown) and Path(h).is_dir() for a in ("--tmpfs", h)]
    return [*args, "--bind", str(root), INSIDE, "--chdir", INSIDE, "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--die-with-parent", "--new-session", *python, INSIDE]


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


class Sandbox:
    """A sandboxed fork server for job folders inside `root` (one student each), run one at a time: the
    libraries in `preload` are imported once, each job runs in a fresh child of the server. A job that runs past
    its time takes the whole server down with every process it started; the next job starts a new one."""

    STARTUP_SECONDS = 300.0  # importing torch and pandas on a busy machine

    def __init__(self, root: Path, hidden: list[Path], limits: Limits, preload: list[str]):
        self.root, self.hidden, self.limits, self.preload = Path(root), hidden, limits, preload
        self.proc: subprocess.Popen | None = None
        self.token = ""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> str:
        """Start the server; "" once it is ready, else why it is not."""
        self.token = uuid.uuid4().hex
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root) if bubblewrap() else INSIDE, "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "HF_HUB_OFFLINE": "1",
               "LABKIT_SANDBOX_PRELOAD": ",".join(self.preload),
               "LABKIT_SANDBOX_CPU": str(self.limits.cpu_seconds), TOKEN: self.token}
        with (self.root / "server.txt").open("wb") as log:
            self.proc = subprocess.Popen(_command(self.root, self.hidden), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, cwd=self.root, env=env,
                                         start_new_session=True, preexec_fn=lambda: _limit(self.limits))
        if self._line(self.STARTUP_SECONDS) == "ready":
            return ""
        return "the sandbox did not start: " + _tail(self.root / "server.txt")

    def _line(self, seconds: float) -> str | None:
        """The server's next line, or None when it did not answer within `seconds` or ended."""
        fd, got = self.proc.stdout.fileno(), b""
        deadline = time.monotonic() + seconds
        while not got.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 256) if ready else b""
            if not chunk:
                return None
            got += chunk
        return got.decode().strip()

    def run(self, job: str) -> Finished:
        """Run the job folder `root/job` (job.json and its inputs) in a fresh child of the server."""
        if self.proc is None or self.proc.poll() is not None:
            why = self._start()
            if why:
                self.close()
                return Finished(1, False, "", why)
        self.proc.stdin.write(f"{job}\n".encode())
        self.proc.stdin.flush()
        answer = self._line(self.limits.seconds)
        output = _tail(self.root / job / "output.txt")
        if answer is None or not answer.startswith("exit "):
            timed_out = self.proc.poll() is None
            self.close()
            why = _why(-signal.SIGKILL, True, self.limits) if timed_out else \
                "the sandbox stopped: " + _tail(self.root / "server.txt")
            return Finished(-signal.SIGKILL, timed_out, output, why)
        code = int(answer.split()[1])
        return Finished(code, False, output, _why(code, False, self.limits))

    def close(self) -> None:
        """Stop the server with every process it started."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        kill_marked(self.token)
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.proc = None


def _tail(path: Path, size: int = 2000) -> str:
    """The last `size` bytes of a text file ("" when there is none)."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""

