"""`labkit docs`: rewrite every part of the README and the notebooks that is generated, so that no number a
reader sees is typed by hand: the exercise table (from the exercise declarations), the table of promises (from
labkit/measure/acceptance.py), the minutes per notebook in the README and in each notebook's header (from the
reference run's summary.json in docs/reference/), and each notebook's map (a contents cell after the title: its
sections, its exercises, a link to its expected results). `labkit docs --check` changes nothing and exits 1 when
anything is stale (the tests call the same functions)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from labkit.classroom import challenges, exercises
from labkit.core.paths import REPO_DIR, notebooks_dir
from labkit.measure import acceptance

README = REPO_DIR / "README.md"
REFERENCE = REPO_DIR / "docs" / "reference"
SECTIONS = {"exercises": exercises.readme_table, "challenges": challenges.readme_table,
            "promises": acceptance.readme_table}
TIME_PARAGRAPH = re.compile(r"^(?:\*\*Time\*\*|Time\b)[^\n]*(?:\n(?!\n)[^\n]*)*", re.M)
CONTENTS = "contents"  # the id of the generated map cell


def begin(name: str) -> str:
    return f"<!-- {name}:begin (written by `labkit docs`) -->"


def end(name: str) -> str:
    return f"<!-- {name}:end -->"


def with_section(text: str, name: str, body: str) -> str:
    """`text` with what stands between the section's two markers replaced by `body`; ValueError without them."""
    head, found_begin, rest = text.partition(begin(name))
    _, found_end, tail = rest.partition(end(name))
    if not (found_begin and found_end):
        raise ValueError(f"README.md needs the lines {begin(name)!r} and {end(name)!r} around the {name} table")
    return f"{head}{begin(name)}\n{body}\n{end(name)}{tail}"


def reference_minutes(reference: Path = REFERENCE) -> tuple[dict[str, float], str]:
    """Minutes per notebook in the reference run (rounded to half a minute, at least half), and the CPU it ran on
    with its flags of interest ("2-core AMD EPYC with AVX2 and FMA"): "AMD EPYC" alone names several generations
    of cores, and the flags also say what int8 and bf16 bought in the run."""
    summary = json.loads((reference / "summary.json").read_text())
    minutes = {name: max(0.5, round(r["seconds"] / 30) / 2) for name, r in summary["notebooks"].items()}
    env = summary["env"]
    cpu = f"{env['cores']}-core {env['cpu']}"
    flags = [f.upper() for f in (env.get("flags") or "").split(",") if f]
    if flags:
        cpu += " with " + (f"{', '.join(flags[:-1])} and {flags[-1]}" if len(flags) > 1 else flags[0])
    if env.get("personality"):
        cpu += f" (capped to {env['personality']})"
    return minutes, cpu


def _minutes_text(m: float) -> str:
    return f"{m:g} minute" + ("" if m == 1 else "s")


def with_minutes(text: str, minutes: dict[str, float]) -> str:
    """The README's notebook table with its minutes column set from `minutes`."""
    def row(match: re.Match) -> str:
        name = match.group(1)
        if name not in minutes:
            raise ValueError(f"the reference run has no {name}: run `labkit verify --profile class --out DIR` and "
                             f"copy its summary.json to {REFERENCE}")
        return f"| `{name}` |{match.group(2)}| {minutes[name]:g} |"
    return re.sub(r"^\| `(\d\d_\w+)` \|(.*)\| [\d.]+ \|$", row, text, flags=re.M)


def time_line(name: str, minutes: dict[str, float], cpu: str) -> str:
    return (f"**Time**: about {_minutes_text(minutes[name])} in `class` (measured in the kit's reference run on a "
            f"{cpu}; your machine prints its own in `labkit run`'s summary); `smoke` is a quick check for CI.")


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def notebook_with_time(nb: dict, name: str, minutes: dict[str, float], cpu: str) -> dict:
    """The notebook with the `**Time**:` paragraph of its title cell set from the reference run."""
    cell = nb["cells"][0]
    source = "".join(cell["source"])
    if not TIME_PARAGRAPH.search(source):
        raise ValueError(f"{name}'s title cell has no paragraph starting with '**Time**:'")
    cell["source"] = _lines(TIME_PARAGRAPH.sub(time_line(name, minutes, cpu), source, count=1))
    return nb


def anchor(heading: str) -> str:
    """JupyterLab's anchor for a markdown heading: its text with spaces as dashes."""
    return "#" + heading.strip().replace(" ", "-")


def contents(nb: dict, name: str) -> str:
    """The map of a notebook: its sections (## headings), its exercises and challenges, where to see its expected
    results."""
    sections = [line[3:] for cell in nb["cells"] if cell["cell_type"] == "markdown" and cell.get("id") != CONTENTS
                for line in "".join(cell["source"]).splitlines() if line.startswith("## ")]
    own = [ex for ex in exercises.EXERCISES.values() if ex.id.startswith(name[:2] + ".")]
    text = "**Contents**\n" + "\n".join(f"- [{s}]({anchor(s)})" for s in sections)
    if own:
        text += ("\n\n**Exercises** (each checked by the cell after it, graded by `labkit grade`): "
                 + "; ".join(f"`{ex.id}`, write `{ex.function}`" for ex in own) + ".")
    tasks = challenges.of_notebook(name)
    if tasks:
        text += ("\n\n**Challenges** (the real tool's call is yours; the file it writes is measured against targets, "
                 "in the notebook and again by `labkit grade`): "
                 + "; ".join(f"`{c.id}`, hand in `submit/{c.artifact}`" for c in tasks) + ".")
    return text + (f"\n\n**Expected results**: [this notebook in the kit's reference run]"
                   f"(../docs/reference/results.md#{name}), to compare with yours before or after you run it.")


def notebook_with_contents(nb: dict, name: str) -> dict:
    """The notebook with its contents cell (id "contents") right after the title cell, made anew."""
    cells = [c for c in nb["cells"] if c.get("id") != CONTENTS]
    cell = {"cell_type": "markdown", "id": CONTENTS, "metadata": {}, "source": []}
    nb["cells"] = cells[:1] + [cell] + cells[1:]
    cell["source"] = _lines(contents(nb, name))
    return nb


def generated_readme(text: str, minutes: dict[str, float]) -> str:
    for name, table in SECTIONS.items():
        text = with_section(text, name, table())
    return with_minutes(text, minutes)


def stale(write: bool) -> list[str]:
    """The generated files that differ from what `labkit docs` writes (rewritten when `write`)."""
    minutes, cpu = reference_minutes()
    changed = []
    text = README.read_text()
    if generated_readme(text, minutes) != text:
        changed.append(str(README))
        if write:
            README.write_text(generated_readme(text, minutes))
    for path in sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")):
        raw = path.read_text()
        nb = notebook_with_contents(notebook_with_time(json.loads(raw), path.stem, minutes, cpu), path.stem)
        new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        if new != raw:
            changed.append(str(path))
            if write:
                path.write_text(new)
    return changed


def run_docs(check: bool) -> int:
    changed = stale(write=not check)
    for path in changed:
        print(f"{'stale' if check else 'rewritten'}: {path}")
    if not changed:
        print("README.md and the notebooks' time lines are up to date")
    elif not check:
        print("notebooks changed: run `labkit release` to bring the student edition up to date")
    return 1 if check and changed else 0
