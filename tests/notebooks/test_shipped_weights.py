"""The shipped weights against their manifests, on whole held-out sets: the teacher's top-1 on all 10,000 test
images and the language model's loss per character on all of Tiny Shakespeare's test split, recomputed from the
files in data/ (tens of seconds of compute, so they sit with the slow tests, not in the unit suite)."""

from __future__ import annotations

import pytest

from labkit.core import data, lm, models, text
from labkit.core.train import accuracy


def test_shipped_teacher_reaches_its_manifest_accuracy():
    manifest = models.teacher_manifest()
    acc = accuracy(models.load_teacher(), data.load("test"))
    assert manifest["test_accuracy"] >= 0.91
    assert acc == pytest.approx(manifest["test_accuracy"], abs=1e-4)


def test_shipped_model_matches_its_manifest():
    manifest = lm.verify()
    assert manifest["held_out_loss_per_char"] <= 1.70
    assert manifest["command"].startswith("labkit train lm")
    model, tok = lm.load()
    test_text = text.load("test")
    ids = lm.encode(tok, test_text)
    loss = lm.loss_per_char(lambda x: model(input_ids=x).logits, ids, len(test_text), manifest["recipe"]["context"])
    # the manifest rounds to 4 decimals (<= 5e-5); fp32 sums in another order differ by ~1e-6 relative
    assert abs(loss - manifest["held_out_loss_per_char"]) <= 1e-4
