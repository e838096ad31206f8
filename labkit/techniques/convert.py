"""Cross-framework conversion plumbing: TFLite/LiteRT conversion variants, TF -> ONNX through
tf2onnx, ONNX graph layout inspection, weight ports between Keras and PyTorch, a small ONNX -> Keras
importer for chain CNNs, and the conversion-matrix runner with its heatmap."""

from __future__ import annotations

import contextlib
import io
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labkit.core import native_logs
from labkit.measure.parity import ParityCard, card
from labkit.measure.runtimes import Runner, nchw_to_nhwc

TFLITE_MODES = {
    "fp32": "no optimisation: float32 weights and compute",
    "dynamic": "dynamic range: int8 weights, float activations (quantised on the fly)",
    "fp16": "float16 weights, dequantised to float32 for compute on CPU",
    "int8": "full integer: int8 weights and activations, calibrated on a representative dataset",
}
# The ledger precision of each TFLite mode, and the parity tolerance it is judged by.
TFLITE_PRECISION = {"fp32": "fp32", "dynamic": "mixed", "fp16": "fp16", "int8": "int8"}
TFLITE_TOLERANCE = {"fp32": "fp32", "dynamic": "int8", "fp16": "fp16", "int8": "int8"}


@contextlib.contextmanager
def quiet():
    """Swallow the stdout chatter of Keras export and the TFLite converter ("Saved artifact at ...") and keep the
    converter's native log lines out (`native_logs.quiet`: known noise dropped, anything else still shown)."""
    import logging

    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)  # "INFO:tensorflow:Assets written to ..."
    try:
        with native_logs.quiet(), contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        tf_logger.setLevel(level)


def representative_dataset(x_nchw: np.ndarray, n: int | None = None) -> Callable:
    """The generator TFLite's int8 calibration wants: one list of NHWC single-image batches per step.
    Give it real training images, not random noise: the ranges it sees become the int8 scales."""
    x = nchw_to_nhwc(x_nchw if n is None else x_nchw[:n])
    if len(x) == 0:
        raise ValueError("the representative dataset needs at least one image")

    def gen():
        for i in range(len(x)):
            yield [x[i:i + 1]]

    return gen


def to_tflite(keras_model, mode: str = "fp32", calib: np.ndarray | None = None, path: str | Path | None = None):
    """Convert a Keras model with `tf.lite.TFLiteConverter` in one of TFLITE_MODES; returns the
    flatbuffer bytes, or writes them to `path` and returns the path. `calib` (NCHW training images)
    is required for "int8"."""
    if mode not in TFLITE_MODES:
        raise ValueError(f"mode must be one of {', '.join(TFLITE_MODES)}, not {mode!r}")
    if mode == "int8" and calib is None:
        raise ValueError("full-integer int8 needs `calib`: a batch of real training images for calibration")
    import tensorflow as tf  # after the checks: a wrong call is told at once, not after TensorFlow's import

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if mode != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        converter.representative_dataset = representative_dataset(calib)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with quiet():
        flatbuffer = converter.convert()
    if path is None:
        return flatbuffer
    path = Path(path)
    path.write_bytes(flatbuffer)
    return path


def tf_to_onnx(keras_model, path: str | Path, opset: int = 17, nchw_input: bool = False,
               input_name: str = "image") -> Path:
    """TF -> ONNX with `tf2onnx.convert.from_function` on a `tf.function` with an input signature
    (dynamic batch). `nchw_input=True` asks tf2onnx for an NCHW graph input (`inputs_as_nchw`)."""
    import tensorflow as tf
    import tf2onnx

    h, w, c = keras_model.input_shape[1:]
    spec = (tf.TensorSpec((None, h, w, c), tf.float32, name=input_name),)
    fn = tf.function(lambda image: keras_model(image, training=False), input_signature=spec)
    path = Path(path)
    with quiet():
        tf2onnx.convert.from_function(fn, input_signature=spec, opset=opset, output_path=str(path),
                                      inputs_as_nchw=[input_name] if nchw_input else None)
    return path


