"""Units of labkit.prune (masks, sparsity, sensitivity, channel pruning); notebook 04's run is in
tests/notebooks/test_nb04_pruning.py."""

import gzip

import numpy as np
import pytest
import torch
from torch import nn

from labkit.core.models import TeacherCNN, count_params, macs
from labkit.measure import sizes
from labkit.techniques import prune as lkp


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TeacherCNN().eval()


def test_prunable_layers_in_order(model):
    names = list(lkp.prunable_layers(model))
    assert names[0] == "features.0" and names[-1] == "classifier.4" and len(names) == 6
    assert "classifier.4" not in lkp.prunable_layers(model, include_last=False)
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        lkp.prunable_layers(nn.Sequential(nn.ReLU()))


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_magnitude_prune_hits_the_amount(model, scope):
    assert lkp.sparsity(model) == 0.0
    lkp.magnitude_prune(model, 0.7, scope=scope)
    assert torch.nn.utils.prune.is_pruned(model)
    assert lkp.sparsity(model) == pytest.approx(0.7, abs=1e-3)
    per_layer = lkp.layer_sparsity(model)
    if scope == "layer":
        assert all(v == pytest.approx(0.7, abs=0.01) for v in per_layer.values())
    else:  # one threshold: the big linear layer gives up more than the first conv
        assert per_layer["classifier.1"] > per_layer["features.0"]


def test_global_prunes_smallest_magnitudes(model):
    w_before = lkp.weights(model)
    threshold = np.quantile(np.abs(w_before), 0.5)
    lkp.magnitude_prune(model, 0.5)
    w_after = lkp.weights(model)
    assert np.all(np.abs(w_before[w_after == 0]) <= threshold + 1e-7)
    assert np.all(w_after[w_after != 0] == w_before[w_after != 0])


def test_make_permanent_keeps_zeros_and_dense_keys(model):
    keys = set(model.state_dict())
    lkp.magnitude_prune(model, 0.8)
    assert any(k.endswith("weight_mask") for k in model.state_dict())
    x = torch.randn(3, 1, 28, 28)
    y = model(x)
    lkp.make_permanent(model)
    assert not torch.nn.utils.prune.is_pruned(model)
    assert set(model.state_dict()) == keys
    assert lkp.sparsity(model) == pytest.approx(0.8, abs=1e-3)
    torch.testing.assert_close(model(x), y)


def test_zeros_shrink_only_the_compressed_file(model):
    dense = sizes.state_dict_bytes(model)
    lkp.make_permanent(lkp.magnitude_prune(model, 0.9))
    masked = sizes.state_dict_bytes(model)
    assert abs(len(masked) - len(dense)) < 0.01 * len(dense)
    assert len(gzip.compress(masked, compresslevel=6)) < 0.4 * len(gzip.compress(dense, compresslevel=6))


def test_bad_inputs(model):
    for bad in (-0.1, 1.0, 1.5, "half"):
        with pytest.raises(ValueError, match="fraction"):
            lkp.magnitude_prune(model, bad)
        with pytest.raises(ValueError, match="fraction of channels"):
            lkp.prune_channels(model, bad)
    with pytest.raises(ValueError, match="scope"):
        lkp.magnitude_prune(model, 0.5, scope="local")
    with pytest.raises(ValueError, match="unknown layer"):
        lkp.magnitude_prune(model, 0.5, layers=["features.1"])  # a BatchNorm
    with pytest.raises(ValueError, match="unknown layer"):
        lkp.apply_plan(model, {"fc9": 0.5})
    with pytest.raises(ValueError, match="iterative_steps"):
        lkp.prune_channels(model, 0.5, iterative_steps=0)
    with pytest.raises(ValueError, match="ignored_layers"):
        lkp.prune_channels(model, 0.5, ignored_layers=[nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="empty"):
        lkp.plan_from_sensitivity([])


def test_prune_channels_returns_a_smaller_copy(model):
    x = torch.randn(4, 1, 28, 28)
    small = lkp.prune_channels(model, 0.5, example=x.numpy())
    assert count_params(model) == 468_010  # the original is untouched
    assert lkp.channel_widths(small) == {"features.0": 16, "features.3": 16, "features.7": 32, "features.10": 32,
                                         "classifier.1": 64, "classifier.4": 10}
    assert count_params(small) < 0.3 * count_params(model)
    assert macs(small) < 0.3 * macs(model)
    assert small(x).shape == (4, 10)
    assert lkp.prune_channels(model, 0.0) is not model


def test_prune_channels_respects_ignored_layers(model):
    small = lkp.prune_channels(model, 0.5, ignored_layers=[model.classifier[1], model.classifier[4]])
    assert lkp.channel_widths(small)["classifier.1"] == 128
    assert lkp.channel_widths(small)["features.10"] == 32


def test_sensitivity_and_plan(model):
    x = torch.randn(64, 1, 28, 28)
    ref = model(x).argmax(1)

    def agreement(m):
        with torch.no_grad():
            return float((m(x).argmax(1) == ref).float().mean())

    scan = lkp.sensitivity(model, agreement, [0.5, 0.9], layers=["features.0", "classifier.1"], progress=False)
    assert len(scan) == 4 and set(scan.columns) >= {"layer", "ratio", "accuracy", "drop", "baseline"}
    assert (scan["baseline"] == 1.0).all()
    assert lkp.sparsity(model) == 0.0  # scanned on copies
    plan = lkp.plan_from_sensitivity(scan, max_drop=1.0)
    assert plan == {"features.0": 0.9, "classifier.1": 0.9}
    strict = lkp.plan_from_sensitivity(scan.assign(drop=0.5), max_drop=0.01)
    assert set(strict.values()) == {0.0}
    lkp.apply_plan(model, plan)
    layers = lkp.prunable_layers(model)
    total = sum(m.weight.numel() for m in layers.values())
    planned = sum(plan.get(name, 0.0) * m.weight.numel() for name, m in layers.items()) / total
    assert lkp.sparsity(model) == pytest.approx(planned, abs=1e-3)
