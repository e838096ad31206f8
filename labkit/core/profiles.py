"""Run profiles: how much data and time each notebook spends."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace


@dataclass(frozen=True)
class Profile:
    """Sizes shared by every notebook. None means the whole split."""

    name: str
    n_train: int | None
    n_test: int | None
    n_parity: int
    n_calib: int
    bench_rounds: int
    bench_repeats: int

    def knobs(self, notebook: str) -> SimpleNamespace:
        """The numbers `notebook` uses at this profile (`S.knobs.epochs`, ...), from KNOBS."""
        return SimpleNamespace(**{k: by_profile[self.name] for k, by_profile in KNOBS.get(notebook, {}).items()})


PROFILES = {
    "smoke": Profile("smoke", n_train=2000, n_test=500, n_parity=200, n_calib=64,
                     bench_rounds=2, bench_repeats=2),
    "class": Profile("class", n_train=None, n_test=None, n_parity=1000, n_calib=256,
                     bench_rounds=5, bench_repeats=10),
    "full": Profile("full", n_train=None, n_test=None, n_parity=10000, n_calib=1000,
                    bench_rounds=10, bench_repeats=20),
}


# Per-notebook numbers, by profile: every size and count a notebook's profile decides lives here.
KNOBS: dict[str, dict[str, dict[str, object]]] = {
    "01_pytorch_export": {
        "compile": {"smoke": False, "class": True, "full": True},  # torch.compile in the benchmark
    },
    "03_quantization": {
        "qat_steps": {"smoke": 2, "class": 16, "full": 300},
        "calib_sweep": {"smoke": [], "class": [], "full": [16, 64, 256, 1024, 4096]},
        "compile_fp32": {"smoke": False, "class": True, "full": True},  # the fair fp32 comparison for pt2e
    },
    "04_pruning": {
        "n_sweep": {"smoke": 500, "class": 2000, "full": 10000},  # test images for curves
        "n_scan": {"smoke": 300, "class": 1000, "full": 5000},  # test images for the sensitivity scan
        "ft_images": {"smoke": 1000, "class": 6000, "full": 60000},  # training images per unstructured fine-tune
        "ft_channel_images": {"smoke": 1000, "class": 24000, "full": 120000},  # the smaller net trains faster
        "sparsities": {"smoke": [0.0, 0.5, 0.8, 0.95], "class": [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95],
                       "full": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]},
        "ft_levels": {"smoke": [], "class": [0.95], "full": [0.5, 0.7, 0.8, 0.9, 0.95]},  # besides the headline
        "scan_ratios": {"smoke": [0.5, 0.9], "class": [0.5, 0.8, 0.95], "full": [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99]},
        "channel_sweep": {"smoke": [], "class": [], "full": [0.25, 0.625, 0.75]},  # besides the headline ratio
    },
    "05_distillation": {
        "epochs": {"smoke": 0.5, "class": 2.25, "full": 6.0},  # per student, both arms alike
        "lr": {"smoke": 1e-2, "class": 1e-2, "full": 1e-2},  # one optimiser setting for every student
        "batch": {"smoke": 128, "class": 128, "full": 128},  # (the challenge's judge trains with them too)
        "judge_images": {"smoke": 2000, "class": 12000, "full": None},  # the challenge's budget: training images
        "judge_epochs": {"smoke": 2.0, "class": 1.0, "full": 2.25},  # (None: all) and epochs, for each arm
        "seeds": {"smoke": 1, "class": 2, "full": 3},
        "pitfall_n": {"smoke": 2000, "class": 4000, "full": 20000},  # training images for the pitfall demo
        "sweep": {"smoke": ([2.0, 8.0], [0.5], 0.5), "class": None,  # temperatures, alphas, epochs per point
                  "full": ([1.0, 2.0, 4.0, 10.0], [0.5, 0.9, 0.99], 2.0)},
    },
    "06_capstone": {
        "kd_epochs": {"smoke": 4.0, "class": 5.0, "full": 12.0},  # distilling the student
        "ft_epochs": {"smoke": 1.0, "class": 2.0, "full": 4.0},  # distillation fine-tune after pruning
        "lr": {"smoke": 2e-2, "class": 2e-2, "full": 1e-2},  # Adam's peak learning rate (the fine-tune: a third)
    },
    "07_language_model": {
        "eval_windows": {"smoke": 4, "class": 24, "full": None},  # held-out windows of 256 tokens (None: all)
        "new_tokens": {"smoke": 8, "class": 32, "full": 64},  # decode steps per speed measurement
        "repeats": {"smoke": 1, "class": 3, "full": 5},  # generations per speed measurement (median)
        "grow": {"smoke": 48, "class": 240, "full": 480},  # new tokens in the cache / no-cache growth curve
        "batches": {"smoke": [1, 4], "class": [1, 4, 16], "full": [1, 2, 4, 8, 16, 32]},
        "group_sizes": {"smoke": [32], "class": [32, 64, 128], "full": [32, 64, 128]},  # by-hand int4 groups
        # timing twins (published shapes, random weights): name, or name:layers to keep only the first few
        "twins": {"smoke": ["SmolLM2-135M:2"], "class": ["SmolLM2-135M", "SmolLM2-360M"],
                  "full": ["SmolLM2-135M", "SmolLM2-360M", "Qwen3-0.6B", "Llama-3.2-1B"]},
        "twin_rounds": {"smoke": 1, "class": 5, "full": 7},  # interleaved generations per twin variant (median)
        "twin_tokens": {"smoke": 4, "class": 16, "full": 32},  # decode steps per generation of a twin
        "twin_prompt": {"smoke": 16, "class": 128, "full": 256},  # prompt tokens of a twin's generation
    },
}


def get(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
