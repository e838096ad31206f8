"""Notebook 07's exercises: the bytes of a KV cache, and group-wise int4 quantize-dequantize."""

from __future__ import annotations

import numpy as np

from labkit.classroom.checking import Case, Exercise
from labkit.techniques.language_model import int4_groupwise, int8_per_channel, kv_cache_bytes


def _kv_cases() -> list[Case]:
    return [Case("the kit's model, 256 tokens, fp32", (4, 2, 64, 256), {"batch": 1, "bytes_per_value": 4}),
            Case("a 7B model without GQA, 4096 tokens, fp16", (32, 32, 128, 4096), {"batch": 1, "bytes_per_value": 2}),
            Case("a 70B model with 8 KV heads, batch 8, fp16", (80, 8, 128, 4096), {"batch": 8, "bytes_per_value": 2}),
            Case("an int8 cache (1 byte per value)", (32, 8, 128, 1000), {"batch": 2, "bytes_per_value": 1}),
            Case("no tokens yet", (32, 8, 128, 0), {"batch": 1, "bytes_per_value": 2})]


KV_CACHE = Exercise(
    "07.kv_cache", "kv_cache_bytes", "Bytes of a KV cache",
    "the bytes for five shapes against the reference: the kit's model, a 7B model without GQA, a 70B model with "
    "8 KV heads at batch 8, an int8 cache, an empty cache",
    "every layer keeps a key and a value (x2) of head_dim numbers per KV head, per token, per sequence of the "
    "batch: 2 * layers * kv_heads * head_dim * tokens * batch * bytes_per_value",
    kv_cache_bytes, _kv_cases,
    ((lambda layers, kv_heads, head_dim, tokens, batch=1, bytes_per_value=2:
      layers * kv_heads * head_dim * tokens * batch * bytes_per_value, "a key AND a value per token: the factor 2"),
     (lambda layers, kv_heads, head_dim, tokens, batch=1, bytes_per_value=2:
      2 * layers * kv_heads * head_dim * tokens * bytes_per_value, "every sequence of the batch has its own cache"),
     (lambda layers, kv_heads, head_dim, tokens, batch=1, bytes_per_value=2:
      2 * layers * kv_heads * head_dim * tokens * batch, "multiply by the bytes per value (2 for fp16)")))


def _int4_cases() -> list[Case]:
    r = np.random.default_rng(7)
    mixed = r.normal(0, 1, (4, 64)).astype(np.float32)
    mixed[:, :32] *= 0.01  # two groups of very different ranges in every row
    zeros = r.normal(0, 1, (2, 64)).astype(np.float32)
    zeros[0, :32] = 0.0
    return [Case("one row, group 32", (r.normal(0, 0.05, (1, 32)).astype(np.float32),), {"group": 32}),
            Case("groups of very different ranges", (mixed,), {"group": 32}),
            Case("group 64 of a (8, 128) weight", (r.normal(0, 1, (8, 128)).astype(np.float32),), {"group": 64}),
            Case("a group of zeros", (zeros,), {"group": 32}),
            Case("rows that do not divide into groups", (np.ones((2, 40), np.float32),), {"group": 32},
                 raises=ValueError)]


def _per_row(w, group=32):
    w = np.asarray(w, np.float32)
    if w.ndim != 2 or w.shape[1] % group:
        raise ValueError("rows must divide into groups")
    scale = np.abs(w).max(1, keepdims=True) / 7
    return (np.clip(np.round(w / np.where(scale == 0, 1, scale)), -8, 7) * scale).astype(np.float32)


def _no_clip(w, group=32):
    w = np.asarray(w, np.float32)
    if w.ndim != 2 or w.shape[1] % group:
        raise ValueError("rows must divide into groups")
    g = w.reshape(-1, group)
    scale = np.abs(g).max(1, keepdims=True) / 8
    return (np.round(g / np.where(scale == 0, 1, scale)) * scale).reshape(w.shape).astype(np.float32)


INT4_GROUPWISE = Exercise(
    "07.int4_groupwise", "int4_groupwise", "Group-wise int4 quantize and dequantize",
    "the dequantized weights of four weights against the reference within 1e-5 (groups of very different "
    "ranges, group 64, a group of zeros) and a ValueError for rows that do not divide into groups",
    "split every row into groups of `group` consecutive weights; per group scale = max|w| / 7 (a group of zeros "
    "keeps scale 0 and stays 0); q = clip(round(w / scale), -8, 7); return q * scale as float32 in the shape of "
    "w; raise ValueError unless w is 2-D with rows a multiple of `group` long",
    int4_groupwise, _int4_cases,
    ((_per_row, "one scale per GROUP of `group` weights, not per row: reshape to (-1, group) first"),
     (_no_clip, "the symmetric int4 grid is [-8, 7] with scale = max|w| / 7, and round then clip"),
     (lambda w, group=32: int8_per_channel(w), "4 bits: codes in [-8, 7], not int8's [-127, 127]")))

EXERCISES = [KV_CACHE, INT4_GROUPWISE]
