"""The promises the notebooks make, in one place: for each bar, its claim, how it is measured from a run's ledger
rows and its threshold per profile. The notebooks' acceptance cells, `labkit verify` and the README's table
(`python -m labkit.measure.acceptance`) all read this module; nothing else types a threshold.

A bar's smoke threshold is the one the smoke profile can support (small subsets, a fraction of an epoch), with
the reason; `None` means the smoke profile cannot judge it (timings over a few rounds, a margin from one seed on
a few hundred images) and only `class` and `full` do."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labkit.core import ledger, profiles
from labkit.core.cpu import CAPABILITIES
from labkit.core.data import TEST_IMAGES
from labkit.measure.checks import COLORS, MARKS
from labkit.measure.units import quantity


class AcceptanceError(AssertionError):
    """A notebook's promise failed in its own profile."""


@dataclass(frozen=True)
class Measured:
    """What a bar measured: the number, a note on where it came from, and, where the bar may legitimately not
    hold on this machine, the measured fact that says why (`excuse`)."""

    value: float
    note: str = ""
    excuse: str = ""


@dataclass(frozen=True)
class Bar:
    """One promise: `claim` holds `{t}` for the threshold; `measure(rows)` reads the notebook's ledger rows."""

    notebook: str
    name: str
    claim: str
    measure: Callable[..., Measured]
    at_most: bool
    published: float
    smoke: float | None
    smoke_reason: str = ""
    unit: str = ""

    def threshold(self, profile: str) -> float | None:
        return self.smoke if profile == "smoke" else self.published

    def text(self, profile: str) -> str:
        t = self.threshold(profile)
        return self.claim.format(t=self.published if t is None else t)


@dataclass(frozen=True)
class Verdict:
    """A bar judged on one run: passed is None where the profile cannot judge it or a measured fact excuses it."""

    bar: Bar
    profile: str
    measured: Measured | None
    passed: bool | None
    why: str = ""


# ---------------------------------------------------------------- reading ledger rows


def _pick(rows, variant: str, batch: int | None = None):
    d = rows[rows["variant"] == variant]
    if batch is not None:
        d = d[d["batch"] == batch]
    if d.empty:
        raise LookupError(f"no ledger row {variant!r}" + (f" at batch {batch}" if batch else ""))
    return d.iloc[-1]


def _points(a: float, b: float) -> float:
    return 100 * (a - b)


def _speedup(slow, fast) -> Measured:
    return Measured(slow["latency_ms_p50"] / fast["latency_ms_p50"],
                    f"{slow['latency_ms_p50']:.2f} / {fast['latency_ms_p50']:.2f} ms")


def _size_ratio(small, large) -> Measured:
    return Measured(small["size_bytes"] / large["size_bytes"],
                    f"{int(small['size_bytes']):,} / {int(large['size_bytes']):,} bytes")


def _scored(row) -> int:
    """How many images a row's parity was judged on: its parity_n, else its n_eval."""
    n = row.get("parity_n")
    return int(n if n is not None and n == n else row["n_eval"])


def _n(row) -> str:
    return f"n={_scored(row):,}"


def _failing_parity(rows) -> list[str]:
    """The variants whose parity failed or was never judged: a row without a verdict keeps no promise."""
    return sorted(set(rows.loc[~_column(rows, "parity_passed").eq(True), "variant"]))


def _all_pass_parity(rows, what: str) -> Measured:
    if rows.empty:
        raise LookupError(f"no {what}")
    bad = _failing_parity(rows)
    unjudged = sorted(set(rows.loc[_column(rows, "parity_passed").isna(), "variant"]))
    failing = f"; failing: {', '.join(bad)}" if bad else ""
    failing += f" (no parity verdict: {', '.join(unjudged)})" if unjudged else ""
    return Measured(len(bad), f"of {rows['variant'].nunique()} {what}{failing}")


def _int8_dot_products(env: dict) -> bool:
    """Whether the CPU a ledger row was measured on has int8 dot-product instructions (from the row's env)."""
    flags = set(str(env.get("flags", "")).split(","))
    return bool(flags & set(CAPABILITIES["int8_dot"]))


def _saturation_expected(row) -> bool:
    """The int16 saturation of full-range int8 is expected only on x86 without int8 dot products."""
    env = row.get("env") if isinstance(row.get("env"), dict) else {}
    return env.get("arch") == "x86_64" and not _int8_dot_products(env)


