"""Judging a challenge's artifact by measurement: the targets a challenge declares (claim, threshold per profile,
the knob to turn when it is missed), the trusted ground the measurements are compared with (test images, the
shipped teacher's logits and multiply-accumulates, computed here, never taken from the learner), and the verdict.

The same `evaluate` judges the learner's file in the notebook (`judge`, which observes it in the kernel) and in
the grader (which observes it inside its sandbox and gets the observations back through `wire`)."""

from __future__ import annotations

import functools
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labkit.classroom.challenges import probe

RECORDS = "challenges.jsonl"
HAND_IN = "submit"  # the folder beside the notebook the artifacts are handed in from (RUN/submit in headless runs)


@dataclass(frozen=True)
class Target:
    """One measured promise: `claim` holds `{t}` for the threshold of the profile (`smoke`: None means the
    published one), measured as `metric` of the challenge's metrics; `hint` names the knob to turn. `strict`: the
    threshold itself misses ("beats by > 0")."""

    metric: str
    claim: str
    at_most: bool
    published: float
    hint: str
    smoke: float | None = None
    smoke_reason: str = ""
    digits: str = ".3g"
    strict: bool = False

    def threshold(self, profile: str) -> float:
        return self.smoke if profile == "smoke" and self.smoke is not None else self.published

    def met(self, value: float, profile: str) -> bool:
        t = self.threshold(profile)
        if math.isnan(value) or (self.strict and value == t):
            return False
        return value <= t if self.at_most else value >= t


def points_lost_target(published: float, hint: str, smoke: float, smoke_reason: str) -> Target:
    """The accuracy target of the image classifiers' challenges: at most `published` points of top-1 below the
    shipped teacher on the same images (`smoke` in the smoke profile, with its reason)."""
    return Target("points_lost", "top-1 accuracy <= {t} points below the teacher's", True, published, hint,
                  smoke=smoke, smoke_reason=smoke_reason, digits=".2f")


@dataclass(frozen=True)
class Challenge:
    """A task judged by measuring the artifact it produces: the file the learner hands in (`artifact`, in the
    hand-in folder), what to do, what is measured, the targets, the inputs it is run on (`requests(ground)`:
    request name -> {input name or "": array}) and the metrics computed from the observations
    (`metrics(observed, ground)`; see `probe.observe`).

    `reads(data, profile)`, for a hand-in that is data rather than a model (05's recipe): the observations,
    measured by the kit's own code from the file's bytes read as hostile data (probe.Refused when they are
    malformed). Nothing in such a file is executed or unpickled, so the grader calls it in its own process and
    `requests` is not used."""

    id: str
    artifact: str
    task: str
    measures: str
    targets: tuple[Target, ...]
    requests: Callable[[Ground], dict[str, dict]]
    metrics: Callable[[dict, Ground], dict[str, float]]
    output: str = ""
    max_bytes: int = 64 << 20
    judges_inputs: bool = False  # a model whose inputs cannot take the requests fails a target (else: an error)
    reads: Callable[[bytes, str], dict] | None = None

    @property
    def notebook(self) -> str:
        return self.id[:2]


class Ground:
    """What the artifacts are compared with, computed by the kit: the profile's test images (seed 0), their
    labels, the shipped teacher's logits, accuracy, parameters and multiply-accumulates per image; for the
    challenges that train, the profile's training images (seed 0)."""

    def __init__(self, profile: str):
        from labkit.core import data, profiles

        self.profile = profile
        self.test = data.load("test", profiles.get(profile).n_test, 0)

    @functools.cached_property
    def teacher(self):
        from labkit.core import models

        return models.load_teacher()

    @functools.cached_property
    def teacher_logits(self) -> np.ndarray:
        from labkit.core import train

        return train.predict(self.teacher, self.test.x)

    @functools.cached_property
    def train(self):
        from labkit.core import data, profiles

        return data.load("train", profiles.get(self.profile).n_train, 0)

    @functools.cached_property
    def teacher_accuracy(self) -> float:
        return float((self.teacher_logits.argmax(1) == self.test.y).mean())

    @functools.cached_property
    def teacher_params(self) -> int:
        return sum(p.numel() for p in self.teacher.parameters())

    @functools.cached_property
    def teacher_macs(self) -> int:
        return torch_macs(self.teacher)


@functools.cache
def ground(profile: str) -> Ground:
    """The ground of a profile, built once per process."""
    return Ground(profile)


def torch_macs(model) -> int:
    """Multiply-accumulates per image of a torch model's Conv2d and Linear layers: the quantity `probe` counts in
    an ONNX graph, so that ratios compare like with like."""
    import torch

    total = [0]

    def count(module, inputs, out):
        if isinstance(module, torch.nn.Conv2d):
            total[0] += out.numel() * module.weight[0].numel()
        else:
            total[0] += out.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 1, 28, 28))
    finally:
        for h in hooks:
            h.remove()
    return total[0]


