"""LeNet-5 (LeCun et al., 1998) for ``1 x 28 x 28`` images, with ReLU and max pooling."""

from __future__ import annotations

import fluxion
from fluxion import Tensor, nn

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """LeNet-5: two 5x5 convolutions (6 and 16 maps) with 2x2 pooling, then 120-84-classes.

    The first convolution pads by 2, so 28 x 28 MNIST digits get the 32 x 32 field of the
    original network. Activations are ReLU and pooling is max pooling (the modern variant).

    Args:
        num_classes: Size of the output layer.

    >>> model = LeNet5()
    >>> sum(p.numel() for p in model.parameters())
    61706
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.relu(self.conv1(x)))  # 6 x 14 x 14
        x = self.pool(self.relu(self.conv2(x)))  # 16 x 5 x 5
        x = fluxion.flatten(x, 1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


def lenet5(num_classes: int = 10) -> LeNet5:
    """Build a LeNet-5 with PyTorch's default layer initialisation.

    >>> lenet5(num_classes=3)(fluxion.zeros(2, 1, 28, 28)).shape
    fluxion.Size([2, 3])
    """
    return LeNet5(num_classes=num_classes)
