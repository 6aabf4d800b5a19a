"""training.presets: the named base configurations are valid and carry the published recipes."""

from __future__ import annotations

import pytest

from swa_lib.training import TrainConfig
from swa_lib.training.presets import PAPER_RECIPES, laptop_mnist1d, paper_cifar


def test_laptop_preset_is_a_valid_config_and_takes_overrides() -> None:
    cfg = TrainConfig(**laptop_mnist1d("cnn1d", epochs=8, swa_start=6))
    assert (cfg.model, cfg.epochs, cfg.swa_start, cfg.num_samples) == ("cnn1d", 8, 6, 5000)
    assert TrainConfig(**laptop_mnist1d()).swa_start == 45


def test_paper_recipe_follows_the_authors_readme() -> None:
    # README of github.com/timgaripov/swa: PreResNet-164, CIFAR-100: lr 0.1, wd 3e-4, swa_lr
    # 0.05, swa_start 126, 150 SGD epochs (budget 1), 225 for budget 1.5.
    cfg = paper_cifar("preresnet164", "cifar100", budget=1.5)
    assert (
        cfg["lr_init"],
        cfg["weight_decay"],
        cfg["swa_lr"],
        cfg["swa_start"],
        cfg["epochs"],
    ) == (0.1, 3e-4, 0.05, 126, 225)
    assert paper_cifar("preresnet164", "cifar10")["swa_lr"] == 0.01
    assert paper_cifar("vgg16", swa=False)["epochs"] == PAPER_RECIPES["vgg16"]["budget"] == 200
    TrainConfig(**{**cfg, "device": "cpu"})  # a valid config
    with pytest.raises(ValueError, match="model='resnet' has no paper recipe"):
        paper_cifar("resnet")
    with pytest.raises(ValueError, match="dataset='svhn'"):
        paper_cifar("vgg16", "svhn")
