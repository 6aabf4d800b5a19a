"""The course project's three regression sets: the 2-D function of its report, Friedman 1 and 3.

* :func:`two_d_function` -- the formula of the course's report (section 4.1) and code
  (``src/swa_benchmark/datasets/synthetic.py`` lines 15-22):
  ``f(x, y) = 2 cos(pi x y) - 0.5 x + 0.08 y + sin(pi x) - sin(pi y)``; the data set
  (:func:`make_two_d`) is the ``n_grid x n_grid`` grid on ``interval^2`` (75 x 75 on
  ``[-2, 2]^2``, ``scripts/synthetic/mlp2D.py`` lines 16-19) with Gaussian noise of std 0.1 added
  to ``f``.
* :func:`make_friedman` -- scikit-learn's ``make_friedman1`` (5 features) and ``make_friedman3``
  (4 features), 10,000 samples, noise 0.1 (``scripts/synthetic/mlpFriedman{1,3}.py`` lines 16-19;
  ``synthetic.py`` lines 31-50). The course passed no ``random_state`` (a new draw per run); here
  ``seed`` is that draw.

Both are split 80/20 at random (:func:`swa_lib.domains.base.split_indices`) and returned as a
:class:`~swa_lib.domains.base.TensorDomain` with ``task="regression"``, float32 inputs
``(N, d)`` and targets ``(N, 1)``, unscaled (as the course: no standardisation).

* :func:`standardize_domain` -- the same domain with inputs and targets standardised by the
  training split's mean and standard deviation, the usual preparation of a regression set for
  SGD (not the course's: it trained on the raw data).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .base import TensorDomain, split_indices

__all__ = [
    "two_d_function",
    "make_two_d",
    "make_friedman",
    "standardize_domain",
    "REGRESSION_NAMES",
]

#: The regression domains by name.
REGRESSION_NAMES = ("two_d", "friedman1", "friedman3")


def two_d_function(x: Tensor, y: Tensor) -> Tensor:
    """``2 cos(pi x y) - 0.5 x + 0.08 y + sin(pi x) - sin(pi y)`` elementwise (no noise)."""
    return (
        2 * torch.cos(math.pi * x * y)
        - 0.5 * x
        + 0.08 * y
        + torch.sin(math.pi * x)
        - torch.sin(math.pi * y)
    )


def make_two_d(
    n_grid: int = 75,
    *,
    interval: tuple[float, float] = (-2.0, 2.0),
    noise: float = 0.1,
    seed: int = 0,
    train_fraction: float = 0.8,
) -> TensorDomain:
    """The course's 2-D set: a ``n_grid^2`` grid (``meshgrid(..., indexing="ij")``), targets
    ``f + noise * N(0, 1)``, an 80/20 random split. ``seed`` draws the noise and the split."""
    if n_grid < 2 or noise < 0:
        raise ValueError(f"need n_grid >= 2 and noise >= 0, got n_grid={n_grid}, noise={noise}")
    g = torch.Generator().manual_seed(seed)
    axis = torch.linspace(interval[0], interval[1], n_grid)
    xv, yv = torch.meshgrid(axis, axis, indexing="ij")
    x = torch.stack([xv, yv], dim=-1).view(-1, 2)
    y = two_d_function(x[:, 0], x[:, 1]) + noise * torch.randn(x.shape[0], generator=g)
    tr, te = split_indices(x.shape[0], train_fraction, seed)
    y = y.view(-1, 1)
    return TensorDomain(
        "two_d",
        "regression",
        x[tr],
        y[tr],
        x[te],
        y[te],
        1,
        info={"n_grid": n_grid, "interval": list(interval), "noise": noise, "seed": seed},
    )


def make_friedman(
    function: int,
    num_samples: int = 10_000,
    *,
    num_features: int | None = None,
    noise: float = 0.1,
    seed: int = 0,
    train_fraction: float = 0.8,
) -> TensorDomain:
    """scikit-learn's Friedman ``function`` (1 or 3) with ``random_state=seed``, split 80/20.

    ``num_features``: 5 for Friedman 1 (the course's choice; at least 5 are needed, the rest are
    noise features), 4 for Friedman 3 (fixed by scikit-learn).
    """
    from sklearn.datasets import make_friedman1, make_friedman3

    if function == 1:
        num_features = 5 if num_features is None else num_features
        if num_features < 5:
            raise ValueError(f"num_features must be >= 5 for Friedman 1, got {num_features}")
        x, y = make_friedman1(
            n_samples=num_samples, n_features=num_features, noise=noise, random_state=seed
        )
    elif function == 3:
        if num_features not in (None, 4):
            raise ValueError(f"num_features must be 4 for Friedman 3, got {num_features}")
        x, y = make_friedman3(n_samples=num_samples, noise=noise, random_state=seed)
    else:
        raise ValueError(f"function={function!r}; allowed: 1, 3")
    xt = torch.as_tensor(np.asarray(x, np.float32))
    yt = torch.as_tensor(np.asarray(y, np.float32)).view(-1, 1)
    tr, te = split_indices(num_samples, train_fraction, seed)
    return TensorDomain(
        f"friedman{function}",
        "regression",
        xt[tr],
        yt[tr],
        xt[te],
        yt[te],
        1,
        info={
            "function": function,
            "num_samples": num_samples,
            "num_features": int(xt.shape[1]),
            "noise": noise,
            "seed": seed,
        },
    )


def standardize_domain(
    domain: TensorDomain, *, inputs: bool = True, targets: bool = True
) -> TensorDomain:
    r"""``domain`` with inputs and/or targets standardised by the *training* split's statistics.

    Per feature :math:`j`, :math:`x'_j = (x_j - m_j) / s_j` with :math:`m_j, s_j` the mean and
    (unbiased) standard deviation of :math:`x_j` over ``x_train``, applied to both splits (the
    test split never informs the statistics); likewise :math:`y' = (y - m_y) / s_y`. Why: raw
    Friedman 3 inputs span about 0-100, 40 pi-560 pi (up to about 1,760), 0-1 and 1-11, so the
    curvature of the loss along the first layer's weights differs by orders of magnitude between
    features and SGD with momentum at the paper's fixed rates diverges on it. A test MSE in
    standardised units is the original one divided by :math:`s_y^2`; ``info`` keeps ``m``, ``s``
    (lists) and ``"standardized": {"inputs": ..., "targets": ...}`` to convert back. Features with
    :math:`s_j = 0` are only centred. Classification domains are refused (``targets`` would be
    class labels).
    """
    if domain.task != "regression":
        raise ValueError(f"domain.task={domain.task!r}; standardize_domain needs 'regression'")
    if not (inputs or targets):
        raise ValueError("nothing to do: set inputs=True and/or targets=True")

    def stats(t: Tensor) -> tuple[Tensor, Tensor]:
        m, sd = t.mean(0), t.std(0)
        return m, torch.where(sd > 0, sd, torch.ones_like(sd))

    x_m, x_s = stats(domain.x_train) if inputs else (0.0, 1.0)
    y_m, y_s = stats(domain.y_train) if targets else (0.0, 1.0)
    info = dict(domain.info)
    info["standardized"] = {"inputs": inputs, "targets": targets}
    for name, v in (("x_mean", x_m), ("x_std", x_s), ("y_mean", y_m), ("y_std", y_s)):
        info[name] = torch.as_tensor(v).flatten().tolist()
    return TensorDomain(
        domain.name,
        domain.task,
        (domain.x_train - x_m) / x_s,
        (domain.y_train - y_m) / y_s,
        (domain.x_test - x_m) / x_s,
        (domain.y_test - y_m) / y_s,
        domain.num_outputs,
        augment_fn=domain.augment_fn,
        info=info,
    )
