"""What the evaluators return: :class:`Surface` (a 2-D grid) and :class:`Profile` (1-D)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

_CACHE_VERSION = 1
_SPLITS = ("train", "test")
_KINDS = ("loss", "nll", "err", "acc")
METRICS: tuple[str, ...] = tuple(f"{s}_{k}" for s in _SPLITS for k in _KINDS)
"""Metric names accepted by the evaluation functions."""


class _MetricValues:
    """``result[metric]`` and ``result.metrics`` for :class:`Surface` and :class:`Profile`."""

    values: dict[str, np.ndarray]

    def __getitem__(self, metric: str) -> np.ndarray:
        return self.values[metric]

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.values)


@dataclass
class Surface(_MetricValues):
    """Metric values on a 2-D grid ``center + alphas[i] * u + betas[j] * v``.

    Attributes:
        alphas, betas: the grid coordinates, shapes ``(A,)`` and ``(B,)``.
        values: metric name -> array ``(A, B)``; ``values[m][i, j]`` is at
            ``(alphas[i], betas[j])`` (``indexing="ij"``; transpose for ``imshow``). Cells not
            evaluated yet (``max_cells``) are NaN.
        complete: every cell is evaluated.
        evaluated: cells evaluated by this call on this process (0 when all came from the cache).
        cache_path: the ``.npz`` file, if cached.
        meta: extras (e.g. ``dx``, ``dy``, named point coordinates) for plotting.
    """

    alphas: np.ndarray
    betas: np.ndarray
    values: dict[str, np.ndarray]
    complete: bool = True
    evaluated: int = 0
    cache_path: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """``np.meshgrid(alphas, betas, indexing="ij")``, matching ``values[m]``."""
        return np.meshgrid(self.alphas, self.betas, indexing="ij")


@dataclass
class Profile(_MetricValues):
    """Metric values along a ray or a line.

    Attributes:
        t: coordinates ``(T,)``: L2 distance for a ray, the line parameter for a line.
        values: metric name -> ``(T,)``, or ``(R, T)`` for ``R`` rays.
        distances: L2 distance from the start point, ``(T,)`` (``t * ||w_b - w_a||`` for a line).
        complete, evaluated, cache_path, meta: as in :class:`Surface`.
    """

    t: np.ndarray
    values: dict[str, np.ndarray]
    distances: np.ndarray
    complete: bool = True
    evaluated: int = 0
    cache_path: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)



