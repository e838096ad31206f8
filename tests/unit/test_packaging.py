import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pyproject_pins() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["test"]
    return {d.replace(" ", "") for d in deps}


def _environment_pins() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().split("- pip:", 1)[1].splitlines()
    pins = {ln.strip()[2:].replace(" ", "") for ln in lines if ln.strip().startswith("- ")}
    return pins - {"-e."}


def test_environment_yml_carries_the_same_pins_as_pyproject():
    assert _environment_pins() == _pyproject_pins()


def test_every_dependency_is_pinned_exactly():
    assert all(re.match(r"^[A-Za-z0-9_.-]+==[0-9][^;]*(;.*)?$", d) for d in _pyproject_pins())


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and re.search(r"^make test$", ci, re.M)


def test_notebooks_are_stripped_and_parameterised():
    import json

    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), f"{nb_path.name} has outputs"
        params = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
        assert len(params) == 1, f"{nb_path.name} needs exactly one cell tagged parameters"
        src = "".join(params[0]["source"])
        assert all(k in src for k in ("PROFILE", "TARGET", "SEED")), nb_path.name


def test_import_labkit_and_the_command_stay_light():
    """`import labkit` and `labkit --help` import no heavy framework: modules load when first used."""
    code = ("import sys, labkit, labkit.cli; heavy = {'torch', 'tensorflow', 'ipywidgets', 'onnxruntime', 'openvino'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
