import json
from pathlib import Path

import pytest

from labkit import cli
from labkit.core import notebooks
from labkit.measure import report


def test_run_refuses_a_folder_that_holds_a_run(tmp_path, capsys):
    (tmp_path / "ledger.jsonl").write_text("{}\n")
    assert cli.main(["run", "00", "--profile", "smoke", "--out", str(tmp_path)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (tmp_path / "ledger.jsonl").read_text() == "{}\n"  # untouched


def test_unknown_notebook_lists_the_kit(capsys):
    assert cli.main(["run", "99_nothing", "--out", "/tmp/never-created"]) == 2
    assert "00_setup_and_baseline" in capsys.readouterr().err


def test_report_needs_a_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        report.render(tmp_path)


def test_a_failing_notebook_is_summarised_not_dumped(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('PROFILE = "class"\nTARGET = "auto"\nSEED = 0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")]
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(nb, path)
    assert cli.main(["run", str(path), "--profile", "smoke", "--out", str(tmp_path / "run")]) == 1
    out = tmp_path / "run"
    result = json.loads((out / "summary.json").read_text())["notebooks"]["99_broken"]
    assert result["status"] == "failed" and "ZeroDivisionError" in result["error"]
    assert (out / "report.html").exists() and "ZeroDivisionError" in (out / "report.html").read_text()


def test_doctor_checks_data_and_pins(capsys):
    cli.main(["doctor"])
    out = capsys.readouterr().out
    assert "[ok] fashion-mnist checksums" in out and "[ok] torch" in out and "avx2" in out


def _file(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    return target


@pytest.mark.parametrize("command", [["run", "00", "--profile", "smoke"], ["grade", "{subs}"], ["train", "teacher"]])
@pytest.mark.parametrize("inside", [False, True], ids=["a file", "inside a file"])
def test_out_pointing_at_a_file_is_one_sentence(tmp_path, capsys, monkeypatch, command, inside):
    import labkit.core.teacher

    monkeypatch.setattr(labkit.teacher, "fit", lambda *a, **k: pytest.fail("trained before checking --out"))
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    (tmp_path / "subs" / "ada" / "02_tensorflow_conversion.ipynb").write_text("{}")
    target = _file(tmp_path)
    out = target / "run" if inside else target
    argv = [a.replace("{subs}", str(tmp_path / "subs")) for a in command] + ["--out", str(out)]
    assert cli.main(argv) == 2
    where = f" lies inside {target}, which" if inside else ""
    assert capsys.readouterr().err == (f"labkit {command[0]}: --out {out}{where} is a file, not a folder; give the "
                                       "path of a new or existing folder instead (nothing was changed).\n")
    assert target.read_text() == "mine"


def test_out_is_resolved_before_it_is_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "summary.json").write_text("{}")
    for spelling in ("r1", "./x/../r1", str(tmp_path / "r1")):
        with pytest.raises(FileExistsError, match=f"{tmp_path / 'r1'} already holds a run"):
            notebooks.prepare_out(Path(spelling))
