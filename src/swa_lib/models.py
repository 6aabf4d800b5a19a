"""Models for the SWA experiments: two small MNIST-1D nets and the SWA paper's CIFAR nets.

``build_model(name, num_classes, **kw)`` is the one entry point; ``MODEL_NAMES`` lists the names.

- ``mlp``: MNIST-1D MLP (Greydanus 2020), input ``(N, 40)`` or ``(N, 1, 40)``, no BN.
- ``cnn1d``: small MNIST-1D 1-D CNN with BatchNorm1d, input ``(N, 40)`` or ``(N, 1, 40)``.
- ``vgg16`` / ``vgg16_bn``: VGG-16 without / with BN, ``timgaripov/swa`` ``models/vgg.py``.
- ``preresnet110`` / ``preresnet164``: PreResNet, ``timgaripov/swa`` ``models/preresnet.py``.
- ``wrn28_10``: WideResNet-28-10, ``timgaripov/swa`` ``models/wide_resnet.py``.
- ``mobilenetv2``: CIFAR MobileNetV2, ``kuangliu/pytorch-cifar`` ``models/mobilenetv2.py``.

The CIFAR models take ``(N, 3, 32, 32)``. Every model returns logits ``(N, num_classes)``. The
parameter counts equal those of the reference implementations (see ``tests/test_models.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MODEL_NAMES",
    "build_model",
    "MLP",
    "CNN1d",
    "VGG",
    "PreResNet",
    "WideResNet",
    "MobileNetV2",
]


# --------------------------------------------------------------------------------------- MNIST-1D
class MLP(nn.Module):
    r"""Fully connected ReLU net for MNIST-1D, no normalisation layers.

    Input ``(N, in_features)`` or ``(N, 1, in_features)`` (flattened); output ``(N, num_classes)``.
    With the defaults (40 -> 256 -> 256 -> C) it is the MLP of the MNIST-1D paper (Greydanus 2020,
    ``greydanus/mnist1d``).
    """

    def __init__(
        self, num_classes: int, in_features: int = 40, hidden: Sequence[int] = (256, 256)
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class CNN1d(nn.Module):
    r"""Small 1-D CNN for MNIST-1D with BatchNorm, so that SWA needs its BN statistics recomputed.

    Three blocks ``Conv1d(k=5, padding=2, bias=False) -> BatchNorm1d -> ReLU`` of ``width``
    channels keep the length, then ``Flatten -> Linear(width * length, num_classes)``. The flatten
    head keeps the position of each feature, which MNIST-1D's templates need. Input
    ``(N, in_channels, length)``; a 2-D ``(N, length)`` input is read as one channel. About 23k
    parameters with the defaults.
    """

    def __init__(
        self, num_classes: int, width: int = 32, in_channels: int = 1, length: int = 40
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(3):
            layers += [
                nn.Conv1d(c, width, kernel_size=5, padding=2, bias=False),
                nn.BatchNorm1d(width),
                nn.ReLU(inplace=True),
            ]
            c = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width * length, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        return self.classifier(self.features(x).flatten(1))


# ------------------------------------------------------------------------------------------ VGG
_VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip


class VGG(nn.Module):
    r"""VGG-16 for 32x32 inputs as in the SWA paper (``timgaripov/swa`` ``models/vgg.py``).

    13 conv layers (3x3, padding 1, with bias; BatchNorm2d after each if ``batch_norm``), five
    2x2 max-pools down to ``(N, 512, 1, 1)``, then the classifier
    ``Dropout -> Linear(512, 512) -> ReLU -> Dropout -> Linear(512, 512) -> ReLU ->
    Linear(512, num_classes)``. Conv weights are drawn from :math:`\mathcal N(0, 2/n)` with
    :math:`n = k^2 c_\text{out}`, conv biases are zero. Input ``(N, 3, 32, 32)``.
    """

    def __init__(self, num_classes: int, batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            assert isinstance(v, int)
            layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            c = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Dropout(),
            nn.Linear(512, 512),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(512, 512),
            nn.ReLU(inplace=True),
            nn.Linear(512, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))


# ------------------------------------------------------------------------------------ PreResNet
def _conv3x3(c_in: int, c_out: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=bias)


class _PreActBasic(nn.Module):
    """``BN-ReLU-conv3x3-BN-ReLU-conv3x3`` plus shortcut (He et al. 2016b)."""

    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = _conv3x3(c_in, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + (x if self.downsample is None else self.downsample(x))


class _PreActBottleneck(nn.Module):
    """``BN-ReLU-conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1`` (4x expansion) plus shortcut."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, planes, kernel_size=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + (x if self.downsample is None else self.downsample(x))


