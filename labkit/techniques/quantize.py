"""ONNX Runtime static quantization, as the notebooks reuse it: a calibration reader over a numpy batch,
the pre-processing step and one `quantize_static` call with the kit's defaults (`reduce_range` decided from
the CPU's flags). The notebooks still call the real APIs (quantize_static, prepare_pt2e, TFLiteConverter)
where they teach them; the arithmetic itself is in quant_math."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labkit.core import cpu

QUANT_FORMATS = ("QDQ", "QOperator")
CALIBRATION_METHODS = ("MinMax", "Entropy", "Percentile")


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
