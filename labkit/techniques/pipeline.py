"""The capstone's plumbing: candidate models gathered from every ledger row of a run folder, the choice
of the model to ship under a latency budget, a size budget and an accuracy floor (with the reason in
words), and the decision file that `labkit report` renders as "The model to ship"."""

from __future__ import annotations

import json
import math
from pathlib import Path

from labkit.core import ledger
from labkit.measure import units

# what a candidate needs: an accuracy, a size on disk and a latency at the budget's batch size
NEEDED = ("accuracy", "size_bytes", "latency_ms_p50")
DECISION_KEYS = ("chosen", "why", "budgets", "accuracy", "size_bytes", "latency_ms_p50_b64", "parity")


def label(row) -> str:
    """A candidate's readable name: the variant, with its runtime and target unless the name already says them,
    prefixed by the notebook when it is not the capstone's."""
    nb = row.get("notebook")
    prefix = "" if not nb or str(nb).startswith("06") else f"{nb}: "
    variant, runtime, target = str(row["variant"]), row.get("runtime"), row.get("target")
    said = all(v is None or str(v) in variant for v in (runtime, target))
    return f"{prefix}{variant}" + ("" if said else f" [{runtime}, {target}]")


def candidates(source, batch: int = 64):
    """Every ledger row (all notebooks of a run folder, a ledger file, or a DataFrame) that can be compared
    under a budget: measured at `batch`, with an accuracy and a size on disk. One row per
    (notebook, variant, runtime, target), the last one recorded winning; a `label` column names each."""
    import pandas as pd

    df = source.copy() if isinstance(source, pd.DataFrame) else ledger.load(source)
    if df.empty:
        return df.assign(label=pd.Series(dtype=str))
    missing = [c for c in (*NEEDED, "batch", "variant") if c not in df.columns]
    if missing:
        raise ValueError(f"these rows have no {', '.join(missing)} column(s): is it a labkit ledger?")
    df = df[(df["batch"] == batch)].dropna(subset=list(NEEDED))
    keys = [c for c in ("notebook", "variant", "runtime", "target") if c in df.columns]
    df = df.drop_duplicates(subset=keys, keep="last").reset_index(drop=True)
    return df.assign(label=[label(r) for r in df.to_dict("records")])


def _check_budgets(latency_budget_ms: float, size_budget_bytes: float, accuracy_floor: float) -> None:
    for name, v in (("latency_budget_ms", latency_budget_ms), ("size_budget_bytes", size_budget_bytes)):
        if not isinstance(v, (int, float)) or not v > 0 or math.isnan(v):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    if not isinstance(accuracy_floor, (int, float)) or not 0.0 <= accuracy_floor <= 1.0:
        raise ValueError(f"accuracy_floor is a fraction in [0, 1] (0.92 for 92%), got {accuracy_floor!r}")


def fits(df, latency_budget_ms: float, size_budget_bytes: float, accuracy_floor: float):
    """Boolean columns: which candidates meet each budget, and all three."""
    _check_budgets(latency_budget_ms, size_budget_bytes, accuracy_floor)
    out = df[[]].copy()
    out["latency_ok"] = df["latency_ms_p50"] <= latency_budget_ms
    out["size_ok"] = df["size_bytes"] <= size_budget_bytes
    out["accuracy_ok"] = df["accuracy"] >= accuracy_floor
    out["fits"] = out["latency_ok"] & out["size_ok"] & out["accuracy_ok"]
    return out


