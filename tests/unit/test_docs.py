"""No number a reader sees is typed by hand: the README's generated tables, the minutes per notebook (README and
each notebook's header) and each notebook's map are what `labkit docs` writes from their sources."""

from __future__ import annotations

import json

import pytest

from labkit.cli import docs
from labkit.core.notebooks import all_notebooks


def test_readme_and_notebooks_are_generated():
    assert docs.stale(write=False) == [], "run `labkit docs`, then `labkit release`"


def test_minutes_come_from_the_reference_run():
    minutes, cpu = docs.reference_minutes()
    assert set(minutes) >= {p.stem for p in all_notebooks()}, "the reference run must include every notebook"
    text = docs.README.read_text()
    for name, m in minutes.items():
        assert f"| `{name}` |" in text and text.split(f"| `{name}` |")[1].split("\n")[0].endswith(f"| {m:g} |")
    for path in all_notebooks():
        title = "".join(json.loads(path.read_text())["cells"][0]["source"])
        assert docs.time_line(path.stem, minutes, cpu) in title


def test_every_notebook_has_a_map_of_its_sections():
    for path in all_notebooks():
        nb = json.loads(path.read_text())
        assert nb["cells"][1]["id"] == docs.CONTENTS, f"{path.name}: run `labkit docs`"
        headings = [line[3:] for c in nb["cells"][2:] if c["cell_type"] == "markdown"
                    for line in "".join(c["source"]).splitlines() if line.startswith("## ")]
        text = "".join(nb["cells"][1]["source"])
        assert headings and all(f"]({docs.anchor(h)})" in text for h in headings), path.name
        assert f"results.md#{path.stem})" in text


def test_a_missing_marker_is_named():
    with pytest.raises(ValueError, match="promises"):
        docs.with_section("no markers here", "promises", "| table |")


def test_the_time_line_names_the_reference_cpu_with_its_flags(tmp_path):
    """The header names the CPU with its flags, and the personality when the run was capped; a summary without
    flags names the CPU only."""
    env = {"cpu": "AMD EPYC", "cores": 2, "personality": None}
    for flags, extra, expected in [
        ("avx2,fma,avx512_vnni", {}, "2-core AMD EPYC with AVX2, FMA and AVX512_VNNI"),
        ("avx2", {}, "2-core AMD EPYC with AVX2"), ("", {}, "2-core AMD EPYC"), (None, {}, "2-core AMD EPYC"),
        ("avx2,fma", {"personality": "avx2"}, "2-core AMD EPYC with AVX2 and FMA (capped to avx2)"),
    ]:
        summary = {"notebooks": {"00_setup_and_baseline": {"seconds": 100}}, "env": {**env, "flags": flags, **extra}}
        (tmp_path / "summary.json").write_text(json.dumps(summary))
        minutes, cpu = docs.reference_minutes(tmp_path)
        assert (minutes, cpu) == ({"00_setup_and_baseline": 1.5}, expected)


def test_notebook_00s_roadmap_names_every_notebook():
    """00's table of notebooks (the learner's roadmap) has a row for each notebook the kit has."""
    import json
    import re

    from labkit.core import notebooks

    text = "".join("".join(c["source"]) for c in json.loads(notebooks.find_notebook("00").read_text())["cells"]
                   if c["cell_type"] == "markdown")
    rows = set(re.findall(r"^\| (\d\d) \|", text, flags=re.M))
    assert rows == {p.stem[:2] for p in notebooks.all_notebooks()}
