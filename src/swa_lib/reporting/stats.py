"""Small statistics for reporting runs over seeds: mean and std, paired t intervals and their sign.

The numbers behind the sentences of :mod:`swa_lib.reporting.text`: every mean ± std the book
prints comes from :func:`mean_and_std`, every paired interval from :func:`paired_interval`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as _st

__all__ = ["mean_and_std", "paired_interval", "paired_sign", "summarize_paired"]


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


def __getattr__(name: str) -> Any:
    # ``stats.mean_std`` was the text "mean ± std"; it lives in ``reporting.text`` now (text
    # imports this module, so the old name is resolved lazily rather than imported here).
    if name == "mean_std":
        from .text import mean_std

        return mean_std
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
