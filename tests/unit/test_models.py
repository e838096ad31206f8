import shutil

import numpy as np
import pytest
import torch

from labkit.core import data, models
from labkit.techniques.keras_twin import dense_after_flatten_to_keras, keras_twin


def test_student_is_at_most_an_eighth_of_the_teacher():
    assert models.count_params(models.StudentCNN()) * 8 <= models.count_params(models.TeacherCNN())


def test_corrupt_weights_are_refused(tmp_path):
    bad = tmp_path / "teacher.pt"
    bad.write_bytes(b"\x80not a state dict")
    with pytest.raises(ValueError, match="not a readable PyTorch state_dict"):
        models.load_teacher(bad)
    with pytest.raises(FileNotFoundError, match="missing.pt is missing. Give the path of a TeacherCNN state_dict"):
        models.load_teacher(tmp_path / "missing.pt")


def test_an_empty_file_says_so(tmp_path):
    empty = tmp_path / "teacher.pt"
    empty.touch()
    with pytest.raises(ValueError, match=r"teacher.pt is empty \(0 bytes\), so it holds no weights; save one with"):
        models.load_teacher(empty)


def test_weights_of_another_model_name_the_tensors_and_what_to_do(tmp_path):
    path = tmp_path / "student.pt"
    torch.save(models.StudentCNN().state_dict(), path)
    with pytest.raises(ValueError) as err:
        models.load_teacher(path)
    message = str(err.value)
    assert message.startswith(f"{path} holds the weights of another model, not a TeacherCNN: ")
    assert "of TeacherCNN's tensors have another shape (features.0.weight" in message and "Missing key" not in message
    assert message.endswith("load it into the model that saved it, or pass a TeacherCNN state_dict (the shipped one "
                            f"is {models.weights_dir() / 'teacher.pt'}).")
    torch.save(torch.zeros(3), path)
    with pytest.raises(ValueError, match="holds a Tensor, not a state_dict"):
        models.load_teacher(path)


def test_the_shipped_teacher_is_verified_whether_its_path_is_relative_or_absolute(tmp_path, monkeypatch):
    """A state_dict that loads fine but is not the shipped one: refused by its manifest under every spelling."""
    shipped = tmp_path / "data" / "weights" / "teacher.pt"
    shutil.copytree(models.weights_dir(), shipped.parent)
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path / "data"))
    state = models.load_teacher().state_dict()
    state["classifier.4.bias"] += 1.0  # a different model of the same shape
    torch.save(state, shipped)
    monkeypatch.chdir(tmp_path)
    for path in (None, shipped, "data/weights/teacher.pt", "./data/../data/weights/teacher.pt"):
        with pytest.raises(ValueError, match="does not match its manifest"):
            models.load_teacher(path)


def longest_dot_product(model: torch.nn.Module) -> int:
    """The largest number of products summed into one output value (a conv's k*k*in, a Linear's in)."""
    return max(m.weight[0].numel() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))


def test_keras_twin_matches_teacher_logits():
    """On 2,000 test images (seed 0) the twin agrees to float32 rounding. The frameworks add the same products
    in a different order; summing K products in another order moves the result by about sqrt(K)
    rounding steps of the largest values involved (a random walk of roundings), so the bound is
    sqrt(K_max) units of float32 rounding relative to each image's largest logit, on any CPU."""
    teacher = models.load_teacher()
    x = data.load("test", 2000, 0).x
    with torch.no_grad():
        ref = teacher(torch.from_numpy(x)).numpy()
    got = keras_twin(teacher).predict(x.transpose(0, 2, 3, 1), batch_size=1000, verbose=0)
    bound = np.sqrt(longest_dot_product(teacher)) * np.finfo(np.float32).eps
    scaled = np.abs(ref - got).max(1) / np.abs(ref).max(1)
    assert scaled.max() <= bound, (scaled.max(), bound)
    assert (ref.argmax(1) == got.argmax(1)).all()


def test_flatten_reorder_is_a_permutation():
    w = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 12)  # 2 outputs, C=3, H=W=2
    k = dense_after_flatten_to_keras(w, 3, 2, 2)
    assert k.shape == (12, 2) and sorted(k[:, 0]) == sorted(w[0])
    assert k[1, 0] == w[0, 4]  # Keras (h=0, w=0, c=1) is PyTorch (c=1, h=0, w=0)


def test_macs_counts_convolutions():
    assert models.macs(models.TeacherCNN()) > 5 * models.macs(models.StudentCNN())


def test_summary_lists_every_computing_layer_with_its_shape_and_parameters():
    student = models.StudentCNN().train()
    table = models.summary(student)
    assert int(table["parameters"].sum()) == models.count_params(student)
    assert list(table.index) == [name for name, m in student.named_modules() if not any(m.children())]
    assert table.loc["features.0", "output"] == "16 x 28 x 28" and table.loc["features.10", "output"] == "32 x 7 x 7"
    assert table.iloc[-1]["output"] == str(models.NUM_CLASSES)
    assert student.training  # the forward pass it made does not leave the model in eval mode
    narrow = models.summary(models.StudentCNN(widths=(8, 16, 16)))
    assert narrow.loc["features.0", "output"] == "8 x 28 x 28"
