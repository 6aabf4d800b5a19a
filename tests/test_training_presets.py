"""training.presets: the named base configurations are valid and carry the published recipes."""

from __future__ import annotations

import pytest

from swa_lib.testing import write_fake_cifar
from swa_lib.training import TrainConfig
from swa_lib.training.presets import (
    PAPER_RECIPES,
    experiment_base,
    laptop_mnist1d,
    paper_cifar,
    paper_gpu_hours,
    require_dataset,
)


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


# -- experiment_base / require_dataset: one set of knobs for MNIST-1D and the paper's CIFAR ------


def test_experiment_base_on_mnist1d_is_the_laptop_preset() -> None:
    # The same dict as the notebooks' former laptop_mnist1d call, so the cached runs are shared.
    knobs = dict(epochs=60, swa_start=45, swa_lr=0.05, num_samples=5000, device="cpu")
    assert experiment_base("mnist1d", "mlp", **knobs) == laptop_mnist1d("mlp", **knobs)
    assert experiment_base() == laptop_mnist1d("mlp")
    cnn = experiment_base("mnist1d", "cnn1d", width=8, eval_every=None)
    assert cnn == laptop_mnist1d("cnn1d", model_kw={"width": 8}, eval_every=None)
    assert experiment_base(budget=1.5)["epochs"] == 90  # 1.5 x the laptop budget of 60


def test_experiment_base_on_cifar_is_the_authors_recipe() -> None:
    # README of github.com/timgaripov/swa, typed in independently of PAPER_RECIPES:
    # VGG16 lr 0.05, wd 5e-4, swa_lr 0.01, swa_start 161, budget 200 epochs;
    # PreResNet-164 on CIFAR-100 lr 0.1, wd 3e-4, swa_lr 0.05, swa_start 126, budget 150.
    vgg = experiment_base("cifar10", "vgg16")
    assert (vgg["lr_init"], vgg["weight_decay"], vgg["swa_lr"], vgg["swa_start"]) == (
        0.05,
        5e-4,
        0.01,
        161,
    )
    assert (vgg["epochs"], vgg["batch_size"], vgg["momentum"], vgg["num_samples"]) == (
        200,
        128,
        0.9,
        None,
    )
    pre = experiment_base("cifar100", "preresnet164", budget=1.5)
    assert (pre["lr_init"], pre["weight_decay"], pre["swa_lr"]) == (0.1, 3e-4, 0.05)
    assert (pre["swa_start"], pre["epochs"]) == (126, 225)
    assert "swa" not in pre  # set per run by the notebook
    knobs = experiment_base("cifar100", "wrn28_10", epochs=4, swa_start=2, swa_lr=0.2)
    assert (knobs["epochs"], knobs["swa_start"], knobs["swa_lr"]) == (4, 2, 0.2)
    TrainConfig(**{**pre, "device": "cpu"}, seed=0, swa=True)  # a valid config


def test_experiment_base_rejects_unknown_names_listing_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="dataset='svhn'; allowed: mnist1d, cifar10, cifar100"):
        experiment_base("svhn", "mlp")
    with pytest.raises(ValueError, match="model='vgg16' is not a model of dataset='mnist1d'"):
        experiment_base("mnist1d", "vgg16")
    with pytest.raises(ValueError, match="allowed: vgg16, preresnet110, preresnet164, wrn28_10"):
        experiment_base("cifar100", "mlp")
    with pytest.raises(ValueError, match="width=8: the paper's CIFAR models"):
        experiment_base("cifar100", "vgg16", width=8)
    with pytest.raises(ValueError, match="width=8 is only a knob of model='cnn1d'"):
        experiment_base("mnist1d", "mlp", width=8)
    with pytest.raises(ValueError, match="budget=1.5"):
        experiment_base("mnist1d", "mlp", epochs=10, budget=1.5)


def test_require_dataset_stops_at_once_saying_how_to_get_cifar(tmp_path) -> None:
    require_dataset("mnist1d", tmp_path)  # generated offline: nothing to check
    with pytest.raises(FileNotFoundError) as info:
        require_dataset("cifar100", tmp_path)
    text = str(info.value)
    assert "cifar-100-python" in text and "download=True" in text
    assert "load_dataset('cifar100', 'data', download=True)" in text
    folder = write_fake_cifar(tmp_path, "cifar100", n_train=20, n_test=4)
    require_dataset("cifar100", tmp_path)  # present (accepted by its checksum manifest)
    with open(folder / "test", "ab") as f:  # a tampered file is refused before any training
        f.write(b"\0")
    with pytest.raises(ValueError, match="failed its MD5 check"):
        require_dataset("cifar100", tmp_path)
    with pytest.raises(ValueError, match="allowed: mnist1d"):
        require_dataset("imagenet", tmp_path)


def test_paper_gpu_hours_adds_epochs_and_evaluations() -> None:
    # VGG16: 2.7 s per epoch and 1 s per evaluation -> 200 epochs + 40 evaluations = 580 s.
    assert paper_gpu_hours("vgg16", 200, 40) == pytest.approx(580 / 3600)
    with pytest.raises(ValueError, match="allowed: vgg16, preresnet164, wrn28_10"):
        paper_gpu_hours("preresnet110", 150)
