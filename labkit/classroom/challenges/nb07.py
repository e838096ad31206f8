"""Notebook 07's challenge: 4-bit weights for the language model's ONNX file with ONNX Runtime's MatMulNBits
quantizer, within a size and a perplexity budget."""

from __future__ import annotations

import functools

import numpy as np

from labkit.classroom.challenges import metrics as m
from labkit.classroom.challenges.judging import Challenge, Ground, Target

CONTEXT = 256  # tokens per held-out window, as the notebook measures
WINDOWS = {"smoke": 4, "class": 8, "full": 8}  # windows judged; each window's logits travel back from the sandbox


@functools.cache
def _reference(profile: str) -> tuple[np.ndarray, list[int], float, int]:
    """The held-out token ids, the windows' starts, the shipped fp32 model's mean cross-entropy per token on them
    (nats) and its parameter count."""
    import torch

    from labkit.core import lm, text

    model, tok = lm.load()
    ids = lm.encode(tok, text.load("test")).numpy().astype(np.int64)
    starts = np.linspace(0, len(ids) - CONTEXT - 1, WINDOWS.get(profile, 8)).astype(int).tolist()
    with torch.no_grad():
        ce = [_cross_entropy(model(torch.from_numpy(ids[None, s:s + CONTEXT])).logits.numpy(), ids, s) for s in starts]
    return ids, starts, float(np.mean(ce)), sum(p.numel() for p in model.parameters())


def _cross_entropy(logits: np.ndarray, ids: np.ndarray, start: int) -> float:
    """Mean next-token cross-entropy (nats) of one window's (1, CONTEXT, vocab) logits."""
    lg = np.asarray(logits, np.float64).reshape(CONTEXT, -1)
    lg = lg - lg.max(1, keepdims=True)
    target = ids[start + 1:start + CONTEXT + 1]
    return float(np.mean(np.log(np.exp(lg).sum(1)) - lg[np.arange(CONTEXT), target]))


def _requests(g: Ground) -> dict[str, dict]:
    ids, starts, _, _ = _reference(g.profile)
    return {f"window {k}": {"input_ids": ids[None, s:s + CONTEXT]} for k, s in enumerate(starts)}


def _metrics(observed: dict, g: Ground) -> dict[str, float]:
    ids, starts, reference, params = _reference(g.profile)
    outs = [observed.get("outputs", {}).get(f"window {k}") for k in range(len(starts))]
    ok = all(o is not None and np.asarray(o).size == CONTEXT * np.asarray(o).shape[-1] for o in outs)
    ce = np.mean([_cross_entropy(o, ids, s) for o, s in zip(outs, starts, strict=True)]) if ok else m.NAN
    return {"size_ratio": m.fp32_size_ratio(observed, params),
            "nbits_nodes": float(observed.get("ops", {}).get("MatMulNBits", 0)),
            "perplexity_ratio": float(np.exp(ce - reference)) if ok else m.NAN}


LM_INT4 = Challenge(
    id="07.lm_int4",
    artifact="07_lm_int4.onnx",
    task="quantize the language model's ONNX file (with its KV cache inputs) with ONNX Runtime's "
         "MatMulNBitsQuantizer, choosing the block size and symmetry that fit the size budget",
    measures="the file's bytes against the shipped model's fp32 weights (4 bytes per parameter); its MatMulNBits "
             "nodes; the per-token perplexity on held-out windows of 256 tokens in ONNX Runtime against the shipped "
             "fp32 model's on the same windows",
    targets=(Target("nbits_nodes", "the matrix products hold 4-bit weights (MatMulNBits nodes: {t} or more)", False,
                    1.0, "run MatMulNBitsQuantizer(onnx.load(onnx_fp32), block_size=..., is_symmetric=...) and "
                         "process() it", digits=".0f"),
             Target("size_ratio", "file <= {t}x the fp32 weights", True, 0.32,
                    "use larger blocks: each block of 4-bit weights carries its own scale, so block_size 32 costs "
                    "5 bits per weight and 128 only 4.25 (the embedding stays fp32 either way)", digits=".3f"),
             Target("perplexity_ratio", "held-out perplexity <= {t}x the fp32 model's", True, 1.05,
                    "use smaller blocks or is_symmetric=False (a zero point per block) to follow the weights more "
                    "closely", digits=".4f")),
    requests=_requests,
    metrics=_metrics,
    output="logits",
)

CHALLENGES = [LM_INT4]
