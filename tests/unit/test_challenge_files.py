"""The challenges' judging, without running a notebook: artifacts built cheaply here (TorchScript-based ONNX exports,
a few quantized files) that meet or miss each target, judged in the smoke profile; hostile files refused with a
sentence; the student edition's challenge cells; the declarations' shape. The notebooks' own solutions and the
grader's sandbox are tested in tests/notebooks/test_challenges.py."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import onnx
import pytest
import torch

from labkit.classroom import challenges, release
from labkit.classroom.challenges import nb01, nb05, probe
from labkit.classroom.challenges.judging import ground, judge_file, torch_macs
from labkit.core import data, models, notebooks, profiles

PROFILE = "smoke"


def _export(model: torch.nn.Module, path, dynamic: bool = True, shape=(2, 1, 28, 28)) -> str:
    """A one-file ONNX export through TorchScript (fast, enough to build test artifacts)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.zeros(*shape),), str(path), dynamo=False, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "batch"}} if dynamic else None)
    return str(path)


class _RawPixels(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net((x / 255.0 - data.MEAN) / data.STD)


@pytest.fixture(scope="module")
def teacher():
    return models.load_teacher()


@pytest.fixture(scope="module")
def fp32(tmp_path_factory, teacher):
    return _export(teacher, tmp_path_factory.mktemp("fp32") / "teacher.onnx")


def _judge(cid: str, path):
    return judge_file(challenges.get(cid), path, PROFILE)


def _missed(judgement) -> set[str]:
    return {r["metric"] for r in judgement.rows if not r["met"]}


def test_every_notebook_01_to_07_declares_a_challenge_with_hints_and_targets():
    for c in challenges.CHALLENGES.values():
        assert c.targets and all(t.hint and t.claim for t in c.targets), c.id
        assert all(t.smoke_reason for t in c.targets if t.smoke is not None), c.id
        assert c.artifact.startswith(c.notebook + "_")
        assert c.artifact.endswith(".json" if c.reads is not None else ".onnx"), c.id  # a recipe, or a model
    assert "01" in {c.notebook for c in challenges.CHALLENGES.values()}


def test_macs_counted_from_the_onnx_graph_match_the_torch_model(fp32, teacher):
    assert probe.macs_per_image(probe.parse(open(fp32, "rb").read())) == torch_macs(teacher)
    # and torch-pruning's count of the same model (it adds the BatchNorms' and the ReLUs' few operations)
    assert torch_macs(teacher) == pytest.approx(models.macs(teacher), rel=0.03)


def test_01_passes_with_a_dynamic_raw_pixel_export(tmp_path, teacher):
    j = _judge("01.serving_onnx", _export(_RawPixels(teacher), tmp_path / "good.onnx"))
    assert j.status == "passed", j.message()
    assert all(r["value"] <= 1e-4 for r in j.rows if r["metric"].startswith("max_abs"))


def test_01_fails_a_static_batch_with_the_batch_hint(tmp_path, teacher):
    j = _judge("01.serving_onnx", _export(_RawPixels(teacher), tmp_path / "static.onnx", dynamic=False))
    assert j.status == "failed" and "dynamic" in _missed(j)
    assert nb01.HINT_BATCH in j.hints and "ONNX Runtime said" in j.message()


def test_01_fails_the_teacher_alone_with_the_normalisation_hint(tmp_path, teacher):
    j = _judge("01.serving_onnx", _export(teacher, tmp_path / "teacher.onnx"))
    assert j.status == "failed" and _missed(j) == {"max_abs_1", "max_abs_37"}
    assert j.hints == [nb01.HINT_RAW]


def test_02_wants_a_tf2onnx_file_that_takes_nchw_images(tmp_path, fp32, teacher):
    class Nhwc(torch.nn.Module):  # what tf2onnx writes without inputs_as_nchw: the Keras layout
        def __init__(self):
            super().__init__()
            self.net = teacher

        def forward(self, x):
            return self.net(x.permute(0, 3, 1, 2))

    nhwc = _judge("02.twin_nchw", _export(Nhwc(), tmp_path / "nhwc.onnx", shape=(2, 28, 28, 1)))
    assert nhwc.status == "failed" and "nchw" in _missed(nhwc) and "inputs_as_nchw" in nhwc.message()
    from_torch = _judge("02.twin_nchw", fp32)  # right numbers, wrong route
    assert _missed(from_torch) == {"tf2onnx"} and "tf2onnx.convert.from_function" in from_torch.message()


def test_03_size_and_accuracy(tmp_path, fp32):
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from labkit.core.cpu import needs_reduce_range
    from labkit.techniques.quantize import NumpyCalibrationReader

    calib = data.load("train", 64, 0).x

    def quantize(path, images):
        quantize_static(fp32, str(path), NumpyCalibrationReader(images, input_name="x"), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, reduce_range=needs_reduce_range())
        return path

    good = _judge("03.static_int8", quantize(tmp_path / "int8.onnx", calib))
    assert good.status == "passed", good.message()
    unquantized = _judge("03.static_int8", fp32)
    assert _missed(unquantized) == {"size_ratio"} and "weight_type=QuantType.QInt8" in unquantized.message()
    # calibrated on images 50x too dark: every activation range is too narrow, the int8 model clips
    dark = _judge("03.static_int8", quantize(tmp_path / "dark.onnx", calib * 0.02))
    assert _missed(dark) == {"points_lost"} and "calibrate on real training images" in dark.message()


def test_04_and_06_fail_the_unpruned_teacher_and_an_untrained_small_net(tmp_path, fp32):
    teacher_verdict = _judge("04.channel_budget", fp32)
    assert _missed(teacher_verdict) == {"macs_ratio"} and "pruning_ratio" in teacher_verdict.message()
    shipped_teacher = _judge("06.ship", fp32)
    assert _missed(shipped_teacher) == {"size_ratio", "macs_ratio"}
    torch.manual_seed(0)
    untrained = _export(models.StudentCNN((8, 16, 16), 16), tmp_path / "untrained.onnx")
    j = _judge("04.channel_budget", untrained)
    assert _missed(j) == {"points_lost"}, j.message()
    assert _missed(_judge("06.ship", untrained)) == {"points_lost"}


def test_hostile_and_broken_files_become_a_sentence(tmp_path, fp32):
    cid = "01.serving_onnx"
    (tmp_path / "notes.onnx").write_text("not a model")
    os.symlink(fp32, tmp_path / "link.onnx")
    (tmp_path / "folder.onnx").mkdir()
    (tmp_path / "empty.onnx").write_bytes(b"")
    flat = _export(torch.nn.Sequential(torch.nn.Linear(784, 10)), tmp_path / "flat.onnx", shape=(2, 784))
    model = onnx.load(fp32)
    onnx.save(model, tmp_path / "external.onnx", save_as_external_data=True, size_threshold=0)
    expected = {"notes.onnx": "is not an ONNX model", "link.onnx": "is a link", "folder.onnx": "not a plain file",
                "empty.onnx": "is empty", flat: "this challenge feeds arrays of shape (batch, 1, 28, 28)",
                "external.onnx": "separate .data file", "absent.onnx": "no artifact yet"}
    for name, words in expected.items():
        j = _judge(cid, tmp_path / name)
        assert j.status in ("error", "missing") and words in j.message(), (name, j.message())
    with pytest.raises(probe.Refused, match="more than the 1,000 bytes"):
        probe.read_artifact(fp32, max_bytes=1000)


def test_judge_records_and_never_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path / "run"))
    path = challenges.hand_in("01.serving_onnx")
    assert path == tmp_path / "run" / "submit" / "01_serving.onnx"  # never beside the kit's notebooks in a run
    j = challenges.judge("01.serving_onnx", path)
    assert j.status == "missing" and nb01.HINT_BATCH in j.hints and "missing" in j._repr_html_()
    record = json.loads((tmp_path / "run" / challenges.RECORDS).read_text().splitlines()[-1])
    assert record["challenge"] == "01.serving_onnx" and record["status"] == "missing"


