"""`labkit report RUN --markdown`: a run's results as a Markdown page a learner reads without running anything
(the kit ships one from a `class` run in docs/reference/). The page depends on the run folder alone (no date,
path or fact of the machine rendering it), so rendering the same folder again gives the same page; each notebook's
section is anchored by its name (`#03_quantization`)."""

from __future__ import annotations

from pathlib import Path

from labkit.measure import results
from labkit.measure.checks import MARKS

FILE = "results.md"


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def _grid(lines: list[dict[str, str]]) -> list[str]:
    """Same-keyed dicts of text as a Markdown table."""
    if not lines:
        return []
    keys = list(lines[0])
    out = ["| " + " | ".join(_cell(k) for k in keys) + " |", "|" + "---|" * len(keys)]
    return out + ["| " + " | ".join(_cell(line[k]) for k in keys) + " |" for line in lines] + [""]


def _machines(page: results.RunPage) -> list[str]:
    if not page.machines:
        return [f"## {page.machine_title}", "", results.NO_MACHINE, ""]
    heads = ["machine"] if len(page.machines) == 1 else [f"machine {i}" for i in range(1, len(page.machines) + 1)]
    lines = [{"": name, **dict(zip(heads, values, strict=True))} for name, values in page.card_rows()]
    return [f"## {page.machine_title}", "", *_grid(lines)]


def _run(page: results.RunPage) -> list[str]:
    about = ", ".join(f"{k} {v}" for k, v in page.about)
    lines = [{"notebook": f"[{s.name}](#{s.name})", "status": s.status, "wall time": s.wall_time, "promises": s.tally}
             for s in page.sections]
    return ["## Run", "", f"{about}.", "", *_grid(lines)]


def _decision(page: results.RunPage) -> list[str]:
    if not page.decision:
        return []
    out = ["## The model to ship", ""]
    for k, v in page.decision:
        out += [f"- **{k}**:", *(f"  - {_cell(x)}" for x in v)] if isinstance(v, list) else [f"- **{k}**: {_cell(v)}"]
    return [*out, ""]


def _verdict(passed: bool | None) -> str:
    return f"**{MARKS[passed]}**" if passed is False else MARKS[passed]


def _section(s: results.Section) -> list[str]:
    out = [f"## {s.name}", ""]
    if s.status != "ok":
        out += [f"**{s.status}**: {_cell(s.error[:1000])}", ""]
    if s.verdicts:
        judged = zip(s.verdicts, results.measured(s.verdicts), strict=True)
        out += ["### Promises", "", *_grid([{"claim": v.bar.text(v.profile), "measured": m,
                                             "verdict": _verdict(v.passed), "note": v.why} for v, m in judged])]
    else:
        out += [results.NO_PROMISES, ""]
    if s.table:
        out += ["### Measurements", "", *([s.common_text, ""] if s.common else []), *_grid(s.table)]
    return out


def render_markdown(run: str | Path) -> str:
    """The results of a run folder as one Markdown page."""
    page = results.read(run)
    lines = [f"# labkit results: {page.profile} profile", "",
             "Measured by `labkit run`, rendered by `labkit report RUN --markdown` from the run's `ledger.jsonl`, "
             "`summary.json` and `decision.json`. The numbers hold for the machine described below; on another "
             "CPU the timings, and what int8 and bf16 buy, differ (re-run the notebooks to see yours).", "",
             *_machines(page), *_run(page), *_decision(page)]
    for s in page.sections:
        lines += _section(s)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_markdown(run: str | Path) -> Path:
    """Write RUN/results.md and return its path."""
    out = Path(run) / FILE
    out.write_text(render_markdown(run))
    return out
