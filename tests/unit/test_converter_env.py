"""Converters in an environment of their own (labkit.techniques.converter_env): found, run, and clear when not."""

from __future__ import annotations

import pytest

from labkit.techniques import converter_env


def test_the_litert_torch_environment_is_built_by_setup_and_separate():
    python = converter_env.converter_python("litert-torch")
    assert python is not None, "make setup builds .venv-litert-torch"
    assert converter_env.converter_version("litert-torch") == "0.10.0"
    # the reason it is separate: its typing-extensions is older than the one Jupyter needs here
    theirs = converter_env.run_converter("litert-torch", ["-c", "import typing_extensions as t, importlib.metadata "
                                                               "as m; print(m.version('typing-extensions'))"])
    assert tuple(int(p) for p in theirs.split(".")[:2]) < (4, 13)


def test_a_missing_environment_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_LITERT_TORCH_PYTHON", str(tmp_path / "nowhere" / "python"))
    assert converter_env.converter_python("litert-torch") is None
    with pytest.raises(converter_env.ConverterError, match="make setup"):
        converter_env.run_converter("litert-torch", ["-c", "pass"])


def test_a_failing_script_carries_its_error_and_an_unknown_converter_is_named():
    with pytest.raises(converter_env.ConverterError, match="ZeroDivisionError"):
        converter_env.run_converter("litert-torch", ["-c", "1 / 0"])
    with pytest.raises(ValueError, match="litert-torch"):
        converter_env.converter_python("onnx2tf")
