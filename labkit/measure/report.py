"""`labkit report RUN`: one standalone HTML page (no kernel, no network) for a run folder."""

from __future__ import annotations

import html
import json
from pathlib import Path

import plotly.graph_objects as go

from labkit.core import cpu, ledger
from labkit.measure.plots import pareto_scatter

COLUMNS = ["notebook", "variant", "technique", "runtime", "target", "precision", "batch", "accuracy",
           "size_bytes", "params", "sparsity", "latency_ms_p50", "latency_ms_p90", "throughput_sps",
           "parity_max_abs", "parity_top1", "reference"]


def _summary_table(summary: dict) -> str:
    rows = []
    for name, r in summary.get("notebooks", {}).items():
        color = "#1a7f37" if r["status"] == "ok" else "#cf222e"
        detail = "" if r["status"] == "ok" else f"cell {r.get('cell')}: {r.get('error', '')}"
        rows.append(f"<tr><td>{html.escape(name)}</td><td style='color:{color}'>{r['status']}</td>"
                    f"<td>{r['seconds']}</td><td>{html.escape(detail[:500])}</td></tr>")
    return ("<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>error</th></tr>"
            + "".join(rows) + "</table>")


def _figures(df) -> list[go.Figure]:
    figs = []
    timed = df.dropna(subset=["latency_ms_p50"]) if not df.empty else df
    for batch in sorted(timed["batch"].dropna().unique()) if not timed.empty else []:
        at = timed[timed["batch"] == batch]
        if at["accuracy"].notna().any():
            figs.append(pareto_scatter(at, title=f"accuracy vs latency at batch {int(batch)}"))
        figs.append(go.Figure(go.Bar(x=at["notebook"] + " / " + at["variant"], y=at["latency_ms_p50"],
                                     error_y=dict(type="data", array=at["latency_ms_p90"] - at["latency_ms_p50"],
                                                  symmetric=False)))
                    .update_layout(title=f"median latency at batch {int(batch)} (bar to p90)",
                                   yaxis_title="ms", yaxis_type="log", height=450))
    return figs


def _machines(df) -> str:
    """One row per CPU the ledger's rows were measured on, with the flags that decided int8 and bf16."""
    if df.empty or "env" not in df:
        return ""
    groups: dict[tuple, list] = {}
    for env, notebook in zip(df["env"], df["notebook"], strict=True):
        if isinstance(env, dict):
            key = (env.get("cpu"), env.get("arch", "x86_64"), env.get("flags", ""), env.get("personality"))
            groups.setdefault(key, []).append(notebook)
    rows = []
    for (model, arch, flags, forced), notebooks in groups.items():
        info = cpu.describe(model, set(filter(None, flags.split(","))), arch or "", None)
        cells = [model, (arch or "") + (f", as {forced}" if forced else ""), flags or "unknown",
                 f"{cpu.int8_outlook(info)} reduce_range={cpu.needs_reduce_range(info)}", cpu.bf16_outlook(info),
                 f"{len(notebooks)} rows from {', '.join(sorted(set(notebooks)))}"]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return ("<h2>Machines</h2><table><tr><th>CPU</th><th>architecture</th><th>flags</th><th>int8</th><th>bf16</th>"
            "<th>rows</th></tr>" + "".join(rows) + "</table>")


def _decision(run: Path) -> str:
    path = run / "decision.json"
    if not path.exists():
        return ""
    d = json.loads(path.read_text())
    items = "".join(f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>" for k, v in d.items())
    return f"<h2>The model to ship</h2><ul>{items}</ul>"


def render(run: str | Path) -> str:
    """The report of a run folder as one HTML string with plotly.js inlined."""
    run = Path(run)
    if not (run / "ledger.jsonl").exists() and not (run / "summary.json").exists():
        raise FileNotFoundError(f"{run} is not a run folder (no ledger.jsonl or summary.json); "
                                "create one with `labkit run`.")
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    df = ledger.load(run)
    cols = [c for c in COLUMNS if c in df.columns]
    figs = _figures(df)
    fig_html = "".join(f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figs))
    meta = ", ".join(f"{k} {summary[k]}" for k in ("profile", "target", "seed", "started") if k in summary)
    versions = ", ".join(f"{k} {v}" for k, v in summary.get("versions", {}).items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>labkit report: {html.escape(run.name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:3px 6px}}</style></head><body>
<h1>labkit report: {html.escape(run.name)}</h1><p>{html.escape(meta)}</p><p><small>{html.escape(versions)}</small></p>
{_machines(df)}<h2>Notebooks</h2>{_summary_table(summary)}{_decision(run)}
<h2>Figures</h2>{fig_html or "<p>No timed rows in the ledger.</p>"}
<h2>Ledger ({len(df)} rows)</h2>{df[cols].to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")}
</body></html>"""


def write_report(run: str | Path) -> Path:
    out = Path(run) / "report.html"
    out.write_text(render(run))
    return out
