"""Shared figure style: metric labels, log-spaced contour levels, new axes."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure

METRIC_LABELS: dict[str, str] = {
    "train_loss": "Train loss",
    "train_nll": "Train NLL",
    "train_err": "Train error (%)",
    "train_acc": "Train accuracy (%)",
    "test_loss": "Test loss",
    "test_nll": "Test NLL",
    "test_err": "Test error (%)",
    "test_acc": "Test accuracy (%)",
    "train_error": "Train error",
    "train_accuracy": "Train accuracy",
    "test_error": "Test error",
    "test_accuracy": "Test accuracy",
}
"""Axis labels for the landscape metric names."""


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


PANEL_SIZE: tuple[float, float] = (5.0, 4.0)
"""Default size of one panel in inches (width, height): a figure of one or two panels then fits
the book's text column at a scale where 10-point labels stay legible."""


def panel_figsize(
    n_panels: int = 1, panel: tuple[float, float] | None = None
) -> tuple[float, float]:
    """Figure size (inches) for ``n_panels`` side by side, each ``panel`` (default PANEL_SIZE)."""
    w, h = panel or PANEL_SIZE
    return (w * n_panels, h)


def _new_axes(ax: Axes | None, figsize: tuple[float, float] | None) -> tuple[Figure, Axes]:
    """``(ax.figure, ax)`` when ``ax`` is given, else a new one-panel figure."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize or PANEL_SIZE)
    return fig, ax


def log_levels(
    values: np.ndarray, n: int = 7, log_alpha: float = -5.0, vmax: float | None = None
) -> np.ndarray:
    r"""Contour levels log-spaced above the minimum (``dnn-mode-connectivity``'s plane plots).

    With ``lo = min``, ``hi = min(max, vmax)``: ``levels_k = lo + exp(log_alpha + k * g)`` for
    ``k = 0..n`` with ``g = (log(hi - lo) - log_alpha) / n``; the first level is set to ``lo``, the
    last to ``hi``, and a final level ``1e10`` catches everything above ``vmax``. NaNs are
    ignored. Returns ``n + 2`` increasing levels (linear ones if the values are constant).
    """
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        raise ValueError("no finite values to contour")
    lo = float(finite.min())
    hi = float(finite.max()) if vmax is None else min(float(finite.max()), float(vmax))
    if not hi > lo:
        return np.array([lo - 1.0, lo, lo + 1.0])
    log_alpha = min(float(log_alpha), np.log(hi - lo) - 1e-6)
    gamma = (np.log(hi - lo) - log_alpha) / n
    levels = lo + np.exp(log_alpha + gamma * np.arange(n + 1))
    levels[0], levels[-1] = lo, hi
    return np.concatenate([levels, [1e10]])


class LogNormalize(colors.Normalize):
    """Colour scale ``0.9 * (log(v - vmin) - log_alpha) / (log(vmax - vmin) - log_alpha)``.

    Garipov et al.'s normalisation: colours change fastest near the minimum, values above
    ``vmax`` get the top colours.
    """

    def __init__(
        self,
        vmin: float | None = None,
        vmax: float | None = None,
        clip: bool = False,
        log_alpha: float = -5.0,
    ) -> None:
        super().__init__(vmin, vmax, clip)
        self.log_alpha = float(log_alpha)

    def __call__(self, value: Any, clip: bool | None = None) -> Any:
        v = np.ma.asarray(value, dtype=np.float64)
        log_v = np.ma.log(np.ma.maximum(v - self.vmin, 1e-300))
        log_v = np.ma.maximum(log_v, self.log_alpha)
        return 0.9 * (log_v - self.log_alpha) / (np.log(self.vmax - self.vmin) - self.log_alpha)

    def inverse(self, value: Any) -> Any:
        t = np.asarray(value, dtype=np.float64) / 0.9
        scale = np.log(self.vmax - self.vmin) - self.log_alpha
        return self.vmin + np.exp(self.log_alpha + t * scale)
