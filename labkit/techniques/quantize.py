"""Quantization plumbing: the affine and k-means arithmetic (numpy, on real weights), an ONNX Runtime
calibration reader and static-quantization call, sizes of torch models, ORT op-time profiles and the
memory arithmetic of large models. The notebooks still call the real APIs (quantize_static,
prepare_pt2e, TFLiteConverter) where they teach them; this module is what they reuse."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from labkit.core import cpu

QUANT_FORMATS = ("QDQ", "QOperator")
CALIBRATION_METHODS = ("MinMax", "Entropy", "Percentile")


# --------------------------------------------------------------------------------------------
# The arithmetic: q = clamp(round(x / scale) + zero_point, qmin, qmax),  x_hat = scale * (q - zero_point)
# --------------------------------------------------------------------------------------------

def qrange(bits: int = 8, signed: bool = True) -> tuple[int, int]:
    """The integer range of a `bits`-wide code: (-128, 127) for signed 8-bit, (0, 255) unsigned."""
    if not isinstance(bits, (int, np.integer)) or not 1 < bits <= 16:
        raise ValueError(f"bits must be an integer in 2..16, got {bits!r}")
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)


def _as_float(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        raise ValueError("cannot quantize an empty array")
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot quantize an array holding NaN or inf")
    return x


def affine_params(x_min, x_max, bits: int = 8, symmetric: bool = True,
                  signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point mapping the float range [x_min, x_max] onto the integer grid.

    Symmetric: zero point 0 and scale max(|x_min|, |x_max|) / qmax (the grid is centred on 0, one
    code of a signed range goes unused). Asymmetric: the range (widened to include 0, so that 0.0
    is exactly representable) is stretched over all 2**bits codes. Works elementwise on arrays of
    ranges (one per channel). Returns float64 scales and int64 zero points.
    """
    qmin, qmax = qrange(bits, signed)
    x_min, x_max = np.asarray(x_min, np.float64), np.asarray(x_max, np.float64)
    if np.any(x_min > x_max):
        raise ValueError("x_min must not exceed x_max")
    lo, hi = np.minimum(x_min, 0.0), np.maximum(x_max, 0.0)
    tiny = np.finfo(np.float32).tiny
    if symmetric:
        bound = np.maximum(-lo, hi)
        scale = np.maximum(bound / qmax, tiny)
        zero = np.full(np.shape(scale), 0 if signed else (qmin + qmax + 1) // 2, dtype=np.int64)
    else:
        scale = np.maximum((hi - lo) / (qmax - qmin), tiny)
        zero = np.clip(np.round(qmin - lo / scale), qmin, qmax).astype(np.int64)
    return scale, zero


def _reduce_axes(ndim: int, axis: int | None) -> tuple[int, ...] | None:
    if axis is None:
        return None
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an array of {ndim} dimensions")
    axis %= ndim
    return tuple(i for i in range(ndim) if i != axis)


def per_tensor_params(w, bits: int = 8, symmetric: bool = True,
                      signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One scale and zero point for the whole tensor (from its min and max)."""
    w = _as_float(w)
    return affine_params(w.min(), w.max(), bits, symmetric, signed)


def per_channel_params(w, axis: int = 0, bits: int = 8, symmetric: bool = True,
                       signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One scale and zero point per slice along `axis` (axis 0 = output channels of a conv or Linear)."""
    w = _as_float(w)
    if w.ndim < 2:
        raise ValueError(f"per-channel quantization needs at least 2 dimensions, got shape {w.shape}")
    red = _reduce_axes(w.ndim, axis)
    return affine_params(w.min(axis=red), w.max(axis=red), bits, symmetric, signed)


def _broadcast(p: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    p = np.asarray(p)
    if axis is None or p.ndim == 0:
        return p
    shape = [1] * ndim
    shape[axis % ndim] = -1
    return p.reshape(shape)


def quantize(x, scale, zero_point, bits: int = 8, signed: bool = True, axis: int | None = None) -> np.ndarray:
    """Float to integer codes: clamp(round(x / scale) + zero_point, qmin, qmax), as int64.

    `scale` and `zero_point` are scalars, or one per slice along `axis`.
    """
    x = _as_float(x)
    qmin, qmax = qrange(bits, signed)
    scale = _broadcast(np.asarray(scale, np.float64), x.ndim, axis)
    zero = _broadcast(np.asarray(zero_point, np.int64), x.ndim, axis)
    if np.any(scale <= 0):
        raise ValueError("scale must be positive")
    return np.clip(np.round(x / scale) + zero, qmin, qmax).astype(np.int64)


def dequantize(q, scale, zero_point, axis: int | None = None) -> np.ndarray:
    """Integer codes back to floats: scale * (q - zero_point), as float32."""
    q = np.asarray(q)
    scale = _broadcast(np.asarray(scale, np.float64), q.ndim, axis)
    zero = _broadcast(np.asarray(zero_point, np.int64), q.ndim, axis)
    return (scale * (q - zero)).astype(np.float32)


def fake_quantize(w, bits: int = 8, symmetric: bool = True, per_channel: bool = False, axis: int = 0,
                  clip: float | None = None) -> np.ndarray:
    """Quantize then dequantize (what the model "sees" after quantization), as float32.

    `clip` (per-tensor only) replaces the tensor's max |w| by this value, trading clipping error
    for a finer grid.
    """
    w = _as_float(w)
    if clip is not None:
        if per_channel:
            raise ValueError("clip applies to per-tensor quantization only")
        if clip <= 0:
            raise ValueError("clip must be positive")
        scale, zero = affine_params(-clip, clip, bits, symmetric=True)
        return dequantize(quantize(w, scale, zero, bits), scale, zero)
    if per_channel:
        scale, zero = per_channel_params(w, axis, bits, symmetric)
        return dequantize(quantize(w, scale, zero, bits, axis=axis), scale, zero, axis=axis)
    scale, zero = per_tensor_params(w, bits, symmetric)
    return dequantize(quantize(w, scale, zero, bits), scale, zero)


def error_split(w, clip: float, bits: int = 8) -> dict[str, float]:
    """Mean squared error of symmetric per-tensor quantization with range [-clip, clip], split into
    rounding error (values inside the range) and clipping error (values outside it)."""
    w = _as_float(w).ravel()
    err2 = (w - fake_quantize(w, bits, clip=clip)) ** 2
    outside = np.abs(w) > clip
    return {"clip": float(clip), "rounding_mse": float(err2[~outside].sum() / w.size),
            "clipping_mse": float(err2[outside].sum() / w.size), "mse": float(err2.mean())}


def kmeans_codebook(w, bits: int = 4, iters: int = 25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Non-linear quantization: a 1-D k-means codebook of 2**bits float values and each weight's index.

    Lloyd's algorithm on the sorted values (assignment by the midpoints between sorted centroids),
    started from quantiles so that every cluster begins with members. Returns (codebook float32 of
    shape (2**bits,), indices uint8/uint16 shaped like `w`). Reconstruct with codebook[indices].
    """
    w = _as_float(w)
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 12:
        raise ValueError(f"bits must be an integer in 1..12 for a k-means codebook, got {bits!r}")
    if iters < 1:
        raise ValueError("iters must be at least 1")
    flat = w.ravel()
    k = min(2 ** bits, np.unique(flat).size)
    rng = np.random.default_rng(seed)
    centers = np.unique(np.quantile(flat, (np.arange(k) + 0.5) / k))
    for _ in range(iters):
        idx = np.searchsorted((centers[1:] + centers[:-1]) / 2, flat)
        sums = np.bincount(idx, weights=flat, minlength=len(centers))
        counts = np.bincount(idx, minlength=len(centers))
        empty = counts == 0
        new = np.where(empty, 0.0, sums / np.maximum(counts, 1))
        if empty.any():  # re-seed empty clusters on random weights
            new[empty] = rng.choice(flat, int(empty.sum()), replace=False)
        new = np.sort(new)
        if np.allclose(new, centers):
            centers = new
            break
        centers = new
    idx = np.searchsorted((centers[1:] + centers[:-1]) / 2, flat)
    dtype = np.uint8 if len(centers) <= 256 else np.uint16
    return centers.astype(np.float32), idx.astype(dtype).reshape(w.shape)


def kmeans_quantize(w, bits: int = 4, iters: int = 25, seed: int = 0) -> np.ndarray:
    """Weights replaced by their nearest k-means codebook entry (float32, same shape)."""
    codebook, idx = kmeans_codebook(w, bits, iters, seed)
    return codebook[idx]


def quant_error(w, w_hat) -> dict[str, float]:
    """How far `w_hat` is from `w`: MSE, max |error| and SQNR in dB (signal power / error power)."""
    w, w_hat = _as_float(w), _as_float(w_hat)
    if w.shape != w_hat.shape:
        raise ValueError(f"shapes differ: {w.shape} vs {w_hat.shape}")
    err = w - w_hat
    mse = float(np.mean(err ** 2))
    signal = float(np.mean(w ** 2))
    sqnr = float("inf") if mse == 0 else 10 * np.log10(max(signal, 1e-300) / mse)
    return {"mse": mse, "max_abs": float(np.abs(err).max()), "sqnr_db": sqnr}


# The weight-quantization schemes the notebook compares: name -> function(weight) -> reconstruction.
SCHEMES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "int8 per-tensor asym": lambda w: fake_quantize(w, 8, symmetric=False),
    "int8 per-tensor sym": lambda w: fake_quantize(w, 8),
    "int8 per-channel sym": lambda w: fake_quantize(w, 8, per_channel=True),
    "int4 per-tensor sym": lambda w: fake_quantize(w, 4),
    "int4 per-channel sym": lambda w: fake_quantize(w, 4, per_channel=True),
    "k-means 4-bit (16 values)": lambda w: kmeans_quantize(w, 4),
}


def weight_layers(model) -> dict[str, np.ndarray]:
    """The weight arrays of every Conv and Linear layer of a torch model, by module name."""
    from torch import nn

    return {name: m.weight.detach().cpu().numpy() for name, m in model.named_modules()
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))}


def layer_errors(model, schemes: dict[str, Callable[[np.ndarray], np.ndarray]] | None = None):
    """One row per (layer, scheme): parameters, MSE, max |error|, SQNR in dB."""
    import pandas as pd

    schemes = SCHEMES if schemes is None else schemes
    rows = []
    for layer, w in weight_layers(model).items():
        for scheme, fn in schemes.items():
            rows.append({"layer": layer, "params": w.size, "scheme": scheme, **quant_error(w, fn(w))})
    return pd.DataFrame(rows)


def with_quantized_weights(model, scheme: Callable[[np.ndarray], np.ndarray]):
    """A copy of a torch model whose Conv/Linear weights went through `scheme` (simulated: the
    arithmetic stays fp32, only the weight values change)."""
    import copy

    import torch

    twin = copy.deepcopy(model).eval()
    layers = dict(twin.named_modules())
    with torch.no_grad():
        for name, w in weight_layers(twin).items():
            layers[name].weight.copy_(torch.from_numpy(np.asarray(scheme(w), np.float32)))
    return twin


# --------------------------------------------------------------------------------------------
# ONNX Runtime static quantization
# --------------------------------------------------------------------------------------------

def _calibration_reader_base():
    from onnxruntime.quantization import CalibrationDataReader

    return CalibrationDataReader


class NumpyCalibrationReader(_calibration_reader_base()):
    """Feeds calibration images to `onnxruntime.quantization.quantize_static` in batches.

    ORT calls `get_next()` until it returns None; `rewind()` starts over (for a second use).
    Every batch has the same size (the largest divisor of the image count up to `batch_size`):
    ORT's Entropy and Percentile calibrators stack the batches' outputs and fail on a short last one.
    """

    def __init__(self, x: np.ndarray, input_name: str = "image", batch_size: int = 32):
        x = np.asarray(x)
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"calibration data must be a non-empty batch of inputs, got shape {x.shape}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.x = np.ascontiguousarray(x, dtype=np.float32)
        self.input_name = input_name
        self.batch_size = next(b for b in range(min(int(batch_size), len(x)), 0, -1) if len(x) % b == 0)
        self._pos = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._pos >= len(self.x):
            return None
        batch = self.x[self._pos: self._pos + self.batch_size]
        self._pos += self.batch_size
        return {self.input_name: batch}

    def rewind(self) -> None:
        self._pos = 0

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)


def onnx_input_name(path: str | Path) -> str:
    """The name of an ONNX model's first graph input."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inits = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    if not names:
        raise ValueError(f"{path} has no graph input")
    return names[0]


def preprocess_onnx(fp32_path: str | Path, out_path: str | Path) -> Path:
    """`quant_pre_process`: shape inference and graph optimisation before quantization."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    if not fp32_path.exists():
        raise FileNotFoundError(f"{fp32_path} does not exist; export the fp32 model first.")
    quant_pre_process(str(fp32_path), str(out_path), skip_symbolic_shape=True)
    return out_path


def quantize_onnx_static(fp32_path: str | Path, out_path: str | Path, calib_x: np.ndarray, per_channel: bool = True,
                         quant_format: str = "QDQ", method: str = "MinMax", batch_size: int = 32,
                         preprocess: bool = True, reduce_range: bool | None = None, **options) -> Path:
    """Static int8 quantization of an ONNX model with ONNX Runtime; returns `out_path`.

    `quant_pre_process` first (unless `preprocess=False`), then `quantize_static` with int8
    activations and weights, calibrated on `calib_x` (a numpy batch of model inputs).
    `quant_format` is "QDQ" (Quantize/DequantizeLinear pairs around float ops, which the runtime
    fuses) or "QOperator" (QLinearConv and friends); `method` is "MinMax", "Entropy" or
    "Percentile". `reduce_range=None` picks 7-bit weights where the CPU needs them
    (`labkit.cpu.needs_reduce_range()`). Extra keyword arguments go to `quantize_static` (e.g. op_types_to_quantize).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if quant_format not in QUANT_FORMATS:
        raise ValueError(f"quant_format must be one of {QUANT_FORMATS}, not {quant_format!r}")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"method must be one of {CALIBRATION_METHODS}, not {method!r}")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    if not fp32_path.exists():
        raise FileNotFoundError(f"{fp32_path} does not exist; export the fp32 model first.")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    source = fp32_path
    if preprocess:
        source = preprocess_onnx(fp32_path, out_path.with_name(out_path.stem + ".pre.onnx"))
    reader = NumpyCalibrationReader(calib_x, onnx_input_name(source), batch_size)
    # QOperator kernels on x64 want uint8 activations (U8S8); QDQ is fused well with int8 (S8S8).
    default_act = QuantType.QUInt8 if quant_format == "QOperator" else QuantType.QInt8
    quantize_static(str(source), str(out_path), reader, quant_format=getattr(QuantFormat, quant_format),
                    per_channel=per_channel, activation_type=options.pop("activation_type", default_act),
                    weight_type=options.pop("weight_type", QuantType.QInt8),
                    calibrate_method=getattr(CalibrationMethod, method),
                    reduce_range=cpu.needs_reduce_range() if reduce_range is None else reduce_range, **options)
    if preprocess:
        source.unlink(missing_ok=True)
    return out_path


def ort_op_times(path: str | Path, x: np.ndarray, target, runs: int = 10) -> dict[str, float]:
    """Milliseconds per call spent in each op type of an ONNX model in ONNX Runtime, from the
    runtime's own profiler: the ops as placed after graph optimisation (fused QLinearConv, say),
    averaged over `runs` calls after one warm-up call."""
    import os
    import tempfile

    import onnxruntime as ort

    if runs < 1:
        raise ValueError("runs must be at least 1")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = target.threads
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    so.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        so.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(str(path), so, providers=list(target.devices("onnxruntime")))
        feed = {sess.get_inputs()[0].name: np.ascontiguousarray(x, np.float32)}
        for _ in range(runs + 1):
            sess.run(None, feed)
        events = json.loads(Path(sess.end_profiling()).read_text())
    model_runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    warm_end = model_runs[0]["ts"] + model_runs[0]["dur"] if model_runs else -1
    totals: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] > warm_end:
            op = e.get("args", {}).get("op_name", "?")
            totals[op] = totals.get(op, 0.0) + e["dur"] / 1000.0 / runs
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


# --------------------------------------------------------------------------------------------
# Sizes, fixed-batch evaluation, large-model arithmetic
# --------------------------------------------------------------------------------------------

def torch_bytes(model_or_state) -> int:
    """Bytes of `torch.save(state_dict)`: the on-disk size of a torch model's weights, whatever
    their dtype (int8 packed weights and quantization parameters included)."""
    from labkit.techniques.prune import state_dict_bytes

    return len(state_dict_bytes(model_or_state))


def graph_bytes(gm) -> int:
    """Bytes of `torch.save` of the tensors an FX GraphModule's graph actually reads (its get_attr
    nodes). A pt2e-converted model still carries the unused fp32 weights as attributes, so its
    state_dict overstates what a deployment needs; this counts only the int8 weights and the
    quantization parameters the graph uses."""
    import torch

    if not hasattr(gm, "graph"):
        raise TypeError(f"expected a torch.fx.GraphModule, got {type(gm).__name__}")
    used = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            obj = gm
            for part in str(node.target).split("."):
                obj = getattr(obj, part)
            if isinstance(obj, torch.Tensor):
                used[str(node.target)] = obj
    return torch_bytes(used)


def weight_memory(params: float, bits: int) -> float:
    """Bytes needed to hold `params` weights at `bits` bits each (no activations, no KV cache,
    no per-group scales)."""
    if params < 0 or bits <= 0:
        raise ValueError("params must be >= 0 and bits > 0")
    return params * bits / 8


def memory_table(params: Iterable[float] = (1e9, 7e9, 70e9), bits: Sequence[int] = (16, 8, 4)):
    """GiB of weights for each model size (rows) at each bit width (columns)."""
    import pandas as pd

    rows = {f"{p / 1e9:g}B params": {f"{b}-bit (GiB)": weight_memory(p, b) / 2 ** 30 for b in bits} for p in params}
    return pd.DataFrame(rows).T
