import numpy as np
import pytest
import torch

from labkit import data, models
from labkit.keras_twin import dense_after_flatten_to_keras, keras_twin
from labkit.train import accuracy


def test_student_is_at_most_an_eighth_of_the_teacher():
    assert models.count_params(models.StudentCNN()) * 8 <= models.count_params(models.TeacherCNN())


def test_shipped_teacher_reaches_its_manifest_accuracy():
    manifest = models.teacher_manifest()
    acc = accuracy(models.load_teacher(), data.load("test"))
    assert manifest["test_accuracy"] >= 0.91
    assert acc == pytest.approx(manifest["test_accuracy"], abs=1e-4)


def test_corrupt_weights_are_refused(tmp_path):
    bad = tmp_path / "teacher.pt"
    bad.write_bytes(b"\x80not a state dict")
    with pytest.raises(ValueError, match="not a readable PyTorch state_dict"):
        models.load_teacher(bad)
    with pytest.raises(FileNotFoundError, match="labkit train teacher"):
        models.load_teacher(tmp_path / "missing.pt")


def test_keras_twin_matches_teacher_logits():
    teacher = models.load_teacher()
    x = data.load("test", 256).x
    ref = teacher(torch.from_numpy(x)).detach().numpy()
    twin = keras_twin(teacher)
    got = twin(x.transpose(0, 2, 3, 1), training=False).numpy()
    assert np.abs(ref - got).max() <= 1e-5


def test_flatten_reorder_is_a_permutation():
    w = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 12)  # 2 outputs, C=3, H=W=2
    k = dense_after_flatten_to_keras(w, 3, 2, 2)
    assert k.shape == (12, 2) and sorted(k[:, 0]) == sorted(w[0])
    assert k[1, 0] == w[0, 4]  # Keras (h=0, w=0, c=1) is PyTorch (c=1, h=0, w=0)


def test_macs_counts_convolutions():
    assert models.macs(models.TeacherCNN()) > 10 * models.macs(models.StudentCNN())
