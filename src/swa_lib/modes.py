"""Train/eval modes, set for a block of code and restored exactly afterwards.

``model.train()`` / ``model.eval()`` set *every* submodule; code that changes modes for a moment
(evaluation, BN recomputation, a Hessian-vector product) must put each submodule back as it was,
including a user's mixed setting such as a frozen, eval-mode backbone under a training head.
These context managers are the one place that idiom is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import nn

__all__ = ["restored_modes", "eval_mode", "train_mode"]


@contextmanager
def restored_modes(model: nn.Module) -> Iterator[nn.Module]:
    """Run the block with ``model`` as it is, then restore every submodule's ``training`` flag."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model.eval()`` for the block; every submodule's mode restored afterwards."""
    with restored_modes(model):
        model.eval()
        yield model


@contextmanager
def train_mode(
    model: nn.Module, only: Callable[[nn.Module], bool] | None = None
) -> Iterator[nn.Module]:
    """Train mode for the block -- for all submodules, or with ``only`` for those it selects
    (e.g. BatchNorm layers only, so dropout stays off) -- and every mode restored afterwards."""
    with restored_modes(model):
        if only is None:
            model.train()
        else:
            for m in model.modules():
                if only(m):
                    m.training = True
        yield model