def test_the_ground_is_the_kits_own():
    g = ground(PROFILE)
    assert len(g.test.x) == 500 and 0.85 < g.teacher_accuracy <= 1.0
    np.testing.assert_array_equal(nb01.raw_pixels(g)[:4] % 1, 0)  # whole pixel values


@pytest.mark.parametrize("number", sorted({c.notebook for c in challenges.CHALLENGES.values()}))
def test_each_challenge_cell_is_stripped_in_the_student_edition_and_judged_after(number):
    kit = json.loads(notebooks.find_notebook(number).read_text())["cells"]
    student = json.loads(next(release.STUDENT_DIR.glob(f"{number}_*.ipynb")).read_text())["cells"]
    for c in challenges.of_notebook(number):
        gid = challenges.grade_id(c)
        ids = [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in kit]
        at = ids.index(gid)
        assert ids[at + 1] == gid + "-check", "the judge cell follows the challenge's cell"
        assert f'lk.challenges.judge("{c.id}"' in "".join(kit[at + 1]["source"])
        mine = next(cell for cell in student if cell["id"] == kit[at]["id"])
        text = "".join(mine["source"])
        assert release.BEGIN not in text and f"YOUR CODE HERE (challenge {c.id})" in text
        assert "raise" not in text  # the student edition runs on past an unsolved challenge


def test_the_probe_imports_no_labkit():
    """The sandboxed child loads probe.py by its path: it may import numpy, onnx and onnxruntime, never labkit."""
    import ast

    tree = ast.parse(open(probe.__file__).read())
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert {m.split(".")[0] for m in modules} <= {"__future__", "os", "stat", "collections", "pathlib", "numpy",
                                                  "onnx", "onnxruntime", "google"}


