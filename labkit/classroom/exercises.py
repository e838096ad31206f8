"""The exercises of notebooks 01-06: for each, the reference implementation, small fixed cases and the
known mistakes a check recognises. In a notebook:

    result = lk.exercises.check("03.fake_quant", fake_quant_per_channel, S.run_dir)   # green or red
    quant = lk.exercises.use("03.fake_quant", fake_quant_per_channel)  # yours if it passed, else the reference

`check` appends its result to `exercises.jsonl` in the run folder, where `labkit grade` reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from labkit.classroom.checking import Case, Exercise, Result, run_check
from labkit.core.paths import env_path
from labkit.measure.pareto import pareto_mask
from labkit.techniques.distill import kd_loss
from labkit.techniques.keras_twin import conv_kernel_to_keras, dense_after_flatten_to_keras
from labkit.techniques.quant_math import fake_quantize, per_channel_params, qrange, quantize

RECORDS = "exercises.jsonl"


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---- 01 · a parity check that catches the trace pitfall -------------------------------------

def _parity(reference, candidate, atol: float, distance: Callable[[np.ndarray], float]) -> dict:
    ref, cand = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    max_abs = float(distance(ref - cand))
    top1 = float(np.mean(ref.argmax(1) == cand.argmax(1)))
    return {"max_abs": max_abs, "top1": top1, "passed": max_abs <= atol and top1 == 1.0}


def parity_check(reference, candidate, atol: float = 1e-4) -> dict:
    """Reference: largest |difference|, share of equal top-1 decisions, and whether both are within tolerance."""
    if np.shape(reference) != np.shape(candidate):
        raise ValueError(f"shapes differ: {np.shape(reference)} vs {np.shape(candidate)}")
    return _parity(reference, candidate, atol, lambda d: np.abs(d).max())


def _parity_cases() -> list[Case]:
    ref = _rng(1).normal(0, 3, (6, 4)).astype(np.float32)
    other_branch = ref.copy()
    other_branch[3:] = -other_branch[3:]  # as if these images took the branch the trace did not record
    shifted = ref + np.float32(1e-3)
    return [Case("identical logits", (ref, ref.copy())),
            Case("float32 rounding noise (1e-6)", (ref, ref + np.float32(1e-6))),
            Case("trace pitfall: half the images took another branch", (ref, other_branch)),
            Case("same decisions, every logit 1e-3 too high", (ref, shifted)),
            Case("the same, with atol=1e-2", (ref, shifted), {"atol": 1e-2}),
            Case("shapes differ", (ref, ref[:3]), raises=ValueError)]


def _parity_signed(reference, candidate, atol=1e-4):
    return _parity(reference, candidate, atol, lambda d: d.max())


def _parity_top1_only(reference, candidate, atol=1e-4):
    out = parity_check(reference, candidate, atol)
    return {**out, "passed": out["top1"] == 1.0}


def _parity_mean(reference, candidate, atol=1e-4):
    return _parity(reference, candidate, atol, lambda d: np.abs(d).mean())


# ---- 03 · affine (asymmetric) fake quantization with one scale per output channel -------------

def fake_quant_per_channel(w, bits: int = 8):
    """Reference: asymmetric affine quantize-then-dequantize, one scale and zero point per slice of axis 0."""
    return fake_quantize(w, bits, symmetric=False, per_channel=True, axis=0)


def _fake_quant_cases() -> list[Case]:
    r = _rng(3)
    ranges = r.normal(0, 1, (3, 4)) * np.array([[0.01], [1.0], [100.0]])
    positive = np.abs(r.normal(0, 1, (2, 5))) + np.array([[0.5], [0.0]])
    zeros = np.vstack([r.normal(0, 1, (1, 4)), np.zeros((1, 4))])
    return [Case("3 channels with ranges 0.01, 1 and 100", (ranges.astype(np.float32),)),
            Case("a conv weight (2, 1, 3, 3)", (r.normal(0, 0.2, (2, 1, 3, 3)).astype(np.float32),)),
            Case("all-positive channels", (positive.astype(np.float32),)),
            Case("4 bits", (ranges.astype(np.float32),), {"bits": 4}),
            Case("a channel of zeros", (zeros.astype(np.float32),))]


def _codes_only(w, bits=8):
    scale, zero = per_channel_params(w, 0, bits, symmetric=False)
    return quantize(w, scale, zero, bits, axis=0)


def _no_zero_in_range(w, bits=8):
    w = np.asarray(w, np.float64)
    qmin, qmax = qrange(bits)
    per_row = w.reshape(len(w), -1)
    shape = (-1, *[1] * (w.ndim - 1))
    lo, hi = per_row.min(1).reshape(shape), per_row.max(1).reshape(shape)
    scale = np.maximum((hi - lo) / (qmax - qmin), np.finfo(np.float32).tiny)
    zero = np.clip(np.round(qmin - lo / scale), qmin, qmax)
    q = np.clip(np.round(w / scale) + zero, qmin, qmax)
    return (scale * (q - zero)).astype(np.float32)


# ---- 04 · a global magnitude-pruning mask -----------------------------------------------------

def global_magnitude_masks(weights: list[torch.Tensor], amount: float) -> list[torch.Tensor]:
    """Reference: keep-masks (True keeps) removing the round(amount * n) smallest |w| over all layers at once."""
    flat = torch.cat([w.detach().abs().reshape(-1) for w in weights])
    keep = torch.ones_like(flat, dtype=torch.bool)
    k = round(amount * flat.numel())
    if k:
        keep[torch.topk(flat, k, largest=False).indices] = False
    return [m.reshape(w.shape) for m, w in zip(keep.split([w.numel() for w in weights]), weights, strict=True)]


def _mask_cases() -> list[Case]:
    r = _rng(4)

    def t(shape, scale):
        return torch.from_numpy((r.normal(0, 1, shape) * scale).astype(np.float32))

    return [Case("three layers, amount 0.8", ([t((5,), 1.0), t((3, 4), 0.5), t((2, 2, 2), 2.0)], 0.8)),
            Case("two layers of very different scale, amount 0.5", ([t((4, 3), 1.0), t((6, 2), 0.1)], 0.5)),
            Case("amount 0 keeps every weight", ([t((3, 3), 1.0)], 0.0)),
            Case("a conv (4, 2, 3, 3) and a linear (5, 72), amount 0.3",
                 ([t((4, 2, 3, 3), 0.3), t((5, 72), 0.05)], 0.3))]


def _layerwise_masks(weights, amount):
    return [global_magnitude_masks([w], amount)[0] for w in weights]


def _largest_masks(weights, amount):
    return global_magnitude_masks([1 / (w.abs() + 1e-12) for w in weights], amount)


def _truncated_masks(weights, amount):
    n = sum(w.numel() for w in weights)
    return global_magnitude_masks(weights, int(amount * n) / n)


def _inverted_masks(weights, amount):
    return [~m for m in global_magnitude_masks(weights, amount)]


# ---- 05 · the distillation loss with T squared ------------------------------------------------

def distillation_loss(s: torch.Tensor, t: torch.Tensor, y: torch.Tensor, T: float = 4.0,
                      alpha: float = 0.9) -> torch.Tensor:
    """Reference: alpha * T**2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y) (lk.distill.kd_loss)."""
    return kd_loss(s, t, y, T, alpha)


def _kd_call(fn: Callable, case: Case) -> dict:
    s, t, y, *rest = case.args
    s = s.clone().requires_grad_(True)
    loss = fn(s, t, y, *rest, **case.kwargs)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise TypeError(f"the loss must be a scalar torch tensor, got {type(loss).__name__} "
                        f"{tuple(getattr(loss, 'shape', ()))}")
    if not loss.requires_grad:
        raise ValueError("the loss does not depend on the student's logits through torch (detached, or numpy?)")
    loss.backward()
    return {"loss": loss.item(), "gradient w.r.t. the student logits": s.grad.numpy()}


def _kd_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)

    def logits():
        return torch.randn(5, 4, generator=g) * 3

    s, t, y = logits(), logits(), torch.tensor([0, 1, 2, 3, 1])
    return [Case("T=1, alpha=0.5", (s, t, y, 1.0, 0.5)),
            Case("T=4, alpha=0.9 (where T squared matters)", (s, t, y, 4.0, 0.9)),
            Case("alpha=0: plain cross-entropy", (s, t, y, 2.0, 0.0)),
            Case("alpha=1: pure distillation at T=2", (s, t, y, 2.0, 1.0))]


def _kd(s, t, y, T, alpha, soft_scale=None, reduction="batchmean", hard_T=1.0, swap=False):
    a, b = (F.log_softmax(t / T, 1), F.softmax(s / T, 1)) if swap else (F.log_softmax(s / T, 1), F.softmax(t / T, 1))
    soft = F.kl_div(a, b, reduction=reduction)
    return alpha * (T * T if soft_scale is None else soft_scale) * soft + (1 - alpha) * F.cross_entropy(s / hard_T, y)


# ---- 06 · the Pareto front, and the choice under budgets --------------------------------------

def pareto_front(latency_ms, accuracy) -> np.ndarray:
    """Reference: True for the candidates no other one beats (as fast or faster and as accurate or more,
    strictly better in one)."""
    return pareto_mask(np.asarray(latency_ms, float), np.asarray(accuracy, float))


def _pareto_cases() -> list[Case]:
    return [Case("five candidates", ([3.0, 1.0, 2.0, 5.0, 4.0], [0.90, 0.80, 0.88, 0.93, 0.89])),
            Case("a tie on latency", ([1.0, 1.0, 2.0], [0.80, 0.85, 0.90])),
            Case("two identical candidates", ([1.0, 1.0, 2.0], [0.85, 0.85, 0.80])),
            Case("a single candidate", ([2.5], [0.9]))]


def _pareto_non_strict(latency_ms, accuracy):
    c, b = np.asarray(latency_ms, float), np.asarray(accuracy, float)
    return np.array([not (((c <= c[i]) & (b >= b[i])).sum() > 1) for i in range(len(c))])


def _pareto_slowest(latency_ms, accuracy):
    return pareto_mask(-np.asarray(latency_ms, float), np.asarray(accuracy, float))


def choose_within_budgets(candidates, latency_budget_ms: float, size_budget_bytes: float,
                          accuracy_floor: float) -> str | None:
    """Reference: the label of the most accurate candidate within all three budgets (limits included);
    ties go to the faster, then the smaller; None when nothing fits."""
    return _choose(candidates, latency_budget_ms, size_budget_bytes, accuracy_floor)


def _choose(df, latency_budget_ms, size_budget_bytes, accuracy_floor, strict=False, size_matters=True):
    lat, size, acc = df["latency_ms_p50"], df["size_bytes"], df["accuracy"]
    fits = ((lat < latency_budget_ms) & (size < size_budget_bytes) & (acc > accuracy_floor) if strict else
            (lat <= latency_budget_ms) & ((size <= size_budget_bytes) | (not size_matters)) & (acc >= accuracy_floor))
    if not fits.any():
        return None
    best = df[fits].sort_values(["accuracy", "latency_ms_p50", "size_bytes"], ascending=[False, True, True])
    return str(best["label"].iloc[0])


def _choose_cases() -> list[Case]:
    import pandas as pd

    df = pd.DataFrame({"label": ["teacher", "int8", "pruned", "student", "student int8"],
                       "accuracy": [0.937, 0.935, 0.925, 0.915, 0.913],
                       "latency_ms_p50": [8.0, 4.0, 3.0, 1.0, 0.8],
                       "size_bytes": [1.7e6, 0.45e6, 0.5e6, 0.15e6, 0.05e6]})
    tie = df.assign(accuracy=[0.937, 0.925, 0.925, 0.925, 0.90])
    return [Case("everything fits: the most accurate", (df, 10.0, 2e6, 0.9)),
            Case("the most accurate is too slow", (df, 5.0, 2e6, 0.9)),
            Case("the most accurate fast ones are too large", (df, 5.0, 4e5, 0.9)),
            Case("budgets met exactly count as fitting", (df, 3.0, 0.5e6, 0.925)),
            Case("a tie on accuracy goes to the faster", (tie, 5.0, 2e6, 0.9)),
            Case("nothing fits: None", (df, 0.5, 2e6, 0.9))]


EXERCISES: dict[str, Exercise] = {ex.id: ex for ex in (
    Exercise("01.parity_check", "parity_check", "A parity check that catches the trace pitfall",
             "max |reference - candidate|, the top-1 agreement and the verdict on six small logit pairs: identical, "
             "rounding noise (passes), a traced branch gone wrong (fails), every logit 1e-3 off (fails at 1e-4, "
             "passes at atol=1e-2), and a ValueError when the shapes differ",
             "max_abs is the largest |reference - candidate|, top1 the share of rows whose argmax agrees, "
             "passed is max_abs <= atol and top1 == 1.0; raise ValueError when the shapes differ",
             parity_check, _parity_cases,
             ((_parity_signed, "take the absolute value of the difference before the max: a candidate below the "
                               "reference is as wrong as one above"),
              (_parity_top1_only, "passed needs both: max_abs <= atol AND every top-1 decision equal; equal decisions "
                                  "alone miss logits that drifted"),
              (_parity_mean, "use the largest difference, not the mean: one bad image must fail the check"))),
    Exercise("02.conv_kernel", "conv_kernel_to_keras", "Port a conv kernel from PyTorch to Keras",
             "the Keras kernel of three PyTorch conv weights (non-square, square and 1x1): shape (kh, kw, in, out) "
             "and every value in its place",
             "PyTorch stores (out, in, kh, kw), Keras wants (kh, kw, in, out): one transpose with the right axis order",
             conv_kernel_to_keras,
             lambda: [Case(f"kernel {s}", (_rng(2).normal(0, 1, s).astype(np.float32),))
                      for s in ((4, 2, 3, 5), (8, 3, 3, 3), (5, 7, 1, 1))],
             ((lambda w: w.transpose(3, 2, 1, 0), "transpose(3, 2, 1, 0) also swaps kh and kw: the kernel is "
                                                  "mirrored; use transpose(2, 3, 1, 0)"),
              (lambda w: w.transpose(2, 3, 0, 1), "in and out are swapped: Keras wants (kh, kw, in, out)"),
              (lambda w: w.reshape(w.shape[2], w.shape[3], w.shape[1], w.shape[0]),
               "reshape keeps the memory order and scrambles the values: use transpose"))),
    Exercise("02.dense_after_flatten", "dense_after_flatten_to_keras",
             "Port the first Dense weight after Flatten from PyTorch to Keras",
             "the (in, out) Keras kernel of four Linear weights after Flatten, including shapes where a plain "
             "transpose happens to be right (C=1, H=W=1) and where it is not",
             "torch flattens (C, H, W), Keras (H, W, C): reshape to (out, C, H, W), move the axes to (H, W, C, out), "
             "then reshape to (H*W*C, out)",
             dense_after_flatten_to_keras,
             lambda: [Case(f"out={o}, C={c}, H={h}, W={w}", (_rng(o).normal(0, 1, (o, c * h * w)).astype(np.float32),
                                                             c, h, w))
                      for o, c, h, w in ((5, 3, 2, 4), (4, 1, 3, 3), (6, 4, 1, 1), (3, 2, 3, 2))],
             ((lambda w, c, h, wd: w.T, "a plain transpose has the right shape but the wrong order: reorder the input "
                                        "axis from (C, H, W) to (H, W, C) first"),
              (lambda w, c, h, wd: w.reshape(len(w), c, h, wd).transpose(0, 2, 3, 1).reshape(len(w), -1),
               "Keras Dense kernels are (in, out): transpose after reordering"))),
    Exercise("03.fake_quant", "fake_quant_per_channel",
             "Affine quantize and dequantize with one scale per output channel",
             "the dequantized weights of five small tensors against the reference within 1e-5: channels of very "
             "different ranges, a conv weight, all-positive channels (asymmetric grid), 4 bits, a channel of zeros",
             "per output channel (axis 0): x_min = min(w.min(), 0), x_max = max(w.max(), 0), scale = (x_max - x_min) "
             "/ (qmax - qmin) (at least float32 tiny), zero_point = round(qmin - x_min / scale); q = clip(round(w / "
             "scale) + zero_point, qmin, qmax); return scale * (q - zero_point) as float32",
             fake_quant_per_channel, _fake_quant_cases,
             ((lambda w, bits=8: fake_quantize(w, bits, symmetric=False), "one scale per output channel: reduce over "
                                                                           "every axis except axis 0"),
              (lambda w, bits=8: fake_quantize(w, bits, per_channel=True), "asymmetric (affine): scale = (x_max - "
                                                                            "x_min) / (qmax - qmin) and a zero point, "
                                                                            "not max|w| / qmax"),
              (_no_zero_in_range, "widen each channel's range to include 0 (x_min = min(w.min(), 0), x_max = "
                                  "max(w.max(), 0)) so that 0.0 is exactly representable"),
              (_codes_only, "dequantize: return scale * (q - zero_point), not the integer codes"))),
    Exercise("04.global_mask", "global_magnitude_masks", "A global magnitude-pruning mask",
             "the keep-masks of four small sets of layers: one threshold over all layers, exactly round(amount * n) "
             "weights removed, amount 0 keeps everything, shapes preserved",
             "concatenate |w| of every layer, remove the round(amount * n) smallest (torch.topk(..., largest=False)), "
             "split the mask back into the layers' shapes; True (or 1) keeps a weight",
             global_magnitude_masks, _mask_cases,
             ((_layerwise_masks, "one threshold over all layers together: concatenate |w| of every layer first "
                                 "(this is layer-wise pruning)"),
              (_inverted_masks, "masks are keep-masks: True/1 keeps a weight, False/0 removes it "
                                "(as torch.nn.utils.prune), and the smallest |w| go"),
              (_largest_masks, "remove the smallest |w| and keep the largest"),
              (_truncated_masks, "remove round(amount * n) weights, as torch.nn.utils.prune does (not int(...))"))),
    Exercise("05.kd_loss", "distillation_loss", "The distillation loss with T squared",
             "the loss value and its gradient w.r.t. the student logits on four small batches (T=1, T=4, "
             "alpha=0 and alpha=1) against lk.distill.kd_loss",
             "the soft term is the KL divergence between the softened distributions (F.kl_div takes the student's "
             "log-probabilities at temperature T first, the teacher's probabilities second, reduction='batchmean'), "
             "weighted by alpha and T**2; add (1 - alpha) times the cross-entropy of the raw logits with the labels",
             distillation_loss, _kd_cases,
             ((lambda s, t, y, T, a: _kd(s, t, y, T, a, soft_scale=1.0), "multiply the soft term by T**2: its "
                                                                          "gradient shrinks like 1/T**2"),
              (lambda s, t, y, T, a: _kd(s, t, y, T, a, reduction="mean"), "use reduction='batchmean' (sum over "
                                                                            "classes, mean over the batch): 'mean' "
                                                                            "also divides by the number of classes"),
              (lambda s, t, y, T, a: _kd(s, t, y, T, a, hard_T=T), "the hard term uses the raw student logits "
                                                                    "(temperature 1)"),
              (lambda s, t, y, T, a: _kd(s, t, y, T, a, swap=True), "F.kl_div takes the student's log-probabilities "
                                                                     "first and the teacher's probabilities second"),
              (lambda s, t, y, T, a: _kd(s, t, y, T, 1 - a), "alpha weights the soft (teacher) term, 1 - alpha the "
                                                              "cross-entropy")),
             call=_kd_call),
    Exercise("06.pareto_front", "pareto_front", "The Pareto front of latency against accuracy",
             "the front mask of four small candidate sets: a plain set, a tie on latency, two identical candidates "
             "(both stay on the front), a single candidate",
             "a candidate is off the front when another is at least as fast AND at least as accurate, and strictly "
             "better in one of the two",
             pareto_front, _pareto_cases,
             ((_pareto_non_strict, "a candidate dominates another only if it is strictly better in at least one: "
                                   "two identical candidates do not remove each other"),
              (_pareto_slowest, "lower latency is better: a faster candidate beats a slower one"))),
    Exercise("06.choose", "choose_within_budgets", "The choice of the model to ship under budgets",
             "the chosen label on six small candidate tables: all fit, the most accurate too slow, too large, "
             "budgets met exactly, a tie on accuracy, nothing fits (None)",
             "keep the rows with latency_ms_p50 <= latency budget, size_bytes <= size budget and accuracy >= floor; "
             "return the label of the most accurate (ties: faster, then smaller), or None when none is left",
             choose_within_budgets, _choose_cases,
             ((lambda df, lat, size, acc: _choose(df, lat, size, acc, strict=True),
               "a budget is a limit you may reach: use <= for latency and size and >= for the accuracy floor"),
              (lambda df, lat, size, acc: _choose(df, lat, size, acc, size_matters=False),
               "all three budgets apply: the size budget too"))),
)}


# ---- the notebook-facing API -----------------------------------------------------------------

_CHECKED: dict[str, tuple[Callable, Result]] = {}  # the last check of each exercise in this kernel


def get(exercise_id: str) -> Exercise:
    """The exercise with this id ("03.fake_quant")."""
    if exercise_id not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise_id!r}; the kit has: {', '.join(EXERCISES)}")
    return EXERCISES[exercise_id]


def of_notebook(notebook: str) -> list[Exercise]:
    """The exercises of a notebook, by its number ("03") or file stem ("03_quantization")."""
    number = Path(notebook).name[:2]
    return [ex for ex in EXERCISES.values() if ex.notebook == number]


def reference(exercise_id: str) -> Callable:
    """The kit's reference implementation of an exercise."""
    return get(exercise_id).reference