def onnx_layout(path: str | Path) -> dict:
    """What an ONNX graph expects and how much layout shuffling it holds: input name and shape,
    NCHW or NHWC, the op(s) reading the input, the Transpose count and the op(s) each Transpose feeds,
    opset, producer, op-type histogram."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inp = model.graph.input[0]
    shape = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    ops = Counter(node.op_type for node in model.graph.node)
    if len(shape) == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3):
        layout = "NCHW"
    elif len(shape) == 4 and shape[3] in (1, 3):
        layout = "NHWC"
    else:
        layout = "?"
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    consumers = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    transposed = [out for node in model.graph.node if node.op_type == "Transpose" for out in node.output]
    return {"input": inp.name, "input_shape": [s if isinstance(s, int) and s else "N" for s in shape],
            "layout": layout, "transposes": ops.get("Transpose", 0),
            "input_feeds": ", ".join(consumers.get(inp.name, [])),
            "transpose_feeds": ", ".join(op for out in transposed for op in consumers.get(out, [])),
            "nodes": sum(ops.values()),
            "opset": opset, "producer": model.producer_name, "ops": ops}


def nhwc_input(runner: Runner, name: str | None = None) -> Runner:
    """Wrap a runner whose graph takes NHWC (a tf2onnx or Keras ONNX file) so it takes the kit's NCHW batches."""
    inner = runner.fn
    return Runner(name or runner.name, runner.runtime, lambda x: inner(nchw_to_nhwc(x)), runner.path,
                  {**runner.info, "input_layout": "NHWC"})


def _torch_leaves(model) -> list:
    return [m for m in model.modules() if not list(m.children())]


def port_keras_to_torch(keras_model, torch_model):
    """The reverse of `keras_twin`: copy a Keras twin's weights into a torch model of the same
    architecture (kernels HWIO -> OIHW, the first Dense after Flatten reordered NHWC -> NCHW)."""
    import torch
    from torch import nn

    k_layers = [layer for layer in keras_model.layers if layer.get_weights()]
    t_layers = [m for m in _torch_leaves(torch_model) if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]
    if len(k_layers) != len(t_layers):
        raise ValueError(f"the Keras model has {len(k_layers)} layers with weights, the torch model "
                         f"{len(t_layers)}: they are not the same architecture")
    chw = None  # (C, H, W) of the feature map entering the first Linear
    for layer in keras_model.layers:
        if type(layer).__name__ == "Flatten":
            _, h, w, c = layer.input.shape
            chw = (c, h, w)
    with torch.no_grad():
        for k, t in zip(k_layers, t_layers, strict=True):
            ws = k.get_weights()
            if isinstance(t, nn.Conv2d):
                t.weight.copy_(torch.from_numpy(ws[0].transpose(3, 2, 0, 1).copy()))
                if t.bias is not None:
                    t.bias.copy_(torch.from_numpy(ws[1]))
            elif isinstance(t, nn.BatchNorm2d):
                for dst, src in zip((t.weight, t.bias, t.running_mean, t.running_var), ws, strict=True):
                    dst.copy_(torch.from_numpy(src))
            else:
                kernel = ws[0]
                if chw is not None:  # (H*W*C, out) in Keras order -> (out, C*H*W) in torch order
                    c, h, w = chw
                    kernel = kernel.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(kernel.shape[1], -1)
                    chw = None
                else:
                    kernel = kernel.T
                if tuple(kernel.shape) != tuple(t.weight.shape):
                    raise ValueError(f"shape mismatch porting {k.name}: {kernel.shape} vs {tuple(t.weight.shape)}")
                t.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
                t.bias.copy_(torch.from_numpy(ws[1]))
    return torch_model.eval()


SUPPORTED_ONNX_OPS = ("Conv", "BatchNormalization", "Relu", "MaxPool", "Reshape", "Flatten", "Gemm", "Identity")


