"""build_model: exact parameter counts (literal, by hand-written formula, and against the published
figures), forward shapes, BatchNorm presence, argument errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from swa_lib.models import MODEL_NAMES, build_model

CIFAR = ("vgg16", "vgg16_bn", "preresnet110", "preresnet164", "wrn28_10", "mobilenetv2")
MNIST1D = ("mlp", "cnn1d")

# Exact counts of our models, which equal those of the reference implementations
# (timgaripov/swa models/{vgg,preresnet,wide_resnet}.py, kuangliu/pytorch-cifar mobilenetv2.py;
# layer-by-layer shapes compared against transcriptions of those files when this was written).
EXACT = {
    ("vgg16", 10): 15_245_130,
    ("vgg16", 100): 15_291_300,
    ("vgg16_bn", 10): 15_253_578,
    ("vgg16_bn", 100): 15_299_748,
    ("preresnet110", 10): 1_730_522,
    ("preresnet110", 100): 1_736_372,
    ("preresnet164", 10): 1_703_258,
    ("preresnet164", 100): 1_726_388,
    ("wrn28_10", 10): 36_489_290,
    ("wrn28_10", 100): 36_546_980,
    ("mobilenetv2", 10): 2_296_922,
    ("mobilenetv2", 100): 2_412_212,
    ("mlp", 10): 78_858,
    ("cnn1d", 10): 23_402,
}

# Published figures in millions (CIFAR-10 heads), compared after rounding to the digits given.
PUBLISHED = {
    # He et al. 2016, "Identity Mappings in Deep Residual Networks", Table: ResNet-110 1.7M;
    # bearpaw/pytorch-classification PR #9 table: BasicBlock-110 1.73M.
    "preresnet110": 1.73,
    # He et al. 2016 (same table): ResNet-164 (bottleneck) 1.7M; bearpaw PR #9: 1.70M.
    "preresnet164": 1.70,
    # Zagoruyko & Komodakis 2016, "Wide Residual Networks", Table: WRN-28-10 36.5M.
    "wrn28_10": 36.5,
    # CIFAR MobileNetV2 (kuangliu/pytorch-cifar) is usually quoted as 2.3M.
    "mobilenetv2": 2.3,
    # The swa-repo VGG16 (13 convs + 512-512 dropout classifier): 15.2M (15.3M for CIFAR-100).
    "vgg16": 15.2,
}

VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
MBV2_CFG = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def bn(c: int) -> int:
    return 2 * c  # BatchNorm weight + bias


def linear(i: int, o: int) -> int:
    return i * o + o


# ---------------------------------------------- independent formulas (written from the papers)
def vgg16_formula(num_classes: int, batch_norm: bool) -> int:
    total, c = 0, 3
    for v in VGG16_CFG:
        if v != "M":
            total += 9 * c * v + v + (bn(v) if batch_norm else 0)
            c = v
    return total + 2 * linear(512, 512) + linear(512, num_classes)


def preresnet_formula(num_classes: int, depth: int, bottleneck: bool) -> int:
    n = (depth - 2) // (9 if bottleneck else 6)
    e = 4 if bottleneck else 1
    total, c = 9 * 3 * 16, 16
    for p in (16, 32, 64):
        for _ in range(n):
            if bottleneck:
                total += bn(c) + c * p + bn(p) + 9 * p * p + bn(p) + p * 4 * p
            else:
                total += bn(c) + 9 * c * p + bn(p) + 9 * p * p
            total += c * e * p if c != e * p else 0  # 1x1 projection shortcut, no bias
            c = e * p
    return total + bn(c) + linear(c, num_classes)


def wrn_formula(num_classes: int, depth: int = 28, k: int = 10) -> int:
    n = (depth - 4) // 6
    total, c = 9 * 3 * 16 + 16, 16  # every conv has a bias in the swa repo
    for p in (16 * k, 32 * k, 64 * k):
        for _ in range(n):
            total += bn(c) + 9 * c * p + p + bn(p) + 9 * p * p + p
            total += c * p + p if c != p else 0
            c = p
    return total + bn(c) + linear(c, num_classes)


def mobilenetv2_formula(num_classes: int) -> int:
    total, c = 27 * 32 + bn(32), 32
    for t, o, n, s in MBV2_CFG:
        for stride in [s] + [1] * (n - 1):
            h = t * c
            total += c * h + bn(h) + 9 * h + bn(h) + h * o + bn(o)  # expand, depthwise, project
            total += c * o + bn(o) if stride == 1 and c != o else 0  # kuangliu's conv shortcut
            c = o
    return total + 320 * 1280 + bn(1280) + linear(1280, num_classes)


FORMULA = {
    "vgg16": lambda c: vgg16_formula(c, batch_norm=False),
    "vgg16_bn": lambda c: vgg16_formula(c, batch_norm=True),
    "preresnet110": lambda c: preresnet_formula(c, 110, bottleneck=False),
    "preresnet164": lambda c: preresnet_formula(c, 164, bottleneck=True),
    "wrn28_10": wrn_formula,
    "mobilenetv2": mobilenetv2_formula,
}


@pytest.fixture(scope="module")
def cifar_models() -> dict[tuple[str, int], nn.Module]:
    torch.manual_seed(0)
    return {(name, c): build_model(name, c).eval() for name in CIFAR for c in (10, 100)}


def test_model_names() -> None:
    assert set(MODEL_NAMES) == set(CIFAR) | set(MNIST1D)
    assert len(MODEL_NAMES) == len(set(MODEL_NAMES))


@pytest.mark.parametrize("name", CIFAR)
def test_cifar_param_counts(cifar_models, name: str) -> None:
    for c in (10, 100):
        count = n_params(cifar_models[name, c])
        assert count == EXACT[name, c]
        assert count == FORMULA[name](c)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_counts_round_to_published(name: str) -> None:
    published = PUBLISHED[name]
    digits = len(str(published).split(".")[1])
    assert round(EXACT[name, 10] / 1e6, digits) == published


def test_vgg16_counts_tie_to_published_architectures() -> None:
    # VGG-16 conv stack (Simonyan & Zisserman config D) = torchvision's documented vgg16
    # num_params 138,357,544 minus its ImageNet classifier 25088-4096-4096-1000.
    conv_stack = 138_357_544 - (linear(25088, 4096) + linear(4096, 4096) + linear(4096, 1000))
    assert conv_stack == 14_714_688
    assert EXACT["vgg16", 10] == conv_stack + 2 * linear(512, 512) + linear(512, 10)
    assert EXACT["vgg16_bn", 10] - EXACT["vgg16", 10] == bn(sum(v for v in VGG16_CFG if v != "M"))
    assert round(EXACT["vgg16", 100] / 1e6, 1) == 15.3


def test_preresnet110_swa_repo_variant() -> None:
    # timgaripov/swa builds depth >= 44 from bottlenecks: its "PreResNet110" has n = 12.
    for c, count in ((10, 1_146_842), (100, 1_169_972)):
        model = build_model("preresnet110", c, bottleneck=True)
        assert n_params(model) == count == preresnet_formula(c, 110, bottleneck=True)


def test_mnist1d_param_counts() -> None:
    assert n_params(build_model("mlp", 10)) == EXACT["mlp", 10]
    assert EXACT["mlp", 10] == linear(40, 256) + linear(256, 256) + linear(256, 10)
    assert n_params(build_model("cnn1d", 10)) == EXACT["cnn1d", 10]
    assert EXACT["cnn1d", 10] == 5 * 32 + 2 * 5 * 32 * 32 + 3 * bn(32) + linear(32 * 40, 10)
    assert EXACT["cnn1d", 10] < 50_000
    mlp = build_model("mlp", 3, in_features=20, hidden=(8,))
    assert n_params(mlp) == linear(20, 8) + linear(8, 3)


@pytest.mark.parametrize("name", CIFAR)
@torch.no_grad()
def test_cifar_forward_shapes(cifar_models, name: str) -> None:
    x = torch.randn(2, 3, 32, 32)
    assert cifar_models[name, 10](x).shape == (2, 10)  # eval mode
    model = cifar_models[name, 100].train()  # train mode: batch statistics, dropout
    try:
        assert model(x).shape == (2, 100)
    finally:
        model.eval()


@pytest.mark.parametrize("name", MNIST1D)
@torch.no_grad()
def test_mnist1d_forward_shapes(name: str) -> None:
    model = build_model(name, 10)
    x = torch.randn(2, 1, 40)
    for mode in (True, False):
        model.train(mode)
        y3, y2 = model(x), model(x.squeeze(1))
        assert y3.shape == y2.shape == (2, 10)
    torch.testing.assert_close(y3, y2)  # (N, 40) is read as one channel, same numbers
    cnn = build_model("cnn1d", 4, width=8, in_channels=2, length=20)
    assert cnn(torch.randn(2, 2, 20)).shape == (2, 4)


def _has_bn(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_batchnorm_presence(cifar_models) -> None:
    assert not _has_bn(cifar_models["vgg16", 10])
    assert not _has_bn(build_model("mlp", 10))
    assert _has_bn(cifar_models["vgg16_bn", 10])
    assert _has_bn(build_model("cnn1d", 10))
    for name in ("preresnet110", "preresnet164", "wrn28_10", "mobilenetv2"):
        assert _has_bn(cifar_models[name, 10])
    vgg = cifar_models["vgg16", 10]
    assert sum(isinstance(m, nn.Dropout) for m in vgg.modules()) == 2


def test_vgg_init_follows_reference() -> None:
    torch.manual_seed(0)
    vgg = build_model("vgg16", 10)
    convs = [m for m in vgg.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13
    for m in convs:
        assert torch.all(m.bias == 0)
    last = convs[-1]  # 512 * 512 * 9 weights: std close to sqrt(2 / (9 * 512))
    assert abs(last.weight.std().item() / (2 / (9 * 512)) ** 0.5 - 1) < 0.01


@pytest.mark.parametrize("name", ["resnet18", "VGG16", ""])
def test_unknown_name_error(name: str) -> None:
    with pytest.raises(ValueError, match=r"name") as info:
        build_model(name, 10)
    for allowed in MODEL_NAMES:
        assert allowed in str(info.value)


@pytest.mark.parametrize("num_classes", [1, 0, -3, 2.5, True, "10"])
def test_bad_num_classes_error(num_classes) -> None:
    with pytest.raises(ValueError, match="num_classes"):
        build_model("mlp", num_classes)


def test_unknown_kwarg_raises() -> None:
    with pytest.raises(TypeError):
        build_model("vgg16", 10, width=3)
