"""`labkit report RUN`: one standalone HTML page (no kernel, no network) for a run folder: the machine cards first,
the run, the model to ship, then one section per notebook with its promises, its rows and at most two charts."""

from __future__ import annotations

import html
import re
from pathlib import Path

import plotly
import plotly.graph_objects as go

from labkit.measure import results, units
from labkit.measure.checks import COLORS, MARKS
from labkit.measure.pareto import pareto_mask

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#1f2328}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1em}td,th{border:1px solid #d0d7de;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}td.num{text-align:right;white-space:nowrap}
table.card th{width:14em}section{border-top:2px solid #d0d7de;margin-top:2em}details{margin-top:2em}
.why{color:#57606a;font-size:12px}"""
NUMBER = re.compile(r"[+-]?[\d,.]+(e[+-]\d+)?( ?(ms|KB|MB|M|%|x|images/s|points|min))?")  # right-aligned cells


def _e(value) -> str:
    return html.escape(str(value))


def _grid(lines: list[dict[str, str]]) -> str:
    """A list of same-keyed dicts of text as an HTML table (numbers right-aligned)."""
    if not lines:
        return ""
    head = "".join(f"<th>{_e(k)}</th>" for k in lines[0])
    body = "".join("<tr>" + "".join(f"<td class='num'>{_e(v)}</td>" if NUMBER.fullmatch(v) else f"<td>{_e(v)}</td>"
                                    for v in line.values()) + "</tr>" for line in lines)
    return f"<table><tr>{head}</tr>{body}</table>"


def _machines(page: results.RunPage) -> str:
    if not page.machines:
        return f"<h2 id='machine'>{page.machine_title}</h2><p>{results.NO_MACHINE}</p>"
    head = "" if len(page.machines) == 1 else "<tr><th></th>" + "".join(
        f"<th>machine {i}</th>" for i in range(1, len(page.machines) + 1)) + "</tr>"
    body = "".join(f"<tr><th>{_e(name)}</th>" + "".join(f"<td>{_e(v)}</td>" for v in values) + "</tr>"
                   for name, values in page.card_rows())
    return f"<h2 id='machine'>{page.machine_title}</h2><table class='card'>{head}{body}</table>"


def _run(page: results.RunPage) -> str:
    about = ", ".join(f"{k} {v}" for k, v in page.about)
    rows = "".join(
        f"<tr><td><a href='#{_e(s.name)}'>{_e(s.name)}</a></td><td style='color:{COLORS[s.status == 'ok']}'>"
        f"{_e(s.status)}</td><td class='num'>{_e(s.wall_time)}</td><td>{_e(s.tally)}</td></tr>" for s in page.sections)
    return (f"<h2 id='run'>Run</h2><p>{_e(about)}</p><table><tr><th>notebook</th><th>status</th><th>wall time</th>"
            f"<th>promises</th></tr>{rows}</table>")


def _decision(page: results.RunPage) -> str:
    if not page.decision:
        return ""
    items = "".join(f"<li><b>{_e(k)}</b>: " + (f"<ul>{''.join(f'<li>{_e(x)}</li>' for x in v)}</ul>"
                                                if isinstance(v, list) else _e(v)) + "</li>" for k, v in page.decision)
    return f"<h2 id='decision'>The model to ship</h2><ul>{items}</ul>"


def _verdicts(section: results.Section) -> str:
    if not section.verdicts:
        return f"<p>{results.NO_PROMISES}</p>"
    rows = "".join(
        f"<tr><td>{_e(v.bar.text(v.profile))}</td><td>{_e(measured)}</td>"
        f"<td style='color:{COLORS[v.passed]};font-weight:bold'>{MARKS[v.passed]}</td>"
        f"<td class='why'>{_e(v.why)}</td></tr>"
        for v, measured in zip(section.verdicts, results.measured(section.verdicts), strict=True))
    head = "<tr><th>claim</th><th>measured</th><th>verdict</th><th>note</th></tr>"
    return f"<h3>Promises</h3><table>{head}{rows}</table>"


def _at_largest_batch(rows):
    """The rows timed at the largest batch of the notebook, and that batch (None when nothing was timed)."""
    timed = rows[rows["latency_ms_p50"].notna() & rows["batch"].notna()] if "latency_ms_p50" in rows else rows[:0]
    if timed.empty:
        return timed, None
    batch = int(timed["batch"].max())
    return timed[timed["batch"] == batch].drop_duplicates("variant", keep="last"), batch


def _latency_bars(rows, batch: int) -> go.Figure:
    """Median latency per variant as horizontal bars, fastest on top, with a whisker to p90."""
    rows = rows.sort_values("latency_ms_p50", ascending=False)
    spread = max(rows["latency_ms_p50"].max() / rows["latency_ms_p50"].min(), 1)
    fig = go.Figure(go.Bar(
        y=rows["variant"], x=rows["latency_ms_p50"], orientation="h",
        error_x=dict(type="data", array=rows["latency_ms_p90"] - rows["latency_ms_p50"], symmetric=False),
        customdata=[units.text("latency_ms_p50", v) for v in rows["latency_ms_p50"]],
        hovertemplate="%{y}: %{customdata} (whisker to p90)<extra></extra>"))
    return fig.update_layout(
        title=f"Median latency per variant at batch {batch} (whisker to p90, shorter is faster)",
        xaxis_title=units.axis_title("latency_ms_p50", batch), xaxis_type="log" if spread > 20 else "linear",
        yaxis=dict(automargin=True), height=140 + 26 * len(rows), margin=dict(t=60, b=50))


def _accuracy_vs_latency(rows, batch: int) -> go.Figure:
    """Accuracy against median latency, one point per variant (name on hover), the Pareto front dashed."""
    rows = rows.dropna(subset=["accuracy"]).reset_index(drop=True)
    hover = [f"{v}<br>{units.text('accuracy', a)}, {units.text('latency_ms_p50', t)}"
             + (f", {units.text('size_bytes', s)}" if not units.missing(s) else "")
             for v, a, t, s in zip(rows["variant"], rows["accuracy"], rows["latency_ms_p50"],
                                   rows.get("size_bytes", [None] * len(rows)), strict=True)]
    fig = go.Figure(go.Scatter(x=rows["latency_ms_p50"], y=rows["accuracy"], mode="markers", name="variant",
                               marker=dict(size=10), text=hover, hovertemplate="%{text}<extra></extra>"))
    front = rows[pareto_mask(rows["latency_ms_p50"].to_numpy(), rows["accuracy"].to_numpy())]
    front = front.sort_values("latency_ms_p50")
    fig.add_trace(go.Scatter(x=front["latency_ms_p50"], y=front["accuracy"], mode="lines", name="Pareto front",
                             line=dict(dash="dash"), hoverinfo="skip"))
    return fig.update_layout(
        title=f"Top-1 accuracy against median latency at batch {batch} (up and left is better; hover for names)",
        xaxis_title=units.axis_title("latency_ms_p50", batch), yaxis_title=units.label("accuracy"),
        yaxis_tickformat=".1%", xaxis_type="log", height=450)


def _charts(rows) -> list[go.Figure]:
    """At most two charts for a notebook, where they say more than its table: accuracy against latency when
    accuracy varies, and latency bars when at least two variants were timed at the notebook's largest batch."""
    at, batch = _at_largest_batch(rows)
    figs = []
    if batch is not None and at["accuracy"].notna().sum() >= 3 and at["accuracy"].nunique() > 1:
        figs.append(_accuracy_vs_latency(at, batch))
    if batch is not None and len(at) >= 2:
        figs.append(_latency_bars(at, batch))
    return figs


def _section(section: results.Section, figs: list[go.Figure]) -> str:
    status = "" if section.status == "ok" else (
        f"<p style='color:{COLORS[False]}'><b>{_e(section.status)}</b>: {_e(section.error[:1000])}</p>")
    common = f"<p>{_e(section.common_text)}</p>" if section.common else ""
    rows = f"<h3>Measurements</h3>{common}{_grid(section.table)}" if section.table else "<p>No ledger rows.</p>"
    return (f"<section id='{_e(section.name)}'><h2>{_e(section.name)}</h2>{status}{_verdicts(section)}{rows}"
            f"{''.join(f.to_html(full_html=False, include_plotlyjs=False) for f in figs)}</section>")


def _raw(df) -> str:
    cols = [c for c in df.columns if c != "env" and df[c].notna().any()]
    table = df[cols].to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")
    return f"<details><summary>The whole ledger ({len(df)} rows, every key)</summary>{table}</details>"


def render(run: str | Path) -> str:
    """The report of a run folder as one HTML string with plotly.js inlined."""
    page = results.read(run)
    figs = [_charts(s.rows) for s in page.sections]
    sections = "".join(_section(s, f) for s, f in zip(page.sections, figs, strict=True))
    js = f"<script>{plotly.offline.get_plotlyjs()}</script>" if any(figs) else ""
    name = Path(run).resolve().name
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>labkit report: {_e(name)}</title>
<style>{STYLE}</style>{js}</head><body><h1>labkit report: {_e(name)}</h1>
{_machines(page)}{_run(page)}{_decision(page)}{sections}{_raw(page.ledger)}</body></html>"""


def write_report(run: str | Path) -> Path:
    """Write RUN/report.html and return its path."""
    out = Path(run) / "report.html"
    out.write_text(render(run))
    return out
