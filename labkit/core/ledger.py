"""The results ledger: one JSON line per measured variant, readable as a DataFrame."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.core import registry

if TYPE_CHECKING:  # the measurement layer's types, for the signature only: core does not import measure
    from labkit.measure.bench import LatencyStats
    from labkit.measure.parity import ParityCard

FIELDS = (
    "notebook", "variant", "technique", "runtime", "target", "precision", "batch", "accuracy", "n_eval",
    "size_bytes", "params", "macs", "sparsity", "latency_ms_p50", "latency_ms_p90", "throughput_sps",
    "parity_max_abs", "parity_top1", "reference", "profile", "seed", "env",
)
TECHNIQUES = {"baseline", "export", "conversion", "quantization", "pruning", "distillation", "pipeline",
              "language-model"}
PRECISIONS = {"fp32", "fp16", "bf16", "int8", "int4", "mixed", None}


def json_safe(value):
    """JSON-safe scalars: numpy numbers to Python, NaN and inf to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def make_row(context: dict, variant: str, technique: str, /, runtime: str | None = None,
             precision: str | None = "fp32", batch: int | None = None, accuracy: float | None = None,
             latency: LatencyStats | None = None, parity: ParityCard | None = None, **fields) -> dict:
    """A validated ledger row: `context` (notebook, target, profile, seed, env) plus the measurement. The first
    three are positional-only, so that a measurement may carry a field named `context` (a language model's
    context length in tokens)."""
    if technique not in TECHNIQUES:
        raise ValueError(f"technique must be one of {sorted(TECHNIQUES)}, not {technique!r}")
    if runtime is not None and runtime not in registry.ledger_names():
        raise ValueError(f"runtime must be one of {sorted(registry.ledger_names())}, not {runtime!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(p for p in PRECISIONS if p)}, not {precision!r}")
    if accuracy is not None and not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy is a fraction in [0, 1], got {accuracy}")
    row = dict.fromkeys(FIELDS)
    row.update(context)
    row.update(variant=variant, technique=technique, runtime=runtime, precision=precision, batch=batch,
               accuracy=accuracy)
    if latency is not None:
        if batch is not None and batch != latency.batch:
            raise ValueError(f"batch={batch} but the latency was measured at batch {latency.batch}")
        row.update(batch=latency.batch, latency_ms_p50=latency.p50, latency_ms_p90=latency.p90,
                   latency_ms_p99=latency.p99, latency_ms_iqr=latency.iqr, throughput_sps=latency.throughput_sps,
                   latency_n=latency.n)
    if parity is not None:
        row.update(parity.as_row())
    row.update(fields)
    return {k: json_safe(v) for k, v in row.items()}


class Ledger:
    """Appends rows to `ledger.jsonl` in a run folder."""

    def __init__(self, path: str | Path, context: dict):
        self.path = Path(path)
        self.context = context
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._read: tuple[tuple[int, int], object] | None = None  # (size, mtime) of the file -> its DataFrame

    def record(self, variant: str, technique: str, **measurement) -> dict:
        """Validate and append one row; return it."""
        row = make_row(self.context, variant, technique, **measurement)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        return row

    def frame(self, notebook: str | None = None):
        """This ledger (optionally one notebook's rows) as a DataFrame, parsed again only when the file changed
        (notebooks look values up many times between two records)."""
        st = self.path.stat() if self.path.exists() else None
        stamp = (st.st_size, st.st_mtime_ns) if st else (0, 0)
        if self._read is None or self._read[0] != stamp:
            self._read = (stamp, load(self.path))
        df = self._read[1].copy()
        return df if notebook is None or df.empty else df[df["notebook"] == notebook]


def load(path: str | Path):
    """A ledger file, or the ledger of a run folder, as a DataFrame (empty if there is none yet)."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / "ledger.jsonl"
    if not path.exists():
        return pd.DataFrame(columns=list(FIELDS))
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{i} is not valid JSON ({err}); the ledger is corrupt there.") from err
    return pd.DataFrame(rows, columns=list(dict.fromkeys([*FIELDS, *(k for r in rows for k in r)])))