class PreResNet(nn.Module):
    r"""Pre-activation ResNet for CIFAR (He et al. 2016, "Identity Mappings in Deep Residual
    Networks"), as in ``timgaripov/swa`` ``models/preresnet.py`` (from ``bearpaw/
    pytorch-classification``).

    ``depth = 6n + 2`` with basic blocks (PreResNet-110: n = 18) or ``9n + 2`` with bottleneck
    blocks (PreResNet-164: n = 18); three stages of 16, 32, 64 planes (x4 for bottlenecks), strides
    1, 2, 2; projection shortcuts are bias-free 1x1 convs (no BN); then BN-ReLU, global average
    pooling and ``Linear``. Conv weights :math:`\mathcal N(0, 2/n)`, :math:`n = k^2 c_\text{out}`.
    Input ``(N, 3, 32, 32)``.

    Note: ``timgaripov/swa`` builds *every* depth >= 44 from bottlenecks, so its "PreResNet110" is
    the 110-layer bottleneck net (n = 12, 1.15M parameters), not He et al.'s basic-block
    PreResNet-110 (1.73M) that ``build_model("preresnet110", ...)`` gives by default; pass
    ``bottleneck=True`` for the SWA repository's model.
    """

    def __init__(self, num_classes: int, depth: int = 110, bottleneck: bool = False) -> None:
        super().__init__()
        per = 9 if bottleneck else 6
        if depth < per + 2 or (depth - 2) % per:
            raise ValueError(f"depth={depth} must be {per}n+2 for bottleneck={bottleneck}")
        n = (depth - 2) // per
        block = _PreActBottleneck if bottleneck else _PreActBasic
        self._c = 16
        self.conv1 = _conv3x3(3, 16)
        self.layer1 = self._make_layer(block, 16, n, stride=1)
        self.layer2 = self._make_layer(block, 32, n, stride=2)
        self.layer3 = self._make_layer(block, 64, n, stride=2)
        self.bn = nn.BatchNorm2d(64 * block.expansion)
        self.fc = nn.Linear(64 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n_fan = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n_fan))

    def _make_layer(
        self, block: type[_PreActBasic | _PreActBottleneck], planes: int, n: int, stride: int
    ) -> nn.Sequential:
        c_out = planes * block.expansion
        down = None
        if stride != 1 or self._c != c_out:
            down = nn.Sequential(nn.Conv2d(self._c, c_out, 1, stride=stride, bias=False))
        layers = [block(self._c, planes, stride, down)]
        layers += [block(c_out, planes, 1, None) for _ in range(n - 1)]
        self._c = c_out
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        x = F.relu(self.bn(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


# ----------------------------------------------------------------------------------- WideResNet
class _WideBasic(nn.Module):
    """``BN-ReLU-conv3x3-Dropout-BN-ReLU-conv3x3`` (stride on the second conv) plus shortcut."""

    def __init__(self, c_in: int, planes: int, dropout: float, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = _conv3x3(c_in, planes, bias=True)
        self.dropout = nn.Dropout(p=dropout)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride, bias=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, planes, 1, stride=stride, bias=True))

    def forward(self, x: Tensor) -> Tensor:
        out = self.dropout(self.conv1(F.relu(self.bn1(x))))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + self.shortcut(x)


class WideResNet(nn.Module):
    r"""Wide ResNet for CIFAR (Zagoruyko & Komodakis 2016), as in ``timgaripov/swa``
    ``models/wide_resnet.py`` (from ``meliketoy/wide-resnet.pytorch``).

    ``depth = 6n + 4`` (WRN-28-10: n = 4, widen factor k = 10): a 3x3 conv to 16 channels, three
    stages of ``16k, 32k, 64k`` channels with strides 1, 2, 2, then BN-ReLU, global average pooling
    and ``Linear``. All convs carry biases and projection shortcuts are 1x1 convs, as in the
    reference. Two deliberate departures that leave the parameter count unchanged: the final
    BatchNorm uses PyTorch's default momentum 0.1 (the reference's 0.9 makes the running stats
    follow the last batch), and initialisation is PyTorch's default (the reference defines a
    Xavier ``conv_init`` but never applies it). Input ``(N, 3, 32, 32)``.
    """

    def __init__(
        self, num_classes: int, depth: int = 28, widen_factor: int = 10, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise ValueError(f"depth={depth} must be 6n+4")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout} must be in [0, 1)")
        n, k = (depth - 4) // 6, widen_factor
        self.conv1 = _conv3x3(3, 16, bias=True)
        layers, c = [], 16
        for planes, stride in ((16 * k, 1), (32 * k, 2), (64 * k, 2)):
            blocks = []
            for s in [stride] + [1] * (n - 1):
                blocks.append(_WideBasic(c, planes, dropout, s))
                c = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.bn1 = nn.BatchNorm2d(c)
        self.linear = nn.Linear(c, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        x = F.relu(self.bn1(x))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))


