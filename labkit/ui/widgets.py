"""The target picker and the budget picker: widgets that re-point the session or the choice of model and
redraw a plotly figure. Headless runs display them and never wait on them.

Their figures are plain `go.Figure`s updated in place and redrawn into an `Output` widget through
JupyterLab's plotly renderer, not `go.FigureWidget`s: a FigureWidget's anywidget model loads a 5 MB module
with a two-second limit and, in a busy browser, draws its traces without data (seen in Chromium: the budget
picker's candidates had x and y undefined)."""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from labkit.core.cpu import cpu_count
from labkit.core.session import Session
from labkit.core.targets import Target, targets
from labkit.measure import units
from labkit.measure.plots import pareto_scatter
from labkit.techniques.pipeline import choose, fits

# measure(target, batch) -> {variant name: median latency in ms}
Measure = Callable[[Target, int], dict[str, float]]


def _draw(out: W.Output, figure: go.Figure) -> None:
    """Show `figure` in `out`, replacing what was there."""
    bundle = pio.renderers["plotly_mimetype"].to_mimebundle(figure.to_dict())
    out.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)


class TargetPicker:
    """Widgets bound to a Session: changing them updates `session.target` for the cells that follow
    and, given `measure`, re-runs it and redraws the bar chart."""

    def __init__(self, session: Session, measure: Measure | None = None, batches=(1, 8, 64, 256), batch: int = 64):
        self.session = session
        self.measure = measure
        self.table = targets()
        labels = [(name if t.available else f"{name} (unavailable: {t.reason})", name)
                  for name, t in self.table.items()]
        self.target_w = W.Dropdown(options=labels, value=session.target.name, description="target")
        self.threads_w = W.IntSlider(value=session.target.threads, min=1, max=cpu_count(), description="threads")
        self.batch_w = W.Dropdown(options=list(batches), value=batch, description="batch")
        self.status = W.HTML()
        self.figure = go.Figure(layout=dict(title="median latency (ms)", height=320, yaxis_title="ms"))
        self.figure.add_bar(x=[], y=[])
        self.plot = W.Output()
        for w in (self.target_w, self.threads_w, self.batch_w):
            w.observe(self._changed, names="value")
        self.target_w.observe(self._target_changed, names="value")
        self._redraw()

    @property
    def batch(self) -> int:
        return self.batch_w.value

    def _target_changed(self, change) -> None:
        t = self.table[change["new"]]
        if t.available:
            self.threads_w.value = t.threads

    def _changed(self, _change=None) -> None:
        self._redraw()

    def _redraw(self) -> None:
        t = self.table[self.target_w.value]
        if not t.available:
            self.status.value = f"<span style='color:#cf222e'>{t.name} is unavailable: {t.reason}</span>"
            return
        import torch

        self.session.target = t.with_threads(self.threads_w.value)
        torch.set_num_threads(self.session.target.threads)
        self.status.value = (f"<span style='color:#1a7f37'>using {t.name} with {self.session.target.threads} "
                             f"thread(s), batch {self.batch}</span>")
        if self.measure is None:
            return
        results = self.measure(self.session.target, self.batch)
        with self.figure.batch_update():
            self.figure.data[0].x = list(results)
            self.figure.data[0].y = list(results.values())
            self.figure.layout.title = f"median latency at batch {self.batch} on {t.name} (ms)"
        _draw(self.plot, self.figure)

    def widget(self) -> W.Widget:
        return W.VBox([W.HBox([self.target_w, self.threads_w, self.batch_w]), self.status, self.plot])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())


