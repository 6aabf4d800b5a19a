r"""Summaries of loss-landscape evaluations: metrics at named points, widths along rays, minima
along lines.

Companions of :mod:`swa_lib.landscape` (which computes grids, rays and lines); the functions here
turn its results into the numbers the book quotes.

* :func:`evaluate_at` -- metrics at a few named weight vectors (the SGD iterates and the SWA point
  of a plane, say), with exactly the evaluation code and options of
  :func:`swa_lib.landscape.evaluate_points` (same metrics, weight-decay term, BN option, cache).
* :func:`rise_distance` -- the "width" of a solution along rays: the distance from the centre at
  which a metric first rises by a given amount (linear interpolation between evaluated points).
* :func:`profile_minimum` -- where a 1-D profile (e.g. the SGD-to-SWA line) is lowest, optionally
  refined by the vertex of the parabola through the lowest grid point and its two neighbours.
* :func:`level_interval` -- the interval around that minimum where the profile stays below a
  level (how far a low region extends along a line), and :func:`interval_position` -- where given
  points sit in it.
* :func:`half_axes_mean` -- the mean of a 2-D surface at the four grid points a given number of
  steps from its centre along the two axes (a profile of a plane around its centre).
* :func:`level_radius` -- the "width" of a solution on a plane: the radius of the disk with the
  area of the region where a metric is below a level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from scipy.interpolate import RegularGridInterpolator
from torch import Tensor, nn

from .engine import evaluate_points
from .results import Surface
from .vectors import flatten, get_flat_params

__all__ = [
    "evaluate_at",
    "rise_distance",
    "Minimum",
    "profile_minimum",
    "level_interval",
    "interval_position",
    "half_axes_mean",
    "level_radius",
]


def _flat(w: Any, name: str) -> Tensor:
    if isinstance(w, nn.Module):
        return get_flat_params(w)
    if isinstance(w, Tensor):
        if w.dim() != 1:
            raise ValueError(f"point {name!r} must be a flat 1-D tensor, got {tuple(w.shape)}")
        return w.detach()
    return flatten(list(w))


def evaluate_at(model: nn.Module, points: Mapping[str, Any], **options: Any) -> pd.DataFrame:
    r"""Metrics at named weight vectors: one row per point, one column per metric.

    Each point is evaluated as the cell ``0 + 1 * w`` of :func:`~swa_lib.landscape.evaluate_points`
    (zero base, the points as directions, identity coefficients; exact in floating point), so the
    values are those a grid through the same weights would give.

    Args:
        model: the architecture (see :func:`~swa_lib.landscape.evaluate_points`).
        points: name -> a model, a flat 1-D tensor (``parameters_to_vector`` order) or a list of
            parameter tensors.
        **options: the keyword options of :func:`~swa_lib.landscape.evaluate_points` (``data``,
            ``metrics``, ``weight_decay``, ``bn_recompute``, ``cache``, ...).

    Returns:
        a DataFrame indexed by the point names, columns the metric names.
    """
    if not points:
        raise ValueError("points is empty")
    names = list(points)
    flats = [_flat(points[n], n) for n in names]
    dirs = torch.stack([f.to(flats[0].device, flats[0].dtype) for f in flats])
    values, _done, info = evaluate_points(
        model, torch.zeros_like(dirs[0]), dirs, np.eye(len(names)), **options
    )
    return pd.DataFrame(values, index=pd.Index(names, name="point"), columns=info["metrics"])


def rise_distance(
    distances: Any, values: Any, rise: float, *, baseline: Any = None
) -> float | np.ndarray:
    r"""Distance at which a profile first rises by ``rise`` above its baseline.

    For each profile (row of ``values``) with baseline ``b`` (default: its value at the first
    distance, the centre of a ray), the first index ``i`` with ``values[i] >= b + rise`` is found
    and the crossing is interpolated linearly between ``distances[i-1]`` and ``distances[i]``. A
    profile that never reaches ``b + rise`` gives NaN (the solution is at least that wide).

    Args:
        distances: increasing distances ``(T,)`` (e.g. :attr:`Profile.distances` of a ray).
        values: ``(T,)`` or ``(R, T)`` metric values along one or ``R`` rays.
        rise: the increase that defines the width, > 0 (in the metric's units).
        baseline: scalar or ``(R,)``; default ``values[..., 0]``.

    Returns:
        a float for a ``(T,)`` profile, an array ``(R,)`` for ``(R, T)``.
    """
    d = np.asarray(distances, dtype=np.float64).ravel()
    v = np.asarray(values, dtype=np.float64)
    single = v.ndim == 1
    v = np.atleast_2d(v)
    if v.ndim != 2 or v.shape[1] != d.size:
        raise ValueError(
            f"values must have shape ({d.size},) or (R, {d.size}), got {np.shape(values)}"
        )
    if d.size < 2 or np.any(np.diff(d) <= 0):
        raise ValueError("distances must be increasing, with at least two entries")
    if not rise > 0:
        raise ValueError(f"rise must be > 0, got {rise!r}")
    base = (
        v[:, 0]
        if baseline is None
        else np.broadcast_to(np.asarray(baseline, dtype=np.float64), (v.shape[0],))
    )
    out = np.full(v.shape[0], np.nan)
    for r, (row, b) in enumerate(zip(v, base)):
        target = b + rise
        above = np.flatnonzero(row >= target)
        if above.size == 0:
            continue
        i = int(above[0])
        if i == 0:
            out[r] = d[0]
            continue
        v0, v1 = row[i - 1], row[i]
        out[r] = d[i - 1] + (target - v0) / (v1 - v0) * (d[i] - d[i - 1])
    return float(out[0]) if single else out


class Minimum(NamedTuple):
    """Where a 1-D profile is lowest: position, value, and whether it is at an end of the range."""

    t: float
    value: float
    at_edge: bool


def profile_minimum(t: Any, values: Any, *, refine: bool = True) -> Minimum:
    r"""The minimum of a 1-D profile ``values(t)``.

    The lowest evaluated point (NaNs ignored; the first one on ties); with ``refine`` and an
    interior minimum, the vertex of the parabola through it and its two neighbours (kept inside
    their range; its value is the parabola's). Refinement suits smooth curves (a loss); a test
    error counts samples and is piecewise constant, so leave it off there.
    """
    x = np.asarray(t, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    if x.size != y.size or x.size == 0:
        raise ValueError(f"t and values must have the same nonzero length, got {x.size}, {y.size}")
    if not np.isfinite(y).any():
        raise ValueError("values has no finite entry")
    i = int(np.nanargmin(y))
    at_edge = i == 0 or i == x.size - 1
    if not refine or at_edge or not np.isfinite(y[i - 1 : i + 2]).all():
        return Minimum(float(x[i]), float(y[i]), at_edge)
    xs, ys = x[i - 1 : i + 2], y[i - 1 : i + 2]
    a, b, c = np.polyfit(xs, ys, 2)
    if not a > 0:
        return Minimum(float(x[i]), float(y[i]), at_edge)
    xv = float(np.clip(-b / (2 * a), xs[0], xs[-1]))
    return Minimum(xv, float(np.polyval((a, b, c), xv)), False)


def level_interval(t: Any, values: Any, level: float) -> tuple[float, float]:
    r"""The interval ``(lo, hi)`` around the lowest point of a 1-D profile where it is ``<= level``.

    Starting from the lowest evaluated point, the profile is followed in both directions up to
    the first point above ``level``; each end is interpolated linearly between that point and
    the one before it. An end that the evaluated range does not reach is NaN (the region extends
    at least to ``t[0]`` or ``t[-1]``). A profile whose minimum is above ``level`` gives
    ``(NaN, NaN)``.

    Args:
        t: increasing positions ``(T,)`` (e.g. the line parameter of :func:`line_profile`).
        values: ``(T,)`` values (NaN counts as above any level).
        level: the threshold, e.g. the minimum plus a tolerance.
    """
    x = np.asarray(t, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    if x.size != y.size or x.size < 2:
        raise ValueError(f"t and values must have the same length >= 2, got {x.size}, {y.size}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("t must be increasing")
    if not np.isfinite(y).any():
        raise ValueError("values has no finite entry")
    i = int(np.nanargmin(y))
    if not y[i] <= level:
        return float("nan"), float("nan")
    below = np.where(np.isfinite(y), y <= level, False)

    def end(step: int) -> float:
        j = i
        while 0 <= j + step < x.size and below[j + step]:
            j += step
        k = j + step
        if not 0 <= k < x.size:
            return float("nan")
        if not np.isfinite(y[k]):
            return float(x[j])
        return float(x[j] + (level - y[j]) / (y[k] - y[j]) * (x[k] - x[j]))

    return end(-1), end(+1)


def interval_position(t: Any, lo: Any, hi: Any) -> Any:
    r"""Where ``t`` lies in the interval ``[lo, hi]``: ``(t - lo) / (hi - lo)``.

    0 is the left end, 1 the right end; below 0 or above 1 is outside. Broadcasts (``lo``, ``hi``
    may be arrays or Series of intervals, e.g. one :func:`level_interval` per seed); a NaN end
    (the interval runs past the evaluated range) gives NaN.
    """
    return (t - lo) / (hi - lo)


def _centre(values: np.ndarray) -> tuple[int, int]:
    v = np.asarray(values)
    if v.ndim != 2 or v.shape[0] % 2 == 0 or v.shape[1] % 2 == 0:
        raise ValueError(
            f"values must be a 2-D grid with an odd number of points per axis (its "
            f"centre a grid point), got shape {v.shape}"
        )
    return v.shape[0] // 2, v.shape[1] // 2


def half_axes_mean(values: Any, k: int) -> float:
    r"""Mean of a surface at the four grid points ``k`` steps from its centre along the axes.

    With ``(i, j)`` the centre of an odd-sized grid ``values[i, j]`` (``Surface.values[m]``,
    ``indexing="ij"``): the mean of ``values[i + k, j]``, ``values[i - k, j]``,
    ``values[i, j + k]`` and ``values[i, j - k]``, i.e. of the surface along :math:`\pm d_1` and
    :math:`\pm d_2` at that distance. ``k = 0`` gives the centre value; ``k`` must stay inside the
    grid.
    """
    v = np.asarray(values, dtype=np.float64)
    i, j = _centre(v)
    if not 0 <= k <= min(i, j):
        raise ValueError(
            f"k={k!r}: must be between 0 and {min(i, j)} for a grid of shape {v.shape}"
        )
    return float(np.mean([v[i + k, j], v[i - k, j], v[i, j + k], v[i, j - k]]))


def level_radius(
    surface: Surface, metric: str, level: float, *, fine: int = 401, log: bool = True
) -> float:
    r"""Radius ``sqrt(area / pi)`` of the disk with the area of ``{metric < level}`` on a plane.

    The metric is interpolated linearly between grid points (of its logarithm with ``log``, the
    default, which suits a loss spanning decades; all values must then be > 0) on a
    ``fine x fine`` grid over the surface's window ``[alphas[0], alphas[-1]] x [betas[0],
    betas[-1]]``; the area is the fraction of fine points below ``level`` times the window's
    area, in the units of ``alphas`` and ``betas``. The region need not be connected or a disk;
    the radius only gives its area a length. A window the region fills gives the window's
    equivalent radius: widen the window then.
    """
    if fine < 2:
        raise ValueError(f"fine={fine!r}: must be >= 2")
    z = np.asarray(surface.values[metric], dtype=np.float64)
    if log:
        if not (z > 0).all() or not level > 0:
            raise ValueError("log=True needs positive values and level (use log=False)")
        z, level = np.log(z), float(np.log(level))
    a0, a1 = float(surface.alphas[0]), float(surface.alphas[-1])
    b0, b1 = float(surface.betas[0]), float(surface.betas[-1])
    f = RegularGridInterpolator((surface.alphas, surface.betas), z)
    a, b = np.meshgrid(np.linspace(a0, a1, fine), np.linspace(b0, b1, fine), indexing="ij")
    inside = f(np.stack([a.ravel(), b.ravel()], 1)) < level
    area = (a1 - a0) * (b1 - b0)
    return float(np.sqrt(inside.mean() * area / np.pi))
