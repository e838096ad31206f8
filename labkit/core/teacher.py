"""Reproducing the shipped teacher weights and their manifest (`labkit train teacher`)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch

from labkit.core import data
from labkit.core.cpu import cpu_info
from labkit.core.models import TeacherCNN, count_params
from labkit.core.paths import folder
from labkit.core.sysinfo import versions
from labkit.core.train import accuracy, fit

RECIPE = {"epochs": 8, "batch_size": 128, "lr": 2e-3, "seed": 0, "optimizer": "Adam + cosine schedule"}


def train_teacher(out_dir: Path, epochs: int = RECIPE["epochs"], seed: int = RECIPE["seed"],
                  force: bool = False) -> dict:
    """Train the teacher on the full training set, evaluate on all 10k test images, write
    `teacher.pt` (a state_dict) and `teacher.json` (the manifest) into `out_dir`."""
    out_dir = folder(out_dir)  # checked before 10 minutes of training, not after
    weights, manifest_path = out_dir / "teacher.pt", out_dir / "teacher.json"
    if not force and (weights.exists() or manifest_path.exists()):
        raise FileExistsError(f"{weights} already exists; pass --force to replace it or --out to write elsewhere.")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    model = TeacherCNN()
    t0 = time.time()
    fit(model, data.load("train"), epochs=epochs, batch_size=RECIPE["batch_size"], lr=RECIPE["lr"],
        seed=seed, desc="teacher", schedule="cosine")
    test_acc = accuracy(model, data.load("test"))
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights)
    manifest = {
        "file": weights.name,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "architecture": "labkit.models.TeacherCNN()",
        "params": count_params(model),
        "test_accuracy": round(test_acc, 4),
        "n_test": 10000,
        "command": f"labkit train teacher --epochs {epochs} --seed {seed}",
        "recipe": {**RECIPE, "epochs": epochs, "seed": seed},
        "train_seconds": round(time.time() - t0, 1),
        "trained_on": {"cpu": cpu_info()["model"], "threads": torch.get_num_threads(), **versions()},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
