"""The target picker: target, threads and batch size widgets that re-point the session and
redraw a plotly figure in place. Headless runs display it and never wait on it."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W
import plotly.graph_objects as go

from labkit.core.cpu import cpu_count
from labkit.core.session import Session
from labkit.core.targets import Target, targets

# measure(target, batch) -> {variant name: median latency in ms}
Measure = Callable[[Target, int], dict[str, float]]


class TargetPicker:
    """Widgets bound to a Session: changing them updates `session.target` for the cells that follow
    and, given `measure`, re-runs it and updates the bar chart in place."""

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
        self.figure = go.FigureWidget(layout=dict(title="median latency (ms)", height=320, yaxis_title="ms"))
        self.figure.add_bar(x=[], y=[])
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

    def widget(self) -> W.Widget:
        return W.VBox([W.HBox([self.target_w, self.threads_w, self.batch_w]), self.status, self.figure])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())
