"""Notebook 03's exercise: affine (asymmetric) fake quantization with one scale per output channel."""

from __future__ import annotations

import numpy as np

from labkit.classroom.checking import Case, Exercise
from labkit.techniques.quant_math import fake_quantize, per_channel_params, qrange, quantize


def fake_quant_per_channel(w, bits: int = 8):
    """Reference: asymmetric affine quantize-then-dequantize, one scale and zero point per slice of axis 0."""
    return fake_quantize(w, bits, symmetric=False, per_channel=True, axis=0)


def _fake_quant_cases() -> list[Case]:
    r = np.random.default_rng(3)
    ranges = r.normal(0, 1, (3, 4)) * np.array([[0.01], [1.0], [100.0]])
    positive = np.abs(r.normal(0, 1, (2, 5))) + np.array([[0.5], [0.0]])
    zeros = np.vstack([r.normal(0, 1, (1, 4)), np.zeros((1, 4))])
    return [Case("3 channels with ranges 0.01, 1 and 100", (ranges.astype(np.float32),)),
            Case("a conv weight (2, 1, 3, 3)", (r.normal(0, 0.2, (2, 1, 3, 3)).astype(np.float32),)),
            Case("all-positive channels", (positive.astype(np.float32),)),
            Case("4 bits", (ranges.astype(np.float32),), {"bits": 4}),
            Case("a channel of zeros", (zeros.astype(np.float32),))]


def _codes_only(w, bits=8):
    scale, zero = per_channel_params(w, 0, bits, symmetric=False)
    return quantize(w, scale, zero, bits, axis=0)


def _no_zero_in_range(w, bits=8):
    w = np.asarray(w, np.float64)
    qmin, qmax = qrange(bits)
    per_row = w.reshape(len(w), -1)
    shape = (-1, *[1] * (w.ndim - 1))
    lo, hi = per_row.min(1).reshape(shape), per_row.max(1).reshape(shape)
    scale = np.maximum((hi - lo) / (qmax - qmin), np.finfo(np.float32).tiny)
    zero = np.clip(np.round(qmin - lo / scale), qmin, qmax)
    q = np.clip(np.round(w / scale) + zero, qmin, qmax)
    return (scale * (q - zero)).astype(np.float32)


FAKE_QUANT = Exercise(
    "03.fake_quant", "fake_quant_per_channel", "Affine quantize and dequantize with one scale per output channel",
    "the dequantized weights of five small tensors against the reference within 1e-5: channels of very "
    "different ranges, a conv weight, all-positive channels (asymmetric grid), 4 bits, a channel of zeros",
    "per output channel (axis 0): x_min = min(w.min(), 0), x_max = max(w.max(), 0), scale = (x_max - x_min) "
    "/ (qmax - qmin) (at least float32 tiny), zero_point = round(qmin - x_min / scale); q = clip(round(w / "
    "scale) + zero_point, qmin, qmax); return scale * (q - zero_point) as float32",
    fake_quant_per_channel, _fake_quant_cases,
    ((lambda w, bits=8: fake_quantize(w, bits, symmetric=False), "one scale per output channel: reduce over "
                                                                  "every axis except axis 0"),
     (lambda w, bits=8: fake_quantize(w, bits, per_channel=True), "asymmetric (affine): scale = (x_max - "
                                                                   "x_min) / (qmax - qmin) and a zero point, "
                                                                   "not max|w| / qmax"),
     (_no_zero_in_range, "widen each channel's range to include 0 (x_min = min(w.min(), 0), x_max = "
                         "max(w.max(), 0)) so that 0.0 is exactly representable"),
     (_codes_only, "dequantize: return scale * (q - zero_point), not the integer codes")))

EXERCISES = [FAKE_QUANT]