# ---------------------------------------------------------------- the capstone's stages


def stage_rows(rows, runtime: str = "onnxruntime", target: str = "cpu", batch: int = 64):
    """One row per pipeline stage (technique "pipeline", a `stage` column) for one runtime, target and batch,
    in stage order: the capstone's headline numbers."""
    if rows is None or len(rows) == 0 or "stage" not in rows.columns:
        raise ValueError("no pipeline rows: these rows have no `stage` column (run notebook 06 first)")
    sel = rows[(rows["technique"] == "pipeline") & (rows["runtime"] == runtime) & (rows["target"] == target)
               & (rows["batch"] == batch)]
    if sel.empty:
        raise ValueError(f"no pipeline rows for {runtime} on {target} at batch {batch}")
    return sel.drop_duplicates(subset=["stage"], keep="last").sort_values("stage").reset_index(drop=True)


def monotone_decreasing(values) -> bool:
    """True when every value is strictly smaller than the one before (stage sizes through a pipeline)."""
    values = list(values)
    return all(b < a for a, b in zip(values, values[1:], strict=False))


def best_stage(rows, target: str = "cpu", batch: int = 64) -> dict:
    """Against the first stage (the teacher) in ONNX Runtime on `target`: the most accurate later stage that is
    at least as much smaller and faster as the capstone's bars ask (the last stage when none is), with its
    ratios and the points of top-1 it loses."""
    min_smaller, min_faster = BARS_BY_NAME["06.smaller"].published, BARS_BY_NAME["06.faster"].published
    st = stage_rows(rows, "onnxruntime", target, batch)
    ref, later = st.iloc[0], st.iloc[1:]
    if later.empty:
        raise ValueError("the pipeline has a single stage: nothing to compare with the teacher")
    later = later.assign(smaller=ref["size_bytes"] / later["size_bytes"],
                         faster=ref["latency_ms_p50"] / later["latency_ms_p50"],
                         loss_points=100 * (ref["accuracy"] - later["accuracy"]))
    clears = later[(later["smaller"] >= min_smaller) & (later["faster"] >= min_faster)]
    best = clears.sort_values("accuracy", ascending=False).iloc[0] if len(clears) else later.iloc[-1]
    return {"best": best["variant"], "stage": int(best["stage"]), "smaller": float(best["smaller"]),
            "faster": float(best["faster"]), "loss_points": float(best["loss_points"]),
            "accuracy": float(best["accuracy"]), "teacher_accuracy": float(ref["accuracy"])}


# ---------------------------------------------------------------- the measures, one per bar


def _teacher_accuracy(rows):
    r = _pick(rows, "teacher (torch eager)", 64)
    return Measured(r["accuracy"], f"n={int(r['n_eval']):,}")


def _ort_teacher_parity(rows):
    return _all_pass_parity(rows[rows["runtime"] == "onnxruntime"], "ONNX Runtime rows")


def _exports_parity(rows):
    return _all_pass_parity(rows[_column(rows, "pitfall").ne(True)], "exports")


def _pitfalls_caught(rows):
    pit = rows[_column(rows, "pitfall").eq(True)]
    if pit.empty:
        raise LookupError("no pitfall rows")
    slipped = sorted(set(pit.loc[~_column(pit, "parity_passed").eq(False), "variant"]))
    return Measured(len(slipped), f"of {pit['variant'].nunique()} pitfall demo(s)" +
                    (f"; not caught by parity (passed, or never judged): {', '.join(slipped)}" if slipped else ""))


def _matrix_routes(rows):
    return _all_pass_parity(rows[rows["variant"].str.startswith("matrix: ")], "conversion routes")


def _keras_twin_parity(rows):
    return _all_pass_parity(rows[rows["variant"] == "Keras twin"], "Keras twin rows")


