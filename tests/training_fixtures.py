"""Shared by the training tests: the tiny MNIST-1D configuration they all train."""

from __future__ import annotations

from typing import Any

from swa_lib.training import TrainConfig


def tiny(root, **kw: Any) -> TrainConfig:
    """A 4-epoch BN CNN (width 8) on 400 MNIST-1D samples generated under ``root``."""
    base: dict[str, Any] = dict(
        dataset="mnist1d",
        model="cnn1d",
        epochs=4,
        swa_start=2,
        swa_lr=0.02,
        lr_init=0.05,
        batch_size=64,
        num_samples=400,
        data_root=str(root),
        model_kw={"width": 8},
    )
    base.update(kw)
    return TrainConfig(**base)
