"""The layout ARCHITECTURE.md describes holds: layers import only downwards, every public function or class is
used by a notebook, another module or the command line (a test alone does not keep code alive), and the README's
exercise table is generated (tests/unit/test_exercises_units.py)."""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from pathlib import Path

import pytest

import labkit
from labkit.core.paths import REPO_DIR, notebooks_dir

PACKAGE = REPO_DIR / "labkit"
ORDER = ["core", "measure", "techniques", "ui", "classroom", "cli"]  # bottom up


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


def layer_of(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def notebook_code() -> str:
    return "\n".join("".join(c["source"]) for nb in sorted(notebooks_dir().glob("*.ipynb"))
                     for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layers_import_only_downwards(path: Path):
    """A module imports, at module level, only from its own layer and the layers below it."""
    own = layer_of(path)
    if own is None:
        return
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("labkit."):
            other = node.module.split(".")[1]
            assert ORDER.index(other) <= ORDER.index(own), f"{path.name} ({own}) imports {node.module}"


def test_every_public_function_is_used():
    sources = {p: p.read_text() for p in modules()}
    words = Counter(re.findall(r"\w+", "\n".join(sources.values()) + "\n" + notebook_code()))
    unused = []
    for path, text in sources.items():
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                if words[node.name] < 2:  # its own definition only
                    unused.append(f"{path.relative_to(REPO_DIR)}:{node.lineno} {node.name}")
    assert not unused, "public but used by no notebook, module or command (make it private or remove it):\n" + \
        "\n".join(unused)


def test_the_lazy_names_cover_every_module():
    """`lk.<name>` reaches every module of every layer but the command line (a package counts as one)."""
    names = set()
    for path in modules():
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if len(parts) == 2 and parts[0] != "cli" and parts[1] != "__init__":
            names.add(parts[1])
        elif len(parts) == 3 and parts[2] == "__init__":
            names.add(parts[1])
    assert names == set(labkit.MODULES), names ^ set(labkit.MODULES)