# ---------------------------------------------------------------------------------- MobileNetV2
class _InvertedResidual(nn.Module):
    """Expand 1x1 -> depthwise 3x3 -> project 1x1 (linear), each with BN; residual when stride 1
    (through a 1x1 conv + BN when the channel count changes, as in ``kuangliu/pytorch-cifar``)."""

    def __init__(self, c_in: int, c_out: int, expansion: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        hidden = expansion * c_in
        self.conv1 = nn.Conv2d(c_in, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.conv3 = nn.Conv2d(hidden, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride == 1 and c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return out + self.shortcut(x) if self.stride == 1 else out


class MobileNetV2(nn.Module):
    r"""MobileNetV2 (Sandler et al. 2018) for CIFAR, as in ``kuangliu/pytorch-cifar``
    ``models/mobilenetv2.py``.

    Compared with ImageNet: the stem conv has stride 1 and the second stage (24 channels) stride 1,
    so a 32x32 input reaches 4x4 before the 1x1 conv to 1280 channels, global average pooling and
    ``Linear(1280, num_classes)``. ReLU (not ReLU6), PyTorch's default initialisation.
    Input ``(N, 3, 32, 32)``.
    """

    # (expansion, out_channels, num_blocks, stride)
    cfg: tuple[tuple[int, int, int, int], ...] = (
        (1, 16, 1, 1),
        (6, 24, 2, 1),  # stride 2 on ImageNet
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, stride=1, padding=1, bias=False)  # stride 2 on ImageNet
        self.bn1 = nn.BatchNorm2d(32)
        blocks, c = [], 32
        for t, c_out, n, s in self.cfg:
            for stride in [s] + [1] * (n - 1):
                blocks.append(_InvertedResidual(c, c_out, t, stride))
                c = c_out
        self.layers = nn.Sequential(*blocks)
        self.conv2 = nn.Conv2d(320, 1280, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(1280)
        self.linear = nn.Linear(1280, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(self.layers(x))))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))


# ------------------------------------------------------------------------------------- registry
def _vgg16(num_classes: int) -> VGG:
    return VGG(num_classes, batch_norm=False)


def _vgg16_bn(num_classes: int) -> VGG:
    return VGG(num_classes, batch_norm=True)


def _preresnet110(num_classes: int, bottleneck: bool = False) -> PreResNet:
    return PreResNet(num_classes, depth=110, bottleneck=bottleneck)


def _preresnet164(num_classes: int) -> PreResNet:
    return PreResNet(num_classes, depth=164, bottleneck=True)


def _wrn28_10(num_classes: int, dropout: float = 0.0) -> WideResNet:
    return WideResNet(num_classes, depth=28, widen_factor=10, dropout=dropout)


_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "mlp": MLP,
    "cnn1d": CNN1d,
    "vgg16": _vgg16,
    "vgg16_bn": _vgg16_bn,
    "preresnet110": _preresnet110,
    "preresnet164": _preresnet164,
    "wrn28_10": _wrn28_10,
    "mobilenetv2": MobileNetV2,
}

MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)
"""The names :func:`build_model` accepts."""


def build_model(name: str, num_classes: int, **kw) -> nn.Module:
    r"""Build the model ``name`` with a ``num_classes``-way output layer, freshly initialised.

    Args:
        name: one of :data:`MODEL_NAMES`.
        num_classes: number of output logits, an int >= 2.
        **kw: architecture options: ``mlp``: ``in_features=40``, ``hidden=(256, 256)``;
            ``cnn1d``: ``width=32``, ``in_channels=1``, ``length=40``; ``wrn28_10``:
            ``dropout=0.0``; ``preresnet110``: ``bottleneck=False`` (``True``: the
            ``timgaripov/swa`` variant, see :class:`PreResNet`). The other models take none.

    Returns:
        An ``nn.Module`` in train mode mapping a batch to logits ``(N, num_classes)``.

    Example:
        >>> import torch
        >>> model = build_model("preresnet110", num_classes=100)
        >>> model(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 100])
    """
    if name not in MODEL_NAMES:
        raise ValueError(
            f"unknown model name={name!r}; name must be one of {', '.join(MODEL_NAMES)}"
        )
    if not isinstance(num_classes, int) or num_classes < 2:  # bools fail as 0 or 1
        raise ValueError(f"num_classes must be an int >= 2, got num_classes={num_classes!r}")
    return _BUILDERS[name](num_classes, **kw)
