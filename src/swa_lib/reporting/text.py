"""Results as the book writes them: mean ± std, signed differences, paired intervals, verdicts.

One formatter per kind of sentence, so every notebook words the same result the same way:

* :func:`mean_std_text` -- ``"81.9 ± 0.6"`` (sample std, ddof=1; NaNs dropped).
* :func:`pct`, :func:`pct_mean_std` -- fractions shown in percent.
* :func:`signed`, :func:`paired_text` -- ``"+2.3 points (95% CI +1.6 to +3.0, n=5)"``.
* :func:`verdict` -- what a paired 95 % t interval says, in words, computed from the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .stats import paired_interval

__all__ = ["mean_std_text", "pct", "pct_mean_std", "paired_text", "signed", "verdict",
           "interval_verdict"]


def mean_std_text(values: Sequence[float], digits: int = 3, *, scale: float = 1.0,
                  empty: str = "n/a") -> str:
    """``"mean ± std"`` of ``scale * values`` with ``digits`` decimals (sample std, ddof=1;
    0 for one value); NaNs are dropped and ``empty`` is returned when nothing is left."""
    a = scale * np.asarray(values, dtype=np.float64).ravel()
    a = a[~np.isnan(a)]
    if a.size == 0:
        return empty
    std = a.std(ddof=1) if a.size > 1 else 0.0
    return f"{a.mean():.{digits}f} ± {std:.{digits}f}"


def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.8534 -> "85.3"``."""
    return f"{100 * x:.{digits}f}"


def pct_mean_std(xs: Sequence[float], digits: int = 1) -> str:
    """``"85.3 ± 0.4"`` (percent; sample std, ddof=1)."""
    a = 100 * np.asarray(xs, dtype=np.float64)
    std = a.std(ddof=1) if a.size > 1 else 0.0
    return f"{a.mean():.{digits}f} ± {std:.{digits}f}"


def paired_text(diffs: Sequence[float], *, scale: float = 100.0, digits: int = 1,
                unit: str = " points") -> str:
    """``"+1.2 points (95% CI +0.4 to +2.0, n=5)"`` for paired differences (default in percent)."""
    d = scale * np.asarray(diffs, dtype=np.float64)
    lo, hi = paired_interval(d)
    mean = signed(d.mean(), digits)
    if np.isnan(lo):
        return f"{mean}{unit} (n={d.size})"
    return f"{mean}{unit} (95% CI {signed(lo, digits)} to {signed(hi, digits)}, n={d.size})"


def signed(x: float, digits: int = 1) -> str:
    """``+1.2`` / ``-0.3``; a value that rounds to zero prints as ``0.0`` (never ``-0.0``)."""
    text = f"{x:+.{digits}f}"
    return text[1:] if float(text) == 0.0 else text


def interval_verdict(lo: float, hi: float, *, better: str | None = "higher",
                     who: str = "SWA") -> str:
    """What the interval ``[lo, hi]`` of a difference ``who - other`` says, in words.

    ``"cannot be judged with one seed"`` (NaN bounds), ``"includes zero"``, or ``"excludes zero"``
    followed, when ``better`` is ``"higher"`` or ``"lower"`` (which sign favours ``who``), by
    ``", in favour of SWA"`` / ``", against SWA"``; ``better=None`` gives the bare wording.
    """
    if better not in ("higher", "lower", None):
        raise ValueError(f"better={better!r}: allowed values are 'higher', 'lower', None")
    if np.isnan(lo) or np.isnan(hi):
        return "cannot be judged with one seed"
    if lo <= 0 <= hi:
        return "includes zero"
    if better is None:
        return "excludes zero"
    favours = lo > 0 if better == "higher" else hi < 0
    return f"excludes zero, {'in favour of' if favours else 'against'} {who}"


def verdict(diffs: Sequence[float], *, better: str | None = "higher", who: str = "SWA",
            level: float = 0.95) -> str:
    """:func:`interval_verdict` of the paired t interval of ``diffs`` (one per seed)."""
    lo, hi = paired_interval(np.asarray(diffs, dtype=np.float64), level)
    return interval_verdict(lo, hi, better=better, who=who)
