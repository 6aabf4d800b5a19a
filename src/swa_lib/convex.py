"""The convex case of the SWA paper's Section 3.6: Polyak-Ruppert averaging of SGD iterates.

On a convex problem the SWA average of SGD iterates is the classical Polyak-Ruppert average
(Ruppert 1988; Polyak & Juditsky 1992). This module runs it on ridge-regularised least squares,

    f(w) = 1/(2n) ||X w - y||^2 + (l2 / 2) ||w||^2,        w in R^d,

whose minimiser has the closed form ``w* = (X^T X / n + l2 I)^{-1} X^T y / n``
(:func:`ridge_optimum`). SGD samples one row ``i`` per step (with replacement) and steps along
``g_i(w) = x_i (x_i^T w - y_i) + l2 w``, an unbiased gradient of ``f``; the running average
``wbar_t = wbar_{t-1} + (w_t - wbar_{t-1}) / t`` is the mean of the iterates ``w_1 .. w_t``.

The rates the notebook compares with (distance ``||w - w*||``, so half the exponent of the
squared distance the theorems bound):

* constant step ``gamma``: the last iterate stalls at a noise floor ``~ sqrt(gamma)`` (slope 0
  on log-log axes); the average converges like ``t^{-1/2}`` (Bach & Moulines 2013, for least
  squares with ``gamma <= 1 / (4 R^2)``, ``R^2 >= ||x_i||^2``);
* decaying step ``gamma_t = gamma_0 t^{-alpha}``, ``1/2 < alpha < 1``: the last iterate
  converges like ``t^{-alpha/2}``, the average like ``t^{-1/2}`` with the optimal constant
  (Polyak & Juditsky 1992: strong convexity, Lipschitz gradients, gradient noise of finite
  variance at ``w*``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "make_least_squares",
    "ridge_objective",
    "ridge_optimum",
    "step_sizes",
    "AveragedSGD",
    "averaged_sgd",
    "loglog_slope",
]

SCHEDULES = ("constant", "decaying")


def make_least_squares(
    n: int, d: int, *, condition: float = 10.0, noise: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic regression set ``(X, y)``: ``X`` is ``(n, d)`` float64 with feature
    scales spread log-uniformly so the covariance's eigenvalues span ``condition`` (largest /
    smallest), ``y = X w_true + noise * N(0, 1)`` with ``w_true ~ N(0, I_d)``."""
    if n < 1 or d < 1:
        raise ValueError(f"n={n}, d={d}: both must be >= 1")
    if condition < 1:
        raise ValueError(f"condition={condition}: must be >= 1")
    rng = np.random.default_rng(seed)
    scales = np.sqrt(np.logspace(0.0, -np.log10(condition), d))
    X = rng.standard_normal((n, d)) * scales
    y = X @ rng.standard_normal(d) + noise * rng.standard_normal(n)
    return X, y


def _check(X: np.ndarray, y: np.ndarray, l2: float) -> None:
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
    if l2 < 0:
        raise ValueError(f"l2={l2}: must be >= 0")


def ridge_objective(w: np.ndarray, X: np.ndarray, y: np.ndarray, l2: float) -> float:
    """``f(w) = ||X w - y||^2 / (2 n) + l2 ||w||^2 / 2`` (float64)."""
    _check(X, y, l2)
    r = X @ w - y
    return float(r @ r / (2 * X.shape[0]) + l2 * (w @ w) / 2)