def _litert_torch_parity(rows):
    """litert-torch's files judged like every export (fp32 within 1e-4, int8 agreeing on 99%), on every test image
    of the profile: a row scored on fewer counts as failing."""
    lt = rows[rows["variant"].str.startswith("litert-torch ")]
    if lt.empty:
        raise LookupError("no litert-torch rows: 02 skips that section when .venv-litert-torch is missing "
                          "(`make setup` builds it)")
    scored = lt.apply(_scored, axis=1)
    whole = lt["profile"].map(lambda p: profiles.get(p).n_test or TEST_IMAGES)
    failing, partial = set(_failing_parity(lt)), sorted(set(lt.loc[scored < whole, "variant"]))
    note = f"n={int(scored.min()):,}; of {lt['variant'].nunique()} litert-torch rows"
    note += f"; failing: {', '.join(sorted(failing))}" if failing else ""
    note += f"; not scored on the whole test set: {', '.join(partial)}" if partial else ""
    return Measured(len(failing | set(partial)), note)


def _litert_int8_size(rows):
    return _size_ratio(_pick(rows, "LiteRT int8", 64), _pick(rows, "LiteRT fp32", 64))


def _litert_int8_agreement(rows):
    r = _pick(rows, "LiteRT int8", 64)
    return Measured(r["parity_top1"], _n(r))


ORT_INT8, ORT_FP32, TORCH_FP32 = "ORT int8 static QDQ per-channel MinMax", "ORT fp32", "torch fp32 eager"


def _ort_int8_size(rows):
    return _size_ratio(_pick(rows, ORT_INT8), _pick(rows, ORT_FP32))


def _ort_int8_loss(rows):
    q, f = _pick(rows, ORT_INT8), _pick(rows, TORCH_FP32)
    return Measured(_points(f["accuracy"], q["accuracy"]), f"n={int(q['n_eval']):,}")


def _int8_agreement(rows):
    """The lowest top-1 agreement over the int8 variants; a full-range variant on a CPU where int16 saturation is
    expected (x86 without int8 dot products, read from the row's own env) is excused and named."""
    int8 = rows[(rows["precision"] == "int8") & rows["parity_top1"].notna()].drop_duplicates("variant", keep="last")
    if int8.empty:
        raise LookupError("no int8 rows with a top-1 agreement")
    expected = int8.apply(lambda r: isinstance(r.get("known_issue"), str) and _saturation_expected(r), axis=1)
    judged, excused = int8[~expected], int8[expected]
    low = judged.loc[judged["parity_top1"].idxmin()]
    note = f"lowest: {low['variant']} (of {len(judged)})"
    excuse = "; ".join(f"{r['variant']} agrees {r['parity_top1']:.2%} (x86 without VNNI/AMX: {r['known_issue']})"
                       for _, r in excused.iterrows())
    return Measured(low["parity_top1"], note, excuse)


def _pt2e_speedup(rows):
    f, q = _pick(rows, TORCH_FP32, 64), _pick(rows, "torch int8 pt2e PTQ compiled", 64)
    return _speedup(f, q)


def _masked(rows):
    d = rows[_column(rows, "kind").eq("unstructured") & rows["batch"].eq(64)]
    if d.empty:
        raise LookupError("no masked model row at batch 64")
    return d.iloc[-1]


def _global_sparsity(rows):
    m = _masked(rows)
    return Measured(m["sparsity"], m["variant"])


def _masked_loss(rows):
    m, t = _masked(rows), _pick(rows, "teacher (torch)", 64)
    return Measured(_points(t["accuracy"], m["accuracy"]), f"n={int(m['n_eval']):,}")


def _masked_latency(rows):
    """|masked / dense - 1| in units of the dense model's relative spread (at least 5%): <= 1 is within noise."""
    m, t = _masked(rows), _pick(rows, "teacher (torch)", 64)
    spread = max(t["latency_ms_iqr"] / t["latency_ms_p50"], 0.05)
    ratio = m["latency_ms_p50"] / t["latency_ms_p50"]
    return Measured(abs(ratio - 1) / spread, f"ratio {ratio:.3f}, spread {spread:.1%}")


def _column(rows, name: str):
    """A column of the rows, or a column of None where no row has that key."""
    return rows[name] if name in rows else rows["variant"].map(lambda _: None)


def _channel_row(rows):
    d = rows[_column(rows, "kind").eq("structured") & (rows["runtime"] == "onnxruntime") & rows["batch"].eq(64)]
    if d.empty:
        raise LookupError("no channel-pruned ONNX Runtime row")
    return d.iloc[0]  # the headline ratio is recorded first; a full-profile sweep follows


