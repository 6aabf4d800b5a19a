r"""Reliability diagrams of :class:`swa_lib.metrics.Reliability` data (SWAG's calibration plot).

:func:`plot_reliability` draws one curve per model on one axes, in one of two styles:

* ``style="gap"`` (the SWAG paper's figures, Maddox et al. 2019): the per-bin gap
  :math:`\mathrm{confidence}_b - \mathrm{accuracy}_b` against the bin's mean confidence, with the
  confidence axis on a logit scale so that the bins crowded near 1 (where an accurate model puts
  almost all of its predictions) spread out. Above zero is over-confident, below under-confident.
* ``style="diagram"``: the classic diagram, accuracy against confidence with the diagonal
  (Guo et al. 2017), linear axes.

Like :mod:`swa_lib.plotting`, the function returns the Figure and never calls ``plt.show``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..metrics import Reliability
from .style import _new_axes

__all__ = ["plot_reliability"]

_STYLES = ("gap", "diagram")


def plot_reliability(
    curves: Mapping[str, Reliability],
    *,
    style: str = "gap",
    ax: Axes | None = None,
    title: str | None = None,
    conf_clip: float = 1e-6,
) -> Figure:
    """One reliability curve per entry of ``curves`` (label -> :class:`Reliability`).

    Args:
        curves: the reliability data to draw, in legend order; empty bins (NaN) are skipped.
        style: ``"gap"`` -- confidence minus accuracy (y) against confidence (x, logit scale,
            clipped to ``[conf_clip, 1 - conf_clip]``) with a zero line; ``"diagram"`` --
            accuracy against confidence on the full unit square (never cropped, so no bin's
            point can fall outside the axes) with the diagonal of perfect calibration.
        ax: draw into this axes (else a new one-panel figure, ``style.PANEL_SIZE``).
        title: axes title.
        conf_clip: how close to 0 or 1 a confidence may be drawn on the logit axis.

    Returns:
        The figure of ``ax``.
    """
    if style not in _STYLES:
        raise ValueError(f"style={style!r}; allowed: {', '.join(_STYLES)}")
    if not curves:
        raise ValueError("curves is empty: pass at least one label -> Reliability")
    fig, ax = _new_axes(ax, None)
    for label, rel in curves.items():
        full = np.asarray(rel.count) > 0
        conf = np.asarray(rel.confidence, dtype=np.float64)[full]
        acc = np.asarray(rel.accuracy, dtype=np.float64)[full]
        if style == "gap":
            x = np.clip(conf, conf_clip, 1.0 - conf_clip)
            ax.plot(x, conf - acc, marker="o", ms=3, lw=1.2, label=label)
        else:
            ax.plot(conf, acc, marker="o", ms=3, lw=1.2, label=label)
    if style == "gap":
        ax.axhline(0.0, color="black", lw=0.8, ls="--")
        ax.set_xscale("logit")
        ax.set(xlabel="confidence (logit scale)", ylabel="confidence - accuracy")
    else:
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--")
        # the unit square plus a margin, so that markers at 0 or 1 are drawn whole
        pad = 0.03
        ax.set(xlim=(-pad, 1 + pad), ylim=(-pad, 1 + pad), xlabel="confidence (max probability)")
        ax.set_ylabel("accuracy")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=9)
    return fig
