"""Directions and planes: filter-normalised random directions (Li et al. 2018) and the
Gram-Schmidt plane through three points (Garipov et al. 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .vectors import WeightsLike, _as_flat, _param_list, flatten


# ====================================================================== directions (Li et al.)
@torch.no_grad()
def filter_normalize(
    direction: Sequence[Tensor], weights: Sequence[Tensor], ignore: str | None = "biasbn"
) -> list[Tensor]:
    r"""Filter-normalise a direction (Li et al. 2018; ``normalize_directions_for_weights`` in
    ``tomgoldstein/loss-landscape/net_plotter.py``).

    ``direction`` and ``weights`` are lists of tensors in ``model.parameters()`` order. Returns a
    new list (inputs untouched). Per parameter tensor:

    * ``dim <= 1`` (biases, BN weights and biases): zeros when ``ignore="biasbn"``, else a copy of
      the weight tensor itself;
    * otherwise, for each slice ``i`` along dim 0 (a conv filter, a Linear row):
      ``d_i *= ||w_i|| / (||d_i|| + 1e-10)``, so each filter of the direction has the norm of the
      matching weight filter.
    """
    direction, weights = list(direction), list(weights)
    if len(direction) != len(weights):
        raise ValueError(f"direction has {len(direction)} tensors, weights {len(weights)}")
    if ignore not in ("biasbn", None, "none"):
        raise ValueError(f"ignore must be 'biasbn' or None, got {ignore!r}")
    out: list[Tensor] = []
    for d, w in zip(direction, weights):
        if d.shape != w.shape:
            raise ValueError(f"direction tensor {tuple(d.shape)} != weight {tuple(w.shape)}")
        if d.dim() <= 1:
            out.append(torch.zeros_like(d) if ignore == "biasbn" else w.detach().clone())
            continue
        d2 = d.detach().reshape(d.shape[0], -1).clone()
        w2 = w.detach().reshape(w.shape[0], -1)
        d2 *= (w2.norm(dim=1) / (d2.norm(dim=1) + 1e-10)).unsqueeze(1).to(d2.dtype)
        out.append(d2.view_as(d))
    return out


def random_direction(
    weights: WeightsLike,
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    norm: str | None = "filter",
    ignore: str | None = "biasbn",
) -> Tensor:
    """A seeded Gaussian direction in weight space as a flat vector (``parameters`` order).

    Args:
        weights: a model or its parameter tensors; the direction has their shapes, dtype, device.
        seed, generator: randomness; draws happen on a CPU generator (``seed`` builds one, default
            seed 0), so the same seed gives the same direction on any device.
        norm: ``"filter"`` (:func:`filter_normalize`, Li et al.'s default), ``"layer"`` (each
            tensor scaled to the norm of its weight tensor), or ``None`` (raw ``N(0, I)``).
        ignore: ``"biasbn"`` zeroes 1-D tensors (biases, BN); see :func:`filter_normalize`.
    """
    ws = _param_list(weights)
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    raw = [
        torch.randn(w.shape, generator=generator, dtype=torch.float64).to(w.device, w.dtype)
        for w in ws
    ]
    if norm == "filter":
        d = filter_normalize(raw, ws, ignore=ignore)
    elif norm == "layer":
        d = []
        for r, w in zip(raw, ws):
            if r.dim() <= 1 and ignore == "biasbn":
                d.append(torch.zeros_like(r))
            else:
                d.append(r * (w.norm() / (r.norm() + 1e-10)))
    elif norm is None:
        d = raw
    else:
        raise ValueError(f"norm must be 'filter', 'layer' or None, got {norm!r}")
    return flatten(d)


def random_plane(
    weights: WeightsLike,
    *,
    seed: int = 0,
    norm: str | None = "filter",
    ignore: str | None = "biasbn",
) -> tuple[Tensor, Tensor]:
    """Two seeded random directions ``(d1, d2)`` for Li et al.'s 2-D plots (random_direction).

    Evaluate them with ``evaluate_plane(model, center, d1, d2, alphas, betas)``; the coordinates are
    then multiples of the (filter-normalised) directions, Li et al.'s units, not L2 units.
    """
    g = torch.Generator().manual_seed(int(seed))
    return (
        random_direction(weights, generator=g, norm=norm, ignore=ignore),
        random_direction(weights, generator=g, norm=norm, ignore=ignore),
    )


# ================================================================= plane (Garipov et al.)
def plane_basis(w0: Tensor, w1: Tensor, w2: Tensor) -> tuple[Tensor, Tensor, float, float]:
    r"""Orthonormal basis of the plane through three flat weight vectors (Gram-Schmidt).

    ``u = (w2 - w0)/dx``, ``dx = ||w2 - w0||``; ``v = (w1 - w0) - ((w1 - w0)·u) u``,
    ``dy = ||v||``, ``v /= dy`` (Garipov et al. 2018, ``dnn-mode-connectivity/plane.py``). A grid
    point ``w0 + a*u + b*v`` is in weight-space L2 units: ``w0`` sits at ``(0, 0)``, ``w2`` at
    ``(dx, 0)`` and ``w1`` at ``((w1 - w0)·u, dy)``.

    Returns:
        ``(u, v, dx, dy)``: unit vectors shaped like ``w0`` and the two lengths as floats.
    """
    w0, w1, w2 = (_as_flat(w, name) for w, name in ((w0, "w0"), (w1, "w1"), (w2, "w2")))
    u = w2 - w0
    dx = float(u.norm())
    if dx == 0.0:
        raise ValueError("w2 == w0: the plane is undefined")
    u = u / dx
    v = w1 - w0
    v = v - torch.dot(v, u) * u
    dy = float(v.norm())
    if dy == 0.0 or dy <= 1e-12 * max(dx, float((w1 - w0).norm())):
        raise ValueError("w0, w1, w2 are collinear: the plane is undefined")
    return u, v / dy, dx, dy


def plane_coordinates(p: Tensor, w0: Tensor, u: Tensor, v: Tensor) -> tuple[float, float]:
    """Coordinates ``((p - w0)·u, (p - w0)·v)`` of the flat vector ``p`` in the plane's basis."""
    d = _as_flat(p, "p") - _as_flat(w0, "w0")
    return float(torch.dot(d, u)), float(torch.dot(d, v))


# ====================================================================== result containers