def _channel_macs(rows):
    p, t = _channel_row(rows), _pick(rows, "teacher (onnxruntime)", 64)
    return Measured(p["macs"] / t["macs"], f"{p['macs'] / 1e6:.2f} / {t['macs'] / 1e6:.2f} M MACs")


def _channel_speedup(rows):
    p, t = _channel_row(rows), _pick(rows, "teacher (onnxruntime)", 64)
    return _speedup(t, p)


def _channel_loss(rows):
    p, t = _channel_row(rows), _pick(rows, "teacher (onnxruntime)", 64)
    return Measured(_points(t["accuracy"], p["accuracy"]), f"n={int(p['n_eval']):,}")


def _channel_parity(rows):
    return _all_pass_parity(rows[_column(rows, "kind").eq("structured") & (rows["runtime"] == "onnxruntime")],
                            "pruned ONNX rows")


def _kd_row(rows):
    d = rows[rows["variant"].str.startswith("student distilled (mean of")]
    if d.empty:
        raise LookupError("no 'student distilled (mean of N seeds)' row")
    return d.iloc[-1]


STUDENT, TEACHER_ORT = "student (distilled) (onnxruntime)", "teacher (onnxruntime)"


def _student_params(rows):
    s, t = _pick(rows, STUDENT, 64), _pick(rows, TEACHER_ORT, 64)
    return Measured(t["params"] / s["params"], f"{int(t['params']):,} / {int(s['params']):,}")


def _student_macs(rows):
    s, t = _pick(rows, STUDENT, 64), _pick(rows, TEACHER_ORT, 64)
    return Measured(s["macs"] / t["macs"], f"{s['macs'] / 1e6:.2f} / {t['macs'] / 1e6:.2f} M MACs")


def _kd_margin(rows):
    r = _kd_row(rows)
    seeds = r.get("seeds")
    return Measured(_points(r["accuracy"], r["scratch_accuracy"]),
                    f"mean of {len(seeds) if isinstance(seeds, list) else '?'} seed(s), n={int(r['n_eval']):,}")


def _kd_gap(rows):
    r = _kd_row(rows)
    return Measured(_points(r["teacher_accuracy"], r["accuracy"]), f"n={int(r['n_eval']):,}")


def _student_speedup(rows):
    s, t = _pick(rows, STUDENT, 64), _pick(rows, TEACHER_ORT, 64)
    return _speedup(t, s)


def _student_parity(rows):
    return _all_pass_parity(rows[rows["runtime"] == "onnxruntime"], "ONNX exports")


def _best(rows):
    b = best_stage(rows)
    return b, f"{b['best']}"


def _capstone_smaller(rows):
    b, note = _best(rows)
    return Measured(b["smaller"], note)


def _capstone_faster(rows):
    b, note = _best(rows)
    return Measured(b["faster"], note)


def _capstone_loss(rows):
    b, note = _best(rows)
    n = rows["n_eval"].max() if "n_eval" in rows else None
    return Measured(b["loss_points"], note + (f", n={int(n):,}" if n == n and n is not None else ""))


def _stages_shrink(rows):
    sizes = stage_rows(rows)["size_bytes"]
    if len(sizes) < 2:
        raise LookupError(f"{len(sizes)} pipeline stage: a shrinking pipeline needs two or more")
    return Measured(0 if monotone_decreasing(sizes) else 1, " > ".join(f"{s / 1024:,.0f}" for s in sizes) + " KB")


def _capstone_parity(rows):
    stages = rows[rows["technique"] == "pipeline"]
    return _all_pass_parity(stages[stages["precision"] != "int8"], "float stage runners")


def _capstone_int8_agreement(rows):
    q = rows[(rows["technique"] == "pipeline") & (rows["precision"] == "int8")]
    if q.empty:
        raise LookupError("no int8 stage rows")
    low = q.loc[q["parity_top1"].idxmin()]
    return Measured(low["parity_top1"], f"lowest: {low['variant']}, {_n(low)}")


LM_FP32, LM_ORT = "torch fp32", "ORT fp32"


def _lm_greedy(rows):
    r = _pick(rows, LM_ORT)
    return Measured(r["greedy_identical"], "new tokens identical to PyTorch's, of 64")


def _lm_genai_greedy(rows):
    r = _pick(rows, "onnxruntime-genai fp32")
    return Measured(r["greedy_identical"], "new tokens of its own greedy search identical to PyTorch's, of 64")