class BudgetPicker:
    """Sliders for a latency budget, a size budget and an accuracy floor over a Pareto chart of the
    candidates (a `go.Figure`, updated in place and redrawn): each change re-runs `choose` on the measured
    numbers, colours what fits, moves the budget lines and the star on the chosen model, and says why.
    Headless runs display it once with the starting budgets and never wait on it."""

    FIT, NOFIT = "#1a7f37", "#b0b0b0"

    def __init__(self, df, latency_budget_ms: float, size_budget_bytes: float, accuracy_floor: float):
        if df is None or len(df) == 0:
            raise ValueError("no candidates to choose from: record rows with accuracy, size and latency first")
        self.df = df.reset_index(drop=True)
        if "label" not in self.df:
            self.df = self.df.assign(label=self.df["variant"])
        lat, size, acc = (self.df[c].to_numpy(float) for c in ("latency_ms_p50", "size_bytes", "accuracy"))
        base = pareto_scatter(self.df, label="label", title="candidates at batch 64: accuracy vs median latency")
        self.figure = go.Figure(base)  # updated in place by the sliders
        # names on hover, not printed: neighbouring candidates' labels overlap and the leftmost is cut off
        self.figure.update_traces(mode="lines+markers", hoverinfo="text+x+y", selector=dict(name="Pareto front"))
        self.plot = W.Output()
        self._xlo, self._xhi = float(lat.min()) / 1.5, float(lat.max()) * 1.5
        self._ylo, self._yhi = float(acc.min()) - 0.01, min(1.0, float(acc.max()) + 0.01)
        for name in ("latency budget", "accuracy floor"):
            self.figure.add_scatter(x=[], y=[], mode="lines", name=name, hoverinfo="name",
                                    line=dict(dash="dot", color="#cf222e", width=1.5))
        self.figure.add_scatter(x=[], y=[], mode="markers", name="chosen",
                                marker=dict(symbol="star", size=22, color="#d4a72c", line=dict(width=1, color="black")))
        self.figure.update_layout(xaxis_title="median latency at batch 64 (ms, log)", yaxis_title="top-1 accuracy",
                                  height=500)
        lo, hi = np.log10(max(lat.min(), 1e-3) / 2), np.log10(lat.max() * 2)
        self.latency = W.FloatLogSlider(value=float(np.clip(latency_budget_ms, 10 ** lo, 10 ** hi)), base=10, min=lo,
                                        max=hi, step=0.01, description="latency ms", readout_format=".3g",
                                        continuous_update=False)
        kb = size / 1e3
        klo, khi = np.log10(max(kb.min(), 1e-3) / 2), np.log10(kb.max() * 2)
        self.size_kb = W.FloatLogSlider(value=float(np.clip(size_budget_bytes / 1e3, 10 ** klo, 10 ** khi)), base=10,
                                        min=klo, max=khi, step=0.01, description="size KB", readout_format=",.4g",
                                        continuous_update=False)
        amin = float(max(0.0, np.floor(acc.min() * 100 - 1) / 100))
        self.floor = W.FloatSlider(value=float(np.clip(accuracy_floor, amin, 1.0)), min=amin, max=1.0, step=0.001,
                                   description="accuracy ≥", readout_format=".1%", continuous_update=False)
        self.why = W.HTML()
        self.chosen = None
        for w in (self.latency, self.size_kb, self.floor):
            w.layout.width = "420px"
            w.observe(self._update, names="value")
        self._update()

    @property
    def budgets(self) -> tuple[float, float, float]:
        return self.latency.value, self.size_kb.value * 1e3, self.floor.value

    def _update(self, _change=None) -> None:
        lat, size, floor = self.budgets
        ok = fits(self.df, lat, size, floor)
        self.chosen, reason = choose(self.df, lat, size, floor)
        colors = [self.FIT if f else self.NOFIT for f in ok["fits"]]
        fails = [", ".join(n for n, good in (("too slow", a), ("too large", b), ("below floor", c)) if not good)
                 for a, b, c in zip(ok["latency_ok"], ok["size_ok"], ok["accuracy_ok"], strict=True)]
        with self.figure.batch_update():
            self.figure.data[0].marker.color = colors
            self.figure.data[0].text = [f"{n}<br>{s / 1e3:,.1f} KB<br>{f or 'fits all budgets'}"
                                        for n, s, f in zip(self.df["label"], self.df["size_bytes"], fails, strict=True)]
            star = self.figure.data[-1]
            star.x = [] if self.chosen is None else [self.chosen["latency_ms_p50"]]
            star.y = [] if self.chosen is None else [self.chosen["accuracy"]]
            lat_line, floor_line = self.figure.data[2], self.figure.data[3]
            lat_line.x, lat_line.y = [lat, lat], [self._ylo, self._yhi]
            floor_line.x, floor_line.y = [self._xlo, self._xhi], [floor, floor]
            self.figure.layout.title = (f"{int(ok['fits'].sum())} of {len(ok)} candidates fit: latency ≤ {lat:.3g} ms, "
                                        f"size ≤ {units.size(size)}, accuracy ≥ {floor:.1%}")
        _draw(self.plot, self.figure)
        head = "no model fits" if self.chosen is None else f"ship: {self.chosen['label']}"
        self.why.value = f"<b>{html.escape(head)}</b><br>{html.escape(reason)}"

    def widget(self):
        return W.VBox([W.HBox([self.latency, self.size_kb, self.floor]), self.why, self.plot])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())
