"""Small statistics for reporting runs over seeds: mean and std, paired t intervals and their sign.

The numbers behind the sentences of :mod:`swa_lib.reporting.text`: every mean ± std the book
prints comes from :func:`mean_and_std`, every paired interval from :func:`paired_interval`.
Where a chapter makes several yes/no comparisons, :func:`paired_pvalue` gives each one's
two-sided paired t-test p-value and :func:`holm` (Holm 1979) says which survive a family-wise
error rate of ``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as _st

__all__ = [
    "mean_and_std",
    "paired_interval",
    "paired_sign",
    "summarize_paired",
    "paired_pvalue",
    "holm",
    "holm_adjusted",
]


def mean_and_std(values: Sequence[float]) -> tuple[float, float, int]:
    """``(mean, std, n)`` of the non-NaN ``values``: the sample standard deviation (ddof=1,
    the unbiased variance estimate over seeds), 0 for a single value, and ``(nan, nan, 0)``
    when no value is left."""
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[~np.isnan(a)]
    if a.size == 0:
        return (math.nan, math.nan, 0)
    std = a.std(ddof=1) if a.size > 1 else 0.0
    return (float(a.mean()), float(std), int(a.size))


def paired_interval(diffs: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Two-sided Student-t confidence interval for the mean of paired differences.

    With ``n`` differences ``d``: ``mean(d) ± t_{(1+level)/2, n-1} * std(d, ddof=1) / sqrt(n)``.
    Returns ``(nan, nan)`` for fewer than two differences.
    """
    d = np.asarray(diffs, dtype=np.float64)
    if d.size < 2:
        return (math.nan, math.nan)
    half = _st.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return (float(d.mean() - half), float(d.mean() + half))


def paired_sign(diffs: Sequence[float], level: float = 0.95) -> int:
    """Which side of zero the paired t interval of ``diffs`` lies on: ``+1`` (entirely above),
    ``-1`` (entirely below), ``0`` (it includes zero, or fewer than two differences)."""
    lo, hi = paired_interval(diffs, level)
    if lo > 0:
        return 1
    if hi < 0:
        return -1
    return 0  # includes zero; NaN bounds (one seed) compare False both ways


def summarize_paired(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """Means, stds, and the paired difference ``b - a`` with its t interval, as a dict."""
    a_, b_ = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a_.shape != b_.shape:
        raise ValueError(f"paired samples must have equal length, got {a_.size} and {b_.size}")
    d = b_ - a_
    lo, hi = paired_interval(d, level)
    ddof = 1 if d.size > 1 else 0
    return {
        "n": int(d.size),
        "mean_a": a_.mean(),
        "std_a": a_.std(ddof=ddof),
        "mean_b": b_.mean(),
        "std_b": b_.std(ddof=ddof),
        "mean_diff": d.mean(),
        "std_diff": d.std(ddof=ddof),
        "ci_low": lo,
        "ci_high": hi,
    }


def paired_pvalue(diffs: Sequence[float]) -> float:
    """Two-sided paired t-test p-value for "the mean of the paired differences is zero".

    With ``n`` differences ``d``: ``t = mean(d) / (std(d, ddof=1) / sqrt(n))`` and
    ``p = 2 * P(T_{n-1} > |t|)`` -- the same test whose interval :func:`paired_interval` gives
    (``p < 0.05`` exactly when the 95 % interval excludes zero). Returns ``nan`` for fewer than
    two differences or any NaN among them; with zero spread it returns ``0.0`` for a non-zero
    mean (the limit ``|t| -> inf``) and ``1.0`` when every difference is zero.
    """
    d = np.asarray(diffs, dtype=np.float64).ravel()
    if d.size < 2 or np.isnan(d).any():
        return math.nan
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    t = mean / (sd / math.sqrt(d.size))
    return float(min(1.0, 2.0 * _st.t.sf(abs(t), d.size - 1)))


def _check_pvalues(pvalues: Sequence[float]) -> np.ndarray:
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    bad = p[~np.isnan(p) & ((p < 0) | (p > 1))]
    if bad.size:
        raise ValueError(f"pvalues must lie in [0, 1] (or be NaN), got {bad.tolist()}")
    return np.where(np.isnan(p), 1.0, p)  # an untestable comparison is never rejected


def holm_adjusted(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order.

    Sorting the ``m`` p-values ascending, ``p_(1) <= ... <= p_(m)``, the adjusted value of the
    ``k``-th is ``max_{j <= k} min(1, (m - j + 1) * p_(j))`` (Holm 1979); hypothesis ``k`` is
    rejected at family-wise level ``alpha`` exactly when its adjusted value is ``<= alpha``.
    A NaN p-value (e.g. one seed) counts as ``1.0``: it takes a place in ``m`` and is never
    rejected.
    """
    p = _check_pvalues(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return [float(a) for a in adjusted]


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm-Bonferroni step-down: which hypotheses are rejected, in the input order.

    Sort the ``m`` p-values ascending and reject ``p_(1), p_(2), ...`` while
    ``p_(k) <= alpha / (m - k + 1)``; stop at the first that fails (it and all larger are kept).
    This controls the probability of any false rejection at ``alpha`` under arbitrary dependence
    between the tests -- needed when one chapter asks several yes/no questions of the same runs.
    NaN p-values are never rejected (see :func:`holm_adjusted`).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    p = _check_pvalues(pvalues)
    m = p.size
    rejected = [False] * m
    for k, i in enumerate(np.argsort(p, kind="stable")):
        if p[i] > alpha / (m - k):
            break
        rejected[int(i)] = True
    return rejected


def __getattr__(name: str) -> Any:
    # ``stats.mean_std`` was the text "mean ± std"; it lives in ``reporting.text`` now (text
    # imports this module, so the old name is resolved lazily rather than imported here).
    if name == "mean_std":
        from .text import mean_std

        return mean_std
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
