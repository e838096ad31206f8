import gzip
import shutil

import numpy as np
import pytest

from labkit import data
from labkit.paths import REPO_DIR


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


def test_torch_loader_batches():
    split = data.load("test", 100)
    xb, yb = next(iter(data.torch_loader(split, batch_size=32)))
    assert tuple(xb.shape) == (32, 1, 28, 28) and tuple(yb.shape) == (32,)


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
