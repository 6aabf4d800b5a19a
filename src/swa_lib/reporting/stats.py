"""Small statistics for reporting runs over seeds: mean ± std and paired t intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as _st

__all__ = ["mean_std", "paired_interval", "summarize_paired"]


def mean_std(values: Sequence[float], fmt: str = "{:.4f}") -> str:
    """``"mean ± std"`` with the sample standard deviation (ddof=1; 0 for one value)."""
    v = np.asarray(values, dtype=np.float64)
    std = v.std(ddof=1) if v.size > 1 else 0.0
    return f"{fmt.format(v.mean())} ± {fmt.format(std)}"


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


def summarize_paired(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """Means, stds, and the paired difference ``b - a`` with its t interval, as a dict."""
    a_, b_ = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a_.shape != b_.shape:
        raise ValueError(f"paired samples must have equal length, got {a_.size} and {b_.size}")
    d = b_ - a_
    lo, hi = paired_interval(d, level)
    ddof = 1 if d.size > 1 else 0
    return {"n": int(d.size), "mean_a": a_.mean(), "std_a": a_.std(ddof=ddof),
            "mean_b": b_.mean(), "std_b": b_.std(ddof=ddof), "mean_diff": d.mean(),
            "std_diff": d.std(ddof=ddof), "ci_low": lo, "ci_high": hi}
