"""Export plumbing shared by the notebooks: ONNX with a dynamic batch, graph inspection."""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from labkit.measure.sizes import artifact_files

logging.getLogger("torch.onnx").setLevel(logging.ERROR)


def export_onnx(model: torch.nn.Module, path: str | Path, example: np.ndarray | None = None,
                max_batch: int = 1024, external_data: bool = False) -> Path:
    """`torch.onnx.export` with the dynamo exporter, a dynamic batch dimension and one file.

    The example batch has 2 images: with 1, the exporter specialises the batch dimension to 1.
    """
    from torch.export import Dim

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(2, 1, 28, 28) if example is None else torch.from_numpy(np.asarray(example[:2], np.float32))
    if len(x) < 2:
        raise ValueError("the example batch needs at least 2 images, or the batch dimension is fixed to 1")
    with warnings.catch_warnings():  # torch-internal deprecation noise, not the learner's concern
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(model.eval(), (x,), str(path), dynamo=True, external_data=external_data,
                          input_names=["image"], output_names=["logits"],
                          dynamic_shapes=({0: Dim("batch", min=1, max=max_batch)},), verbose=False)
    return path


def op_histogram(path: str | Path) -> Counter:
    """How many nodes of each op type the ONNX graph holds."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return Counter(node.op_type for node in model.graph.node)


def onnx_summary(path: str | Path) -> dict:
    """What a learner checks first in an ONNX file: opsets, IR version, producer, inputs and outputs
    with their (named or fixed) dimensions, node count, and the files it is stored in."""
    import onnx

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the cell that writes it first.")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:
        raise ValueError(f"{path} is not a readable ONNX model ({err}).") from err

    def dims(value) -> list:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    return {
        "opsets": {imp.domain or "ai.onnx": imp.version for imp in model.opset_import},
        "ir_version": model.ir_version,
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": {v.name: dims(v) for v in model.graph.input},
        "outputs": {v.name: dims(v) for v in model.graph.output},
        "nodes": len(model.graph.node),
        "files": artifact_files(path),
    }


def op_histogram_figure(histograms: dict[str, Counter], title: str = "ONNX op types"):
    """A grouped plotly bar chart of op-type counts, one group per graph (e.g. as exported vs as
    optimised by ONNX Runtime); ops sorted by their total count."""
    import plotly.graph_objects as go

    if not histograms:
        raise ValueError("give at least one {name: Counter} histogram")
    total = Counter()
    for hist in histograms.values():
        total.update(hist)
    ops = [op for op, _ in total.most_common()]
    fig = go.Figure([go.Bar(name=name, x=ops, y=[hist.get(op, 0) for op in ops], text=[hist.get(op, 0) for op in ops])
                     for name, hist in histograms.items()])
    return fig.update_layout(barmode="group", title=title, xaxis_title="op type", yaxis_title="nodes", height=380)
