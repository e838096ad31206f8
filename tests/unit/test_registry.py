"""The runtime registry (labkit.core.registry) is the one list of runtimes: the ledger, discovery, targets,
versions, the doctor and runtimes.load read it, and a new entry reaches all of them."""

import inspect
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from labkit.cli import doctor
from labkit.core import ledger, registry, sysinfo, targets
from labkit.measure import runtimes

ROOT = Path(__file__).resolve().parents[2]
FAKE = registry.Runtime("fakert", "json", ("pytest",), {".fake": f"{__name__}:fake_runner"}, aliases=("fakert-fast",))
MISSING = registry.Runtime("ghost", "labkit_no_such_module", ("ghost-runtime",))


def fake_runner(path, target, name):
    return runtimes.Runner(name, "fakert", lambda x: np.zeros((len(x), 10), np.float32), Path(path))


def test_the_ledger_accepts_exactly_the_declared_runtimes():
    declared = set(registry.ledger_names())
    assert {"torch", "torch-compiled", "onnxruntime", "openvino", "tensorflow", "litert"} <= declared
    for name in [*declared, None]:
        assert ledger.make_row({}, "v", "baseline", runtime=name)["runtime"] == name
    for name in ("tvm", "onnx", "Torch", ""):
        with pytest.raises(ValueError, match="runtime must be one of"):
            ledger.make_row({}, "v", "baseline", runtime=name)


def test_every_runner_records_a_declared_runtime_and_every_factory_exists():
    recorded = re.findall(r'Runner\(\w+, (?:"([\w-]+)" if \w+ else )?"([\w-]+)"', inspect.getsource(runtimes))
    names = {n for pair in recorded for n in pair if n}
    assert names and names <= set(registry.ledger_names())
    for rt in registry.RUNTIMES:
        assert all(callable(rt.factory(kind)) for kind in rt.loads), rt.name


def test_every_declared_distribution_is_pinned_in_pyproject():
    deps = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    pinned = {canonicalize_name(r.name) for r in deps if str(r.specifier).startswith("==")}
    missing = [d for d in registry.distributions() if canonicalize_name(d) not in pinned]
    assert not missing, f"pin these in pyproject.toml and environment.yml: {missing}"


def test_discover_has_a_row_for_each_declared_runtime():
    found = targets.discover()
    assert [rt.name for rt in registry.RUNTIMES] == list(dict.fromkeys(b.runtime for b in found))


def test_each_target_places_each_runtime():
    table = targets.targets()
    cpu, edge = table["cpu"], table["edge"]
    assert cpu.device("torch") == cpu.device("torch-compiled") == "cpu" and cpu.device("openvino") == "CPU"
    assert cpu.devices("onnxruntime") == edge.devices("onnxruntime") == ("CPUExecutionProvider",)
    assert set(cpu.placement) == set(registry.ledger_names())
    with pytest.raises(ValueError, match="unknown runtime 'tvm'"):
        cpu.device("tvm")


def test_cuda_uses_the_gpu_providers_found_then_the_cpu():
    found = [targets.Backend("torch", "cuda", True, "H200"),
             targets.Backend("onnxruntime", "CUDAExecutionProvider", True),
             targets.Backend("onnxruntime", "CPUExecutionProvider", True),
             targets.Backend("onnxruntime", "TensorrtExecutionProvider", False, "not installed")]
    cuda = targets.targets(found)["cuda"]
    assert cuda.available and cuda.device("torch") == "cuda" and cuda.device("openvino") == "CPU"
    assert cuda.devices("onnxruntime") == ("CUDAExecutionProvider", "CPUExecutionProvider")
    found[1] = targets.Backend("onnxruntime", "CUDAExecutionProvider", False, "not installed")
    assert targets.targets(found)["cuda"].devices("onnxruntime") == ("CPUExecutionProvider",)


def test_a_new_entry_reaches_every_reader(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(registry, "RUNTIMES", (*registry.RUNTIMES, FAKE, MISSING))
    found = targets.discover()
    assert targets.Backend("fakert", "CPU", True) in found
    assert targets.Backend("ghost", "CPU", False, "the ghost-runtime package is not installed") in found
    assert targets.resolve("cpu")[0].device("fakert-fast") == "CPU"
    assert ledger.make_row({}, "v", "baseline", runtime="fakert-fast")["runtime"] == "fakert-fast"
    assert "pytest" in sysinfo.versions() and "ghost-runtime" not in sysinfo.versions()
    artifact = tmp_path / "m.fake"
    artifact.write_bytes(b"")
    runner = runtimes.load(artifact, targets.resolve("cpu")[0])
    assert runner.runtime == "fakert" and runner(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 10)
    lines = {c.name: c.measured for c in doctor.check_runtimes()}
    assert lines["fakert"].endswith("loads .fake (ledger names fakert, fakert-fast)")
    assert lines["ghost"].startswith("not installed") and lines["fakert:CPU"] == "available "


def test_load_names_the_runtimes_that_run_a_kind(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    with pytest.raises(runtimes.ArtifactError, match=r"'openvino' does not run \.tflite artifacts; use 'litert'"):
        runtimes.load(model, targets.resolve("cpu")[0], runtime="openvino")
