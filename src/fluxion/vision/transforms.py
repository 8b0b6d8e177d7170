"""Image transforms with torchvision's names, arguments and semantics.

Tensor images are ``(..., C, H, W)``. ``ToTensor`` also accepts ``H x W x C`` NumPy arrays and,
when Pillow happens to be installed, PIL images (Pillow is not a dependency). The random
transforms draw from fluxion's default generator in torchvision's order: ``RandomCrop`` draws the
row offset, then the column offset (``fluxion.randint(0, n, size=(1,))`` each), and
``RandomHorizontalFlip`` draws one ``fluxion.rand(1)``, so ``fluxion.manual_seed`` makes a
pipeline reproducible.

>>> from fluxion.vision import transforms as T
>>> t = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])
>>> t(np.full((2, 2), 255, dtype=np.uint8))
tensor([[[1., 1.],
         [1., 1.]]])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import numpy as np

import fluxion
import fluxion.nn.functional as F
from fluxion import Tensor

__all__ = [
    "Compose",
    "ToTensor",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Resize",
    "InterpolationMode",
]


class InterpolationMode(Enum):
    """Interpolation methods ``Resize`` supports (torchvision's enum, the supported subset)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


# ---------------------------------------------------------------------------- helpers


def _is_pil(img: Any) -> bool:
    # NOTE: Pillow is optional; a PIL image is recognised by its class's module, so that
    # nothing imports Pillow unless the caller already has a PIL image in hand.
    return type(img).__module__.startswith("PIL.") and hasattr(img, "getbands")


def _pil_image_module():
    from PIL import Image

    return Image


def _dimensions(img: Any) -> tuple[int, int, int]:
    """Return ``(channels, height, width)`` of a tensor image or a PIL image."""
    if _is_pil(img):
        width, height = img.size
        return len(img.getbands()), height, width
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be a Tensor or a PIL Image. Got {type(img)}")
    if img.ndim < 2:
        raise TypeError(f"Tensor is not a torch image: expected (..., H, W), got {img.ndim} dims")
    channels = 1 if img.ndim == 2 else img.shape[-3]
    return channels, img.shape[-2], img.shape[-1]


def _setup_size(size: Any, error_msg: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if not isinstance(size, Sequence) or len(size) != 2:
        raise ValueError(error_msg)
    return size[0], size[1]


def _parse_padding(padding: Any) -> tuple[int, int, int, int]:
    """Return ``(left, top, right, bottom)`` for torchvision's 1-, 2- or 4-element padding."""
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    padding = list(padding)
    if len(padding) == 1:
        return (int(padding[0]),) * 4
    if len(padding) == 2:
        lr, tb = int(padding[0]), int(padding[1])
        return lr, tb, lr, tb
    if len(padding) == 4:
        return tuple(int(p) for p in padding)
    raise ValueError(
        f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple"
    )


_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


def _pad(img: Any, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> Any:
    """Pad the last two dimensions of ``img`` (torchvision's ``F.pad``)."""
    if padding_mode not in _PADDING_MODES:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _parse_padding(padding)
    if min(left, top, right, bottom) < 0:
        raise ValueError(
            f"pad: negative padding {(left, top, right, bottom)} is not supported; "
            "crop the image instead"
        )
    if _is_pil(img):
        arr = np.asarray(img)
        widths = [(top, bottom), (left, right)] + [(0, 0)] * (arr.ndim - 2)
        if padding_mode == "constant":
            arr = np.pad(arr, widths, mode="constant", constant_values=fill)
        else:
            arr = np.pad(arr, widths, mode=padding_mode)
        return _pil_image_module().fromarray(arr, mode=img.mode)
    if padding_mode == "constant":
        if not isinstance(fill, numbers.Number):
            raise TypeError(f"fill for tensor images must be a number, got {type(fill).__name__}")
        return F.pad(img, [left, right, top, bottom], value=float(fill))
    # Non-constant modes pick existing pixels: pad an index range with NumPy's identical modes
    # and gather, so the result is an ordinary (differentiable) indexing op.
    rows = np.pad(np.arange(img.shape[-2]), (top, bottom), mode=padding_mode)
    cols = np.pad(np.arange(img.shape[-1]), (left, right), mode=padding_mode)
    return img[..., rows[:, None], cols]


def _crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    return img[..., top : top + height, left : left + width]


def _hflip(img: Any) -> Any:
    if _is_pil(img):
        return img.transpose(_pil_image_module().Transpose.FLIP_LEFT_RIGHT)
    return img.flip(-1)


# ---------------------------------------------------------------------------- transforms


class Compose:
    """Chain transforms: each one is applied to the result of the previous one.

    Args:
        transforms: Callables applied in order.

    >>> from fluxion.vision import transforms as T
    >>> T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.25,))])
    Compose(
        ToTensor()
        Normalize(mean=(0.5,), std=(0.25,))
    )
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = transforms

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        lines = [f"{self.__class__.__name__}("]
        lines += [f"    {t}" for t in self.transforms]
        return "\n".join(lines) + "\n)"


class ToTensor:
    """Convert an ``H x W x C`` uint8 image to a ``C x H x W`` float tensor in ``[0, 1]``.

    Accepts NumPy arrays (``H x W`` or ``H x W x C``) and PIL images. ``uint8`` data (and PIL
    images in 8-bit modes) is scaled by 1/255 into the default float dtype; other dtypes keep
    their values and dtype, as in torchvision.

    >>> from fluxion.vision.transforms import ToTensor
    >>> ToTensor()(np.array([[0, 51], [102, 255]], dtype=np.uint8))
    tensor([[[0.0000, 0.2000],
             [0.4000, 1.0000]]])
    """

    def __call__(self, pic: Any) -> Tensor:
        if _is_pil(pic):
            return self._from_pil(pic)
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        if pic.ndim == 2:
            pic = pic[:, :, None]
        chw = pic.transpose(2, 0, 1)
        if pic.dtype == np.uint8:
            # One correctly rounded division in the target dtype, as img.to(dtype).div(255);
            # done in NumPy because this runs once per sample and tensor ops cost more here.
            dtype = fluxion.get_default_dtype().np
            return fluxion.from_numpy(np.divide(chw, dtype.type(255), dtype=dtype))
        return fluxion.from_numpy(np.ascontiguousarray(chw))

    @staticmethod
    def _from_pil(pic: Any) -> Tensor:
        nptype = {"I": np.int32, "I;16": np.int16, "F": np.float32}.get(pic.mode, np.uint8)
        arr = np.array(pic, nptype, copy=True)
        if pic.mode == "1":
            arr = arr * np.uint8(255)
        arr = arr.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
        return ToTensor()(arr)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class Normalize:
    """Normalize each channel: ``output[c] = (input[c] - mean[c]) / std[c]``.

    Args:
        mean: Per-channel means (a sequence, one entry per channel, or one for all).
        std: Per-channel standard deviations.
        inplace: Modify the input tensor instead of returning a new one.

    >>> from fluxion.vision.transforms import Normalize
    >>> Normalize(mean=[1.0, 2.0], std=[2.0, 4.0])(fluxion.ones(2, 1, 1))
    tensor([[[ 0.0000]],
    <BLANKLINE>
            [[-0.2500]]])
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
        if not tensor.is_floating_point():
            raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
        if tensor.ndim < 3:
            raise ValueError(
                "Expected tensor to be a tensor image of size (..., C, H, W). Got "
                f"tensor.size() = {tensor.size()}"
            )
        mean, std = self._constants(tensor.dtype)
        if not self.inplace:
            return (tensor - mean) / std
        return tensor.sub_(mean).div_(std)

    def _constants(self, dtype: fluxion.dtype) -> tuple[Tensor, Tensor]:
        """``mean`` and ``std`` as ``(C, 1, 1)`` tensors of ``dtype``, cached per call site."""
        key = (dtype, repr(self.mean), repr(self.std))
        cached = self.__dict__.get("_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        # NOTE: through float64 NumPy arrays: fluxion.as_tensor(list, dtype=float64) currently
        # rounds Python floats to float32 first (reported), which would shift a float64 result.
        mean = fluxion.from_numpy(np.asarray(self.mean, dtype=np.float64)).to(dtype)
        std = fluxion.from_numpy(np.asarray(self.std, dtype=np.float64)).to(dtype)
        if bool((std == 0).any()):
            raise ValueError(
                f"std evaluated to zero after conversion to {dtype}, leading to division by zero."
            )
        if mean.ndim == 1:
            mean = mean.view(-1, 1, 1)
        if std.ndim == 1:
            std = std.view(-1, 1, 1)
        self._cache = (key, (mean, std))
        return mean, std

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(mean={self.mean}, std={self.std})"


class RandomCrop:
    """Crop a random ``size`` window, optionally after padding the image.

    Args:
        size: Output ``(height, width)``, or one int for a square crop.
        padding: Padding added first: one int (all sides), ``(left/right, top/bottom)`` or
            ``(left, top, right, bottom)``.
        pad_if_needed: Pad the image (on both sides) when it is smaller than ``size``.
        fill: Constant used by ``padding_mode="constant"``.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``.

    >>> from fluxion.vision.transforms import RandomCrop
    >>> _ = fluxion.manual_seed(0)
    >>> RandomCrop(2, padding=1)(fluxion.ones(1, 3, 3)).shape
    fluxion.Size([1, 2, 2])
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: float = 0,
        padding_mode: str = "constant",
    ) -> None:
        self.size = tuple(_setup_size(size, "Please provide only two dimensions (h, w) for size."))
        if padding is not None:
            _parse_padding(padding)
        if padding_mode not in _PADDING_MODES:
            raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """Draw ``(top, left, height, width)`` for a random crop of ``output_size``.

        >>> from fluxion.vision.transforms import RandomCrop
        >>> RandomCrop.get_params(fluxion.zeros(1, 4, 4), (4, 4))
        (0, 0, 4, 4)
        """
        _, h, w = _dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(
                f"Required crop size {(th, tw)} is larger than input image size {(h, w)}"
            )
        if w == tw and h == th:
            return 0, 0, h, w
        i = int(fluxion.randint(0, h - th + 1, size=(1,)).item())
        j = int(fluxion.randint(0, w - tw + 1, size=(1,)).item())
        return i, j, th, tw

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = _pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = _dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = _pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = _pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        i, j, h, w = self.get_params(img, self.size)
        return _crop(img, i, j, h, w)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Flip the image left-right with probability ``p``.

    >>> from fluxion.vision.transforms import RandomHorizontalFlip
    >>> RandomHorizontalFlip(p=1.0)(fluxion.tensor([[[1.0, 2.0, 3.0]]]))
    tensor([[[3., 2., 1.]]])
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        if bool(fluxion.rand(1) < self.p):
            return _hflip(img)
        return img

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p})"


def _resize_output_size(
    height: int, width: int, size: int | Sequence[int], max_size: int | None
) -> tuple[int, int]:
    if isinstance(size, int):
        size = [size]
    if len(size) == 2:
        return int(size[0]), int(size[1])
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size[0], int(size[0] * long / short)
    if max_size is not None:
        if max_size <= size[0]:
            raise ValueError(
                f"max_size = {max_size} must be strictly greater than the requested size for the "
                f"smaller edge size = {size}"
            )
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if width <= height else (new_short, new_long)


def _linear_weights(n_in: int, n_out: int, antialias: bool, dtype: type) -> np.ndarray:
    """Return the ``(n_out, n_in)`` matrix of 1-D linear interpolation weights.

    Without antialiasing this is ``interpolate(mode="bilinear", align_corners=False)`` along one
    axis (two taps at the clamped source coordinate). With it, the tent filter is widened by the
    downscale factor and renormalised (the Pillow-style filter that torch's ``antialias=True``
    uses); for upscaling both agree. ``dtype`` is the precision torch computes the source
    coordinates in (float32 for float32 images), so that the weights round the same way.
    """
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    if not antialias:
        scale = np.float64(dtype(n_in) / dtype(n_out))
        # NOTE: torch evaluates scale * (i + 0.5) - 0.5 as one fused multiply-add; in float64
        # the product is exact for float32 operands, so rounding once to `dtype` is that fma.
        src = (scale * (np.arange(n_out) + 0.5) - 0.5).astype(dtype)
        src = np.maximum(src, 0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        lam = np.clip(src - i0.astype(dtype), 0, 1)
        np.add.at(weights, (np.arange(n_out), i0), 1 - lam)
        np.add.at(weights, (np.arange(n_out), i1), lam)
        return weights
    # Mirror the precision of torch's CPU kernel term by term: `scale`, `center`, `support` and
    # the weights are `dtype`, the intermediate sums are double, and the filter argument is
    # rounded to `dtype` before the tent is evaluated.
    scale = dtype(dtype(n_in) / dtype(n_out))
    support = scale if scale >= 1.0 else dtype(1.0)
    invscale = dtype(1.0 / float(scale)) if scale >= 1.0 else dtype(1.0)
    max_taps = int(math.ceil(support)) * 2 + 1
    for i in range(n_out):
        center = dtype(float(scale) * (i + 0.5))
        lo = max(int(float(center - support) + 0.5), 0)
        size = min(max(min(int(float(center + support) + 0.5), n_in) - lo, 0), max_taps)
        taps = np.arange(lo, lo + size)
        arg = ((taps.astype(dtype) - center).astype(np.float64) + 0.5) * float(invscale)
        w = np.maximum(dtype(1) - np.abs(arg.astype(dtype)), dtype(0))
        total = dtype(0)
        for v in w:  # sequential sum, in `dtype`, like the kernel's loop
            total = dtype(total + v)
        if total != 0:
            weights[i, lo : lo + size] = w / total
    return weights


def _nearest_weights(n_in: int, n_out: int) -> np.ndarray:
    src = np.minimum(np.floor(np.arange(n_out) * (n_in / n_out)).astype(np.int64), n_in - 1)
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    weights[np.arange(n_out), src] = 1.0
    return weights


class Resize:
    """Resize the image to ``size`` with bilinear (or nearest) interpolation.

    Args:
        size: ``(height, width)``, or an int: the smaller edge becomes ``size`` and the
            aspect ratio is kept.
        interpolation: ``InterpolationMode.BILINEAR`` (default) or ``NEAREST``.
        max_size: Upper bound for the longer edge when ``size`` is an int.
        antialias: Widen the bilinear filter when downscaling (torchvision's default ``True``);
            ``False`` gives ``interpolate(mode="bilinear", align_corners=False)``.

    Tensor images (``(..., H, W)``, float or integer) are resized with two small matrix
    products; integer images are computed in float32 and rounded back, as in torchvision.

    >>> from fluxion.vision.transforms import Resize
    >>> Resize((2, 4), antialias=False)(fluxion.tensor([[[0.0, 4.0], [8.0, 12.0]]]))
    tensor([[[ 0.,  1.,  3.,  4.],
             [ 8.,  9., 11., 12.]]])
    """

    def __init__(
        self,
        size: int | Sequence[int],
        interpolation: InterpolationMode = InterpolationMode.BILINEAR,
        max_size: int | None = None,
        antialias: bool | None = True,
    ) -> None:
        if not isinstance(size, (int, Sequence)):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        if isinstance(interpolation, str):
            interpolation = InterpolationMode(interpolation)
        if not isinstance(interpolation, InterpolationMode):
            raise TypeError("Argument interpolation should be a InterpolationMode")
        if max_size is not None and isinstance(size, Sequence) and len(size) != 1:
            raise ValueError(
                "max_size should only be passed if size specifies the length of the smaller "
                "edge, i.e. size should be an int or a sequence of length 1"
            )
        self.size = size
        self.interpolation = interpolation
        self.max_size = max_size
        self.antialias = antialias

    def __call__(self, img: Any) -> Any:
        _, height, width = _dimensions(img)
        out_h, out_w = _resize_output_size(height, width, self.size, self.max_size)
        if (out_h, out_w) == (height, width):
            return img
        if _is_pil(img):
            image = _pil_image_module()
            method = {
                InterpolationMode.BILINEAR: image.Resampling.BILINEAR,
                InterpolationMode.NEAREST: image.Resampling.NEAREST,
            }[self.interpolation]
            return img.resize((out_w, out_h), method)
        out_dtype = img.dtype
        work = img if img.dtype in (fluxion.float32, fluxion.float64) else img.float()
        if self.interpolation is InterpolationMode.NEAREST:
            wh, ww = _nearest_weights(height, out_h), _nearest_weights(width, out_w)
        else:
            aa = bool(self.antialias)
            prec = np.float64 if work.dtype == fluxion.float64 else np.float32
            wh = _linear_weights(height, out_h, aa, prec)
            ww = _linear_weights(width, out_w, aa, prec)
        rows = fluxion.from_numpy(wh).to(work.dtype)
        cols = fluxion.from_numpy(np.ascontiguousarray(ww.T)).to(work.dtype)
        # Width first, then height: the order torch's separable kernels combine the taps in.
        out = rows @ (work @ cols)
        if out_dtype != work.dtype:
            if not out_dtype.is_floating_point:
                out = out.round()
            out = out.to(out_dtype)
        return out

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(size={self.size}, interpolation="
            f"{self.interpolation.value}, max_size={self.max_size}, antialias={self.antialias})"
        )