def choose(df, latency_budget_ms: float, size_budget_bytes: float, accuracy_floor: float):
    """The model to ship and why: `(row, reason)`.

    Rule: among the candidates that meet all three budgets, the most accurate; ties (within 0.05
    points) go to the faster, then the smaller. When nothing meets all three, the device limits
    (latency and size) are kept and the accuracy floor is given up: the most accurate model that
    fits the device, said plainly. When not even those fit, `row` is None and the reason says which
    budget rules everything out. `df` holds candidate rows (see `candidates`).
    """
    _check_budgets(latency_budget_ms, size_budget_bytes, accuracy_floor)
    if df is None or len(df) == 0:
        return None, "no candidates: no ledger row has an accuracy, a size and a latency at this batch size"
    df = df.reset_index(drop=True)
    ok = fits(df, latency_budget_ms, size_budget_bytes, accuracy_floor)
    names = df["label"] if "label" in df else df["variant"]
    budgets = (f"latency <= {latency_budget_ms:g} ms, size <= {units.size(size_budget_bytes)}, "
               f"accuracy >= {accuracy_floor:.2%}")

    def best(pool):
        pool = pool.assign(_acc=(pool["accuracy"] * 2000).round())  # 0.05-point buckets
        return pool.sort_values(["_acc", "latency_ms_p50", "size_bytes"], ascending=[False, True, True]).index[0]

    if ok["fits"].any():
        pool = df[ok["fits"]]
        i = best(pool)
        r = df.loc[i]
        others = len(pool) - 1
        reason = (f"{names[i]} is the most accurate of the {len(pool)} candidate(s) within all budgets ({budgets}): "
                  f"{r['accuracy']:.2%} top-1, {r['latency_ms_p50']:.3g} ms, {units.size(r['size_bytes'])}.")
        if others:
            reason += f" {others} other(s) also fit but are less accurate, or as accurate and slower or larger."
        excluded = {k: int((~ok[k]).sum()) for k in ("latency_ok", "size_ok", "accuracy_ok")}
        reason += (f" Ruled out: {excluded['latency_ok']} too slow, {excluded['size_ok']} too large, "
                   f"{excluded['accuracy_ok']} below the accuracy floor.")
        return r, reason
    device = ok["latency_ok"] & ok["size_ok"]
    if device.any():
        i = best(df[device])
        r = df.loc[i]
        reason = (f"No candidate meets all budgets ({budgets}). {names[i]} is the most accurate one that fits the "
                  f"device limits, but misses the accuracy floor by {100 * (accuracy_floor - r['accuracy']):.2f} "
                  f"points ({r['accuracy']:.2%}): ship it only if that is acceptable, or train longer.")
        return r, reason
    fastest = df["latency_ms_p50"].idxmin()
    smallest = df["size_bytes"].idxmin()
    return None, (f"No candidate fits the device limits ({budgets}): the fastest is {names[fastest]} at "
                  f"{df.loc[fastest, 'latency_ms_p50']:.3g} ms and the smallest {names[smallest]} at "
                  f"{units.size(df.loc[smallest, 'size_bytes'])}. Relax a budget or make the model smaller.")




def decision(row, why: str, budgets: dict, parity: dict | None = None) -> dict:
    """The decision as a JSON-ready dict with the keys the report shows (DECISION_KEYS, then extras)."""
    if row is None:
        return {"chosen": None, "why": why, "budgets": budgets, "accuracy": None, "size_bytes": None,
                "latency_ms_p50_b64": None, "parity": parity}
    get = row.get if hasattr(row, "get") else row.__getitem__
    out = {"chosen": get("label") or get("variant"), "why": why, "budgets": budgets,
           "accuracy": ledger.json_safe(get("accuracy")), "size_bytes": ledger.json_safe(get("size_bytes")),
           "latency_ms_p50_b64": ledger.json_safe(get("latency_ms_p50")), "parity": parity}
    for k in ("notebook", "variant", "runtime", "target", "precision", "params"):
        if get(k) is not None:
            out[k] = ledger.json_safe(get(k))
    return out


PARITY_COLUMNS = ("reference", "parity_passed", "parity_top1", "parity_max_abs", "parity_cosine")


def parity_of(row) -> dict | None:
    """The parity card columns of a ledger row as a dict (None when the row has none)."""
    if row is None:
        return None
    get = row.get if hasattr(row, "get") else row.__getitem__
    out = {}
    for k in PARITY_COLUMNS:
        v = ledger.json_safe(get(k)) if k in row else None
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            out[k.removeprefix("parity_")] = v
    return out or None


def write_decision(run_dir: str | Path, decided: dict) -> Path:
    """Write `decision.json` into the run folder (the report's "The model to ship")."""
    missing = [k for k in DECISION_KEYS if k not in decided]
    if missing:
        raise ValueError(f"a decision needs the keys {', '.join(DECISION_KEYS)}; missing {', '.join(missing)}")
    path = Path(run_dir) / "decision.json"
    path.write_text(json.dumps({k: ledger.json_safe(v) if not isinstance(v, dict) else v for k, v in decided.items()},
                               indent=2, default=str) + "\n")
    return path
