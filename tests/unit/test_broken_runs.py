"""`labkit verify --run` on deliberately broken copies of the kit's reference run: each break fails the bar it
touches, by name, where the untouched copy keeps it. A missing measurement is never a kept promise."""

from __future__ import annotations

import json
import shutil

import pytest

from labkit import cli
from labkit.core.paths import REPO_DIR
from labkit.measure import acceptance

REFERENCE = REPO_DIR / "docs" / "reference"


def _copy(tmp_path, edit=None, summary_edit=None):
    """The reference run's summary and ledger in a folder of their own, with `edit(row) -> row or None` applied to
    every ledger row (None drops it) and `summary_edit` to the summary."""
    out = tmp_path / "run"
    out.mkdir(parents=True)
    summary = json.loads((REFERENCE / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps(summary_edit(summary) if summary_edit else summary))
    rows = [json.loads(line) for line in (REFERENCE / "ledger.jsonl").read_text().splitlines() if line.strip()]
    kept = [r for r in (edit(dict(r)) if edit else r for r in rows) if r is not None]
    (out / "ledger.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    return out


def _verdict(run, name):
    return next(v for v in acceptance.verify_run(run).verdicts if v.bar.name == name)


def _without(key, notebook, where=lambda r: True, first_only=False):
    """Drop `key` from the rows of `notebook` that `where` picks (from the first of them only, with `first_only`)."""
    done = []

    def edit(row):
        if row["notebook"] == notebook and where(row) and not (first_only and done):
            row.pop(key, None)
            done.append(row["variant"])
        return row
    return edit


BREAKS = {
    "00.ort_parity": _without("parity_passed", "00_setup_and_baseline", lambda r: r.get("runtime") == "onnxruntime",
                              first_only=True),  # one of its two rows judged
    "01.pitfalls": _without("parity_passed", "01_pytorch_export", lambda r: r.get("pitfall") is True),
    "01.parity": _without("parity_passed", "01_pytorch_export", lambda r: not r.get("pitfall")),
    "02.matrix": _without("parity_passed", "02_tensorflow_conversion",
                          lambda r: str(r["variant"]).startswith("matrix: "), first_only=True),
    "02.litert_torch": _without("parity_passed", "02_tensorflow_conversion",
                                lambda r: str(r["variant"]).startswith("litert-torch ")),
    "03.size": lambda r: None if r["notebook"] == "03_quantization" else r,
    "06.shrink": lambda r: None if r.get("technique") == "pipeline" and r.get("stage") != 1 else r,  # one stage
}


@pytest.mark.parametrize("bar", sorted(BREAKS))
def test_a_broken_run_fails_the_bar_it_breaks(tmp_path, bar, capsys):
    assert _verdict(_copy(tmp_path / "whole"), bar).passed, "the untouched reference keeps it"
    broken = _copy(tmp_path / "broken", BREAKS[bar])
    v = _verdict(broken, bar)
    assert v.passed is False, (bar, v.why, v.measured)
    assert cli.main(["verify", "--run", str(broken)]) == 1
    assert bar in capsys.readouterr().out


def test_an_empty_ledger_fails_every_bar(tmp_path):
    run = _copy(tmp_path, lambda r: None)
    report = acceptance.verify_run(run)
    assert report.verdicts and all(v.passed is False and v.why == "no ledger rows" for v in report.verdicts)
    assert not report.passed


def test_a_run_of_no_notebooks_is_refused(tmp_path, capsys):
    run = _copy(tmp_path, summary_edit=lambda s: {**s, "notebooks": {}})
    assert cli.main(["verify", "--run", str(run)]) == 1
    assert "lists no notebooks" in capsys.readouterr().err
    assert not acceptance.Report("class").passed  # no verdict at all is no kept promise


def test_a_folder_without_a_run_is_refused(tmp_path, capsys):
    assert cli.main(["verify", "--run", str(tmp_path)]) == 1
    assert "has no summary.json" in capsys.readouterr().err


def test_the_reference_copy_is_what_the_tests_break(tmp_path):
    """The copy keeps every row and the summary as they are (so each break above is the only difference)."""
    run = _copy(tmp_path)
    assert (run / "ledger.jsonl").read_text().count("\n") == (REFERENCE / "ledger.jsonl").read_text().count("\n")
    shutil.rmtree(run)