def _recipe(path, T: float, alpha: float):
    """05's hand-in, written as the notebook writes it: the knobs of a real kd_loss_fn loss."""
    from labkit.techniques import distill

    return distill.save_recipe(distill.kd_loss_fn(np.zeros((4, 10), np.float32), T=T, alpha=alpha), path)


def test_05_writes_the_knobs_of_the_loss_itself(tmp_path):
    from labkit.techniques import distill

    path = _recipe(tmp_path / "05_kd.json", 2.5, 0.75)
    assert json.loads(path.read_text()) == {"T": 2.5, "alpha": 0.75}
    assert nb05.read_recipe(path.read_bytes()) == (2.5, 0.75)
    with pytest.raises(ValueError, match="kd_loss_fn"):
        distill.save_recipe(lambda s, y, idx: s.sum(), tmp_path / "other.json")  # not a distillation loss


def test_05_reads_a_hostile_recipe_as_data_and_says_what_is_wrong(tmp_path):
    """Nothing here trains: each file is refused before the kit's training would start."""
    good = _recipe(tmp_path / "good.json", 4.0, 0.9)
    files = {"garbage.json": b"\x08\x07garbage", "not_utf8.json": b"\xff\xfe{}", "list.json": b"[4.0, 0.9]",
             "wrong_keys.json": b'{"T": 4.0, "alpha": 0.9, "epochs": 100}', "missing_key.json": b'{"T": 4.0}',
             "nan.json": b'{"T": NaN, "alpha": 0.9}', "inf.json": b'{"T": 1e999, "alpha": 0.9}',
             "text.json": b'{"T": "4", "alpha": 0.9}', "bool.json": b'{"T": 4.0, "alpha": true}',
             "alpha.json": b'{"T": 4.0, "alpha": 1.5}', "cold.json": b'{"T": 0.0, "alpha": 0.9}',
             "deep.json": b"[" * 500 + b"]" * 500, "big.json": b'{"T": 4.0, "alpha": 0.9}' + b" " * 4096,
             "empty.json": b""}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    os.symlink(good, tmp_path / "link.json")
    expected = {"garbage.json": "not JSON text", "not_utf8.json": "not JSON text", "list.json": "exactly the keys",
                "wrong_keys.json": "exactly the keys", "missing_key.json": "exactly the keys",
                "nan.json": "finite numbers", "inf.json": "T must be a number from 0.1 to 100",
                "text.json": "T must be a number", "bool.json": "alpha must be a number from 0 to 1",
                "alpha.json": "alpha must be a number from 0 to 1", "cold.json": "T must be a number",
                "deep.json": "exactly the keys", "big.json": "more than the 1,024 bytes", "empty.json": "is empty",
                "link.json": "is a link", "absent.json": "no artifact yet"}
    for name, words in expected.items():
        j = _judge("05.kd_recipe", tmp_path / name)
        assert j.status in ("error", "missing") and words in j.message(), (name, j.message())
    with pytest.raises(probe.Refused, match="two numbers"):
        nb05.read_recipe(b" " * (nb05.MAX_BYTES + 1))


@pytest.fixture
def short_judge(monkeypatch):
    """05's judge on a budget of a few steps (the verdict on alpha=0 does not depend on it; the smoke run of the
    notebook judges at the real one), its per-process caches emptied before and after."""
    knobs = profiles.KNOBS[nb05.NOTEBOOK]
    monkeypatch.setitem(knobs["judge_images"], PROFILE, 512)
    monkeypatch.setitem(knobs["judge_epochs"], PROFILE, 1.0)
    nb05.arm.cache_clear(), nb05.training.cache_clear()
    yield
    nb05.arm.cache_clear(), nb05.training.cache_clear()


def test_05_a_recipe_that_ignores_the_teacher_fails_with_the_alpha_hint(tmp_path, short_judge):
    """alpha=0 is plain cross-entropy: the kit's training then reproduces the scratch twin bit for bit on any CPU,
    so the margin is exactly 0 (not > 0) and the transfer exactly 1 (not <= 0.8): a sure failure, with the hint
    naming alpha. A second judgement of the same recipe trains nothing."""
    j = _judge("05.kd_recipe", _recipe(tmp_path / "05_kd.json", 4.0, 0.0))
    values = {r["metric"]: r["value"] for r in j.rows}
    assert j.status == "failed" and values == {"margin": 0.0, "transfer": 1.0}, j.message()
    assert _missed(j) == {"transfer"} and nb05.HINT_TRANSFER in j.hints and "raise alpha" in j.message()
    assert not challenges.get("05.kd_recipe").targets[0].met(0.0, "class")  # beating means more than 0 points
    trained = nb05.arm.cache_info().misses
    again = _judge("05.kd_recipe", _recipe(tmp_path / "again.json", 4, 0))
    assert again.rows == j.rows and nb05.arm.cache_info().misses == trained
