"""labkit.measure.channel_blocks: ONNX Runtime's channel block from the CPU's flags, and the probe notebook 04 times."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from labkit.measure import channel_blocks as cb


@pytest.mark.parametrize("flags, machine, block", [({"avx2", "fma", "avx512f", "avx512_vnni"}, "x86_64", 16),
                                                   ({"avx2", "fma"}, "x86_64", 8), ({"sse4_2"}, "AMD64", 8),
                                                   ({"asimd", "asimddp"}, "aarch64", None), (set(), "arm64", None)])
def test_the_block_is_16_with_avx512_and_8_on_other_x86(flags, machine, block):
    assert cb.ort_channel_block(flags, machine) == block


def test_the_block_reads_the_real_cpu_not_the_personality(monkeypatch):
    """The avx2 personality caps the kit's view of the CPU (cpu_info), not the kernels ONNX Runtime picks."""
    monkeypatch.setattr(cb.cpu, "_read_flags", lambda: ("an AVX-512 CPU", {"avx2", "fma", "avx512f"}))
    monkeypatch.setattr(cb.platform, "machine", lambda: "x86_64")
    monkeypatch.setenv("LABKIT_CPU_PERSONALITY", "avx2")
    cb.cpu.cpu_info.cache_clear()
    try:
        assert not cb.cpu.cpu_info()["flags"]["avx512f"]  # what the personality shows
        assert cb.ort_channel_block() == 16  # what MLAS sees
    finally:
        cb.cpu.cpu_info.cache_clear()


@pytest.mark.parametrize("channels", [12, 16])
def test_the_probe_computes_two_convolutions_with_a_relu_between(tmp_path, channels):
    import onnx
    from onnx import numpy_helper

    path = cb.conv_pair(channels, tmp_path / "pair.onnx", seed=3)
    w = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(path).graph.initializer}
    x = cb.probe_input(5, seed=1)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with torch.no_grad():
        want = torch.conv2d(torch.relu(torch.conv2d(torch.from_numpy(x), w["w1"], padding=1)), w["w2"], padding=1)
    assert got.shape == (5, channels, cb.PROBE_SIZE, cb.PROBE_SIZE)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)  # fp32, two 3x3 convolutions deep


def test_the_probes_macs_count_both_convolutions():
    import torch_pruning as tp

    # the two convolutions alone: torch-pruning would count a ReLU's elements as operations too
    seq = torch.nn.Sequential(torch.nn.Conv2d(cb.PROBE_IN_CHANNELS, 24, 3, padding=1, bias=False),
                              torch.nn.Conv2d(24, 24, 3, padding=1, bias=False))

    ops, _ = tp.utils.count_ops_and_params(seq, torch.zeros(1, cb.PROBE_IN_CHANNELS, cb.PROBE_SIZE, cb.PROBE_SIZE))
    assert cb.conv_pair_macs(24) == int(ops)


def test_a_probe_without_a_whole_positive_channel_count_is_refused(tmp_path):
    with pytest.raises(ValueError, match="positive count"):
        cb.conv_pair(0, tmp_path / "none.onnx")
    with pytest.raises(TypeError):
        cb.conv_pair(12.0, tmp_path / "float.onnx")


# What ONNX Runtime 1.32's optimised graphs kept for the probe's second convolution (c -> c), as the (output, input)
# channels of its weights; None: a plain Conv on the general kernel. Seen on a 2-core AVX2-only EPYC (block 8, issue
# #29) and on a 2-core AVX-512 EPYC (block 16, where every count from 1 to 49 followed the rule).
SEEN = {8: {10: None, 12: (16, 16)},
        16: {8: (16, 8), 12: (16, 12), 15: (16, 15), 16: (16, 16), 17: None, 18: None, 20: (32, 32), 22: None,
             24: (32, 32), 28: (32, 32), 30: None, 32: (32, 32), 36: (48, 48)}}


@pytest.mark.parametrize("block", sorted(SEEN))
def test_the_rule_gives_what_onnx_runtime_kept_on_each_kind_of_cpu(block):
    assert {c: cb.blocked_weights(c, c, block) for c in SEEN[block]} == SEEN[block]
    assert cb.blocked_weights(cb.PROBE_IN_CHANNELS, 10, block) == (16, 16)  # outputs are always padded


@pytest.mark.skipif(cb.ort_channel_block() is None, reason="ONNX Runtime's blocked layout is an x86 one")
def test_onnx_runtime_follows_the_rule_for_every_count_from_one_block_to_two(tmp_path):
    """The claim 04 teaches, read from ONNX Runtime's optimised graph on this CPU instead of from a timing: for every
    channel count of the probe from below one block to two blocks, which convolutions are padded and which stay on
    the general kernel."""
    block = cb.ort_channel_block()
    got, want = {}, {}
    for c in range(block - 2, 2 * block + 1):
        got[c] = cb.optimised_convolutions(cb.conv_pair(c, tmp_path / f"pair{c}.onnx"), tmp_path)
        want[c] = [cb.blocked_weights(cb.PROBE_IN_CHANNELS, c, block), cb.blocked_weights(c, c, block)]
    assert got == want
    assert any(w[1] is None for w in want.values()) and any(w[1] for w in want.values())  # both ways are covered


def test_the_probe_runner_takes_feature_maps_on_a_target(tmp_path):
    from labkit.core.targets import resolve

    run = cb.probe_runner(20, tmp_path / "pair20.onnx", resolve("cpu")[0])
    assert run(cb.probe_input(3)).shape == (3, 20, cb.PROBE_SIZE, cb.PROBE_SIZE)
