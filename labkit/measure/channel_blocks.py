"""Why a pruned layer can cost as much as a wider one, or more: ONNX Runtime computes x86 convolutions in a blocked
layout (MLAS's NCHWc) on whole blocks of channels, 16 with AVX-512F and 8 on other x86-64 CPUs. The rule, read from
the weights of its optimised graphs (ONNX Runtime 1.32, on both kinds of CPU) and written out in `blocked_weights`:
a convolution's output channels are padded up to whole blocks; its input channels are read as they are when fewer
than one block, padded up to whole blocks when a multiple of 4, and otherwise the convolution stays off the blocked
layout, on the general kernel. This module builds the probe notebook 04 times (two 3x3 convolutions whose channel
count steps across the block) and reads which way ONNX Runtime took for each count."""

from __future__ import annotations

import operator
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np

from labkit.core import cpu
from labkit.core.targets import Target

PROBE_IN_CHANNELS = 16  # the probe's input: the width of a small network's first block
PROBE_SIZE = 14  # height and width of its feature maps (a 28x28 image after one pooling)
ALIGNMENT = 4  # input channels of at least one block enter the blocked layout only in multiples of this


def ort_channel_block(flags: set[str] | None = None, machine: str | None = None) -> int | None:
    """Channels per block of ONNX Runtime's convolutions on x86-64: 16 with AVX-512F, else 8 (MLAS's default). MLAS
    picks it from the real CPU, whatever personality the kit plays, so the real flags decide. None on other
    architectures: read it off a sweep."""
    if (machine or platform.machine()).lower() not in ("x86_64", "amd64"):
        return None
    flags = cpu.real_flags() if flags is None else flags
    return 16 if "avx512f" in flags else 8


def blocked_weights(in_channels: int, out_channels: int, block: int) -> tuple[int, int] | None:
    """The (output, input) channels of the weights ONNX Runtime computes a 2-D convolution (one group) with, once its
    graph is optimised for a CPU whose block is `block`; None where the convolution stays on the general kernel."""
    padded = -(-out_channels // block) * block
    if in_channels < block:
        return padded, in_channels
    if in_channels % ALIGNMENT:
        return None
    return padded, -(-in_channels // block) * block


def optimised_convolutions(path: str | Path, folder: str | Path) -> list[tuple[int, int] | None]:
    """For each convolution of the ONNX model at `path`, in order, the (output, input) channels of the weights that
    ONNX Runtime's optimised graph computes it with on this CPU, or None where it kept the plain `Conv` (the general
    kernel). The optimised graph is written into `folder`: it holds this CPU's layout and runs on no other."""
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(Path(folder) / f"{Path(path).stem}.optimised.onnx")
    options.log_severity_level = 3  # its warning that an optimised graph is specific to this CPU
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(options.optimized_model_filepath).graph
    weights = {t.name: tuple(t.dims) for t in graph.initializer}
    return [weights[n.input[1]][:2] if n.domain == "com.microsoft.nchwc" else None
            for n in graph.node if n.op_type == "Conv"]


def conv_pair_macs(channels: int) -> int:
    """Multiply-accumulates per image of the probe: 16 -> `channels` -> `channels`, 3x3, at 14x14."""
    return PROBE_SIZE * PROBE_SIZE * 9 * (PROBE_IN_CHANNELS * channels + channels * channels)


def conv_pair(channels: int, path: str | Path, seed: int = 0) -> Path:
    """An ONNX model of two 3x3 convolutions with a ReLU between (16 -> `channels` -> `channels`, padding 1, at
    14x14, any batch), with random weights: latency does not depend on their values. Returns `path`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    channels = operator.index(channels)
    if channels < 1:
        raise ValueError(f"channels must be a positive count, got {channels!r}")
    rng = np.random.default_rng(seed)
    weights = {"w1": rng.standard_normal((channels, PROBE_IN_CHANNELS, 3, 3), dtype=np.float32) * 0.1,
               "w2": rng.standard_normal((channels, channels, 3, 3), dtype=np.float32) * 0.1}
    nodes = [helper.make_node("Conv", ["x", "w1"], ["h"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["y"], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(
        nodes, f"conv_pair_{channels}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", PROBE_IN_CHANNELS, PROBE_SIZE, PROBE_SIZE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", channels, PROBE_SIZE, PROBE_SIZE])],
        [numpy_helper.from_array(w, name) for name, w in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, path)
    return path


def probe_input(batch: int = 64, seed: int = 0) -> np.ndarray:
    """A batch of random feature maps shaped for the probe."""
    return np.random.default_rng(seed).standard_normal((batch, PROBE_IN_CHANNELS, PROBE_SIZE, PROBE_SIZE),
                                                       dtype=np.float32)


def probe_runner(channels: int, path: str | Path, target: Target) -> Callable[[np.ndarray], np.ndarray]:
    """The probe with `channels`, saved to `path` and loaded in ONNX Runtime with `target`'s threads and options:
    a callable from feature maps to feature maps, ready for `lk.bench.compare`. (The kit's Runners take images.)"""
    from labkit.measure.runtimes import ort_session

    session = ort_session(conv_pair(channels, path), target)
    return lambda x: session.run(None, {"x": x})[0]
