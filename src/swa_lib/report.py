"""Glue numbers and figures into the book, and format results as the book prints them.

:func:`glue` wraps ``myst_nb.glue`` so notebooks also run where myst-nb is not installed (Colab):
there it only displays (or does nothing). Text is glued through :class:`Text`, whose ``repr`` is
the text itself, so ``{glue:text}`key``` shows ``85.3 ± 0.4`` rather than ``'85.3 ± 0.4'``.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

import numpy as np

from .stats import paired_interval

__all__ = ["Text", "glue", "glue_text", "pct", "pct_mean_std", "paired_text", "signed"]


class Text(str):
    """A string whose ``repr`` is itself (for gluing into prose without quotes)."""

    def __repr__(self) -> str:
        return str(self)


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """``myst_nb.glue(name, value, display=display)``.

    Notebooks glue a figure (``display=False``), close it, and show it once in the book through a
    captioned ``{glue:figure}`` block. Without myst-nb (e.g. on Colab) there is no such block, so
    figures are displayed here instead; other values are displayed only if ``display``.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:  # e.g. on Colab: the book machinery is not needed to run a notebook
        from matplotlib.figure import Figure

        if display or isinstance(value, Figure):
            from IPython.display import display as _display

            _display(value)
        return
    _glue(name, value, display=display)


def glue_text(name: str, text: str) -> Text:
    """Glue ``text`` for ``{glue:text}`name``` and return it (to print it as well)."""
    try:  # myst-nb renders text that parses as a Python literal through that literal
        literal = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        literal = text
    if str(literal) != text:
        raise ValueError(f"glued text {text!r} for {name!r} would render as {str(literal)!r}; "
                         "add a unit or words (e.g. '+4.4 points')")
    t = Text(text)
    glue(name, t, display=False)
    return t


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
