"""Image data sets read from local files: ``MNIST`` (IDX files) and ``Digits`` (scikit-learn).

Both follow torchvision's conventions: ``dataset[i]`` is ``(image, target)`` with ``transform``
applied to the image and ``target_transform`` to the integer label; ``.data`` holds every image as
a ``uint8`` tensor ``(N, H, W)`` and ``.targets`` the labels as an ``int64`` tensor. Without a
transform an image is an ``H x W`` ``uint8`` NumPy array (torchvision returns a PIL image; Pillow
is not a dependency of fluxion): ``transforms.ToTensor()`` turns either into a ``1 x H x W`` float
tensor in ``[0, 1]``.

Nothing here downloads: fluxion works offline, so the files must already be on disk.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from collections.abc import Callable
from typing import Any

import numpy as np

import fluxion
from fluxion.utils.data import Dataset

__all__ = ["MNIST", "Digits", "read_idx"]

# IDX type codes (the third byte of the magic number) -> big-endian NumPy dtype
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a NumPy array.

    The format is the one the MNIST files use: two zero bytes, a type code, the number of
    dimensions, one big-endian uint32 per dimension, then the values in C order.

    Args:
        path: File to read; a name ending in ``.gz`` is decompressed.

    Returns:
        Array with the file's shape and dtype (native byte order).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte")
    >>> _ = open(p, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(p)
    array([7, 8, 9], dtype=uint8)
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise RuntimeError(
            f"{path} is not an IDX file: it must start with two zero bytes, a type code "
            f"(one of {sorted(_IDX_DTYPES)}) and the number of dimensions; got "
            f"{list(raw[:4])}. Is it still compressed, or truncated?"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RuntimeError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dims)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape, dtype=np.int64))
    expected = header + count * dtype.itemsize
    if len(raw) != expected:
        raise RuntimeError(
            f"{path}: IDX header says shape {shape} ({expected} bytes in all) but the file "
            f"has {len(raw)} bytes; the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


class _ImageDataset(Dataset):
    """Shared ``__getitem__`` / ``__len__`` / ``repr`` for in-memory uint8 image sets."""

    root: str | None = None
    train: bool
    classes: list[str]

    def __init__(
        self, transform: Callable | None = None, target_transform: Callable | None = None
    ) -> None:
        self.transform = transform
        self.target_transform = target_transform

    def _set_arrays(self, images: np.ndarray, labels: np.ndarray) -> None:
        self._images = np.ascontiguousarray(images, dtype=np.uint8)
        self._labels = np.ascontiguousarray(labels, dtype=np.int64)
        # NOTE: .data / .targets share memory with the arrays __getitem__ reads (as torchvision's
        # tensors are the only copy); __getitem__ hands out copies, so transforms cannot alter them.
        self.data = fluxion.from_numpy(self._images)
        self.targets = fluxion.from_numpy(self._labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img = self._images[index].copy()
        target = int(self._labels[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self._images)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"

    def __repr__(self) -> str:
        body = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if self.transform is not None:
            body += _indent_after_first(f"Transform: {self.transform!r}")
        if self.target_transform is not None:
            body += _indent_after_first(f"Target transform: {self.target_transform!r}")
        return "\n".join([f"Dataset {self.__class__.__name__}"] + ["    " + b for b in body])


def _indent_after_first(text: str) -> list[str]:
    lines = text.splitlines()
    pad = " " * (text.index(":") + 2)
    return lines[:1] + [pad + line for line in lines[1:]]


class MNIST(_ImageDataset):
    """The MNIST handwritten digits, read from the four standard IDX files.

    The files are looked for in ``root/MNIST/raw`` (torchvision's layout) and then in ``root``
    itself, each either plain or gzip-compressed (``.gz``):
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte`` (60,000 training images) and
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (10,000 test images).

    Args:
        root: Directory that holds ``MNIST/raw`` (or the files themselves).
        train: Read the training files (``True``) or the test files.
        transform: Callable applied to each ``28 x 28`` uint8 image.
        target_transform: Callable applied to each integer label.
        download: Accepted for compatibility; fluxion never downloads, so with missing files
            it raises the same error that says where to put them.

    >>> import tempfile
    >>> MNIST(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: MNIST: training files not found. ...
    """

    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(transform, target_transform)
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        prefix = "train" if train else "t10k"
        images = read_idx(self._find(f"{prefix}-images-idx3-ubyte", download))
        labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte", download))
        if images.ndim != 3 or images.dtype != np.uint8:
            raise RuntimeError(
                f"MNIST: the images file must hold uint8 values of shape (N, H, W); got "
                f"{images.dtype} of shape {images.shape}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise RuntimeError(
                f"MNIST: the labels file must hold one label per image ({len(images)}); got "
                f"shape {labels.shape}"
            )
        self._set_arrays(images, labels)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    def _find(self, name: str, download: bool) -> str:
        for folder in (self.raw_folder, self.root):
            for candidate in (name, name + ".gz"):
                path = os.path.join(folder, candidate)
                if os.path.isfile(path):
                    return path
        prefix = "train" if self.train else "t10k"
        note = (
            "download=True cannot fetch them: fluxion does not download data sets. "
            if download
            else ""
        )
        raise RuntimeError(
            f"MNIST: {'training' if self.train else 'test'} files not found. {note}"
            f"Put {prefix}-images-idx3-ubyte and {prefix}-labels-idx1-ubyte (plain or .gz) in "
            f"{self.raw_folder} (or directly in {self.root}); the four MNIST files "
            "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            "t10k-labels-idx1-ubyte are published with the MNIST database. "
            f"Missing: {name}."
        )


def _load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's digits as ``(pixels (1797, 64) float64, labels (1797,))``.

    Reads the CSV that scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``, the file
    ``load_digits`` parses: 64 pixel columns and the label) without importing scikit-learn,
    whose import pulls in SciPy and takes seconds; falls back to ``load_digits`` if the file is
    not where it has always been.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError(
            "fluxion.vision.datasets.Digits needs scikit-learn, which ships the digits data: "
            "install the examples extra (pip install 'fluxion[examples]') or scikit-learn"
        )
    for folder in spec.submodule_search_locations or []:
        path = os.path.join(folder, "datasets", "data", "digits.csv.gz")
        if os.path.isfile(path):
            table = np.loadtxt(path, delimiter=",", dtype=np.float64)
            return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data, bunch.target


class Digits(_ImageDataset):
    """The 8x8 handwritten digits that scikit-learn ships (1,797 images), split in two.

    Pixel values 0..16 are scaled to ``uint8`` 0..255, so ``transforms.ToTensor()`` gives the
    usual ``[0, 1]`` range. The split is stratified (each class keeps its share in both parts)
    and depends only on ``seed``, not on fluxion's random state.

    Args:
        train: The training part (``True``) or the test part.
        transform: Callable applied to each ``8 x 8`` uint8 image.
        target_transform: Callable applied to each integer label.
        test_fraction: Share of each class that goes to the test part.
        seed: Seed of the split.

    >>> train, test = Digits(train=True), Digits(train=False)
    >>> len(train) + len(test), train[0][0].shape
    (1797, (8, 8))
    """

    classes = [str(d) for d in range(10)]

    def __init__(
        self,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(transform, target_transform)
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"Digits: test_fraction must be in (0, 1), got {test_fraction}")
        self.train = train
        self.test_fraction = test_fraction
        self.seed = seed
        pixels, labels = _load_sklearn_digits()
        images = np.rint(pixels.reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)
        labels = labels.astype(np.int64)
        rng = np.random.default_rng(seed)
        test_idx = []
        for c in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == c))
            test_idx.append(members[: int(round(len(members) * test_fraction))])
        is_test = np.zeros(len(labels), dtype=bool)
        is_test[np.concatenate(test_idx)] = True
        keep = np.flatnonzero(~is_test if train else is_test)
        self._set_arrays(images[keep], labels[keep])

    def extra_repr(self) -> str:
        return (
            f"Split: {'Train' if self.train else 'Test'} "
            f"(test_fraction={self.test_fraction}, seed={self.seed})"
        )