def _ppl_ratio(variant: str):
    def measure(rows):
        q, f = _pick(rows, variant), _pick(rows, LM_FP32)
        return Measured(q["perplexity"] / f["perplexity"], f"{q['perplexity']:.4f} / {f['perplexity']:.4f}")
    return measure


def _lm_int4_size(rows):
    return _size_ratio(_pick(rows, "ORT int4 MatMulNBits g32"), _pick(rows, LM_ORT))


def _lm_kv_speedup(rows):
    r = _pick(rows, LM_FP32)
    return Measured(r["kv_cache_speedup"], f"decode at {int(r['context'])} tokens of context"
                    if r.get("context") == r.get("context") and r.get("context") is not None else "")


def _lm_shipped_loss(rows):
    r = _pick(rows, LM_FP32)
    return Measured(r["manifest_loss_per_char"], "the shipped weights on every held-out character (their manifest)")


def _twins(rows):
    """The rows of timing twins (07's published shapes with random weights)."""
    return rows[_column(rows, "timing_twin").eq(True)]


def _largest_twin(rows, runtime: str | None = None):
    """The ledger rows of the largest timing twin of the run (of one runtime)."""
    twins = _twins(rows)
    if twins.empty:
        raise LookupError("no timing-twin rows")
    largest = twins[twins["params"] == twins["params"].max()]
    return largest if runtime is None else largest[largest["runtime"] == runtime]


def _twin_decode(rows, precision: str):
    hit = rows[rows["precision"] == precision]
    if hit.empty:
        raise LookupError(f"no {precision} row of the largest twin")
    return hit.iloc[-1]


def _twin_int4_gain(runtime: str):
    def measure(rows):
        twin = _largest_twin(rows, runtime)
        q, f = _twin_decode(twin, "int4"), _twin_decode(twin, "fp32")
        low = q["decode_tokens_per_s_q1"] / f["decode_tokens_per_s_q3"]
        high = q["decode_tokens_per_s_q3"] / f["decode_tokens_per_s_q1"]
        return Measured(q["decode_tokens_per_s"] / f["decode_tokens_per_s"],
                        f"{q['shape']} twin: {q['decode_tokens_per_s']:.1f} / {f['decode_tokens_per_s']:.1f} tokens/s "
                        f"(quartiles give {low:.2f}-{high:.2f}x, {int(q['rounds'])} interleaved rounds)")
    return measure


def _twin_roofline_share(rows):
    """The fastest fp32 runtime on the largest twin, as a share of the roofline: is decode there bound by memory?"""
    fp32 = _largest_twin(rows)
    fp32 = fp32[fp32["precision"] == "fp32"]
    if fp32.empty:
        raise LookupError("no fp32 row of the largest twin")
    f = fp32.loc[fp32["decode_tokens_per_s"].idxmax()]
    return Measured(f["decode_tokens_per_s"] / f["roofline_tokens_per_s"],
                    f"{f['shape']} twin in {f['runtime']}: {f['decode_tokens_per_s']:.1f} of "
                    f"{f['roofline_tokens_per_s']:.1f} tokens/s ({f['bandwidth_gbs']:.1f} GB/s measured)")


def _twins_above_roofline(rows):
    twins = _twins(rows)
    beyond = twins[twins["weight_bytes"] > twins["last_level_cache"]] if len(twins) else twins
    if beyond.empty:
        raise LookupError("no timing twin whose weights exceed the last-level cache")
    over = beyond[beyond["decode_tokens_per_s"] > beyond["roofline_tokens_per_s"] * (1 + beyond["bandwidth_spread"])]
    return Measured(len(over), f"of {len(beyond)} twin rows beyond the last-level cache"
                    + (f": {', '.join(over['variant'])}" if len(over) else ""))


SMALL = "the smoke profile evaluates a few hundred images"
TIMING = "a few timing rounds on a busy CI machine cannot judge a speed ratio"
SHORT_TRAINING = "the smoke profile trains for a fraction of an epoch on a small subset"

