import pytest

from labkit.core import targets


def test_auto_resolves_to_an_available_target_and_says_why(monkeypatch):
    monkeypatch.delenv("LABKIT_TARGET", raising=False)
    t, reason = targets.resolve("auto")
    assert t.available and reason.startswith("auto")


def test_env_variable_is_used_when_parameter_is_auto(monkeypatch):
    monkeypatch.setenv("LABKIT_TARGET", "edge")
    t, reason = targets.resolve("auto")
    assert t.name == "edge" and t.threads == 1 and "LABKIT_TARGET" in reason


def test_parameter_wins_over_env(monkeypatch):
    monkeypatch.setenv("LABKIT_TARGET", "edge")
    assert targets.resolve("cpu")[0].name == "cpu"


def test_unknown_target_lists_choices():
    with pytest.raises(ValueError, match="choose one of auto, cpu, edge, cuda"):
        targets.resolve("tpu")


def test_unavailable_target_by_name_is_a_clear_error():
    fake = [targets.Backend("torch", "cpu", True), targets.Backend("torch", "cuda", False, "no CUDA device visible")]
    with pytest.raises(targets.TargetUnavailable, match="no CUDA device visible.*auto"):
        targets.resolve("cuda", fake)
    t, reason = targets.resolve("auto", fake)
    assert t.name == "cpu" and "no CUDA device visible" in reason


def test_discovery_reports_reasons():
    found = targets.discover()
    assert any(b.runtime == "onnxruntime" and b.device == "CPUExecutionProvider" and b.available for b in found)
    assert all(b.available or b.reason for b in found)
