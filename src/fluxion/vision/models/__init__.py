"""Model architectures with torchvision's names: ``lenet5``, ``resnet18``, ``resnet34``, ...

Parameter and buffer names equal torchvision's, so a state dict saved from a torchvision model
(for example as ``.safetensors``) loads with ``load_state_dict``.

>>> from fluxion.vision import models
>>> models.lenet5()(fluxion.zeros(1, 1, 28, 28)).shape
fluxion.Size([1, 10])
"""

from __future__ import annotations

from .lenet import LeNet5, lenet5
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50

__all__ = [
    "LeNet5",
    "lenet5",
    "ResNet",
    "BasicBlock",
    "Bottleneck",
    "resnet18",
    "resnet34",
    "resnet50",
]
