"""The course project's networks, layer for layer (``src/swa_benchmark/models/`` of BayesianML-SWA).

* :class:`CourseMLP` (``models/mlp.py``): ``n_layers`` blocks ``Linear -> ReLU`` of width
  ``hidden_size``, then ``Linear(hidden_size, output_size)``. Regression: 16 wide (2-D function),
  32 wide (Friedman 1 and 3), 3 blocks (``scripts/synthetic/mlp*.py``).
* :class:`CourseCNN` (``models/cnn.py``): ``n_layers`` blocks of two 3x3 ``same`` convolutions
  (channels ``c 4^i -> 2 c 4^i -> 4 c 4^i`` for input channels ``c``) with ReLU and a 2x2 max pool,
  then a global *max* pool, ``Linear(c 4^n_layers, hidden_size) -> ReLU -> Linear(.., classes)``.
  No BatchNorm, no dropout. With ``c = 1, n_layers = 3`` (MNIST): 1-2-4, 4-8-16, 16-32-64 channels,
  27,106 parameters for 10 classes; an ``8x8`` input (scikit-learn's digits) is pooled to ``1x1``
  by the third block.
* :class:`CourseMobileNetV2` (``models/mobilenet.py``): a reduced MobileNetV2 -- stem ``3x3/2``
  conv to 32 channels, inverted residual stages ``(t, c, n, s) = (1,16,1,1), (4,24,2,2),
  (4,32,2,2), (4,64,2,2), (4,96,2,2)``, a 1x1 conv to 216 channels, spatial mean, ``Linear``;
  BatchNorm after every conv, ReLU6, the course's initialisation (conv ``N(0, 2/(k^2 c_out))``,
  linear ``N(0, 0.01^2)``). Unlike :class:`swa_lib.models.MobileNetV2` (the CIFAR variant of
  ``kuangliu/pytorch-cifar``) it downsamples 32x32 inputs to 1x1.

Inputs: ``(N, in_features)`` for the MLP, ``(N, C, H, W)`` for the CNNs; outputs ``(N, outputs)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["CourseMLP", "CourseCNN", "CourseMobileNetV2"]


class CourseMLP(nn.Module):
    """``n_layers`` x (Linear, ReLU) then a linear head, as ``models/mlp.py`` lines 4-13."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, n_layers: int) -> None:
        super().__init__()
        if min(input_size, hidden_size, output_size, n_layers) < 1:
            raise ValueError("input_size, hidden_size, output_size and n_layers must be >= 1")
        blocks = [
            nn.Sequential(nn.Linear(input_size if i == 0 else hidden_size, hidden_size), nn.ReLU())
            for i in range(n_layers)
        ]
        self.main = nn.Sequential(*blocks, nn.Linear(hidden_size, output_size))

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)


class CourseCNN(nn.Module):
    """The course's small CNN (``models/cnn.py`` lines 5-44); see the module docstring."""

    def __init__(
        self, input_size: int, output_size: int, hidden_size: int = 32, n_layers: int = 3
    ) -> None:
        super().__init__()
        if min(input_size, output_size, hidden_size, n_layers) < 1:
            raise ValueError("input_size, output_size, hidden_size and n_layers must be >= 1")
        c = input_size
        self.features = nn.Sequential(
            *[
                nn.Sequential(
                    nn.Conv2d(c * 4**i, 2 * c * 4**i, 3, padding="same"),
                    nn.ReLU(),
                    nn.Conv2d(2 * c * 4**i, 4 * c * 4**i, 3, padding="same"),
                    nn.ReLU(),
                    nn.MaxPool2d(2, 2),
                )
                for i in range(n_layers)
            ]
        )
        self.classifier = nn.Sequential(
            nn.Linear(c * 4**n_layers, hidden_size), nn.ReLU(), nn.Linear(hidden_size, output_size)
        )

    def forward(self, x: Tensor) -> Tensor:
        features = F.adaptive_max_pool2d(self.features(x), (1, 1)).flatten(1)
        return self.classifier(features)


class _CourseInvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = int(c_in * expand_ratio)
        self.use_res_connect = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers += [
                nn.Conv2d(c_in, hidden, 1, 1, 0, bias=False),
                nn.BatchNorm2d(hidden),
                nn.ReLU6(inplace=True),
            ]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, c_out, 1, 1, 0, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class CourseMobileNetV2(nn.Module):
    """The course's reduced MobileNetV2 (``models/mobilenet.py`` lines 48-127)."""

    setting = ((1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 2, 2), (4, 64, 2, 2), (4, 96, 2, 2))

    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        c = 32
        layers: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(input_size, c, 3, 2, 1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU6(inplace=True),
            )
        ]
        for t, c_out, n, s in self.setting:
            for i in range(n):
                layers.append(_CourseInvertedResidual(c, c_out, s if i == 0 else 1, t))
                c = c_out
        layers.append(
            nn.Sequential(
                nn.Conv2d(c, 216, 1, 1, 0, bias=False), nn.BatchNorm2d(216), nn.ReLU6(inplace=True)
            )
        )
        self.features_ = nn.Sequential(*layers)
        self.classifier = nn.Linear(216, output_size)
        self._initialize_weights()

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier(self.features_(images).mean(3).mean(2))

    @torch.no_grad()
    def _initialize_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.normal_(
                    0, math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels))
                )
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1)
                m.bias.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0, 0.01)
                m.bias.zero_()
