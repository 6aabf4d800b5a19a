"""Small models and data shared by the ``tests/test_landscape_*.py`` files.

``Quadratic`` gives an analytic loss; ``tiny_bn_cnn`` / ``tiny_data`` a BN network with a known
brute-force reference.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from swa_lib import landscape as L


class Quadratic(nn.Module):
    """A "model" whose per-sample output is the loss 0.5 (w-c)^T A (w-c) (same for every x)."""

    def __init__(self, p: int = 5, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        m = torch.randn(p, p, generator=g, dtype=torch.float64)
        self.register_buffer("A", m @ m.T + 0.1 * torch.eye(p, dtype=torch.float64))
        self.register_buffer("c", torch.randn(p, generator=g, dtype=torch.float64))
        self.w = nn.Parameter(torch.randn(p, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.w - self.c
        return (0.5 * d @ self.A @ d).expand(x.shape[0])


def identity_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return out


def q_value(model: Quadratic, w: np.ndarray) -> float:
    d = w - model.c.numpy()
    return float(0.5 * d @ model.A.numpy() @ d)


def quad_data(n: int = 6):
    x = torch.zeros(n, 1, dtype=torch.float64)
    return {"train": (x, torch.zeros(n)), "test": (x, torch.zeros(n))}


def tiny_bn_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv1d(1, 4, 3, padding=1, bias=False),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.Conv1d(4, 4, 3, padding=1),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 12, 3),
    )


def tiny_data(seed: int = 0, n_train: int = 70, n_test: int = 30):
    g = torch.Generator().manual_seed(seed + 100)
    return {
        "train": (
            torch.randn(n_train, 1, 12, generator=g),
            torch.randint(0, 3, (n_train,), generator=g),
        ),
        "test": (
            torch.randn(n_test, 1, 12, generator=g),
            torch.randint(0, 3, (n_test,), generator=g),
        ),
    }


def tiny_plane(model: nn.Module):
    w0 = L.get_flat_params(model)
    d1, d2 = L.random_plane(model, seed=1)
    return w0, d1, d2
