import numpy as np
import pytest

import labkit as lk
from labkit.core import data, models, teacher
from labkit.core.train import accuracy, fit


def test_start_seeds_picks_a_run_folder_and_prints_a_card(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("LABKIT_TARGET", raising=False)
    s = lk.start("smoke", "edge", 3, notebook="99_test")
    card = capsys.readouterr().out
    assert s.target.threads == 1 and s.profile.n_test == 500 and len(s.test_data()) == 500
    assert s.artifact("m.onnx").parent == tmp_path / "run" / "artifacts" / "99_test"
    assert "profile smoke" in card and "edge" in card and "flags" in card
    s.record("v", "baseline", runtime="torch", accuracy=0.5)
    assert s.results()["seed"].tolist() == [3]


def test_two_kernels_get_different_run_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_RUN_DIR", raising=False)
    monkeypatch.setenv("LABKIT_RUNS", str(tmp_path))
    a = lk.start("smoke", "cpu", 0, quiet=True)
    monkeypatch.setattr("os.getpid", lambda: 1)
    b = lk.start("smoke", "cpu", 0, quiet=True)
    assert a.run_dir != b.run_dir


def test_unknown_profile():
    with pytest.raises(ValueError, match="smoke, class, full"):
        lk.start("huge")


def test_fit_learns_something():
    train = data.load("train", 3000, seed=0)
    model = models.StudentCNN()
    hist = fit(model, train, epochs=2, seed=0, val=data.load("test", 500))
    assert accuracy(model, data.load("test", 500)) > 0.7
    assert hist.loss[-1] < hist.loss[0]


def test_fit_returns_default_layout_and_refreshed_pruning_hooks():
    from torch.nn.utils import prune

    model = models.StudentCNN()
    prune.l1_unstructured(model.features[0], "weight", amount=0.5)
    fit(model, data.load("train", 256, seed=0), epochs=1, batch_size=64, seed=0, schedule="cosine")
    assert all(p.is_contiguous() for p in model.parameters())
    assert model.features[0].weight.is_contiguous()  # derived by the hook: torch's prune needs .view(-1)
    prune.global_unstructured([(model.features[0], "weight")], prune.L1Unstructured, amount=0.6)
    assert float((model.features[0].weight == 0).float().mean()) == pytest.approx(0.8, abs=0.01)  # 60% of the rest
    with pytest.raises(ValueError, match="onecycle"):
        fit(model, data.load("train", 64, seed=0), schedule="step")


def test_train_teacher_never_overwrites(tmp_path):
    (tmp_path / "teacher.pt").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="--force"):
        teacher.train_teacher(tmp_path)
    assert (tmp_path / "teacher.pt").read_bytes() == b"precious"


def test_ledger_lookups_on_the_session(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path))
    s = lk.start("smoke", "cpu", 0, notebook="99_lookup", quiet=True)
    s.record("a", "export", runtime="torch", batch=1, accuracy=0.5)
    s.record("a", "export", runtime="torch", batch=64, accuracy=0.75)
    assert s.value("accuracy", variant="a") == 0.75  # the last match
    assert s.value("accuracy", variant="a", batch=1) == 0.5
    assert s.row(variant="a", batch=64)["runtime"] == "torch"
    assert np.isnan(s.value("accuracy", variant="b"))
    assert np.isnan(s.value("accuracy", variant="a", stage=3))  # a column no row has
    with pytest.raises(KeyError, match="no ledger row of 99_lookup has"):
        s.row(variant="b")


def test_every_notebook_number_is_set_for_every_profile():
    from labkit.core import profiles
    from labkit.core.paths import notebooks_dir

    for notebook, knobs in profiles.KNOBS.items():
        assert (notebooks_dir() / f"{notebook}.ipynb").exists(), notebook
        for name, by_profile in knobs.items():
            assert set(by_profile) == set(profiles.PROFILES), (notebook, name)
    assert profiles.get("class").knobs("05_distillation").epochs == 2.25
    assert vars(profiles.get("smoke").knobs("00_setup_and_baseline")) == {}
