"""Ledger keys as a person reads them: a name for each key and its value with a unit and sensible digits. The
HTML report, the Markdown results page and their charts all format numbers here."""

from __future__ import annotations

import math

# key -> (what a reader calls it, how its value is written)
KEYS: dict[str, tuple[str, str]] = {
    "variant": ("variant", "text"),
    "runtime": ("runtime", "text"),
    "target": ("target", "text"),
    "precision": ("precision", "text"),
    "batch": ("batch", "count"),
    "accuracy": ("top-1 accuracy", "percent"),
    "n_eval": ("images evaluated", "count"),
    "size_bytes": ("size on disk", "bytes"),
    "params": ("parameters", "count"),
    "macs": ("MACs per image", "millions"),
    "sparsity": ("sparsity", "percent"),
    "latency_ms_p50": ("median latency", "ms"),
    "latency_ms_p90": ("p90 latency", "ms"),
    "latency_ms_p50_b64": ("median latency at batch 64", "ms"),
    "throughput_sps": ("throughput", "per_s"),
    "parity_top1": ("top-1 agreement", "percent"),
    "top1": ("top-1 agreement", "percent"),
    "parity_max_abs": ("max abs difference", "tiny"),
    "max_abs": ("max abs difference", "tiny"),
    "parity_cosine": ("cosine similarity", "cosine"),
    "cosine": ("cosine similarity", "cosine"),
    "parity_passed": ("parity", "passed"),
    "passed": ("parity", "passed"),
    "reference": ("compared with", "text"),
    "accuracy_floor": ("accuracy floor", "percent"),
    "seconds": ("wall time", "minutes"),
    "perplexity": ("perplexity (per token)", "plain"),
    "prefill_tokens_per_s": ("prefill", "tokens_per_s"),
    "decode_tokens_per_s": ("decode", "tokens_per_s"),
    "roofline_tokens_per_s": ("roofline", "tokens_per_s"),
    "weight_bytes": ("weights read per token", "bytes"),
    "roofline_share": ("share of the roofline", "percent"),
    "speedup_vs_fp32": ("decode over fp32", "times"),
    "shape": ("twin of", "text"),
    "bound": ("what bounds it", "text"),
}


def label(key: str) -> str:
    """The name a reader sees for a ledger key (the key with spaces where the kit has no better name)."""
    return KEYS.get(key, (key.replace("_", " "), ""))[0]


def axis_title(key: str, batch: int | None = None) -> str:
    """A chart axis title: the key's name, the batch it was measured at, and its unit."""
    unit = {"ms": "ms", "bytes": "bytes", "per_s": "images/s", "millions": "millions"}.get(_kind(key), "")
    return label(key) + (f" at batch {batch}" if batch is not None else "") + (f" ({unit})" if unit else "")


def _kind(key: str) -> str:
    return KEYS.get(key, ("", ""))[1]


def missing(value) -> bool:
    """True for None and NaN (a ledger cell that does not apply)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def digits(v: float, significant: int = 3) -> str:
    """A number with about `significant` significant digits, without exponent between 1e-3 and 1e7; whole numbers
    (counts) without decimals."""
    if not math.isfinite(v) or float(v).is_integer() and abs(v) < 1e7:
        return f"{v:,.0f}" if math.isfinite(v) else f"{v:g}"
    if not 1e-3 <= abs(v) < 1e7:
        return f"{v:.{significant - 1}e}"
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(v))))
    return f"{v:,.{decimals}f}"


def size(n: float) -> str:
    """Bytes as KB below a megabyte, MB below a gigabyte, else GB (1 KB = 1000 bytes)."""
    return f"{n / 1e3:,.1f} KB" if n < 1e6 else f"{n / 1e6:,.2f} MB" if n < 1e9 else f"{n / 1e9:,.2f} GB"


def text(key: str, value) -> str:
    """A value of `key` with its unit and sensible digits; "" where it does not apply."""
    if hasattr(value, "item"):  # numpy scalars (pandas hands out int64)
        value = value.item()
    if missing(value):
        return ""
    if isinstance(value, bool) or _kind(key) == "passed":
        return "passed" if value else "failed"
    if not isinstance(value, int | float):
        return str(value)
    return {
        "percent": lambda v: f"{v:.2%}",
        "bytes": size,
        "count": lambda v: f"{v:,.0f}",
        "millions": lambda v: f"{v / 1e6:,.2f} M",
        "ms": lambda v: f"{digits(v)} ms",
        "per_s": lambda v: f"{v:,.0f} images/s",
        "tiny": lambda v: f"{v:.1e}" if 0 < abs(v) < 1e-3 else digits(v, 2),
        "cosine": lambda v: f"{v:.6f}",
        "minutes": lambda v: f"{v / 60:.1f} min",
        "tokens_per_s": lambda v: f"{digits(v)} tokens/s",
        "times": lambda v: f"{digits(v)}x",
        "plain": lambda v: digits(v, 4),
    }.get(_kind(key), lambda v: f"{v:,}" if isinstance(v, int) else digits(v, 4))(value)


def quantity(value: float, unit: str) -> str:
    """A promise's measured value in its unit ("%", "x", "points" or none), as the verify tables show it."""
    return {"%": lambda v: f"{v:.2%}", "x": lambda v: f"{digits(v)}x",
            "points": lambda v: f"{v:+.2f} points"}.get(unit, lambda v: digits(v))(value)


def table(rows, columns: list[str]):
    """`rows` (a DataFrame) cut to `columns`, every value written with its unit and the columns named for a reader:
    what a notebook displays instead of raw ledger numbers."""
    import pandas as pd

    return pd.DataFrame({label(c): [text(c, v) for v in rows[c]] for c in columns})
