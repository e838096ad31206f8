"""The model zoo: the teacher CNN, the small student CNN, and loading the shipped teacher."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from labkit.core.paths import data_dir

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


def summary(model: nn.Module, input_shape: tuple[int, ...] = INPUT_SHAPE):
    """A model as a short table instead of `print(model)`: one row per layer that computes (in the order a forward
    pass on one zero image calls them) with its name, type, output shape and parameters."""
    import pandas as pd

    rows = []

    def record(name):
        def hook(module, _inputs, output):
            rows.append({"layer": name, "type": type(module).__name__,
                         "output": " x ".join(str(d) for d in output.shape[1:]),
                         "parameters": sum(p.numel() for p in module.parameters(recurse=False))})
        return hook

    leaves = [(name, m) for name, m in model.named_modules() if not any(m.children())]
    hooks = [m.register_forward_hook(record(name)) for name, m in leaves]
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(training)
    return pd.DataFrame(rows).set_index("layer")


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


def _verify_shipped(path: Path) -> None:
    """Refuse the shipped teacher.pt unless it matches the SHA-256 in its manifest."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = teacher_manifest()["sha256"]
    if digest != expected:
        raise ValueError(
            f"{path} does not match its manifest (sha256 {digest[:12]}... vs {expected[:12]}...). "
            "Restore it with `git checkout -- data/weights` or retrain with `labkit train teacher`."
        )


def _read_state_dict(path: Path) -> dict:
    """The state_dict saved at `path`, loaded safely (`weights_only=True`); ValueError saying why not."""
    save_it = ("save one with `torch.save(model.state_dict(), path)`, or restore the shipped weights with "
               "`git checkout -- data/weights`.")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes), so it holds no weights; {save_it}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file
        reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise ValueError(f"{path} is not a readable PyTorch state_dict ({reason}); {save_it}") from err
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state_dict; {save_it}")
    return state


def _names(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")


def _check_fits(model: nn.Module, state: dict, path: Path) -> None:
    """Refuse a state_dict saved from another architecture, saying which tensors do not fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    reshaped = [k for k in expected if k in state and tuple(getattr(state[k], "shape", ())) != expected[k].shape]
    name = type(model).__name__
    problems = [f"{len(keys)} {what} ({_names(keys)})" for keys, what in
                ((reshaped, f"of {name}'s tensors have another shape"), (missing, "are missing"),
                 (extra, f"are not {name}'s")) if keys]
    if problems:
        raise ValueError(f"{path} holds the weights of another model, not a {name}: {', '.join(problems)}; load it "
                         f"into the model that saved it, or pass a {name} state_dict (the shipped one is "
                         f"{weights_dir() / 'teacher.pt'}).")


def load_teacher(path: str | Path | None = None) -> TeacherCNN:
    """The shipped teacher (or a state_dict at `path`), checksum-verified, in eval mode. A relative `path` is
    resolved first, so the shipped file is verified against its manifest however it is named."""
    shipped = (weights_dir() / "teacher.pt").resolve()
    path = Path(path).expanduser().resolve() if path else shipped
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "missing"
        fix = ("Restore the shipped weights with `git checkout -- data/weights`, or rebuild them with "
               "`labkit train teacher` (about 10 minutes on 2 cores)." if path == shipped else
               f"Give the path of a TeacherCNN state_dict file (the shipped one is {shipped}).")
        raise FileNotFoundError(f"{path} is {what}. {fix}")
    if path == shipped:
        _verify_shipped(path)
    state = _read_state_dict(path)
    model = TeacherCNN()
    _check_fits(model, state, path)
    model.load_state_dict(state)
    return model.eval()


def macs(model: nn.Module) -> int:
    """Multiply-accumulates of one forward pass on one image (counted by torch-pruning)."""
    import torch_pruning as tp

    ops, _ = tp.utils.count_ops_and_params(model.eval(), torch.zeros(1, *INPUT_SHAPE))
    return int(ops)
