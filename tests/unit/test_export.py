"""Units of labkit.export and the artifact helpers notebook 01 uses; the notebook's run is in
tests/notebooks/test_nb01_export.py."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from labkit.core import models
from labkit.measure import sizes
from labkit.techniques import export


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    torch.manual_seed(0)
    model = models.StudentCNN().eval()
    out = tmp_path_factory.mktemp("onnx")
    single = export.export_onnx(model, out / "s.onnx", external_data=False)
    ext = export.export_onnx(model, out / "e.onnx", external_data=True)
    return model, single, ext


def test_onnx_summary_and_files(tiny_onnx):
    model, single, ext = tiny_onnx
    s = export.onnx_summary(single)
    assert s["inputs"] == {"image": ["batch", 1, 28, 28]} and s["outputs"] == {"logits": ["batch", 10]}
    assert s["opsets"]["ai.onnx"] >= 18 and s["nodes"] > 0
    assert list(s["files"]) == ["s.onnx"]
    files = sizes.artifact_files(ext)
    assert list(files) == ["e.onnx", "e.onnx.data"]
    assert files["e.onnx.data"] > files["e.onnx"]
    assert sum(files.values()) > 4 * models.count_params(model) * 0.95


def test_summary_and_files_reject_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError):
        sizes.artifact_files(tmp_path / "missing.onnx")
    with pytest.raises(FileNotFoundError):
        export.onnx_summary(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf \xff\xfe" * 10)
    with pytest.raises(ValueError, match="not a readable ONNX"):
        export.onnx_summary(junk)


def test_artifact_files_of_ir_and_folder(tmp_path):
    (tmp_path / "m.xml").write_text("<net/>")
    (tmp_path / "m.bin").write_bytes(b"\0" * 10)
    assert sizes.artifact_files(tmp_path / "m.xml") == {"m.xml": 6, "m.bin": 10}
    assert sizes.artifact_files(tmp_path) == {"m.bin": 10, "m.xml": 6}


def test_op_histogram_figure():
    fig = export.op_histogram_figure({"a": Counter(Conv=4, Relu=5), "b": Counter(Conv=4, Gemm=2)})
    assert len(fig.data) == 2
    assert list(fig.data[0].x) == ["Conv", "Relu", "Gemm"]
    assert list(fig.data[1].y) == [4, 0, 2]
    with pytest.raises(ValueError):
        export.op_histogram_figure({})


def test_by_batch_sends_each_call_to_its_program():
    from labkit.measure import runtimes

    calls = []

    def fake(batch):
        def fn(x):
            calls.append((batch, len(x)))
            return np.zeros((len(x), 10), np.float32)
        return runtimes.Runner(f"b{batch}", "executorch", lambda x: runtimes.in_batches(fn, x, batch, pad=True))

    both = runtimes.by_batch({1: fake(1), 64: fake(64)}, name="both")
    x = np.zeros((70, 1, 28, 28), np.float32)
    assert both(x[:1]).shape == (1, 10) and calls == [(1, 1)]
    calls.clear()
    assert both(x).shape == (70, 10) and calls == [(64, 64), (64, 64)]  # 70 rows: two padded chunks of 64
    with pytest.raises(ValueError):
        runtimes.by_batch({}, name="none")