def catalog():
    """Every exercise with the function to write and what its check checks, as a DataFrame."""
    import pandas as pd

    return pd.DataFrame([{"exercise": ex.id, "function": ex.function, "title": ex.title, "checks": ex.checks}
                         for ex in EXERCISES.values()]).set_index("exercise")


def _run_dir(run_dir: str | Path | None) -> Path | None:
    return Path(run_dir) if run_dir is not None else env_path("LABKIT_RUN_DIR")


def check(exercise_id: str, fn: Callable, run_dir: str | Path | None = None, seconds: float = 10.0) -> Result:
    """Run the learner's `fn` on the exercise's fixed cases and compare with the reference; record the result
    in `run_dir/exercises.jsonl` (default: $LABKIT_RUN_DIR; nothing is recorded without either). Each call
    of `fn` may take at most `seconds`."""
    result = run_check(get(exercise_id), fn, seconds)
    _CHECKED[exercise_id] = (fn, result)
    folder = _run_dir(run_dir)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / RECORDS).open("a") as f:
            f.write(json.dumps(result.as_record()) + "\n")
    return result


def use(exercise_id: str, fn: Callable) -> Callable:
    """`fn` if its last check in this kernel passed, else the kit's reference; says which, so that a notebook
    with unsolved exercises still runs to the end."""
    ex = get(exercise_id)
    fn_checked, result = _CHECKED.get(exercise_id, (None, None))
    if result is not None and result.passed and fn_checked is fn:
        print(f"exercise {exercise_id}: your {ex.function} passed its check; the cells below use it.")
        return fn
    why = ("it was never checked in this kernel (run its check cell)" if result is None else
           "it changed since its check (run the check cell again)" if fn_checked is not fn else
           f"its check says: {result.status}")
    print(f"exercise {exercise_id}: the cells below use the kit's reference {ex.function}, because {why}.")
    return ex.reference


def load_records(run_dir: str | Path) -> dict[str, dict]:
    """The last recorded check of each exercise in a run folder (empty when none was recorded); lines that are
    not JSON are skipped (a killed kernel may leave half a line)."""
    path = Path(run_dir) / RECORDS
    out: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("exercise") in EXERCISES:
                out[rec["exercise"]] = rec
    return out


def check_pattern(exercise_id: str) -> re.Pattern:
    """Matches a code cell that checks this exercise (`lk.exercises.check("03.fake_quant", ...`)."""
    return re.compile(r"exercises\.check\(\s*['\"]" + re.escape(exercise_id) + r"['\"]")


def checked_in(notebook: str | Path) -> list[str]:
    """The ids of the exercises whose check cell the notebook file holds, in the kit's order."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return [ex for ex in EXERCISES if any(check_pattern(ex).search(src) for src in code)]
