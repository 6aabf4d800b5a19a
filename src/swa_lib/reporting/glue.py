"""Glue numbers and figures into the book, and format results as the book prints them.

:func:`glue` wraps ``myst_nb.glue`` so notebooks also run where myst-nb is not installed (Colab):
there it only displays (or does nothing). Text is glued through :class:`Text`, whose ``repr`` is
the text itself, so ``{glue:text}`key``` shows ``85.3 ± 0.4`` rather than ``'85.3 ± 0.4'``; a
number is glued as a plain float (:func:`glue_number`) and formatted by the prose
(``{glue:text}`key:.2f```).
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["Text", "glue", "glue_text", "glue_number"]


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
        raise ValueError(
            f"glued text {text!r} for {name!r} would render as {str(literal)!r}; "
            "add a unit or words (e.g. '+4.4 points')"
        )
    t = Text(text)
    glue(name, t, display=False)
    return t


def glue_number(name: str, value: float) -> float:
    """Glue ``float(value)`` for ``{glue:text}`name:.2f``` (the prose picks the format) and
    return it. A NumPy or torch scalar becomes a Python float, so the book shows a number rather
    than ``np.float64(...)``."""
    x = float(value)
    glue(name, x, display=False)
    return x
