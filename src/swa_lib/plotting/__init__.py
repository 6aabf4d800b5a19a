"""Plots in the SWA paper's figure styles; every function takes ``ax=`` and returns its Figure.

* :mod:`.style` -- metric labels, log-spaced contour levels (:func:`log_levels`;
  :func:`shared_levels` for panels compared side by side, no finer than a metric's resolution).
* :mod:`.landscape` -- planes, rays, lines and random surfaces (of :mod:`swa_lib.landscape`).
* :mod:`.training` -- metric-vs-epoch curves of training runs.
* :mod:`.calibration` -- reliability diagrams.
* :mod:`.interactive` -- 3-D surfaces as interactive HTML (plotly) with a PNG twin for the PDF.
"""

from .calibration import plot_reliability
from .interactive import InteractiveFigure, interactive_surface
from .landscape import plot_line, plot_plane, plot_rays, plot_surface
from .style import METRIC_LABELS, LogNormalize, coarsen_levels, log_levels, shared_levels
from .training import plot_compare_curves, plot_training_curves

__all__ = [
    "METRIC_LABELS",
    "log_levels",
    "shared_levels",
    "coarsen_levels",
    "LogNormalize",
    "plot_plane",
    "plot_rays",
    "plot_line",
    "plot_surface",
    "plot_training_curves",
    "plot_compare_curves",
    "plot_reliability",
    "InteractiveFigure",
    "interactive_surface",
]
