"""Work-arounds for known bugs of the pinned PyTorch, each applied only where the bug bites, each to be removed with
the pin that fixes it."""

from __future__ import annotations

import shlex
import sysconfig
from pathlib import Path


def _has_space(*paths: str | None) -> bool:
    return any(p and any(c.isspace() for c in p) for p in paths)


def quote_inductor_library_dirs(force: bool = False) -> bool:
    """torch 2.13's Inductor writes each library folder into the C++ linker's command unquoted (its include folders
    are quoted; the fix is pytorch/pytorch#191010), so `torch.compile` on a CPU fails to link ("cannot find -ltorch")
    wherever torch or Python lives under a path with a space. Quote them the same way, where that is the case (or
    with `force`). Returns whether the fix is in place."""
    import torch

    if not (force or _has_space(str(Path(torch.__file__).parent), sysconfig.get_config_var("LIBDIR"))):
        return False
    from torch._inductor import cpp_builder

    original = cpp_builder.CppBuilder.__init__
    if getattr(original, "labkit_quotes_library_dirs", False) or cpp_builder._IS_WINDOWS:
        return True

    def init(self, name, sources, BuildOption, output_dir=""):
        original(self, name, sources, BuildOption, output_dir)
        self._libraries_dirs_args = "".join(f"-L{shlex.quote(d)} " for d in BuildOption.get_libraries_dirs())

    init.labkit_quotes_library_dirs = True
    init.__wrapped__ = original
    cpp_builder.CppBuilder.__init__ = init
    return True
