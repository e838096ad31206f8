"""plotly figures the notebooks and the report share."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from labkit.core.data import CLASS_NAMES, MEAN, STD, Split
from labkit.measure.bench import LatencyStats
from labkit.measure.pareto import pareto_mask


def image_grid(split: Split, n: int = 24, cols: int = 8) -> go.Figure:
    """The first `n` images with their class names."""
    from plotly.subplots import make_subplots

    n = min(n, len(split))
    rows = (n + cols - 1) // cols
    fig = make_subplots(rows, cols, subplot_titles=[CLASS_NAMES[y] for y in split.y[:n]],
                        horizontal_spacing=0.01, vertical_spacing=0.06)
    for i in range(n):
        img = split.x[i, 0] * STD + MEAN
        fig.add_trace(go.Heatmap(z=img[::-1], colorscale="gray_r", showscale=False), i // cols + 1, i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=10)
    return fig.update_layout(height=130 * rows, margin=dict(l=10, r=10, t=30, b=10))


def class_balance(split: Split, title: str = "images per class") -> go.Figure:
    counts = np.bincount(split.y, minlength=len(CLASS_NAMES))
    return go.Figure(go.Bar(x=list(CLASS_NAMES), y=counts)).update_layout(title=title, height=300)


def latency_distribution(results: dict[tuple[str, int], LatencyStats], batch: int | None = None) -> go.Figure:
    """Box plots of every sample per variant (one batch size, or all of them side by side)."""
    fig = go.Figure()
    for (variant, b), stats in results.items():
        if batch is None or b == batch:
            fig.add_trace(go.Box(y=stats.samples, name=f"{variant} @ b{b}", boxpoints="outliers"))
    return fig.update_layout(yaxis_title="latency per call (ms)", yaxis_type="log", showlegend=False,
                             title="latency distribution" + (f" at batch {batch}" if batch else ""))


def pareto_scatter(df, x: str = "latency_ms_p50", y: str = "accuracy", size: str | None = "size_bytes",
                   label: str = "variant", title: str = "accuracy vs latency") -> go.Figure:
    """Each variant as a point (marker area by `size`), the Pareto front drawn as a line."""
    df = df.dropna(subset=[x, y]).reset_index(drop=True)
    front = pareto_mask(df[x].to_numpy(), df[y].to_numpy())
    marker = {}
    if size and size in df and df[size].notna().any():
        s = df[size].fillna(df[size].min()).to_numpy(float)
        marker = dict(size=8 + 30 * np.sqrt(s / s.max()), sizemode="diameter")
    hover = df[label].astype(str) + (
        "<br>" + size + "=" + df[size].astype(str) if size and size in df else "")
    fig = go.Figure(go.Scatter(x=df[x], y=df[y], mode="markers", marker=marker, text=hover,
                               hoverinfo="text+x+y", name="variants"))
    f = df[front].sort_values(x)
    fig.add_trace(go.Scatter(x=f[x], y=f[y], mode="lines+markers+text", text=f[label], textposition="top center",
                             line=dict(dash="dash"), name="Pareto front"))
    return fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, xaxis_type="log", height=450)
