"""A run folder read into what its report shows, every value already written as text with its unit: the machine
cards, the run's notebooks, the model to ship, and per notebook its promises and its ledger rows. The HTML report
and the Markdown results page both render this; neither reads the ledger itself."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from labkit.core import cpu, ledger
from labkit.measure import acceptance, units

# The columns of a notebook's table (latency gets one column per batch); empty ones are left out.
TABLE_KEYS = ("variant", "runtime", "target", "precision", "accuracy", "n_eval", "size_bytes", "params", "macs",
              "sparsity", "parity_top1", "parity_max_abs", "parity_passed", "perplexity", "weight_bytes",
              "prefill_tokens_per_s", "decode_tokens_per_s", "roofline_tokens_per_s")
# Columns shown once above the table when every row of the notebook has the same value.
COMMON_KEYS = ("runtime", "target", "precision")
NO_MACHINE = "No ledger row or summary records the machine."
NO_PROMISES = "This notebook makes no promises the kit checks."


@dataclass
class Section:
    """One notebook: how it ran, its promises judged, its rows as a table of text."""

    name: str
    status: str
    wall_time: str
    error: str
    verdicts: list[acceptance.Verdict]
    common: list[tuple[str, str]]
    table: list[dict[str, str]]
    rows: object  # the notebook's raw ledger rows (a DataFrame), for charts

    @property
    def common_text(self) -> str:
        """The values every row shares, as a sentence ("" when none is shared)."""
        return f"Every row: {', '.join(f'{k} {v}' for k, v in self.common)}." if self.common else ""

    @property
    def tally(self) -> str:
        """How many promises were met, not met and left to the longer profiles."""
        marks = [acceptance.MARKS[v.passed] for v in self.verdicts]
        if not marks:
            return "no promises"
        return ", ".join(f"{marks.count(m)} {name}" for m, name in (("ok", "met"), ("not met", "not met"),
                                                                    ("--", "left to class/full")) if marks.count(m))


@dataclass
class RunPage:
    """Everything a report of one run folder shows."""

    profile: str
    about: list[tuple[str, str]]
    machines: list[list[tuple[str, str]]]
    decision: list[tuple[str, str | list[str]]]
    sections: list[Section] = field(default_factory=list)
    ledger: object = None  # every row (a DataFrame), for the raw table at the end

    @property
    def machine_title(self) -> str:
        return "Machine" if len(self.machines) <= 1 else f"Machines ({len(self.machines)} CPUs)"

    def card_rows(self) -> list[tuple[str, list[str]]]:
        """The machine cards side by side: each fact with its value on every machine."""
        names = dict.fromkeys(name for card in self.machines for name, _ in card)
        return [(name, [dict(card).get(name, "") for card in self.machines]) for name in names]


def _machine(env: dict, n_rows: int, notebooks: list[str], versions: dict) -> list[tuple[str, str]]:
    """The card of one CPU as the ledger rows recorded it (flags are already capped by a personality; rows written
    before the ledger recorded `arch` came from x86 machines only)."""
    arch, flags = env.get("arch") or "x86_64", set(filter(None, str(env.get("flags") or "").split(",")))
    info = cpu.describe(env.get("cpu"), flags, arch)
    present = [f for f in cpu.flags_for(info["arch"]) if f in flags]
    absent = [f for f in cpu.flags_for(info["arch"]) if f not in flags]
    reduce_range = cpu.needs_reduce_range(info)
    card = [("CPU", info["model"] + (f" (capped as {env['personality']})" if env.get("personality") else "")),
            ("architecture", info["arch"]), ("cores", str(env.get("cores") or "unknown")),
            ("flags of interest present", ", ".join(present) or "none recorded"),
            ("flags of interest absent", ", ".join(absent) if flags else "unknown"),
            ("int8", cpu.int8_outlook(info)),
            ("reduce_range", "yes: int8 weights use 7 bits (x86 without int8 dot products)" if reduce_range
             else "no: full 8-bit weights are safe"),
            ("bf16", cpu.bf16_outlook(info))]
    if env.get("os"):
        card.append(("OS", str(env["os"])))
    if versions:
        card.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    if n_rows:
        card.append(("ledger rows", f"{n_rows} from {', '.join(notebooks)}"))
    return card


def _machines(df, summary: dict) -> list[list[tuple[str, str]]]:
    """One card per CPU the rows were measured on (the summary's machine when there are no rows)."""
    groups: dict[tuple, tuple[dict, list[str]]] = {}
    for env, notebook in zip(df["env"], df["notebook"], strict=True) if "env" in df else ():
        if isinstance(env, dict):
            key = (env.get("cpu"), env.get("arch"), env.get("flags"), env.get("personality"))
            groups.setdefault(key, (env, []))[1].append(notebook)
    if not groups and isinstance(summary.get("env"), dict):
        groups[()] = (summary["env"], [])
    return [_machine(env, len(nbs), sorted(set(nbs)), env.get("versions") or summary.get("versions") or {})
            for env, nbs in groups.values()]


def _decision(run: Path) -> list[tuple[str, str | list[str]]]:
    """decision.json as (name, text) items; budgets, parity and the pipeline's stages as sub-lists."""
    path = run / "decision.json"
    if not path.exists():
        return []
    items: list[tuple[str, str | list[str]]] = []
    for key, value in json.loads(path.read_text()).items():
        if key == "chosen":
            items.append(("chosen", value or "nothing: no candidate fits the device limits"))
        elif key == "budgets" and isinstance(value, dict):
            items.append(("budgets", [f"{units.label(k)}: {units.text(k, v)}" for k, v in value.items()]))
        elif key == "parity" and isinstance(value, dict):
            items.append(("parity", [f"{units.label(k)}: {units.text(k, v)}" for k, v in value.items()]))
        elif key == "pipeline_stages" and isinstance(value, str):
            items.append(("pipeline stages", value.split(" | ")))
        elif not units.missing(value):
            items.append((units.label(key), units.text(key, value)))
    return items


def _table(rows) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """A notebook's rows, one line per variant with a latency column per batch, as text with units; the columns
    every line shares are returned apart, as (name, value) pairs."""
    if rows.empty:
        return [], []
    keys = [k for k in TABLE_KEYS if k in rows and rows[k].map(lambda v: not units.missing(v)).any()]
    common = [k for k in COMMON_KEYS if k in keys and rows[k].nunique(dropna=False) == 1]
    batches = sorted(int(b) for b in rows["batch"].dropna().unique()) if "latency_ms_p50" in rows else []
    lines = []
    for _, group in rows.groupby("variant", sort=False):
        line = {units.label(k): units.text(k, _last(group[k])) for k in keys if k not in common}
        for b in batches:
            timed = group[(group["batch"] == b) & group["latency_ms_p50"].notna()]
            line[f"{units.label('latency_ms_p50')}, batch {b}"] = (
                units.text("latency_ms_p50", timed["latency_ms_p50"].iloc[-1]) if len(timed) else "")
        lines.append(line)
    return [(units.label(k), str(rows[k].iloc[0])) for k in common], lines


def measured(verdicts: list[acceptance.Verdict]) -> list[str]:
    """What each verdict measured, as text with its unit and where it came from ("" where nothing was)."""
    return ["" if v.measured is None else units.quantity(v.measured.value, v.bar.unit)
            + (f" ({v.measured.note})" if v.measured.note else "") for v in verdicts]


def _last(column):
    """The last value of a column that applies (a key recorded at one batch only still shows)."""
    given = column[column.map(lambda v: not units.missing(v))]
    return given.iloc[-1] if len(given) else None


def _verdicts(run: Path, summary: dict, df, profile: str) -> dict[str, list[acceptance.Verdict]]:
    if summary:
        found = acceptance.verify_run(run).verdicts
    else:
        found = [v for name in df["notebook"].unique() for v in acceptance.evaluate(name, df, profile)]
    out: dict[str, list[acceptance.Verdict]] = {}
    for v in found:
        out.setdefault(v.bar.notebook, []).append(v)
    return out


def read(run: str | Path) -> RunPage:
    """A run folder (ledger.jsonl and/or summary.json, decision.json when the capstone ran) as a RunPage."""
    run = Path(run)
    if not (run / "ledger.jsonl").exists() and not (run / "summary.json").exists():
        raise FileNotFoundError(f"{run} is not a run folder (no ledger.jsonl or summary.json); "
                                "create one with `labkit run`.")
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    df = ledger.load(run)
    profile = summary.get("profile") or (str(df["profile"].dropna().iloc[0]) if df["profile"].notna().any() else "?")
    about = [(k, str(summary[k])) for k in ("profile", "target", "seed", "started", "personality")
             if summary.get(k) is not None] or [("profile", profile)]
    verdicts = _verdicts(run, summary, df, profile)
    ran = summary.get("notebooks") or {name: {"status": "ok"} for name in df["notebook"].unique()}
    names = list(ran) + [n for n in df["notebook"].unique() if n not in ran]
    page = RunPage(profile, about, _machines(df, summary), _decision(run), ledger=df)
    for name in names:
        r = ran.get(name, {"status": "not in summary.json"})
        rows = df[df["notebook"] == name]
        common, lines = _table(rows)
        error = "" if r["status"] == "ok" else f"stopped at cell {r.get('cell')}: {r.get('error', '')}"
        page.sections.append(Section(name, r["status"], units.text("seconds", r.get("seconds")), error,
                                     verdicts.get(name, []), common, lines, rows))
    return page
