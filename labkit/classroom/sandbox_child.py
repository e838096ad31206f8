"""The grader's sandboxed process: `python -I sandbox_child.py ROOT`, started by `labkit.classroom.sandbox` inside
its sandbox. A fork server: it imports the exercises' libraries once, then forks one child per job folder (one
student): the child reads `job.json` (the extracted code of each exercise, the function's name, how to call it,
the time per case) and each task's inputs, runs the learner's function on them, and writes each task's outcomes
in the plain format of `wire` (answers/<task>.json and .npz). It never imports labkit, and refuses to let the
learner's code do so: the grade is judged in the grader's process, not here.

Before the learner's code runs, an audit hook refuses what a solution never needs: starting processes, loading
C libraries, network sockets, writing or deleting outside WORKDIR, reading the folders the grader hides, other
processes' /proc entries, and importing or reading labkit (reported as "forbidden"). The operating-system sandbox
(bubblewrap, or resource limits) is the boundary; the hook gives the learner a sentence instead of a crash."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT = "labkit"
TOKEN = "LABKIT_SANDBOX_TOKEN"  # marks every process of one sandbox, to find any that left its process group
REFUSED = {"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
           "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "socket.connect", "socket.bind",
           "socket.__new__", "os.kill", "os.killpg", "signal.pthread_kill", "sys.addaudithook", "os.putenv",
           "os.setuid", "os.setsid", "os.chdir", "sys._current_frames", "gc.get_referrers", "gc.get_objects"}
CHANGES = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod", "os.chown",
           "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move"}
LISTS = {"os.listdir", "os.scandir", "glob.glob", "os.walk"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _load(name: str):
    """A module of the kit's classroom folder that imports no labkit (wire, calls, checking, challenges/probe),
    loaded by path."""
    spec = importlib.util.spec_from_file_location(f"_grader_{name.replace('/', '_')}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def under(path: str, roots: list[str]) -> bool:
    """Whether `path` is one of `roots` or lies inside one (plain strings, no file system access)."""
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _kit_file(path: str) -> bool:
    """Whether `path` is one of the kit's own files: its package, or, in a source checkout, anything of the
    repository (solution notebooks, git history) but the Python environment that may live inside it."""
    if under(path, [str(HERE.parent)]):
        return True
    repo = HERE.parent.parent
    return (repo / "pyproject.toml").is_file() and under(path, [str(repo)]) and not under(
        path, [os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}])


def _arm(work: str, hidden: list[str], forbidden: list[str]) -> None:
    """Install the audit hook (it cannot be removed); `forbidden` collects the learner's reaches for labkit."""
    pid = str(os.getpid())
    busy = [False]

    def refuse(what: str):
        raise PermissionError(f"the grader's sandbox refuses {what}: a solution only computes its answer")

    def real(path) -> str | None:
        if isinstance(path, int):
            return None
        try:
            return os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return None

    def hid(path: str) -> bool:
        return under(path, hidden) and not under(path, [work])

    def proc_of_other(path: str) -> bool:
        parts = path.split("/")
        return len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and parts[2] != pid

    def hook(event: str, args: tuple) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            if event == "import" and args and str(args[0]).split(".")[0] == KIT:
                forbidden.append(f"imports {args[0]}")
                raise ImportError(f"the solution imports {args[0]}: the kit's own code is not a solution")
            if event in REFUSED:
                refuse(event)
            if event == "open":
                path = real(args[0])
                flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
                writes = bool(flags & WRITE_FLAGS) or any(c in mode for c in "wax+")
                if path and _kit_file(path):
                    forbidden.append(f"reads the kit's file {path}")
                    raise ImportError(f"the solution reads {path}: the kit's own code is not a solution")
                if path and ((writes and not under(path, [work])) or hid(path) or proc_of_other(path)):
                    refuse(f"opening {path}")
            elif event in CHANGES:
                paths = [real(a) for a in args if isinstance(a, (str, bytes, os.PathLike))]
                if any(p and not under(p, [work]) for p in paths):
                    refuse(f"{event} outside its working folder")
            elif event in LISTS and args:
                path = real(args[0] if args[0] is not None else ".")
                if path and (hid(path) or proc_of_other(path)):
                    refuse(f"listing {path}")
        finally:
            busy[0] = False

    sys.addaudithook(hook)