BARS: list[Bar] = [
    Bar("00_setup_and_baseline", "00.teacher", "the shipped teacher's top-1 >= {t:.0%}", _teacher_accuracy,
        False, 0.93, 0.90, SMALL, "%"),
    Bar("00_setup_and_baseline", "00.ort_parity", "failing ONNX Runtime parity checks <= {t:g}",
        _ort_teacher_parity, True, 0, 0),
    Bar("01_pytorch_export", "01.parity", "exports failing parity (pitfall demos aside) <= {t:g}", _exports_parity,
        True, 0, 0),
    Bar("01_pytorch_export", "01.pitfalls", "pitfall demos that parity fails to catch <= {t:g}", _pitfalls_caught,
        True, 0, 0),
    Bar("02_tensorflow_conversion", "02.twin", "Keras twin rows failing parity <= {t:g}", _keras_twin_parity,
        True, 0, 0),
    Bar("02_tensorflow_conversion", "02.matrix", "conversion-matrix routes failing parity <= {t:g}", _matrix_routes,
        True, 0, 0),
    Bar("02_tensorflow_conversion", "02.litert_torch", "litert-torch files failing parity on the whole test set "
        "<= {t:g}", _litert_torch_parity, True, 0, 0),
    Bar("02_tensorflow_conversion", "02.litert_size", "LiteRT int8 file <= {t:g}x the fp32 file", _litert_int8_size,
        True, 0.27, 0.27, unit="x"),
    Bar("02_tensorflow_conversion", "02.litert_agreement", "LiteRT int8 top-1 agreement with fp32 >= {t:.1%}",
        _litert_int8_agreement, False, 0.99, 0.975, "200 images: one disagreement is half a point", "%"),
    Bar("03_quantization", "03.size", "ORT static int8 file <= {t:g}x the fp32 file", _ort_int8_size, True, 0.27,
        0.27, unit="x"),
    Bar("03_quantization", "03.loss", "ORT static int8 loses <= {t:g} points of top-1", _ort_int8_loss, True, 0.5,
        1.5, SMALL, "points"),
    Bar("03_quantization", "03.agreement", "every int8 variant's top-1 agreement with fp32 >= {t:.0%}",
        _int8_agreement, False, 0.99, 0.98, SMALL, "%"),
    Bar("03_quantization", "03.pt2e_speed", "torchao pt2e int8 (compiled) >= {t:g}x faster than eager fp32 (batch 64)",
        _pt2e_speedup, False, 1.0, None, TIMING, "x"),
    Bar("04_pruning", "04.sparsity", "global unstructured sparsity >= {t:.0%}", _global_sparsity, False, 0.80, 0.80,
        unit="%"),
    Bar("04_pruning", "04.masked_loss", "the masked model loses <= {t:g} points after fine-tuning", _masked_loss,
        True, 1.0, 3.0, SHORT_TRAINING, "points"),
    Bar("04_pruning", "04.masked_latency", "masked model's latency within the dense model's spread (abs(ratio - 1) / "
        "spread <= {t:g})", _masked_latency, True, 1.0, None, TIMING),
    Bar("04_pruning", "04.channel_macs", "channel-pruned model <= {t:g}x the teacher's MACs", _channel_macs, True,
        0.30, 0.30, unit="x"),
    Bar("04_pruning", "04.channel_speed", "channel-pruned model >= {t:g}x faster in ORT at batch 64",
        _channel_speedup, False, 2.0, None, TIMING, "x"),
    Bar("04_pruning", "04.channel_loss", "channel-pruned model loses <= {t:g} points after fine-tuning",
        _channel_loss, True, 1.5, 30.0, SHORT_TRAINING + ": only far from chance", "points"),
    Bar("04_pruning", "04.channel_parity", "pruned ONNX rows failing parity with pruned torch <= {t:g}",
        _channel_parity, True, 0, 0),
    Bar("05_distillation", "05.params", "the student has >= {t:g}x fewer parameters", _student_params, False, 8.0,
        8.0, unit="x"),
    Bar("05_distillation", "05.macs", "the student needs <= {t:g}x the teacher's MACs", _student_macs, True, 0.25,
        0.25, unit="x"),
    Bar("05_distillation", "05.kd_margin", "distilled student beats scratch by > {t:g} points (mean over seeds)",
        _kd_margin, False, 0.0, None, SHORT_TRAINING + ": one seed's margin is noise", "points"),
    Bar("05_distillation", "05.kd_gap", "distilled student within {t:g} points of the teacher", _kd_gap, True, 2.0,
        None, SHORT_TRAINING, "points"),
    Bar("05_distillation", "05.speed", "student >= {t:g}x faster than the teacher in ORT at batch 64",
        _student_speedup, False, 3.0, None, TIMING, "x"),
    Bar("05_distillation", "05.parity", "ONNX exports failing parity <= {t:g}", _student_parity, True, 0, 0),
    Bar("06_capstone", "06.smaller", "shipped stage >= {t:g}x smaller on disk than the teacher", _capstone_smaller,
        False, 10.0, 10.0, unit="x"),
    Bar("06_capstone", "06.faster", "shipped stage >= {t:g}x faster at batch 64 (ORT, cpu)", _capstone_faster,
        False, 4.0, None, TIMING, "x"),
    Bar("06_capstone", "06.loss", "shipped stage loses <= {t:g} points of top-1", _capstone_loss, True, 1.5, None,
        SHORT_TRAINING, "points"),
    Bar("06_capstone", "06.shrink", "stages that are not smaller than the one before <= {t:g}", _stages_shrink, True,
        0, 0),
    Bar("06_capstone", "06.parity", "float stage runners failing parity <= {t:g}", _capstone_parity, True, 0, 0),
    Bar("06_capstone", "06.int8_agreement", "int8 stage's top-1 agreement with its fp32 model >= {t:.0%}",
        _capstone_int8_agreement, False, 0.99, 0.97,
        SHORT_TRAINING + ": its small logit margins flip more often, on 200 images", "%"),
]
LM = "07_language_model"
BARS += [
    Bar(LM, "07.greedy", "ONNX Runtime fp32 greedy tokens identical to PyTorch's >= {t:g} of 64", _lm_greedy, False,
        64, 64),
    Bar(LM, "07.int8_perplexity", "torchao int8 weight-only perplexity <= {t:g}x fp32",
        _ppl_ratio("torchao int8 weight-only"), True, 1.03, 1.03, unit="x"),
    Bar(LM, "07.int4_perplexity", "ONNX Runtime int4 (group 32) perplexity <= {t:g}x fp32",
        _ppl_ratio("ORT int4 MatMulNBits g32"), True, 1.10, 1.10, unit="x"),
    Bar(LM, "07.int4_size", "int4 ONNX file <= {t:g}x the fp32 file", _lm_int4_size, True, 0.35, 0.35, unit="x"),
    Bar(LM, "07.nncf_int8_perplexity", "OpenVINO NNCF int8 weight-only perplexity <= {t:g}x fp32",
        _ppl_ratio("OpenVINO NNCF int8"), True, 1.03, 1.03, unit="x"),
    Bar(LM, "07.nncf_int4_perplexity",
        "OpenVINO NNCF int4 (group 32, adjusted where a row does not divide) perplexity <= {t:g}x fp32",
        _ppl_ratio("OpenVINO NNCF int4 g32"), True, 1.10, 1.10, unit="x"),
    Bar(LM, "07.genai_greedy", "onnxruntime-genai fp32 greedy tokens identical to PyTorch's >= {t:g} of 64",
        _lm_genai_greedy, False, 64, 64),
    Bar(LM, "07.kv_cache", "decode with the KV cache >= {t:g}x faster than without", _lm_kv_speedup, False, 3.0,
        None, "smoke decodes too few tokens to time", "x"),
    Bar(LM, "07.loss", "the shipped model's held-out loss <= {t:g} nats per character", _lm_shipped_loss, True, 1.70,
        1.70),
    Bar(LM, "07.twin_int4", "onnxruntime-genai int4 decode >= {t:g}x its fp32 on the largest timing twin",
        _twin_int4_gain("onnxruntime-genai"), False, 2.5, None, "smoke's twins fit in a few layers and decode a few "
        "tokens on a busy CI machine", "x"),
    Bar(LM, "07.roofline", "the fastest fp32 decode on the largest twin >= {t:.0%} of the roofline from the measured "
        "bandwidth", _twin_roofline_share, False, 0.5, None, TIMING, "%"),
    Bar(LM, "07.under_roofline", "twin rows beyond the last-level cache that decode faster than the roofline (plus "
        "the bandwidth probe's spread) <= {t:g}", _twins_above_roofline, True, 0, None, TIMING),
]
BARS_BY_NAME = {b.name: b for b in BARS}


