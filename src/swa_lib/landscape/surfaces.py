"""Planes, rays and lines: the three shapes of point sets the book evaluates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .engine import _evaluate_kind
from .results import Profile, Surface
from .vectors import WeightsLike, _as_flat


def _grid_coeffs(alphas: np.ndarray, betas: np.ndarray) -> np.ndarray:
    a, b = np.meshgrid(alphas, betas, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], 1)


def evaluate_plane(
    model: nn.Module,
    center: WeightsLike,
    u: Tensor,
    v: Tensor,
    alphas: Sequence[float] | np.ndarray,
    betas: Sequence[float] | np.ndarray,
    **options: Any,
) -> Surface:
    r"""Metrics on the grid ``center + alphas[i] * u + betas[j] * v``.

    For Garipov et al.'s plane pass ``center = w0`` and ``u, v`` from :func:`plane_basis`
    (coordinates in L2 units; the paper's grid is ``linspace(-0.2, 1.2, 21)`` times ``dx`` and
    ``dy``); for Li et al.'s random plane pass the directions of :func:`random_plane` (coordinates
    in multiples of the directions, their grid ``linspace(-1, 1, 51)``).

    Args:
        model, center: see :func:`evaluate_points` (``center`` is its ``base``).
        u, v: flat direction vectors ``(P,)``.
        alphas, betas: 1-D grid coordinates along ``u`` and ``v``.
        **options: the keyword options of :func:`evaluate_points` (``data``, ``metrics``,
            ``bn_recompute``, ``cache``, ``points_per_pass``, ``distributed``, ...).

    Returns:
        a :class:`Surface` with ``values[m]`` of shape ``(len(alphas), len(betas))``.
    """
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    betas = np.asarray(betas, dtype=np.float64).ravel()
    values, done, info = _evaluate_kind(
        "plane",
        model,
        center,
        [_as_flat(u, "u"), _as_flat(v, "v")],
        _grid_coeffs(alphas, betas),
        **options,
    )
    shape = (len(alphas), len(betas))
    return Surface(
        alphas=alphas,
        betas=betas,
        values={m: values[:, i].reshape(shape) for i, m in enumerate(info["metrics"])},
        complete=bool(done.all()),
        evaluated=info["evaluated"],
        cache_path=info["cache_path"],
    )


def ray_profile(
    model: nn.Module,
    center: WeightsLike,
    direction: Tensor | Sequence[Tensor],
    distances: Sequence[float] | np.ndarray,
    **options: Any,
) -> Profile:
    r"""Metrics along rays ``center + t * d / ||d||`` (``t`` = L2 distance from ``center``).

    Args:
        direction: one flat vector ``(P,)`` or ``R`` of them (``(R, P)`` tensor or a list),
            each normalised to unit L2 norm here (e.g. ``random_direction(model, norm=None)``:
            a Gaussian direction is uniform on the sphere once normalised, the paper's rays).
        distances: the ``t`` values ``(T,)``, in weight-space L2 units.
        **options: see :func:`evaluate_points`.

    Returns:
        a :class:`Profile`; ``values[m]`` is ``(T,)`` for one direction, ``(R, T)`` for ``R``.
    """
    single = isinstance(direction, Tensor) and direction.dim() == 1
    if isinstance(direction, Tensor):
        dirs = direction.detach().reshape(1, -1) if single else direction.detach()
    else:
        dirs = torch.stack([_as_flat(d, "direction") for d in direction])
    norms = dirs.double().norm(dim=1, keepdim=True)
    if (norms == 0).any():
        raise ValueError("a ray direction is zero")
    dirs = (dirs.double() / norms).to(dirs.dtype)
    t = np.asarray(distances, dtype=np.float64).ravel()
    r = dirs.shape[0]
    coeffs = np.zeros((r * len(t), r))
    for i in range(r):
        coeffs[i * len(t) : (i + 1) * len(t), i] = t
    values, done, info = _evaluate_kind("ray", model, center, dirs, coeffs, **options)
    shape = (len(t),) if single else (r, len(t))
    return Profile(
        t=t,
        values={m: values[:, i].reshape(shape) for i, m in enumerate(info["metrics"])},
        distances=t.copy(),
        complete=bool(done.all()),
        evaluated=info["evaluated"],
        cache_path=info["cache_path"],
    )


def line_profile(
    model: nn.Module,
    w_a: WeightsLike,
    w_b: WeightsLike,
    ts: Sequence[float] | np.ndarray,
    **options: Any,
) -> Profile:
    r"""Metrics along the line ``w_a + t (w_b - w_a)``; ``t`` may lie outside ``[0, 1]``.

    The paper's SGD-to-SWA figure uses ``w_a = SGD``, ``w_b = SWA``. ``Profile.distances`` is
    ``t * ||w_b - w_a||`` (L2 units) and ``meta["length"]`` is ``||w_b - w_a||``.

    Args:
        **options: see :func:`evaluate_points`.
    """
    a = _as_flat(w_a, "w_a")
    b = _as_flat(w_b, "w_b").to(a.device, a.dtype)
    direction = b - a
    length = float(direction.double().norm())
    t = np.asarray(ts, dtype=np.float64).ravel()
    values, done, info = _evaluate_kind(
        "line", model, a, direction.unsqueeze(0), t[:, None], **options
    )
    return Profile(
        t=t,
        values={m: values[:, i] for i, m in enumerate(info["metrics"])},
        distances=t * length,
        complete=bool(done.all()),
        evaluated=info["evaluated"],
        cache_path=info["cache_path"],
        meta={"length": length},
    )
