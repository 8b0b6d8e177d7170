"""``fluxion.vision.datasets``: MNIST from IDX files the tests write, and scikit-learn's digits."""

from __future__ import annotations

import gzip
import importlib.util
import struct

import numpy as np
import pytest

import fluxion
from fluxion.utils.data import DataLoader
from fluxion.vision import datasets, transforms

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}
IDX_CODES[np.float64] = 0x0E


def _idx_bytes(arr: np.ndarray) -> bytes:
    """Encode ``arr`` in the IDX format, independently of the reader under test."""
    code = IDX_CODES[arr.dtype.type]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", n) for n in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write(path, arr: np.ndarray, compress: bool) -> None:
    data = _idx_bytes(arr)
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def _fake_mnist(folder, n_train=7, n_test=4, compress=False, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        _write(folder / f"{prefix}-images-idx3-ubyte", images, compress)
        _write(folder / f"{prefix}-labels-idx1-ubyte", labels, compress)
        arrays[prefix] = (images, labels)
    return arrays


# ---------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_roundtrips_every_type(tmp_path, dtype, compress):
    arr = (np.random.default_rng(1).standard_normal((3, 4, 2)) * 50).astype(dtype)
    _write(tmp_path / "x-idx3", arr, compress)
    out = datasets.read_idx(tmp_path / ("x-idx3" + (".gz" if compress else "")))
    assert out.dtype == np.dtype(dtype) and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_read_idx_rejects_bad_magic_and_truncation(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x1f\x8b\x08\x00rest")
    with pytest.raises(RuntimeError, match="is not an IDX file"):
        datasets.read_idx(tmp_path / "bad")
    good = _idx_bytes(np.arange(10, dtype=np.uint8))
    (tmp_path / "short").write_bytes(good[:-3])
    with pytest.raises(RuntimeError, match=r"header says shape \(10,\).*truncated or corrupt"):
        datasets.read_idx(tmp_path / "short")


# ---------------------------------------------------------------------------- MNIST


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("layout", ["raw", "flat"])
def test_mnist_reads_train_and_test_files(tmp_path, compress, layout):
    folder = tmp_path / "MNIST" / "raw" if layout == "raw" else tmp_path
    arrays = _fake_mnist(folder, compress=compress)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = datasets.MNIST(tmp_path, train=train)
        images, labels = arrays[prefix]
        assert len(ds) == len(images)
        assert ds.data.dtype == fluxion.uint8 and tuple(ds.data.shape) == images.shape
        assert ds.targets.dtype == fluxion.int64
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds.targets.numpy(), labels.astype(np.int64))
        img, target = ds[2]
        assert isinstance(target, int) and target == int(labels[2])
        np.testing.assert_array_equal(img, images[2])


def test_mnist_transforms_and_loader_batches(tmp_path):
    arrays = _fake_mnist(tmp_path / "MNIST" / "raw", n_train=10)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(tmp_path, transform=tf, target_transform=lambda y: y + 100)
    img, target = ds[3]
    images, labels = arrays["train"]
    expected = (images[3][None].astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(img.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert target == int(labels[3]) + 100
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(xb.shape) == (4, 1, 28, 28)
    np.testing.assert_array_equal(yb.numpy(), labels[:4].astype(np.int64) + 100)


def test_mnist_items_are_copies(tmp_path):
    _fake_mnist(tmp_path)
    ds = datasets.MNIST(tmp_path)
    before = ds.data.numpy().copy()
    img, _ = ds[0]
    img[:] = 0
    np.testing.assert_array_equal(ds.data.numpy(), before)


@pytest.mark.parametrize("download", [False, True])
def test_mnist_missing_files_error_says_where_to_put_them(tmp_path, download):
    with pytest.raises(RuntimeError) as info:
        datasets.MNIST(tmp_path, train=False, download=download)
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    assert str(tmp_path / "MNIST" / "raw") in msg
    assert ("does not download" in msg) == download


def test_mnist_missing_labels_only(tmp_path):
    _fake_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(RuntimeError, match="Missing: train-labels-idx1-ubyte"):
        datasets.MNIST(tmp_path)


def test_mnist_inconsistent_files(tmp_path):
    _fake_mnist(tmp_path, n_train=5)
    _write(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8), False)
    with pytest.raises(RuntimeError, match=r"one label per image \(5\)"):
        datasets.MNIST(tmp_path)
    _write(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 28), dtype=np.uint8), False)
    with pytest.raises(RuntimeError, match=r"shape \(N, H, W\)"):
        datasets.MNIST(tmp_path)


def test_mnist_repr_and_classes(tmp_path):
    _fake_mnist(tmp_path)
    ds = datasets.MNIST(tmp_path, train=False, transform=transforms.ToTensor())
    text = repr(ds)
    assert text.splitlines()[0] == "Dataset MNIST"
    assert "Number of datapoints: 4" in text and "Split: Test" in text
    assert "Transform: ToTensor()" in text
    assert ds.class_to_idx["3 - three"] == 3 and len(ds.classes) == 10


# ---------------------------------------------------------------------------- Digits


def test_digits_split_is_complete_disjoint_stratified_and_deterministic():
    sk = pytest.importorskip("sklearn.datasets")
    bunch = sk.load_digits()
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert len(train) + len(test) == len(bunch.target) == 1797
    scaled = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    # every original image is in exactly one part (match on pixels + label)
    keys = {(scaled[i].tobytes(), int(bunch.target[i])) for i in range(len(scaled))}
    got = [
        (d.data.numpy()[i].tobytes(), int(d.targets[i]))
        for d in (train, test)
        for i in range(len(d))
    ]
    assert set(got) == keys
    for c in range(10):
        n_c = int((bunch.target == c).sum())
        assert int((test.targets == c).sum()) == round(n_c * 0.2)
    again = datasets.Digits(train=False)
    np.testing.assert_array_equal(again.data.numpy(), test.data.numpy())
    other = datasets.Digits(train=False, seed=1)
    assert not np.array_equal(other.data.numpy(), test.data.numpy())


def test_digits_items_and_transform():
    pytest.importorskip("sklearn")
    ds = datasets.Digits(train=True, test_fraction=0.5, transform=transforms.ToTensor())
    img, target = ds[5]
    assert tuple(img.shape) == (1, 8, 8) and img.dtype == fluxion.float32
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0
    np.testing.assert_allclose(img.numpy()[0], ds.data.numpy()[5] / 255.0, rtol=1e-6)
    assert target == int(ds.targets[5])
    assert "test_fraction=0.5" in repr(ds)


def test_digits_bad_fraction():
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\)"):
        datasets.Digits(test_fraction=1.0)


def test_digits_without_sklearn_names_the_examples_extra(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sklearn" else real_find_spec(name, *a),
    )
    with pytest.raises(ImportError, match=r"fluxion\[examples\]"):
        datasets.Digits()


def test_digits_fast_path_equals_load_digits():
    sk = pytest.importorskip("sklearn.datasets")
    pixels, labels = datasets._load_sklearn_digits()
    bunch = sk.load_digits()
    np.testing.assert_array_equal(pixels, bunch.data)
    np.testing.assert_array_equal(labels, bunch.target)