def kill_marked(token: str, spare: int = 0) -> None:
    """Kill every process that carries `TOKEN=token` in its environment (all the sandbox's processes, including any
    that left their process group), except the process `spare`."""
    mark = f"{TOKEN}={token}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int(proc.name) != spare and mark in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def serve(root: str) -> None:
    """The fork server: import the exercises' libraries once ($LABKIT_SANDBOX_PRELOAD), say `ready`, then for each
    job folder name read from stdin fork a child that runs it (its output to JOB/output.txt, its own CPU limit),
    wait for it, kill whatever it left behind and answer `exit CODE` (negative: the signal that ended it)."""
    import resource
    import traceback

    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it: past the output limit the child ends, named
    for name in filter(None, os.environ.get("LABKIT_SANDBOX_PRELOAD", "").split(",")):
        importlib.import_module(name)  # before the hook, which refuses loading C libraries
    modules = _load("wire"), _load("calls"), _load("checking"), _load("challenges/probe")
    cpu, token = int(os.environ.get("LABKIT_SANDBOX_CPU", "120")), os.environ.get(TOKEN, "")
    print("ready", flush=True)
    for line in sys.stdin:
        work = os.path.join(root, os.path.basename(line.strip()))
        pid = os.fork()
        if pid == 0:  # the child: nothing it does reaches the server's memory
            code = 1
            try:
                resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
                out = os.open(os.path.join(work, "output.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(out, 1)
                os.dup2(out, 2)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                _run_job(work, *modules)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if token:
            kill_marked(token, spare=os.getpid())
        print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)


def _run_job(work: str, wire, calls, checking, probe) -> None:
    """Run every task of WORK/job.json not started before and write its outcomes. A task is a learner's function
    on its cases, or an artifact (a challenge's file, copied into WORK) observed on its requests by `probe`."""
    os.chdir(work)
    job = json.loads(Path("job.json").read_text())
    tasks = []
    for task in job["tasks"]:
        if not Path(f"answers/{task['id']}.started").exists():  # a task that crashed the last child is not rerun
            tasks.append((task, wire.load(task["requests" if "artifact" in task else "cases"])))
    Path("answers").mkdir(exist_ok=True)
    forbidden: list[str] = []
    _arm(str(Path(work).resolve()), [os.path.realpath(h) for h in job["hidden"]], forbidden)
    save = wire.save
    for task, cases in tasks:
        Path(f"answers/{task['id']}.started").write_text("")
        if "artifact" in task:  # the grader's own code measures the file: one outcome
            outcomes = [checking.call_outcome(lambda t=task, r=cases: probe.observe(
                Path(t["artifact"]).read_bytes(), r, t["output"]), task["seconds"])]
        else:
            outcomes = _run_task(task, cases, calls.CALLS, checking.call_outcome, forbidden)
        try:
            save(f"answers/{task['id']}", outcomes)
        except (TypeError, ValueError) as err:
            save(f"answers/{task['id']}", [{"kind": "raised", "types": ["TypeError"], "message": str(err)}])


def _run_task(task: dict, cases: list, adapters: dict, call_outcome, forbidden: list[str]) -> list[dict]:
    """The outcomes of one learner's function on its cases, stopping at the first timeout or stub."""
    forbidden.clear()
    namespace: dict = {"__name__": "__solution__"}
    setup = call_outcome(lambda: exec(compile(task["code"], "<solution>", "exec"), namespace), task["seconds"])
    if forbidden:
        return [{"kind": "forbidden", "message": f"it {forbidden[0]}"}]
    if setup["kind"] != "value":
        return [{**setup, "kind": "setup", "was": setup["kind"]}]
    fn, adapter = namespace.get(task["function"]), adapters.get(task["call"])
    outcomes = []
    for args, kwargs in cases:
        outcome = call_outcome(lambda a=args, k=kwargs: adapter(fn, a, k) if adapter else fn(*a, **k),
                               task["seconds"])
        if forbidden:
            return [{"kind": "forbidden", "message": f"it {forbidden[0]}"}]
        outcomes.append(outcome)
        if outcome["kind"] == "timeout" or "NotImplementedError" in outcome.get("types", ()):
            break
    return outcomes


if __name__ == "__main__":
    serve(sys.argv[1])
