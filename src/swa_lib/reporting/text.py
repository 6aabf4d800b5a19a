"""Results as the book writes them: mean ± std, signed differences, paired intervals, verdicts.

One formatter per kind of phrase, so every notebook words the same result the same way:

* :func:`mean_std_text` -- ``"81.9 ± 0.6"`` (sample std, ddof=1; NaNs dropped); :func:`pct`,
  :func:`pct_mean_std` -- fractions shown in percent; :func:`mean_std` -- the old name
  (``reporting.stats.mean_std``) with its format-string argument.
* :func:`signed`, :func:`paired_text` -- ``"+2.3 points (95% CI +1.6 to +3.0, n=5)"``.
* :func:`verdict`, :func:`interval_verdict` -- what a paired 95 % t interval says, in words.
* :func:`significant`, :func:`listing`, :func:`range_text`, :func:`count_text`,
  :func:`interval_text` -- numbers inside a sentence: ``"0.123"``, ``"1, 2 and 3"``,
  ``"0.91 to 0.97"``, ``"3 seeds"``, ``"0.25 .. > 2"``.

Text glued into the book must not parse as a different Python literal (myst-nb would print the
literal: ``"+4.4"`` shows as ``4.4``), so the formatters that make bare numbers keep them in
their shortest form (:func:`significant`) or callers add a unit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from .stats import mean_and_std, paired_interval

__all__ = [
    "mean_std_text",
    "mean_std",
    "pct",
    "pct_mean_std",
    "paired_text",
    "signed",
    "verdict",
    "interval_verdict",
    "significant",
    "listing",
    "range_text",
    "count_text",
    "interval_text",
]


def mean_std_text(
    values: Sequence[float],
    digits: int = 3,
    *,
    scale: float = 1.0,
    empty: str = "n/a",
    std_of_one: bool = True,
) -> str:
    """``"mean ± std"`` of ``scale * values`` with ``digits`` decimals.

    The std is the sample standard deviation (ddof=1) of :func:`~.stats.mean_and_std`; NaNs are
    dropped and ``empty`` is returned when nothing is left. A single value prints as
    ``"m ± 0.000"``, or as ``"m"`` alone with ``std_of_one=False`` (one seed has no spread).
    """
    mean, std, n = mean_and_std(scale * np.asarray(values, dtype=np.float64))
    if n == 0:
        return empty
    if n == 1 and not std_of_one:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def mean_std(values: Sequence[float], fmt: str = "{:.4f}") -> str:
    """The old ``reporting.stats.mean_std``, kept for its callers: mean and std of
    :func:`~.stats.mean_and_std`, each formatted by ``fmt`` (:func:`mean_std_text` takes
    ``digits`` instead)."""
    mean, std, n = mean_and_std(values)
    if n == 0:
        return "n/a"
    return f"{fmt.format(mean)} ± {fmt.format(std)}"


def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.8534 -> "85.3"``."""
    return f"{100 * x:.{digits}f}"


def pct_mean_std(xs: Sequence[float], digits: int = 1, *, std_of_one: bool = True) -> str:
    """Fractions as ``"85.3 ± 0.4"`` in percent: :func:`mean_std_text` with ``scale=100``."""
    return mean_std_text(xs, digits, scale=100.0, std_of_one=std_of_one)


def paired_text(
    diffs: Sequence[float], *, scale: float = 100.0, digits: int = 1, unit: str = " points"
) -> str:
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


def interval_verdict(
    lo: float, hi: float, *, better: str | None = "higher", who: str = "SWA"
) -> str:
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


def verdict(
    diffs: Sequence[float], *, better: str | None = "higher", who: str = "SWA", level: float = 0.95
) -> str:
    """:func:`interval_verdict` of the paired t interval of ``diffs`` (one per seed)."""
    lo, hi = paired_interval(np.asarray(diffs, dtype=np.float64), level)
    return interval_verdict(lo, hi, better=better, who=who)


def significant(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, never in exponent form for large values.

    ``format(x, ".3g")`` (``0.1234 -> "0.123"``, ``2.50 -> "2.5"``: no trailing zeros, so the
    glued text is the shortest literal of itself) for ``|x| < 10**(digits-1)``; larger values are
    rounded to an integer (``1234.5 -> "1234"``, where ``".3g"`` would give ``"1.23e+03"``).
    """
    if digits < 1:
        raise ValueError(f"digits={digits!r}: must be >= 1")
    if abs(x) >= 10 ** (digits - 1):
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def listing(values: Iterable[object], fmt: str = "", *, last: str = " and ") -> str:
    """``"a, b and c"``: the items joined by commas, the last two by ``last``.

    With a format spec ``fmt`` (e.g. ``".3f"``) every item is ``format(float(item), fmt)``;
    without, ``str(item)``. One item is returned alone; no items is an error.
    """
    items = [format(float(v), fmt) if fmt else str(v) for v in values]  # type: ignore[arg-type]
    if not items:
        raise ValueError("listing() needs at least one value")
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + last + items[-1]


def range_text(
    values: Sequence[float],
    fmt: str = ".2f",
    *,
    scale: float = 1.0,
    same: str | None = None,
    sep: str = " to ",
) -> str:
    """``"lo to hi"``: the smallest and largest of ``scale * values`` (NaNs ignored), each
    formatted with ``fmt`` (``"+.1f"`` for signed differences).

    When both ends print the same and ``same`` is given, ``same.format(lo)`` instead (e.g.
    ``same="{} on every seed"``).
    """
    a = scale * np.asarray(values, dtype=np.float64).ravel()
    if np.isnan(a).all():
        raise ValueError("range_text() needs at least one value that is not NaN")
    lo, hi = format(float(np.nanmin(a)), fmt), format(float(np.nanmax(a)), fmt)
    if same is not None and lo == hi:
        return same.format(lo)
    return f"{lo}{sep}{hi}"


def count_text(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 seed"``, ``"3 seeds"``: ``n`` and the noun, plural (default ``noun + "s"``) unless
    ``n == 1``."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def interval_text(
    lo: float, hi: float, *, limits: tuple[float, float], digits: int = 2, sep: str = " .. "
) -> str:
    """An interval whose ends may lie beyond the evaluated range: ``"0.25 .. 1.80"``, or
    ``"< -1"`` / ``"> 2"`` for an end that is NaN (not reached within ``limits = (min, max)``,
    as :func:`swa_lib.landscape.summary.level_interval` reports it)."""
    left = f"{lo:.{digits}f}" if math.isfinite(lo) else f"< {limits[0]:g}"
    right = f"{hi:.{digits}f}" if math.isfinite(hi) else f"> {limits[1]:g}"
    return f"{left}{sep}{right}"
