"""Units of labkit.distill (the KD loss, soft targets, training a student); notebook 05's run is in
tests/notebooks/test_nb05_distillation.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labkit.core.data import Split
from labkit.core.models import StudentCNN, TeacherCNN, count_params
from labkit.core.train import fit, predict
from labkit.techniques import distill


def _softmax(v):
    e = [math.exp(x) for x in v]
    return [x / sum(e) for x in e]


def test_kd_loss_matches_hand_computed_value():
    # two examples, three classes: one where student and teacher disagree, one where they agree
    s = [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    t = [[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]]
    y = [0, 2]
    T, alpha = 2.0, 0.5
    kl = [sum(p * math.log(p / q)
              for p, q in zip(_softmax([v / T for v in ti]), _softmax([v / T for v in si]), strict=True))
          for si, ti in zip(s, t, strict=True)]
    ce = [-math.log(_softmax(si)[yi]) for si, yi in zip(s, y, strict=True)]
    by_hand = alpha * T * T * sum(kl) / len(s) + (1 - alpha) * sum(ce) / len(s)
    assert by_hand == pytest.approx(1.0239597, abs=1e-6)  # 0.5*4*(0.320157/2) + 0.5*(2.407606+0.407606)/2
    got = distill.kd_loss(torch.tensor(s), torch.tensor(t), torch.tensor(y), T=T, alpha=alpha)
    assert got.item() == pytest.approx(by_hand, rel=1e-6)


def test_kd_loss_limits():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)
    y = torch.randint(0, 10, (8,), generator=g)
    assert distill.kd_loss(s, t, y, T=3.0, alpha=0.0).item() == pytest.approx(F.cross_entropy(s, y).item(), rel=1e-6)
    assert distill.kd_loss(s, s, y, T=3.0, alpha=1.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distill.kd_loss(s, t, y, T=3.0, alpha=1.0).item() > 0
    # numpy teacher logits are accepted
    assert distill.kd_loss(s, t.numpy(), y).item() == pytest.approx(distill.kd_loss(s, t, y).item())


def test_kd_loss_only_student_gets_gradients():
    s = torch.randn(4, 10, requires_grad=True)
    t = torch.randn(4, 10, requires_grad=True)
    distill.kd_loss(s, t, torch.zeros(4, dtype=torch.long)).backward()
    assert s.grad is not None and t.grad is None


def test_t_squared_keeps_the_soft_gradient_scale():
    g = torch.Generator().manual_seed(1)
    t = 3 * torch.randn(64, 10, generator=g)
    y = torch.zeros(64, dtype=torch.long)

    def soft_grad(T):
        s = (3 * torch.randn(64, 10, generator=torch.Generator().manual_seed(2))).requires_grad_(True)
        distill.kd_loss(s, t, y, T=T, alpha=1.0).backward()
        return s.grad.norm().item()

    g4, g20 = soft_grad(4.0), soft_grad(20.0)
    assert 0.5 < g4 / g20 < 2.0  # with T^2 the scale barely moves; without it, it would move about 25x


@pytest.mark.parametrize("kwargs, match", [
    ({"T": 0.0}, "temperature"), ({"T": -1.0}, "temperature"), ({"T": float("nan")}, "temperature"),
    ({"alpha": 1.5}, "alpha"), ({"alpha": -0.1}, "alpha"),
])
def test_kd_loss_rejects_bad_hyperparameters(kwargs, match):
    s = torch.randn(2, 10)
    with pytest.raises(ValueError, match=match):
        distill.kd_loss(s, s, torch.zeros(2, dtype=torch.long), **kwargs)


def test_kd_loss_rejects_bad_shapes_and_labels():
    s = torch.randn(4, 10)
    with pytest.raises(ValueError, match="one shape"):
        distill.kd_loss(s, torch.randn(4, 9), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        distill.kd_loss(s, s, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        distill.kd_loss(s, s, torch.zeros(4))
    with pytest.raises(ValueError, match="one shape"):
        distill.kd_loss(s[0], s[0], torch.zeros(1, dtype=torch.long))


def _tiny_split(n=256, seed=0):
    rng = np.random.default_rng(seed)
    return Split(rng.standard_normal((n, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, n).astype(np.int64))


def test_teacher_logits_match_predict_and_keep_mode():
    torch.manual_seed(0)
    model, split = TeacherCNN(), _tiny_split(300)
    model.train()
    out = distill.teacher_logits(model, split, batch_size=128)
    assert out.shape == (300, 10) and out.dtype == np.float32
    assert model.training  # restored
    np.testing.assert_allclose(out, predict(model, split.x), atol=1e-5)
    np.testing.assert_allclose(distill.teacher_logits(model.eval(), split.x[:10]), out[:10], atol=1e-5)
    with pytest.raises(ValueError, match="NCHW"):
        distill.teacher_logits(model, split.x[:, 0])


def test_kd_loss_fn_looks_up_rows_by_index_and_trains():
    split = _tiny_split()
    t_logits = np.random.default_rng(1).standard_normal((len(split), 10)).astype(np.float32)
    loss_fn = distill.kd_loss_fn(t_logits, T=3.0, alpha=0.7)
    idx = torch.tensor([5, 0, 200])
    s = torch.randn(3, 10)
    y = torch.from_numpy(split.y[idx.numpy()])
    expected = distill.kd_loss(s, torch.from_numpy(t_logits[idx.numpy()]), y, T=3.0, alpha=0.7)
    assert loss_fn(s, y, idx).item() == pytest.approx(expected.item())
    with pytest.raises(IndexError, match="same training split"):
        loss_fn(s, y, torch.tensor([0, 1, len(split)]))
    hist = fit(StudentCNN(), split, epochs=1.0, batch_size=64, loss_fn=loss_fn, desc="test")
    assert len(hist.loss) >= 1 and all(math.isfinite(v) for v in hist.loss)
    with pytest.raises(ValueError, match="alpha"):
        distill.kd_loss_fn(t_logits, T=2.0, alpha=2.0)
    with pytest.raises(ValueError, match=r"\(N, classes\)"):
        distill.kd_loss_fn(t_logits[0])


def test_distill_student_is_a_fair_comparison():
    split = _tiny_split()
    t_logits = np.random.default_rng(1).standard_normal((len(split), 10)).astype(np.float32)
    a, _ = distill.distill_student(split, None, seed=3, epochs=0.5, batch_size=64, desc="test")
    b, _ = distill.distill_student(split, None, seed=3, epochs=0.5, batch_size=64, desc="test")
    c, _ = distill.distill_student(split, t_logits, seed=3, epochs=0.5, batch_size=64, desc="test")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)  # same seed, same loss: identical
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))
    with pytest.raises(ValueError, match="same split"):
        distill.distill_student(split, t_logits[:10])


def test_soften_and_confusions():
    logits = np.array([[4.0, 1.0, 0.0], [0.0, 5.0, 1.0], [3.0, 2.0, 0.0]], np.float32)
    p1, p10 = distill.soften(logits, 1.0), distill.soften(logits, 10.0)
    np.testing.assert_allclose(p1.sum(1), 1.0, atol=1e-6)
    assert p10.max() < p1.max() and p10.min() > p1.min()  # higher T is flatter
    np.testing.assert_allclose(distill.soften(torch.from_numpy(logits), 1.0), p1)
    with pytest.raises(ValueError, match="temperature"):
        distill.soften(logits, 0.0)
    mat, pairs = distill.confusions(p1, np.array([0, 1, 0]), ("a", "b", "c"), top=2)
    np.testing.assert_allclose(mat.sum(1)[:2], 1.0, atol=1e-6)
    assert mat[2].sum() == 0  # no example of class c
    assert pairs.iloc[0]["true class"] == "a" and pairs.iloc[0]["resembles"] == "b"
    with pytest.raises(ValueError, match="one label per row"):
        distill.confusions(p1, np.array([0, 1]))


def test_soft_kl_is_the_batchmean_kl_at_temperature():
    rng = np.random.default_rng(0)
    s, t = rng.normal(0, 3, (40, 10)).astype(np.float32), rng.normal(0, 6, (40, 10)).astype(np.float32)
    by_torch = F.kl_div(F.log_softmax(torch.from_numpy(s) / 4, 1), F.softmax(torch.from_numpy(t) / 4, 1),
                        reduction="batchmean").item()
    assert distill.soft_kl(s, t, 4.0) == pytest.approx(by_torch, rel=1e-5)
    assert distill.soft_kl(t, t, 4.0) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="same shape"):
        distill.soft_kl(s[:5], t, 4.0)


def test_student_budget_in_code():
    assert count_params(StudentCNN()) * 8 <= count_params(TeacherCNN())