def keras_from_onnx(path: str | Path, name: str = "from_onnx"):
    """Rebuild a chain CNN (Conv, BatchNormalization, Relu, MaxPool, Flatten/Reshape, Gemm) from an NCHW
    ONNX file as a Keras NHWC model, weights taken from the graph's initializers. A toy onnx2tf:
    enough for the kit's models, and it names the first op it cannot translate."""
    import keras
    import onnx
    from onnx import numpy_helper

    from labkit.techniques.keras_twin import conv_kernel_to_keras, dense_after_flatten_to_keras

    graph = onnx.load(str(path)).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    unknown = sorted({n.op_type for n in graph.node} - set(SUPPORTED_ONNX_OPS))
    if unknown:
        raise NotImplementedError(f"keras_from_onnx translates {', '.join(SUPPORTED_ONNX_OPS)}; "
                                  f"this graph also holds {', '.join(unknown)} (a job for onnx2tf)")
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4:
        raise NotImplementedError(f"expected an NCHW image input, got shape {dims}")
    c, h, w = dims[1:]
    inputs = keras.Input((h, w, c), name="image")
    x, flat_chw = inputs, None
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            kernel = weights[node.input[1]]
            k = kernel.shape[2]
            pads, strides = attrs.get("pads", [0] * 4), attrs.get("strides", [1, 1])
            if list(strides) != [1, 1] or len(set(pads)) != 1 or pads[0] not in (0, (k - 1) // 2):
                raise NotImplementedError(f"Conv with strides {strides} and pads {pads} is not translated")
            padding = "same" if pads[0] else "valid"
            bias = weights[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            layer = keras.layers.Conv2D(kernel.shape[0], k, padding=padding, use_bias=bias is not None)
            x = layer(x)
            layer.set_weights([conv_kernel_to_keras(kernel)] + ([bias] if bias is not None else []))
            c = kernel.shape[0]
            if padding == "valid":
                h, w = h - k + 1, w - k + 1
        elif node.op_type == "BatchNormalization":
            layer = keras.layers.BatchNormalization(epsilon=attrs.get("epsilon", 1e-5))
            x = layer(x)
            layer.set_weights([weights[i] for i in node.input[1:5]])
        elif node.op_type == "Relu":
            x = keras.layers.ReLU()(x)
        elif node.op_type == "MaxPool":
            k = attrs["kernel_shape"][0]
            x = keras.layers.MaxPooling2D(k, strides=attrs.get("strides", [k])[0])(x)
            h, w = h // k, w // k
        elif node.op_type in ("Reshape", "Flatten"):
            x = keras.layers.Flatten()(x)
            flat_chw = (c, h, w)
        elif node.op_type == "Gemm":
            weight, bias = weights[node.input[1]], weights[node.input[2]]
            if not attrs.get("transB", 0):
                weight = weight.T  # stored (in, out): make it torch's (out, in)
            kernel = dense_after_flatten_to_keras(weight, *flat_chw) if flat_chw else weight.T
            flat_chw = None
            layer = keras.layers.Dense(weight.shape[0])
            x = layer(x)
            layer.set_weights([kernel, bias])
    return keras.Model(inputs, x, name=name)


# ---------------------------------------------------------------------------------------------
# The conversion matrix: every (source, destination) cell converted, run and checked in this run.

@dataclass
class MatrixCell:
    """One conversion route, its outcome and its measurements."""

    source: str
    dest: str
    route: str
    ok: bool = False
    reason: str = ""
    runner: Runner | None = None
    parity: ParityCard | None = None
    seconds: float = 0.0
    accuracy: float | None = None
    latency: dict = field(default_factory=dict)  # {batch: LatencyStats}

    @property
    def variant(self) -> str:
        return f"{self.source} -> {self.dest}"

    @property
    def status(self) -> str:
        if not self.ok:
            return "failed"
        return "passed" if self.parity is not None and self.parity.passed else "parity failed"


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:160] if text else ''}".rstrip(": ")


