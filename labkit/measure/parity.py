"""Parity cards: how closely a candidate's logits follow a reference's on the same images."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass

import numpy as np

# Unit roundoff of bf16 (8 significant bits): a bf16 path's error is judged relative to each image's
# largest logit, in these units, since its absolute size grows with the logits.
BF16_UNIT = 2.0 ** -8

# Pass/fail thresholds per precision. fp32 paths must reproduce the logits; lower precisions
# are judged on the decision (top-1) and the direction of the logit vector. `max_scaled` bounds
# max |d| / max |reference logit| per image.
TOLERANCES = {
    "fp32": {"max_abs": 1e-4, "top1": 1.0, "cosine": 0.99999},
    "fp16": {"max_abs": 5e-2, "top1": 0.995, "cosine": 0.9999},
    "bf16": {"max_abs": None, "max_scaled": 8 * BF16_UNIT, "top1": 0.99, "cosine": 0.999},
    "int8": {"max_abs": None, "top1": 0.99, "cosine": 0.99},
    "int4": {"max_abs": None, "top1": 0.95, "cosine": 0.95},
}


@dataclass(frozen=True)
class ParityCard:
    """Agreement of a candidate with its reference, and whether it is within tolerance."""

    candidate: str
    reference: str
    precision: str
    n: int
    max_abs: float
    max_rel: float
    max_scaled: float
    cosine: float
    top1: float
    passed: bool
    failures: tuple[str, ...]

    def as_row(self) -> dict:
        return {"parity_max_abs": self.max_abs, "parity_max_rel": self.max_rel, "parity_max_scaled": self.max_scaled,
                "parity_cosine": self.cosine,
                "parity_top1": self.top1, "parity_passed": self.passed, "reference": self.reference}

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL: " + "; ".join(self.failures)
        return (f"{self.candidate} vs {self.reference} [{self.precision}, n={self.n}] "
                f"max|d|={self.max_abs:.2e} rel={self.max_rel:.2e} cos={self.cosine:.6f} "
                f"top1={self.top1:.2%} -> {verdict}")

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#cf222e"
        verdict = "PASS" if self.passed else "FAIL"
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            f"{self.max_abs:.2e}", f"{self.max_rel:.2e}", f"{self.cosine:.6f}", f"{self.top1:.2%}", self.n))
        why = f"<div>{html.escape('; '.join(self.failures))}</div>" if self.failures else ""
        return (f"<div style='border-left:4px solid {color};padding-left:8px'>"
                f"<b>{html.escape(self.candidate)}</b> vs {html.escape(self.reference)} ({self.precision}): "
                f"<b style='color:{color}'>{verdict}</b>{why}<table><tr><th>max abs</th><th>max rel</th>"
                f"<th>cosine</th><th>top-1 agreement</th><th>images</th></tr><tr>{cells}</tr></table></div>")

    def as_dict(self) -> dict:
        return asdict(self)


def card(reference: np.ndarray, candidate: np.ndarray, precision: str = "fp32",
         candidate_name: str = "candidate", reference_name: str = "reference") -> ParityCard:
    """Compare two logit arrays of the same shape under the tolerance for `precision`."""
    if precision not in TOLERANCES:
        raise ValueError(f"precision must be one of {', '.join(TOLERANCES)}, not {precision!r}")
    ref, cand = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    if ref.shape != cand.shape or ref.ndim != 2:
        raise ValueError(f"reference and candidate must be (N, classes) arrays of one shape, "
                         f"got {ref.shape} and {cand.shape}")
    diff = np.abs(ref - cand)
    max_abs = float(diff.max())
    max_rel = float((diff / np.maximum(np.abs(ref), 1e-6)).max())
    max_scaled = float((diff.max(1) / np.maximum(np.abs(ref).max(1), 1e-12)).max()) if len(ref) else 0.0
    cos = float(np.mean(np.sum(ref * cand, 1) / np.maximum(
        np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1), 1e-12)))
    top1 = float(np.mean(ref.argmax(1) == cand.argmax(1)))
    tol = TOLERANCES[precision]
    failures = []
    if tol["max_abs"] is not None and max_abs > tol["max_abs"]:
        failures.append(f"max abs error {max_abs:.2e} > {tol['max_abs']:.0e}")
    if tol.get("max_scaled") is not None and max_scaled > tol["max_scaled"]:
        failures.append(f"max error relative to the largest logit {max_scaled:.2e} > {tol['max_scaled']:.2e}")
    if top1 < tol["top1"]:
        failures.append(f"top-1 agreement {top1:.2%} < {tol['top1']:.1%}")
    if cos < tol["cosine"]:
        failures.append(f"cosine {cos:.6f} < {tol['cosine']}")
    return ParityCard(candidate_name, reference_name, precision, len(ref), max_abs, max_rel, max_scaled, cos, top1,
                      not failures, tuple(failures))
