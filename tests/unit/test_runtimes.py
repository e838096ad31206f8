import numpy as np
import pytest
import torch

from labkit.core import models, targets
from labkit.measure import runtimes
from labkit.techniques.export import export_onnx, op_histogram

CPU = targets.resolve("cpu")[0]


@pytest.fixture(scope="module")
def student():
    return models.StudentCNN().eval()


@pytest.fixture(scope="module")
def onnx_file(student, tmp_path_factory):
    return export_onnx(student, tmp_path_factory.mktemp("rt") / "student.onnx")


def test_onnx_runs_any_batch_and_matches_torch(student, onnx_file):
    x = np.random.default_rng(0).normal(size=(5, 1, 28, 28)).astype(np.float32)
    ref = runtimes.torch_runner(student, CPU)(x)
    for runner in (runtimes.load(onnx_file, CPU), runtimes.load(onnx_file, CPU, runtime="openvino")):
        assert np.abs(runner(x) - ref).max() < 1e-4
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in student.modules())
    assert op_histogram(onnx_file)["Conv"] == n_convs


def test_wrong_input_shape_says_what_to_do(onnx_file):
    runner = runtimes.load(onnx_file, CPU)
    with pytest.raises(ValueError, match=r"NHWC\? transpose"):
        runner(np.zeros((2, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match="N, 1, 28, 28"):
        runner(np.zeros((2, 784), np.float32))


def test_missing_and_corrupt_artifacts(tmp_path):
    with pytest.raises(runtimes.ArtifactError, match="does not exist"):
        runtimes.load(tmp_path / "nope.onnx", CPU)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"definitely not protobuf")
    with pytest.raises(runtimes.ArtifactError, match="cannot load"):
        runtimes.load(bad, CPU)
    odd = tmp_path / "model.bin"
    odd.write_bytes(b"x")
    with pytest.raises(runtimes.ArtifactError, match="unknown artifact kind"):
        runtimes.load(odd, CPU)


def test_export_needs_a_batch_of_two(tmp_path):
    with pytest.raises(ValueError, match="at least 2"):
        export_onnx(models.StudentCNN(), tmp_path / "s.onnx", example=np.zeros((1, 1, 28, 28), np.float32))


def test_large_batches_run_in_chunks(student):
    calls = []
    runner = runtimes.torch_runner(student, CPU)
    inner = runner.fn
    runner.fn = lambda x: calls.append(len(x)) or inner(x)
    x = np.random.default_rng(1).normal(size=(runtimes.MAX_CHUNK * 2 + 5, 1, 28, 28)).astype(np.float32)
    out = runner(x)
    assert calls == [runtimes.MAX_CHUNK, runtimes.MAX_CHUNK, 5] and out.shape == (len(x), 10)
    assert np.allclose(out[-5:], inner(x[-5:]), atol=1e-5)


def test_an_empty_batch_gives_an_empty_result_in_every_runtime(student, onnx_file):
    empty = np.zeros((0, 1, 28, 28), np.float32)
    for runner in (runtimes.torch_runner(student, CPU), runtimes.load(onnx_file, CPU),
                   runtimes.load(onnx_file, CPU, runtime="openvino")):
        out = runner(empty)
        assert out.shape == (0, 10) and out.dtype == np.float32, runner.runtime


def test_openvino_asks_for_fp32_and_reports_what_ran(onnx_file):
    asked = runtimes.load(onnx_file, CPU, runtime="openvino")
    assert asked.precision == "fp32" and asked.info["asked"] == "fp32"
    default = runtimes.openvino_runner(onnx_file, CPU, precision=None)
    assert default.precision == runtimes.openvino_precision(runtimes.openvino_core())  # OpenVINO's own choice
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, fp16"):
        runtimes.openvino_runner(onnx_file, CPU, precision="int8")


def test_openvino_core_follows_the_cpu_personality(monkeypatch):
    monkeypatch.setenv("LABKIT_CPU_PERSONALITY", "avx2")
    assert runtimes.openvino_precision(runtimes.openvino_core()) == "fp32"
