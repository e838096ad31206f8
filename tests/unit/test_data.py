import gzip
import multiprocessing
import os
import shutil
import sys

import numpy as np
import pytest

from labkit.core import data
from labkit.core.paths import REPO_DIR


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of data/ and an empty cache, so tests can damage files safely."""
    src = data.dataset_dir()
    dst = tmp_path / "data" / "fashion-mnist"
    shutil.copytree(src, dst)
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    return dst


def test_splits_have_expected_shapes_and_normalisation():
    train, test = data.load("train"), data.load("test")
    assert train.x.shape == (60000, 1, 28, 28) and test.x.shape == (10000, 1, 28, 28)
    assert train.x.dtype == np.float32 and train.y.dtype == np.int64
    assert abs(float(train.x.mean())) < 0.01 and abs(float(train.x.std()) - 1.0) < 0.01
    assert set(np.unique(test.y)) == set(range(10)) and len(data.CLASS_NAMES) == 10


def test_subsets_are_reproducible_and_sized():
    a, b = data.load("test", 300, seed=1), data.load("test", 300, seed=1)
    assert len(a) == 300 and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.y, data.load("test", 300, seed=2).y)


def test_bad_split_name():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load("validation")


def test_corrupt_file_is_named(data_copy):
    target = data_copy / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(gzip.compress(b"not the real labels"))
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte.gz is corrupt.*git checkout"):
        data.load("test")


def test_missing_file_is_named(data_copy):
    (data_copy / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(data.DataError, match="train-images-idx3-ubyte.gz is missing"):
        data.load("train")


def test_cache_is_reused_and_invalidated(data_copy, tmp_path):
    data.load("test")
    cache = tmp_path / "cache" / "fashion-mnist.npz"
    assert cache.exists()
    first = cache.stat().st_mtime_ns
    data.load("test")
    assert cache.stat().st_mtime_ns == first  # served from the cache, not rebuilt
    (data_copy / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(data.DataError):
        data.load("test")


def _fill_cache(barrier, cache: str) -> None:
    """One process of the race: wait for the others, then load through an empty cache."""
    os.environ["LABKIT_CACHE"] = cache
    barrier.wait()
    raw = data.load_raw()
    sys.exit(0 if raw["train_images"].shape == (60000, 28, 28) and raw["test_labels"].shape == (10000,) else 3)


def test_processes_filling_an_empty_cache_at_once_all_succeed(tmp_path):
    """Two notebooks opened at once, or a class sharing a home directory: 4 rounds of 3 processes start together
    on an empty cache (before the fix, with one shared temporary name, nearly every round lost a process)."""
    ctx = multiprocessing.get_context("fork")
    reference = data.load_raw()
    for round_ in range(4):
        cache = tmp_path / f"cache{round_}"
        barrier = ctx.Barrier(3)
        procs = [ctx.Process(target=_fill_cache, args=(barrier, str(cache))) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0, 0, 0], f"round {round_}"
        assert sorted(p.name for p in cache.iterdir()) == ["fashion-mnist.lock", "fashion-mnist.npz"]  # no leftovers
    with np.load(cache / "fashion-mnist.npz") as npz:
        assert all(np.array_equal(npz[key], value) for key, value in reference.items())


@pytest.mark.parametrize("damage", ["truncated", "one byte flipped", "not a zip"])
def test_a_damaged_cache_heals_with_a_one_line_note(tmp_path, monkeypatch, capsys, damage):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path))
    reference = data.load_raw()
    cache = tmp_path / "fashion-mnist.npz"
    good = cache.read_bytes()
    bad = {"truncated": good[: len(good) // 2],
           "one byte flipped": good[:len(good) // 2] + bytes([good[len(good) // 2] ^ 0xFF]) + good[len(good) // 2 + 1:],
           "not a zip": b"garbage"}[damage]
    cache.write_bytes(bad)
    capsys.readouterr()
    raw = data.load_raw()
    assert all(np.array_equal(raw[key], value) for key, value in reference.items())
    err = capsys.readouterr().err
    assert err.startswith(f"labkit: the data cache {cache} is damaged (") and err.count("\n") == 1
    assert err.endswith("); rebuilding it from the shipped data.\n")
    assert cache.read_bytes() == good  # rebuilt on disk, so the next load is quiet
    data.load_raw()
    assert capsys.readouterr().err == ""


def test_cache_folder_that_is_a_file_is_one_sentence(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("")
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(NotADirectoryError, match=r"the data cache \(LABKIT_CACHE\) .*cache is a file, not a folder"):
        data.load("test")


def test_relative_variables_are_taken_from_the_kit_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a kernel runs in its notebook's folder, not where LABKIT_* was set
    monkeypatch.setenv("LABKIT_DATA", "data")
    assert data.dataset_dir() == REPO_DIR / "data" / "fashion-mnist"
    assert len(data.load("test", 10)) == 10
