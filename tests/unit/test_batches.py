"""The one batched-inference loop: padding for static shapes, trimming, empty input, bad sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.core.batches import in_batches, torch_fn


def test_pads_and_trims():
    seen = []

    def fn(x):
        seen.append(len(x))
        return x.reshape(len(x), -1).sum(1, keepdims=True)

    x = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    np.testing.assert_array_equal(in_batches(fn, x, 4, pad=True), x.sum(1, keepdims=True))
    assert seen == [4, 4, 4]
    seen.clear()
    np.testing.assert_array_equal(in_batches(fn, x, 4, progress="sums"), x.sum(1, keepdims=True))
    assert seen == [4, 4, 2]
    with pytest.raises(ValueError, match="batch must be at least 1"):
        in_batches(fn, x, 0)


def test_an_empty_batch_is_passed_through_once():
    model = torch.nn.Linear(3, 2)
    out = in_batches(torch_fn(model), np.zeros((0, 3), np.float32), 4)
    assert out.shape == (0, 2)