@dataclass
class Judgement:
    """The verdict on one artifact: status (passed, failed, missing, error), per target (claim, measured, met),
    the hints of the targets missed, and `why` for a missing or unreadable artifact."""

    challenge: str
    status: str
    profile: str
    rows: list[dict] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    why: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def message(self) -> str:
        """One line for a gradebook: what was measured against each target, and the hints."""
        if self.why:
            return f"{self.why}. Hint: {'; '.join(self.hints)}" if self.hints else self.why
        parts = [f"{r['target']}: measured {r['measured']} ({'met' if r['met'] else 'missed'})" for r in self.rows]
        hint = f" Hint: {'; '.join(self.hints)}" if self.hints else ""
        return "; ".join(parts) + "." + hint

    def as_record(self) -> dict:
        return {"challenge": self.challenge, "status": self.status, "profile": self.profile, "rows": self.rows,
                "hints": self.hints, "why": self.why}

    def _repr_html_(self) -> str:
        color = {"passed": "#1a7f37"}.get(self.status, "#cf222e")
        head = (f"<p><b>challenge {html.escape(self.challenge)}</b>: <b style='color:{color}'>"
                f"{html.escape(self.status)}</b> ({html.escape(self.profile)} profile)</p>")
        if self.why:
            head += f"<p>{html.escape(self.why)}</p>"
        rows = "".join(f"<tr><td>{html.escape(r['target'])}</td><td>{html.escape(r['measured'])}</td>"
                       f"<td style='color:{'#1a7f37' if r['met'] else '#cf222e'}'>{'✓ met' if r['met'] else '✗ missed'}"
                       f"</td></tr>" for r in self.rows)
        table = f"<table><tr><th>target</th><th>measured</th><th>verdict</th></tr>{rows}</table>" if rows else ""
        hints = "".join(f"<li>{html.escape(h)}</li>" for h in self.hints)
        return head + table + (f"<p>hint:</p><ul>{hints}</ul>" if hints else "")

    def __repr__(self) -> str:
        return f"challenge {self.challenge}: {self.status}. {self.message()}"


def evaluate(challenge: Challenge, observed: dict, profile: str) -> Judgement:
    """Judge the observations of an artifact (see `probe.observe`) against the challenge's targets; a model whose
    inputs cannot take the challenge's requests is an error with the sentence, unless a target judges that."""
    refused = observed.get("refused") or {}
    if refused and not challenge.judges_inputs:
        return Judgement(challenge.id, "error", profile, why=next(iter(refused.values())))
    metrics = challenge.metrics(observed, ground(profile))
    judgement = Judgement(challenge.id, "passed", profile)
    for target in challenge.targets:
        value = float(metrics.get(target.metric, float("nan")))
        met = target.met(value, profile)
        claim = target.claim.format(t=format(target.threshold(profile), target.digits))
        judgement.rows.append({"target": claim, "metric": target.metric, "value": None if math.isnan(value) else value,
                               "measured": "could not be measured" if math.isnan(value) else
                               format(value, target.digits), "met": met})
        if not met:
            judgement.status = "failed"
            if target.hint not in judgement.hints:
                judgement.hints.append(target.hint)
    errors = observed.get("errors") or {}
    if errors and judgement.status == "failed":
        judgement.hints.append("ONNX Runtime said: " + "; ".join(f"{k}: {v[:160]}" for k, v in errors.items()))
    return judgement


def observe(challenge: Challenge, path: str | Path, profile: str) -> dict:
    """Observe the artifact at `path` in this process (the learner's kernel); probe.Refused when it cannot be."""
    data = probe.read_artifact(path, challenge.max_bytes)
    if challenge.reads is not None:
        return challenge.reads(data, profile)
    return probe.observe(data, challenge.requests(ground(profile)), challenge.output)


def first_hints(challenge: Challenge) -> list[str]:
    """Every target's hint, for an artifact not handed in yet."""
    return list(dict.fromkeys(t.hint for t in challenge.targets))


def judge_file(challenge: Challenge, path: str | Path, profile: str) -> Judgement:
    """The judgement of the file at `path`, never raising: missing, error (a file that cannot be measured, with
    the reason), failed or passed."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return Judgement(challenge.id, "missing", profile, hints=first_hints(challenge),
                         why=f"no artifact yet: {path.name} was not found in {path.parent}")
    try:
        observed = observe(challenge, path, profile)
    except probe.Refused as err:
        return Judgement(challenge.id, "error", profile, why=str(err))
    return evaluate(challenge, observed, profile)


def record(judgement: Judgement, run_dir: str | Path | None) -> None:
    """Append the judgement to RUN/challenges.jsonl (nothing without a run folder)."""
    if run_dir is None:
        return
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / RECORDS).open("a") as f:
        f.write(json.dumps(judgement.as_record()) + "\n")
