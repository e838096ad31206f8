"""On-device helpers that need no ExecuTorch run (the programs themselves are checked in notebook 01's run)."""

import importlib
import sys

import pytest

from labkit.techniques.ondevice import packages_hidden


def test_a_hidden_package_cannot_be_imported_within_the_block_only():
    for name in [m for m in sys.modules if m == "wsgiref" or m.startswith("wsgiref.")]:
        del sys.modules[name]
    with packages_hidden("wsgiref", "json"):  # json is imported already: it stays visible
        for name in ("wsgiref", "wsgiref.simple_server"):
            with pytest.raises(ImportError):
                importlib.import_module(name)
        assert importlib.import_module("json").dumps([]) == "[]"
    assert "wsgiref" not in sys.modules
    assert importlib.import_module("wsgiref.simple_server").__name__ == "wsgiref.simple_server"
