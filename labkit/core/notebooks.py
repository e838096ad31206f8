"""The kit's notebooks: finding them, and executing them headlessly, each in a fresh kernel, into one run folder
(`labkit run`; the classroom's grading uses the same kernel set-up)."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from labkit.core.cpu import PERSONALITIES, PERSONALITY_VAR
from labkit.core.paths import folder, notebooks_dir
from labkit.core.progress import tqdm
from labkit.core.session import new_run_dir
from labkit.core.sysinfo import fingerprint, versions
from labkit.core.watchdog import STACKS_AFTER_VAR, stacks_path

KERNEL = "labkit"


def all_notebooks() -> list[Path]:
    """The kit's numbered notebooks, in order."""
    return sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def find_notebook(name: str) -> Path:
    """A notebook by path, file name, stem, or number prefix ("03")."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path
    matches = [p for p in all_notebooks() if p.stem == name or p.name == name or p.stem.startswith(f"{name}_")]
    if len(matches) != 1:
        known = ", ".join(p.stem for p in all_notebooks())
        raise FileNotFoundError(f"no single notebook matches {name!r}; the kit has: {known}")
    return matches[0]


def kernel_name() -> str:
    """The kit's registered kernel if present, else this interpreter's own python3 kernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else "python3"


def prepare_out(out: Path | None) -> Path:
    """A new run folder, or `out` if it does not exist yet or is empty (never overwrite a run)."""
    if out is None:
        return new_run_dir("run")
    out = folder(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} already holds a run; choose a new --out folder (nothing was changed).")
    out.mkdir(parents=True, exist_ok=True)
    return out


@contextmanager
def kernel_env(values: dict[str, str]):
    """Kernels inherit this process's environment: set `values` while they run, then restore."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def personality_env(name: str | None) -> dict[str, str]:
    """The variables that cap every runtime at a CPU personality (labkit.cpu.PERSONALITIES), or none."""
    if name is None:
        return {}
    if name not in PERSONALITIES:
        raise ValueError(f"unknown CPU personality {name!r}; the kit knows {', '.join(PERSONALITIES)}")
    return {PERSONALITY_VAR: name, **PERSONALITIES[name].env}


def _execute(nb: Path, out_nb: Path, params: dict, timeout: int | None) -> dict:
    import papermill as pm

    t0 = time.time()
    try:
        pm.execute_notebook(str(nb), str(out_nb), parameters=params, kernel_name=kernel_name(), language="python",
                            cwd=str(nb.parent), progress_bar=False, log_output=False,
                            execution_timeout=timeout)
        return {"status": "ok", "seconds": round(time.time() - t0, 1)}
    except pm.PapermillExecutionError as err:
        return {"status": "failed", "seconds": round(time.time() - t0, 1), "cell": err.exec_count,
                "error": f"{err.ename}: {err.evalue}"}
    except Exception as err:  # kernel died, timeout, unreadable notebook: record and go on
        return {"status": "failed", "seconds": round(time.time() - t0, 1), "cell": None,
                "error": f"{type(err).__name__}: {err}"}


def run(notebooks: list[Path], out: Path | None = None, profile: str = "class", target: str = "auto",
        seed: int = 0, timeout: int | None = None, personality: str | None = None) -> Path:
    """Execute `notebooks` in order into a run folder and write its summary.json. `timeout` bounds each cell (in
    seconds; a cell that runs 90% of it first writes its threads' stacks to the run folder: labkit.watchdog);
    `personality` runs every kernel as on a lower CPU (labkit.cpu.PERSONALITIES)."""
    forced = personality_env(personality)  # checked before any folder is made
    out = prepare_out(out)
    env = {"LABKIT_RUN_DIR": str(out.resolve()), **forced}
    if timeout:
        env[STACKS_AFTER_VAR] = str(0.9 * timeout)
    (out / "notebooks").mkdir(exist_ok=True)
    params = {"PROFILE": profile, "TARGET": target, "SEED": seed}
    summary = {"profile": profile, "target": target, "seed": seed, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "personality": personality, "notebooks": {}, "versions": versions(), "env": fingerprint()}
    bar = tqdm(notebooks, desc="notebooks", unit="nb")
    with kernel_env(env):
        for nb in bar:
            bar.set_postfix_str(nb.stem)
            result = _execute(nb, out / "notebooks" / nb.name, params, timeout)
            stacks = stacks_path(out, nb.stem)
            if stacks.exists():
                if not stacks.stat().st_size:
                    stacks.unlink()  # no cell ran long
                elif result["status"] != "ok":
                    result["stacks"] = str(stacks)  # where each thread was when a cell ran long
            summary["notebooks"][nb.stem] = result
            if result["status"] != "ok":
                tqdm.write(f"FAILED {nb.name} at cell {result['cell']}: {result['error'][:300]}\n"
                           f"  the executed notebook is {out / 'notebooks' / nb.name}"
                           + (f"\n  where each thread was: {result['stacks']}" if "stacks" in result else ""))
            tmp = out / "summary.json.tmp"  # replaced atomically: a reader never sees half a file
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
            tmp.replace(out / "summary.json")
    return out
