import numpy as np
import pytest

from labkit.measure import parity


def test_identical_logits_pass():
    x = np.random.default_rng(0).normal(size=(100, 10))
    c = parity.card(x, x.copy(), "fp32")
    assert c.passed and c.max_abs == 0 and c.top1 == 1.0


def test_small_noise_fails_fp32_but_passes_int8():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10)) * 5
    y = x + rng.normal(size=x.shape) * 1e-3
    assert not parity.card(x, y, "fp32").passed
    assert parity.card(x, y, "int8").passed


def test_flipped_decisions_fail_with_reason():
    x = np.eye(10)[np.arange(100) % 10] * 5
    y = np.roll(x, 1, axis=1)
    c = parity.card(x, y, "int8")
    assert not c.passed and c.top1 == 0 and any("top-1" in f for f in c.failures)


def test_bad_inputs():
    with pytest.raises(ValueError, match="one shape"):
        parity.card(np.zeros((3, 10)), np.zeros((4, 10)))
    with pytest.raises(ValueError, match="precision"):
        parity.card(np.zeros((3, 10)), np.zeros((3, 10)), "int3")
