"""Named base configurations shared by the book's notebooks (so they share cached runs).

``laptop_mnist1d(model)`` is the laptop-scale protocol of the book: MNIST-1D with 5,000 samples
(4,000 train / 1,000 test), on-device augmentation (circular shift ±3, noise 0.05), SGD with
momentum 0.9 and weight decay 5e-4, batch 100. With augmentation the SGD iterate keeps moving at a
constant learning rate, which is the regime where the paper expects averaging to help (a probe
without augmentation memorised the training set, and SWA changed nothing there).
``paper_cifar(model, dataset)`` holds the recipes of the SWA authors' README.
"""

from __future__ import annotations

from typing import Any

__all__ = ["laptop_mnist1d", "paper_cifar", "PAPER_RECIPES"]


def laptop_mnist1d(model: str = "mlp", **overrides: Any) -> dict[str, Any]:
    """TrainConfig keyword arguments of the laptop protocol (override any field)."""
    base: dict[str, Any] = dict(
        dataset="mnist1d",
        model=model,
        num_samples=5000,
        augment=True,
        epochs=60,
        lr_init=0.05,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=100,
        swa_start=45,
        swa_lr=0.05,
        swa_c_epochs=1,
        eval_every=1,
    )
    base.update(overrides)
    return base


#: (lr_init, weight_decay, swa_lr by dataset, SGD budget in epochs, swa_start) from the README of
#: the authors' code, https://github.com/timgaripov/swa.
PAPER_RECIPES: dict[str, dict[str, Any]] = {
    "vgg16": dict(
        lr_init=0.05,
        weight_decay=5e-4,
        swa_lr={"cifar10": 0.01, "cifar100": 0.01},
        budget=200,
        swa_start=161,
    ),
    "preresnet110": dict(
        lr_init=0.1,
        weight_decay=3e-4,
        swa_lr={"cifar10": 0.01, "cifar100": 0.05},
        budget=150,
        swa_start=126,
    ),
    "preresnet164": dict(
        lr_init=0.1,
        weight_decay=3e-4,
        swa_lr={"cifar10": 0.01, "cifar100": 0.05},
        budget=150,
        swa_start=126,
    ),
    "wrn28_10": dict(
        lr_init=0.1,
        weight_decay=5e-4,
        swa_lr={"cifar10": 0.05, "cifar100": 0.05},
        budget=200,
        swa_start=161,
    ),
}


def paper_cifar(
    model: str,
    dataset: str = "cifar100",
    *,
    budget: float = 1.0,
    swa: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """TrainConfig keyword arguments of the paper's CIFAR recipe at ``budget`` x the SGD epochs."""
    if model not in PAPER_RECIPES:
        raise ValueError(f"model={model!r} has no paper recipe; allowed: {sorted(PAPER_RECIPES)}")
    if dataset not in ("cifar10", "cifar100"):
        raise ValueError(f"dataset={dataset!r}: allowed values are 'cifar10', 'cifar100'")
    r = PAPER_RECIPES[model]
    base: dict[str, Any] = dict(
        dataset=dataset,
        model=model,
        epochs=round(r["budget"] * budget),
        lr_init=r["lr_init"],
        weight_decay=r["weight_decay"],
        momentum=0.9,
        batch_size=128,
        swa=swa,
        swa_start=r["swa_start"],
        swa_lr=r["swa_lr"][dataset],
        eval_every=5,
        device="auto",
        amp=True,
        channels_last=True,
    )
    if not swa:
        base["epochs"] = r["budget"]
    base.update(overrides)
    return base