def ridge_optimum(X: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """The minimiser of :func:`ridge_objective` in closed form: the normal equations
    ``(X^T X / n + l2 I) w* = X^T y / n`` solved in float64 (unique when the matrix is
    positive definite: ``l2 > 0`` or ``X`` of full column rank)."""
    _check(X, y, l2)
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    n, d = X.shape
    return np.linalg.solve(X.T @ X / n + l2 * np.eye(d), X.T @ y / n)


def step_sizes(schedule: str, gamma0: float, steps: int, power: float = 0.6) -> np.ndarray:
    """The step ``gamma_t`` for ``t = 1 .. steps``: ``gamma0`` (``"constant"``) or
    ``gamma0 * t^{-power}`` (``"decaying"``; Polyak-Juditsky need ``1/2 < power < 1``)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r}: allowed values are {list(SCHEDULES)}")
    if gamma0 <= 0 or steps < 1:
        raise ValueError(f"gamma0={gamma0}, steps={steps}: need gamma0 > 0 and steps >= 1")
    if schedule == "constant":
        return np.full(steps, float(gamma0))
    if not 0.5 < power < 1.0:
        raise ValueError(f"power={power}: the decaying step needs 1/2 < power < 1")
    return gamma0 * np.arange(1, steps + 1, dtype=np.float64) ** -power


@dataclass(frozen=True)
class AveragedSGD:
    """What :func:`averaged_sgd` returns: at the steps ``checkpoints`` (shape ``(k,)``, 1-based),
    the distances ``||w_t - w*||`` of the last iterate (``last``) and of the running average
    (``average``), both ``(seeds, k)``; ``iterates`` ``(seeds, steps, d)`` only when asked."""

    checkpoints: np.ndarray
    last: np.ndarray
    average: np.ndarray
    iterates: np.ndarray | None = None


def averaged_sgd(
    X: np.ndarray,
    y: np.ndarray,
    l2: float,
    gammas: np.ndarray,
    seeds: Sequence[int],
    *,
    checkpoints: Sequence[int] | None = None,
    keep_iterates: bool = False,
) -> AveragedSGD:
    """Single-sample SGD on :func:`ridge_objective` from ``w_0 = 0``, all seeds at once, with
    the Polyak-Ruppert running average ``wbar_t = wbar_{t-1} + (w_t - wbar_{t-1}) / t``.

    ``gammas``: the steps ``gamma_1 .. gamma_T`` (:func:`step_sizes`); seed ``s`` draws its rows
    from ``numpy.random.default_rng(s)``. ``checkpoints``: 1-based steps to record (default
    about 40 log-spaced ones up to ``T``). Distances are to :func:`ridge_optimum`.
    """
    _check(X, y, l2)
    gammas = np.asarray(gammas, np.float64)
    steps, (n, d), s = gammas.size, X.shape, len(seeds)
    if steps < 1 or s < 1:
        raise ValueError(f"need at least one step and one seed, got {steps} and {s}")
    if checkpoints is None:
        checkpoints = np.unique(np.geomspace(1, steps, 40).round().astype(int))
    cps = np.asarray(checkpoints, dtype=int)
    if cps.min() < 1 or cps.max() > steps or np.any(np.diff(cps) <= 0):
        raise ValueError(f"checkpoints must increase within 1..{steps}, got {cps.tolist()}")
    w_star = ridge_optimum(X, y, l2)
    rows = np.stack([np.random.default_rng(sd).integers(0, n, steps) for sd in seeds])
    w, wbar = np.zeros((s, d)), np.zeros((s, d))
    last, avg = np.empty((s, cps.size)), np.empty((s, cps.size))
    kept = np.empty((s, steps, d)) if keep_iterates else None
    k = 0
    for t in range(1, steps + 1):
        xi, yi = X[rows[:, t - 1]], y[rows[:, t - 1]]
        grad = xi * (np.einsum("sd,sd->s", xi, w) - yi)[:, None] + l2 * w
        w = w - gammas[t - 1] * grad
        wbar += (w - wbar) / t
        if kept is not None:
            kept[:, t - 1] = w
        if t == cps[k]:
            last[:, k] = np.linalg.norm(w - w_star, axis=1)
            avg[:, k] = np.linalg.norm(wbar - w_star, axis=1)
            k += 1
            if k == cps.size and kept is None:
                break
    return AveragedSGD(cps, last, avg, kept)


def loglog_slope(steps: np.ndarray, dist: np.ndarray, *, start: int = 1) -> np.ndarray:
    """The least-squares slope of ``log dist`` against ``log steps`` over ``steps >= start``,
    per row of ``dist`` (shape ``(seeds, k)`` -> ``(seeds,)``): the exponent ``a`` of
    ``dist ~ C t^a``."""
    steps, dist = np.asarray(steps, np.float64), np.atleast_2d(np.asarray(dist, np.float64))
    keep = steps >= start
    if keep.sum() < 2:
        raise ValueError(f"start={start}: fewer than two checkpoints left to fit a slope")
    lx, ly = np.log(steps[keep]), np.log(dist[:, keep])
    lx = lx - lx.mean()
    return (ly - ly.mean(axis=1, keepdims=True)) @ lx / (lx @ lx)