# ---------------------------------------------------------------- judging


def bars_for(notebook: str) -> list[Bar]:
    """The bars of one notebook (its stem, e.g. "03_quantization")."""
    return [b for b in BARS if b.notebook == notebook]


def judge(bar: Bar, rows, profile: str) -> Verdict:
    """One bar on one notebook's rows. A bar whose rows are missing fails with what is missing."""
    threshold = bar.threshold(profile)
    try:
        m = bar.measure(rows)
    except (LookupError, ValueError) as err:  # KeyError included: a column the rows lack
        return Verdict(bar, profile, None, False, f"not measured: {err}")
    if threshold is None:
        return Verdict(bar, profile, m, None, f"judged in class and full only: {bar.smoke_reason}")
    ok = bool(m.value <= threshold if bar.at_most else m.value >= threshold)
    if isinstance(m.value, float) and math.isnan(m.value):
        ok = False
    return Verdict(bar, profile, m, ok, m.excuse)


def evaluate(notebook: str, rows, profile: str) -> list[Verdict]:
    """Every bar of `notebook` judged on its ledger rows at `profile`."""
    rows = rows[rows["notebook"] == notebook] if "notebook" in rows else rows
    return [judge(b, rows, profile) for b in bars_for(notebook)]


def _fmt(v: Verdict) -> str:
    if v.measured is None:
        return ""
    text = quantity(v.measured.value, v.bar.unit)
    return text + (f" ({v.measured.note})" if v.measured.note else "")


