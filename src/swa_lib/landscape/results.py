"""What the evaluators return -- :class:`Surface` (a 2-D grid), :class:`Profile` (1-D) -- and
the metric names they hold.

Metric names are ``"{split}_{kind}"``: ``split`` in ``train``/``test``, ``kind`` in
:data:`KINDS` -- ``loss``, ``nll``, ``error``, ``accuracy`` -- with error and accuracy as
*fractions* in ``[0, 1]``, as everywhere in the library (``CONTRIBUTING.md``). The first
landscape code named them ``err`` and ``acc`` and gave them in *percent*; those names are
deprecated but keep working through :data:`METRIC_ALIASES`, the one table that maps them: a
deprecated name can be requested from the evaluators (``metrics=("test_err",)`` still gives
percent, computed with the same formula as before, so the book's numbers do not change) and looked
up in a result, ``surface["test_err"]`` being ``100 * surface["test_error"]`` and the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS: tuple[str, ...] = ("train", "test")
"""The data splits a metric can be measured on."""
KINDS: tuple[str, ...] = ("loss", "nll", "error", "accuracy")
"""What is measured: the objective with weight decay, the mean NLL, error and accuracy
(fractions)."""
METRICS: tuple[str, ...] = tuple(f"{s}_{k}" for s in SPLITS for k in KINDS)
"""The canonical metric names accepted by the evaluation functions."""
METRIC_ALIASES: dict[str, tuple[str, float]] = {
    f"{s}_{old}": (f"{s}_{new}", 100.0)
    for s in SPLITS
    for old, new in (("err", "error"), ("acc", "accuracy"))
}
"""Deprecated name -> ``(canonical name, scale)``: ``value(old) = scale * value(canonical)``
(``"test_err"`` is the test error in percent). Use the canonical names in new code."""


def metric_spec(name: str) -> tuple[str, str, bool]:
    """``(split, kind, percent)`` of a metric name (canonical or deprecated); ``kind`` is one of
    :data:`KINDS` and ``percent`` is true for the deprecated percent names.

    >>> metric_spec("test_error"), metric_spec("test_err")
    (('test', 'error', False), ('test', 'error', True))
    """
    canonical, scale = METRIC_ALIASES.get(name, (name, 1.0))
    if canonical not in METRICS:
        raise ValueError(
            f"unknown metric {name!r}; allowed: {', '.join(METRICS)} (deprecated, "
            f"in percent: {', '.join(METRIC_ALIASES)})"
        )
    split, kind = canonical.split("_", 1)
    return split, kind, scale != 1.0


def _lookup(values: dict[str, np.ndarray], metric: str) -> np.ndarray:
    """``values[metric]``, or the same metric under its other name (through the alias table)."""
    if metric in values:
        return values[metric]
    if metric in METRIC_ALIASES:  # deprecated name asked, canonical stored
        canonical, scale = METRIC_ALIASES[metric]
        if canonical in values:
            return scale * values[canonical]
    for old, (canonical, scale) in METRIC_ALIASES.items():  # canonical asked, deprecated stored
        if canonical == metric and old in values:
            return values[old] / scale
    raise KeyError(f"{metric!r} is not among the evaluated metrics {list(values)}")


class _MetricValues:
    """``result[metric]`` and ``result.metrics`` for :class:`Surface` and :class:`Profile`."""

    values: dict[str, np.ndarray]

    def __getitem__(self, metric: str) -> np.ndarray:
        """The values of ``metric``; a deprecated name (``"test_err"``) and its canonical one
        (``"test_error"``) both work, scaled through :data:`METRIC_ALIASES`."""
        return _lookup(self.values, metric)

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
