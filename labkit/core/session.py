"""`lk.start(...)`: the first call of every notebook. Seeds everything, fixes threads, picks the
run folder, resolves the hardware target and prints an environment card."""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labkit.core import data, profiles
from labkit.core.cpu import PERSONALITIES, bf16_outlook, cpu_info, int8_outlook
from labkit.core.ledger import Ledger
from labkit.core.paths import env_path, folder, runs_dir
from labkit.core.sysinfo import fingerprint, versions
from labkit.core.targets import Target, resolve
from labkit.core.torch_fixes import quote_inductor_library_dirs
from labkit.core.watchdog import watch_cells


@dataclass
class Session:
    """What a notebook needs to know about this run."""

    notebook: str
    profile: profiles.Profile
    target: Target
    target_reason: str
    seed: int
    run_dir: Path
    artifacts: Path
    ledger: Ledger

    def record(self, variant: str, technique: str, **measurement) -> dict:
        """Append one measured variant to this run's ledger."""
        return self.ledger.record(variant, technique, **measurement)

    def results(self, notebook: str | None = None):
        """This run's ledger as a DataFrame (this notebook's rows by default; "*" for all)."""
        return self.ledger.frame(None if notebook == "*" else (notebook or self.notebook))

    @property
    def knobs(self):
        """This notebook's numbers at this profile (labkit.core.profiles.KNOBS)."""
        return self.profile.knobs(self.notebook)

    def row(self, **match):
        """The last of this notebook's ledger rows whose columns equal every `key=value` given (a pandas Series);
        KeyError naming the keys when none does."""
        df = self.results()
        for key, value in match.items():
            df = df[df[key] == value] if key in df else df.iloc[0:0]
        if df.empty:
            raise KeyError(f"no ledger row of {self.notebook} has {match}; run the cell that records it first")
        return df.iloc[-1]

    def value(self, column: str, **match) -> float:
        """`column` of `row(**match)` as a float; NaN when no row matches (a variant this run skipped)."""
        try:
            value = self.row(**match)[column]
        except KeyError:
            return float("nan")
        return float("nan") if value is None else float(value)

    def train_data(self) -> data.Split:
        """The training split, subset by profile."""
        return data.load("train", self.profile.n_train, self.seed)

    def test_data(self) -> data.Split:
        """The test split, subset by profile (the full 10k in class and full)."""
        return data.load("test", self.profile.n_test, self.seed)

    def artifact(self, name: str) -> Path:
        """A path for a new artifact in this notebook's own folder of the run."""
        return self.artifacts / name


def seed_everything(seed: int) -> None:
    """Seed Python, numpy, torch, and TensorFlow if it is already imported."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)


def new_run_dir(prefix: str = "lab") -> Path:
    """A fresh folder under runs/ that no other kernel uses."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = runs_dir() / f"{prefix}-{stamp}-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def run_dir_from_env() -> Path:
    """`LABKIT_RUN_DIR` (set by `labkit run`, or by you to share one folder) or a fresh folder."""
    path = env_path("LABKIT_RUN_DIR")
    if path:
        path = folder(path, "LABKIT_RUN_DIR")
        path.mkdir(parents=True, exist_ok=True)
        return path
    return new_run_dir()


def env_card(s: Session) -> str:
    info, vers = cpu_info(), versions()
    flags = ", ".join(k for k, v in info["flags"].items() if v) or "unknown"
    stack = ", ".join(f"{k} {vers[k]}" for k in ("torch", "onnxruntime", "openvino", "tensorflow-cpu",
                                                  "tensorflow", "keras") if k in vers)
    return "\n".join([
        f"labkit | notebook {s.notebook} | profile {s.profile.name} | seed {s.seed}",
        f"target   {s.target.name} ({s.target.description}), {s.target.threads} thread(s) -- {s.target_reason}",
        f"cpu      {info['model']}, {info['cores']} cores; flags: {flags}"
        + (f" (personality {info['personality']} forced; not capped: "
           f"{', '.join(PERSONALITIES[info['personality']].cannot_force)})" if info["personality"] else ""),
        f"int8     {int8_outlook()}",
        f"bf16     {bf16_outlook()}",
        f"stack    python {vers['python']}, {stack}",
        f"run      {s.run_dir}",
    ])


def start(profile: str = "class", target: str = "auto", seed: int = 0, notebook: str = "scratch",
          quiet: bool = False) -> Session:
    """Begin a notebook: returns the Session that every later cell uses."""
    import torch

    prof = profiles.get(profile)
    tgt, reason = resolve(target)
    seed_everything(seed)
    torch.set_num_threads(tgt.threads)
    quote_inductor_library_dirs()  # torch.compile in a kit cloned under a path with a space
    run_dir = run_dir_from_env()
    artifacts = run_dir / "artifacts" / notebook
    artifacts.mkdir(parents=True, exist_ok=True)
    watch_cells(run_dir, notebook)  # under `labkit run --timeout`: a stuck cell writes where it is stuck
    context = {"notebook": notebook, "target": tgt.name, "profile": prof.name, "seed": seed, "env": fingerprint()}
    s = Session(notebook, prof, tgt, reason, seed, run_dir, artifacts, Ledger(run_dir / "ledger.jsonl", context))
    if not quiet:
        print(env_card(s))
    return s