def frame(verdicts: list[Verdict]):
    """The verdicts as a DataFrame: notebook, bar, claim at this profile, measured, verdict, why."""
    import pandas as pd

    return pd.DataFrame([{"notebook": v.bar.notebook, "bar": v.bar.name, "claim": v.bar.text(v.profile),
                          "measured": _fmt(v), "verdict": MARKS[v.passed], "why": v.why} for v in verdicts])


def table(verdicts: list[Verdict]):
    """The verdicts as a styled table (green, red, grey) for an acceptance cell."""
    df = frame(verdicts).drop(columns=["notebook"])
    colors = [f"color: {COLORS[v.passed]}; font-weight: bold" for v in verdicts]
    return df.style.apply(lambda _: colors, subset=["verdict"]).hide(axis="index")


def require(verdicts: list[Verdict]) -> None:
    """Raise AcceptanceError naming every bar that fell short (show the table first)."""
    failed = [v for v in verdicts if v.passed is False]
    if failed:
        raise AcceptanceError("promises not met in this run: " + "; ".join(
            f"{v.bar.name} ({v.bar.text(v.profile)}): {_fmt(v) or v.why}" for v in failed))


@dataclass
class Report:
    """`labkit verify`'s result for one run folder."""

    profile: str
    verdicts: list[Verdict] = field(default_factory=list)
    failed_notebooks: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """No notebook failed, some bar was judged, and none fell short (bars left to class/full aside)."""
        return not self.failed_notebooks and bool(self.verdicts) and all(v.passed is not False for v in self.verdicts)


def verify_run(run_dir: str | Path) -> Report:
    """Every bar of every notebook that a run folder's summary.json lists, judged at that run's profile."""
    run_dir = Path(run_dir)
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(f"{run_dir} has no summary.json: give a folder written by `labkit run`")
    summary = json.loads(summary_path.read_text())
    if not summary.get("notebooks"):
        raise ValueError(f"{run_dir}/summary.json lists no notebooks: an empty run keeps no promise")
    rows = ledger.load(run_dir)
    report = Report(summary["profile"])
    for name, result in summary["notebooks"].items():
        if result["status"] != "ok":
            report.failed_notebooks[name] = f"stopped at cell {result.get('cell')}: {result.get('error')}"
        report.verdicts += evaluate(name, rows, summary["profile"]) if not rows.empty else [
            Verdict(b, summary["profile"], None, False, "no ledger rows") for b in bars_for(name)]
    return report


def readme_table() -> str:
    """The README's table of promises, generated from BARS."""
    lines = ["| bar | claim (class and full) | smoke |", "|---|---|---|"]
    for b in BARS:
        smoke = "not judged: " + b.smoke_reason if b.smoke is None else (
            "same" if b.smoke == b.published else f"{b.text('smoke')} ({b.smoke_reason})")
        lines.append(f"| `{b.name}` | {b.text('class')} | {smoke} |")
    return "\n".join(lines)
