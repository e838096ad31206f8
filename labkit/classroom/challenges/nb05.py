"""Notebook 05's challenge: a distillation recipe (temperature T and weight alpha) whose student beats its scratch
twin trained on the same budget.

A student's weights cannot show how long it was trained, so "beats scratch on the same budget" is judged from the
recipe, not from weights: the learner hands in the knobs of the loss they built (`lk.distill.save_recipe(loss_fn,
path)` writes `{"T": ..., "alpha": ...}`), and the kit trains both arms itself with `lk.distill.distill_student` on
the challenge's budget (KNOBS "judge_images" and "judge_epochs" of the profile, the notebook's learning rate and batch
size, seed 0: the same initial weights, data order, steps and optimiser) and measures both on the profile's test
images. In `class` the budget is shorter than the notebook's fair experiment: two trainings at that one would cost
minutes each time a learner tries a recipe, and the grader once per distinct recipe.

The file is hostile data: `read_recipe` parses at most MAX_BYTES of JSON text and checks two numbers; nothing in it
is executed or unpickled, so the grader judges it in its own process, without the sandbox, and the training is the
kit's own code. Each arm is trained once per process (`functools.cache`: training is deterministic for a recipe,
profile and machine), so a class handing in the same recipe costs one training, and the scratch twin one in all."""

from __future__ import annotations

import functools
import json

import numpy as np

from labkit.classroom.challenges import metrics as m
from labkit.classroom.challenges.judging import Challenge, Ground, Target, ground
from labkit.classroom.challenges.probe import Refused
from labkit.core import profiles
from labkit.measure.acceptance import SMALL

NOTEBOOK = "05_distillation"
MAX_BYTES = 1024  # a recipe is two numbers
KEYS = ("T", "alpha")  # lk.distill.RECIPE_KEYS (not imported: that would load torch with the challenges)
RANGES = {"T": (0.1, 100.0), "alpha": (0.0, 1.0)}  # beyond these a temperature is no recipe (float32 overflows)
KL_T = 4.0  # the transfer is measured at this temperature, whatever T the recipe trains with
SEED = 0

HINT_MARGIN = ("turn T and alpha: a temperature from 2 to 8 shows the teacher's dark knowledge (at T=1 its outputs are "
               "nearly its one-hot answer, a very high T flattens them towards uniform), and alpha from 0.5 to 0.95 "
               "puts most of the weight on the teacher while the labels still count")
HINT_TRANSFER = ("raise alpha, the teacher's share of the loss: alpha=0 is plain cross-entropy, the scratch recipe "
                 "itself, and takes nothing from the teacher")


def _no_constant(name: str):
    raise Refused(f"the recipe holds {name}; T and alpha must be finite numbers")


