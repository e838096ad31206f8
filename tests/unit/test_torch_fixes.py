"""labkit.core.torch_fixes: torch.compile links where torch lives under a path with a space."""

from __future__ import annotations

import shlex

from labkit.core.torch_fixes import quote_inductor_library_dirs


def test_inductor_library_folders_with_a_space_reach_the_linker_whole(monkeypatch):
    from torch._inductor import cpp_builder

    init = cpp_builder.CppBuilder.__init__  # already fixed where this process runs from a path with a space
    monkeypatch.setattr(cpp_builder.CppBuilder, "__init__", getattr(init, "__wrapped__", init))  # undone afterwards
    options = cpp_builder.CppTorchOptions()
    monkeypatch.setattr(options, "get_libraries_dirs", lambda: ["/tmp/my kit/.venv/torch/lib", "/usr/lib"])
    broken = shlex.split(cpp_builder.CppBuilder("probe", "probe.cpp", options, "/tmp").get_command_line())
    assert "-L/tmp/my" in broken  # the bug: the folder split at its space
    assert quote_inductor_library_dirs(force=True)
    fixed = shlex.split(cpp_builder.CppBuilder("probe", "probe.cpp", options, "/tmp").get_command_line())
    assert "-L/tmp/my kit/.venv/torch/lib" in fixed and "-L/usr/lib" in fixed
    assert quote_inductor_library_dirs(force=True)  # a second call changes nothing
    assert shlex.split(cpp_builder.CppBuilder("probe", "probe.cpp", options, "/tmp").get_command_line()) == fixed
