"""The model zoo: the teacher CNN, the small student CNN, and loading the shipped teacher."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from labkit.paths import data_dir

INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class TeacherCNN(nn.Module):
    """Four 3x3 conv blocks (32, 32, 64, 64 channels) and a 128-unit classifier, about 0.47M params."""

    def __init__(self, widths: tuple[int, int, int, int] = (32, 32, 64, 64), hidden: int = 128):
        super().__init__()
        a, b, c, d = widths
        self.features = nn.Sequential(
            *_conv_block(1, a), *_conv_block(a, b), nn.MaxPool2d(2),
            *_conv_block(b, c), *_conv_block(c, d), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(d * 7 * 7, hidden), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(hidden, NUM_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class StudentCNN(nn.Module):
    """Three conv blocks (16, 32, 32 channels; the last two at 14x14) and a 24-unit classifier:
    about 1/9 of the teacher's parameters and 1/6 of its multiply-accumulates."""

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 32), hidden: int = 24):
        super().__init__()
        a, b, c = widths
        self.features = nn.Sequential(
            *_conv_block(1, a), nn.MaxPool2d(2), *_conv_block(a, b), *_conv_block(b, c), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c * 7 * 7, hidden), nn.ReLU(), nn.Linear(hidden, NUM_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weights_dir() -> Path:
    return data_dir() / "weights"


def teacher_manifest() -> dict:
    path = weights_dir() / "teacher.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing. Restore it with `git checkout -- data/weights` "
            "or rebuild it with `labkit train teacher`."
        )
    return json.loads(path.read_text())


def load_teacher(path: str | Path | None = None) -> TeacherCNN:
    """The shipped teacher (or a state_dict at `path`), checksum-verified, in eval mode."""
    path = Path(path) if path else weights_dir() / "teacher.pt"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing. Restore the shipped weights with `git checkout -- data/weights`, "
            "or rebuild them with `labkit train teacher` (about 10 minutes on 2 cores)."
        )
    if path == weights_dir() / "teacher.pt":
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        expected = teacher_manifest()["sha256"]
        if digest != expected:
            raise ValueError(
                f"{path} does not match its manifest (sha256 {digest[:12]}... vs {expected[:12]}...). "
                "Restore it with `git checkout -- data/weights` or retrain with `labkit train teacher`."
            )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file
        raise ValueError(f"{path} is not a readable PyTorch state_dict ({err}).") from err
    model = TeacherCNN()
    model.load_state_dict(state)
    return model.eval()


def macs(model: nn.Module) -> int:
    """Multiply-accumulates of one forward pass on one image (counted by torch-pruning)."""
    import torch_pruning as tp

    ops, _ = tp.utils.count_ops_and_params(model.eval(), torch.zeros(1, *INPUT_SHAPE))
    return int(ops)