def read_recipe(data: bytes) -> tuple[float, float]:
    """(T, alpha) from a handed-in recipe's bytes, read as hostile data; Refused with the reason and the fix when
    it is not a JSON object with exactly the keys "T" and "alpha", each a finite number in its range."""
    if len(data) > MAX_BYTES:
        raise Refused(f"the recipe holds {len(data):,} bytes; a recipe is two numbers (at most {MAX_BYTES:,} bytes)")
    try:
        recipe = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except Refused:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise Refused(f"the recipe is not JSON text ({type(err).__name__}); write it with "
                      f"lk.distill.save_recipe(loss_fn, path)") from None
    if not isinstance(recipe, dict) or set(recipe) != set(KEYS):
        got = sorted(map(str, recipe))[:6] if isinstance(recipe, dict) else type(recipe).__name__
        raise Refused(f'the recipe must be a JSON object with exactly the keys "T" and "alpha", got {str(got)[:120]}; '
                      f"write it with lk.distill.save_recipe(loss_fn, path)")
    for key in KEYS:
        value, (lo, hi) = recipe[key], RANGES[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise Refused(f"{key} must be a number from {lo:g} to {hi:g}, got {repr(value)[:40]}")
    return float(recipe["T"]), float(recipe["alpha"])


def budget(profile: str) -> dict:
    """The training budget of both arms at this profile: epochs, learning rate, batch size and seed."""
    k = profiles.get(profile).knobs(NOTEBOOK)
    return {"epochs": k.judge_epochs, "lr": k.lr, "batch_size": k.batch, "seed": SEED}


@functools.cache
def training(profile: str):
    """The training images both arms see (the first `judge_images` of the ground's, seed 0) and the shipped
    teacher's logits on them, computed by the kit once per process."""
    from labkit.techniques import distill

    g = ground(profile)
    n = profiles.get(profile).knobs(NOTEBOOK).judge_images
    images = g.train.head(n)
    return images, distill.teacher_logits(g.teacher, images, desc="judge: the teacher's logits")


@functools.cache
def arm(profile: str, recipe: tuple[float, float] | None) -> dict[str, float]:
    """One student trained by the kit on the challenge's budget, with `recipe` (T, alpha) or, for None, from scratch
    with cross-entropy: its top-1 accuracy on the profile's test images and the mean KL(teacher || student) of
    their outputs softened at KL_T. Cached per process."""
    from labkit.core import train
    from labkit.techniques import distill

    g, (images, teacher_logits) = ground(profile), training(profile)
    T, alpha = recipe if recipe is not None else (1.0, 0.0)  # unused by the scratch arm
    desc = "judge: scratch twin" if recipe is None else f"judge: T={T:g} alpha={alpha:g}"
    model, _ = distill.distill_student(images, None if recipe is None else teacher_logits, T=T, alpha=alpha,
                                       desc=desc, **budget(profile))
    logits = train.predict(model, g.test.x)
    return {"accuracy": float((logits.argmax(1) == g.test.y).mean()),
            "kl": distill.soft_kl(logits, g.teacher_logits, KL_T)}


def _measure(data: bytes, profile: str) -> dict:
    recipe = read_recipe(data)
    return {"recipe": dict(zip(KEYS, recipe, strict=True)), "scratch": arm(profile, None),
            "distilled": arm(profile, recipe)}


def _metrics(observed: dict, g: Ground) -> dict[str, float]:
    s, d = observed["scratch"], observed["distilled"]
    return {"margin": 100.0 * (d["accuracy"] - s["accuracy"]),
            "transfer": d["kl"] / s["kl"] if s["kl"] > 0 and np.isfinite(d["kl"]) else m.NAN}


def _no_requests(g: Ground) -> dict[str, dict]:
    return {}  # nothing is run on the hand-in: the kit trains with its knobs


KD_RECIPE = Challenge(
    id="05.kd_recipe",
    artifact="05_kd.json",
    task="choose the temperature T and the weight alpha of lk.distill.kd_loss_fn so that the distilled student beats "
         "its scratch twin on the same budget; hand in the loss's knobs with lk.distill.save_recipe",
    measures="the kit trains both arms itself with lk.distill.distill_student on one short budget (same images, "
             "seed, data order, steps and optimiser), then top-1 accuracy of each on the profile's test images, and "
             f"KL(teacher || student) of their outputs softened at T={KL_T:g}",
    targets=(Target("margin", "distilled student beats its scratch twin by > {t} points of top-1", False, 0.0,
                    HINT_MARGIN, smoke=-10.0, strict=True, digits=".2f",
                    smoke_reason=SMALL + " after a few dozen optimiser steps: one run's margin swings by several "
                                 "points either way, so it is judged only against a collapse"),
             Target("transfer", f"its outputs at T={KL_T:g} are closer to the teacher's: KL <= {{t}}x its scratch "
                    "twin's", True, 0.8, HINT_TRANSFER, digits=".3f")),
    requests=_no_requests,
    metrics=_metrics,
    max_bytes=MAX_BYTES,
    reads=_measure,
)

CHALLENGES = [KD_RECIPE]