def run_matrix(routes: dict[tuple[str, str], tuple[str, Callable[[], Runner]]], references: dict[str, np.ndarray],
               x: np.ndarray, labels: np.ndarray | None = None, precision: str = "fp32",
               progress: bool = True) -> list[MatrixCell]:
    """Convert and check every route: `routes[(source, dest)] = (route description, build)` where
    `build()` converts and returns a Runner; `references[source]` are the source model's logits on `x`
    (and `labels`, if given, its true classes for an accuracy).
    A route that raises is recorded as failed with the reason; nothing stops the run."""
    import warnings

    from labkit.core.progress import tqdm

    missing = sorted({s for s, _ in routes} - set(references))
    if missing:
        raise ValueError(f"no reference logits for source(s) {', '.join(missing)}")
    cells = []
    for (source, dest), (route, build) in tqdm(routes.items(), desc="conversion matrix", disable=not progress):
        cell = MatrixCell(source, dest, route)
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings(), quiet():
                warnings.simplefilter("ignore")
                cell.runner = build()
                logits = cell.runner(x)
            cell.ok = True
            cell.parity = card(references[source], logits, precision, cell.variant, f"{source} (native)")
            if labels is not None:
                cell.accuracy = float(np.mean(logits.argmax(1) == labels))
        except Exception as err:  # a failed conversion is a result, not a crash
            cell.reason = _reason(err)
        cell.seconds = time.perf_counter() - t0
        cells.append(cell)
    return cells


def bench_matrix(cells: list[MatrixCell], inputs: dict[int, np.ndarray], rounds: int = 3, repeats: int = 5,
                 **kwargs) -> None:
    """Time every working cell at every batch in `inputs`, interleaved; fills `cell.latency`."""
    from labkit.measure.bench import compare

    working = {c.variant: c for c in cells if c.ok}
    if not working:
        return
    results = compare({v: c.runner for v, c in working.items()}, inputs, rounds=rounds, repeats=repeats, **kwargs)
    for (variant, batch), stats in results.items():
        working[variant].latency[batch] = stats


def matrix_frame(cells: list[MatrixCell]):
    """One row per cell: status, reason, parity, latency per batch, size, conversion seconds."""
    import pandas as pd

    rows = []
    for c in cells:
        row = {"source": c.source, "dest": c.dest, "route": c.route, "status": c.status, "reason": c.reason,
               "max_abs": c.parity.max_abs if c.parity else None, "top1": c.parity.top1 if c.parity else None,
               "size_bytes": c.runner.size_bytes if c.runner else None, "convert_s": round(c.seconds, 2)}
        row.update({f"ms_b{b}": s.p50 for b, s in sorted(c.latency.items())})
        rows.append(row)
    return pd.DataFrame(rows)


def matrix_heatmap(cells: list[MatrixCell], batch: int = 1, title: str = "conversion matrix (this run)"):
    """A plotly heatmap: rows are sources, columns destinations; colour says passed / parity failed /
    failed, the text gives max |diff| and latency at `batch`, or the failure reason."""
    import plotly.graph_objects as go

    sources = list(dict.fromkeys(c.source for c in cells))
    dests = list(dict.fromkeys(c.dest for c in cells))
    score = {"passed": 2, "parity failed": 1, "failed": 0}
    z = [[None] * len(dests) for _ in sources]
    text = [[""] * len(dests) for _ in sources]
    for c in cells:
        i, j = sources.index(c.source), dests.index(c.dest)
        z[i][j] = score[c.status]
        if c.ok:
            lat = c.latency.get(batch)
            text[i][j] = (f"{c.status}<br>max|d| {c.parity.max_abs:.1e}<br>top-1 {c.parity.top1:.1%}"
                          + (f"<br>{lat.p50:.2f} ms @b{batch}" if lat else ""))
        else:
            reason = c.reason if len(c.reason) < 60 else c.reason[:57] + "..."
            text[i][j] = "failed<br>" + reason.replace(": ", ":<br>", 1)
    colors = [[0.0, "#cf222e"], [0.33, "#cf222e"], [0.34, "#d4a72c"], [0.66, "#d4a72c"], [0.67, "#1a7f37"],
              [1.0, "#1a7f37"]]
    fig = go.Figure(go.Heatmap(z=z, x=dests, y=sources, text=text, texttemplate="%{text}", zmin=0, zmax=2,
                               colorscale=colors, showscale=False, xgap=3, ygap=3, hoverinfo="text"))
    fig.update_layout(title=title, height=180 + 110 * len(sources), yaxis_autorange="reversed",
                      xaxis_title="destination (format / runtime)", yaxis_title="source")
    return fig
