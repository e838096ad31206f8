"""The numbers the challenges judge, computed from an artifact's observations (`probe.observe`) and the trusted
ground (`judging.Ground`): parity of logits, accuracy, points lost, ratios. NaN means "could not be measured"
(the request failed in ONNX Runtime, or returned the wrong shape), which misses every target."""

from __future__ import annotations

import math

import numpy as np

NAN = float("nan")


def output(observed: dict, request: str, rows: int) -> np.ndarray | None:
    """The logits of one request as (rows, classes) float64, or None when it failed or has another shape."""
    out = observed.get("outputs", {}).get(request)
    if out is None:
        return None
    out = np.asarray(out)
    if out.ndim != 2 or out.shape[0] != rows or not np.issubdtype(out.dtype, np.number):
        return None
    return out.astype(np.float64)


def max_abs(observed: dict, request: str, reference: np.ndarray) -> float:
    """Largest |candidate - reference| over a request's logits (NaN if it has none of the right shape)."""
    out = output(observed, request, len(reference))
    if out is None or out.shape != reference.shape:
        return NAN
    d = float(np.abs(out - reference).max())
    return d if math.isfinite(d) else NAN


def accuracy(observed: dict, request: str, labels: np.ndarray) -> float:
    """Top-1 accuracy of a request's logits against `labels` (NaN if it has none of the right shape)."""
    out = output(observed, request, len(labels))
    return NAN if out is None else float((out.argmax(1) == labels).mean())


def runs(observed: dict, *requests: str) -> float:
    """1.0 when every named request ran and returned logits, else 0.0."""
    return float(all(r in observed.get("outputs", {}) and r not in observed.get("errors", {}) for r in requests))


def ratio(value: float, reference: float) -> float:
    """value / reference, NaN for an unknown value (probe counts -1 when shape inference fails)."""
    return NAN if value is None or value < 0 or reference <= 0 else float(value) / float(reference)


def fp32_size_ratio(observed: dict, params: int) -> float:
    """The file's bytes against the same model's fp32 weights (4 bytes a parameter)."""
    return ratio(observed["bytes"], 4 * params)


CHUNK = 500  # images per request: ONNX Runtime's activations for a whole test split at once would not fit a sandbox


def image_requests(x: np.ndarray) -> dict[str, dict]:
    """Requests that run `x` through the model's only input in chunks of CHUNK images."""
    return {f"images {k // CHUNK}": {"": x[k:k + CHUNK]} for k in range(0, len(x), CHUNK)}


def test_image_requests(ground) -> dict[str, dict]:
    """`image_requests` of the ground's test images: what the image classifiers' challenges run."""
    return image_requests(ground.test.x)


def logits(observed: dict, n: int) -> np.ndarray | None:
    """The logits of the image requests joined back in order, or None when one failed or has the wrong shape."""
    parts = [output(observed, f"images {k // CHUNK}", min(CHUNK, n - k)) for k in range(0, n, CHUNK)]
    return None if any(p is None for p in parts) else np.concatenate(parts)


def points_lost(observed: dict, labels: np.ndarray, reference_accuracy: float) -> float:
    """Points of top-1 accuracy below `reference_accuracy` on the image requests (NaN when they did not run)."""
    out = logits(observed, len(labels))
    return NAN if out is None else 100.0 * (reference_accuracy - float((out.argmax(1) == labels).mean()))
