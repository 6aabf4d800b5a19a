"""The container every course domain hands to :mod:`swa_lib.domains.course`: both splits in memory.

A domain is small enough to live in memory as tensors (regression tables, 8x8 images, CIFAR) or
as a list of graphs (:class:`swa_lib.domains.graphs.GraphDomain`, the same interface). What the
two-phase protocol needs from a domain is:

* ``task``: ``"regression"`` (MSE loss and metric, outputs ``(N, 1)``) or ``"classification"``
  (cross-entropy, accuracy; outputs ``(N, num_outputs)`` logits);
* ``batches(split, batch_size, shuffle=..., generator=...)``: an iterator of ``(inputs, y)``
  where ``inputs`` is what the model's ``forward`` takes (a tensor, or a tuple unpacked into
  ``forward(*inputs)``);
* ``n(split)``: the number of examples (nodes for graphs) in ``split``;
* ``augment(x, generator)``: a training-batch transform (identity unless the domain augments).

:func:`split_indices` is the course's ``random_split(dataset, [0.8, 0.2])`` made reproducible: a
seeded permutation, the first ``floor(0.8 n)`` indices for training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..data import iterate_batches

__all__ = ["TensorDomain", "split_indices", "TASKS"]

#: The two tasks of the course's experiments.
TASKS = ("regression", "classification")


def split_indices(n: int, train_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """``(train, test)`` index tensors of a seeded random split, ``floor(train_fraction n)``
    training indices (the course splits 80/20 without a seed, ``scripts/synthetic/*.py``)."""
    if n < 2 or not 0 < train_fraction < 1:
        raise ValueError(
            f"need n >= 2 and 0 < train_fraction < 1, got n={n}, train_fraction={train_fraction}"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_train = int(train_fraction * n)
    return perm[:n_train], perm[n_train:]


@dataclass
class TensorDomain:
    """Both splits as tensors on one device.

    Attributes:
        name: the domain's name (``"friedman1"``, ``"digits"``, ...).
        task: one of :data:`TASKS`.
        x_train, x_test: float32 inputs ``(N, ...)``.
        y_train, y_test: float32 targets ``(N, 1)`` (regression) or int64 labels ``(N,)``.
        num_outputs: output width of the model (1, or the number of classes).
        augment_fn: ``augment_fn(x, generator) -> x`` applied to training batches, or ``None``.
        info: provenance (generator arguments, split seed).
    """

    name: str
    task: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_outputs: int
    augment_fn: Callable[[Tensor, torch.Generator], Tensor] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r}; allowed: {', '.join(TASKS)}")
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(f"x_{split} has {x.shape[0]} rows but y_{split} {y.shape[0]}")

    def n(self, split: str) -> int:
        """Examples in ``split`` (``"train"`` or ``"test"``)."""
        return int(self._split(split)[1].shape[0])

    def _split(self, split: str) -> tuple[Tensor, Tensor]:
        if split not in ("train", "test"):
            raise ValueError(f"split={split!r}; allowed: 'train', 'test'")
        return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")

    def batches(
        self,
        split: str,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """``(x, y)`` batches of ``split`` in order (or shuffled with ``generator``); the last
        batch is smaller when ``batch_size`` does not divide the split (no ``drop_last``, as the
        course's ``DataLoader``)."""
        x, y = self._split(split)
        return iterate_batches(x, y, batch_size, shuffle=shuffle, generator=generator)

    def augment(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """The training-batch transform, or ``x`` itself."""
        return x if self.augment_fn is None else self.augment_fn(x, generator)

    def to(self, device: str | torch.device) -> TensorDomain:
        """A copy with the four tensors on ``device``."""
        return TensorDomain(
            self.name,
            self.task,
            self.x_train.to(device),
            self.y_train.to(device),
            self.x_test.to(device),
            self.y_test.to(device),
            self.num_outputs,
            self.augment_fn,
            dict(self.info),
        )
