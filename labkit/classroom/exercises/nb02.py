"""Notebook 02's exercises: port a conv kernel, and the first Dense weight after Flatten, from PyTorch to
Keras. The references are the kit's own converters (`lk.keras_twin`)."""

from __future__ import annotations

import numpy as np

from labkit.classroom.checking import Case, Exercise
from labkit.techniques.keras_twin import conv_kernel_to_keras, dense_after_flatten_to_keras


def _conv_cases() -> list[Case]:
    return [Case(f"kernel {s}", (np.random.default_rng(2).normal(0, 1, s).astype(np.float32),))
            for s in ((4, 2, 3, 5), (8, 3, 3, 3), (5, 7, 1, 1))]


CONV_KERNEL = Exercise(
    "02.conv_kernel", "conv_kernel_to_keras", "Port a conv kernel from PyTorch to Keras",
    "the Keras kernel of three PyTorch conv weights (non-square, square and 1x1): shape (kh, kw, in, out) "
    "and every value in its place",
    "PyTorch stores (out, in, kh, kw), Keras wants (kh, kw, in, out): one transpose with the right axis order",
    conv_kernel_to_keras, _conv_cases,
    ((lambda w: w.transpose(3, 2, 1, 0), "transpose(3, 2, 1, 0) also swaps kh and kw: the kernel is "
                                         "mirrored; use transpose(2, 3, 1, 0)"),
     (lambda w: w.transpose(2, 3, 0, 1), "in and out are swapped: Keras wants (kh, kw, in, out)"),
     (lambda w: w.reshape(w.shape[2], w.shape[3], w.shape[1], w.shape[0]),
      "reshape keeps the memory order and scrambles the values: use transpose")))


def _dense_cases() -> list[Case]:
    return [Case(f"out={o}, C={c}, H={h}, W={w}",
                 (np.random.default_rng(o).normal(0, 1, (o, c * h * w)).astype(np.float32), c, h, w))
            for o, c, h, w in ((5, 3, 2, 4), (4, 1, 3, 3), (6, 4, 1, 1), (3, 2, 3, 2))]


DENSE_AFTER_FLATTEN = Exercise(
    "02.dense_after_flatten", "dense_after_flatten_to_keras",
    "Port the first Dense weight after Flatten from PyTorch to Keras",
    "the (in, out) Keras kernel of four Linear weights after Flatten, including shapes where a plain "
    "transpose happens to be right (C=1, H=W=1) and where it is not",
    "torch flattens (C, H, W), Keras (H, W, C): reshape to (out, C, H, W), move the axes to (H, W, C, out), "
    "then reshape to (H*W*C, out)",
    dense_after_flatten_to_keras, _dense_cases,
    ((lambda w, c, h, wd: w.T, "a plain transpose has the right shape but the wrong order: reorder the input "
                               "axis from (C, H, W) to (H, W, C) first"),
     (lambda w, c, h, wd: w.reshape(len(w), c, h, wd).transpose(0, 2, 3, 1).reshape(len(w), -1),
      "Keras Dense kernels are (in, out): transpose after reordering")))

EXERCISES = [CONV_KERNEL, DENSE_AFTER_FLATTEN]
