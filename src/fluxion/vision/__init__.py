"""Computer-vision helpers in torchvision's layout: ``transforms``, ``datasets`` and ``models``.

>>> from fluxion.vision import transforms
>>> transforms.ToTensor()
ToTensor()
"""

from __future__ import annotations

from . import datasets, models, transforms

__all__ = ["datasets", "models", "transforms"]
