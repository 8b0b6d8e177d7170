"""ResNet (He et al., 2015) with torchvision's architecture, names and initialisation.

Every submodule has the attribute name torchvision gives it (``conv1``, ``bn1``, ``relu``,
``maxpool``, ``layer1`` ... ``layer4`` of blocks with ``conv1``/``bn1``/``conv2``/``bn2`` and
``downsample.0``/``downsample.1``, ``avgpool``, ``fc``), so state dicts move between the two.
"""

from __future__ import annotations

from collections.abc import Callable

import fluxion
from fluxion import Tensor, nn

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1):
    """3x3 convolution with padding, no bias (a batch norm follows)."""
    return nn.Conv2d(
        in_planes,
        out_planes,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        groups=groups,
        bias=False,
        dilation=dilation,
    )


def conv1x1(in_planes: int, out_planes: int, stride: int = 1):
    """1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def _add_residual(block: BasicBlock | Bottleneck, x: Tensor, out: Tensor) -> Tensor:
    """Add the block's input (through ``downsample`` when set) to ``out``, then ReLU."""
    identity = x
    if block.downsample is not None:
        identity = block.downsample(x)
    out += identity
    return block.relu(out)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return _add_residual(self, x, out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, with a residual connection (ResNet-50+)."""

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return _add_residual(self, x, out)


class ResNet(nn.Module):
    """The ResNet trunk: 7x7 stem, four stages of ``block``, global average pool, linear head.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: Number of blocks in each of the four stages.
        num_classes: Size of the output layer.
        zero_init_residual: Start each block's last batch norm at weight 0, so that every
            residual branch starts as the identity.
        groups, width_per_group: Grouped-convolution width (ResNeXt / wide variants).
        replace_stride_with_dilation: Per stage 2-4, dilate instead of striding.
        norm_layer: Normalisation layer constructor (default ``nn.BatchNorm2d``).

    >>> m = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=5)
    >>> m(fluxion.zeros(2, 3, 32, 32)).shape
    fluxion.Size([2, 5])
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: list[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: list[bool] | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(
                "replace_stride_with_dilation should be None or a 3-element tuple, got "
                f"{replace_stride_with_dilation}"
            )
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(
            block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0]
        )
        self.layer3 = self._make_layer(
            block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1]
        )
        self.layer4 = self._make_layer(
            block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2]
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
        dilate: bool = False,
    ) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = [
            block(
                self.inplanes,
                planes,
                stride,
                downsample,
                self.groups,
                self.base_width,
                previous_dilation,
                norm_layer,
            )
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    groups=self.groups,
                    base_width=self.base_width,
                    dilation=self.dilation,
                    norm_layer=norm_layer,
                )
            )
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = fluxion.flatten(x, 1)
        return self.fc(x)


def _resnet(block, layers: list[int], weights, kwargs: dict) -> ResNet:
    if weights is not None:
        raise ValueError(
            "pretrained weights cannot be downloaded (fluxion works offline): build the model "
            "with weights=None and load a state dict, e.g. "
            "model.load_state_dict(fluxion.load_safetensors('resnet18.safetensors'))"
        )
    return ResNet(block, layers, **kwargs)


def resnet18(*, weights: None = None, progress: bool = True, **kwargs) -> ResNet:
    """Build ResNet-18 (``BasicBlock``, stages of 2, 2, 2, 2; 11.7 M parameters at 1000 classes).

    Args:
        weights: Must be ``None``; load pretrained weights with ``load_state_dict``.
        progress: Ignored (nothing is downloaded).
        **kwargs: Passed to ``ResNet`` (``num_classes``, ``zero_init_residual``, ...).

    >>> m = resnet18(num_classes=10)
    >>> sum(p.numel() for p in m.parameters())
    11181642
    """
    return _resnet(BasicBlock, [2, 2, 2, 2], weights, kwargs)


def resnet34(*, weights: None = None, progress: bool = True, **kwargs) -> ResNet:
    """Build ResNet-34 (``BasicBlock``, stages of 3, 4, 6, 3).

    >>> len(resnet34(num_classes=10).layer3)
    6
    """
    return _resnet(BasicBlock, [3, 4, 6, 3], weights, kwargs)


def resnet50(*, weights: None = None, progress: bool = True, **kwargs) -> ResNet:
    """Build ResNet-50 (``Bottleneck``, stages of 3, 4, 6, 3).

    >>> resnet50(num_classes=10).fc
    Linear(in_features=2048, out_features=10, bias=True)
    """
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, kwargs)
