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


PANEL_SIZE: tuple[float, float] = (3.5, 3.0)
"""Default size of one panel in inches (width, height): two panels side by side make 7 inches,
the book's text column, so the figure is shown at about its own size and matplotlib's 10-point
labels stay at 9-10 points on the page (a 10-inch figure shrunk to the column would show them at
7 points)."""


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


def coarsen_levels(levels: np.ndarray, resolution: float) -> np.ndarray:
    r"""Drop contour levels closer than ``resolution`` to the level kept before them.

    A metric measured on ``n`` test points moves in steps of ``1 / n`` (test error) or ``100 / n``
    (in %); contour bands thinner than that step show noise of one test point, not the surface.
    Greedy from the bottom: level ``levels[0]`` is kept; each later finite level is kept when it
    lies at least ``resolution`` above the last kept one. The top finite level is always kept
    (replacing the last kept level if they are closer than ``resolution``, or placed at
    ``levels[0] + resolution`` when the whole range is finer than the resolution), and a final
    catch-all level ``>= 1e10`` (as :func:`log_levels` appends) is kept. Returns increasing levels
    whose finite spacings are all ``>= resolution`` (up to rounding).
    """
    lv = np.asarray(levels, dtype=np.float64)
    if lv.ndim != 1 or lv.size < 2 or not np.all(np.diff(lv) > 0):
        raise ValueError("levels must be a 1-D increasing array of at least 2 values")
    if not (np.isfinite(resolution) and resolution > 0):
        raise ValueError(f"resolution must be a positive finite number, got {resolution!r}")
    sentinel = lv[-1] >= 1e10
    finite = lv[:-1] if sentinel else lv
    step = resolution * (1.0 - 1e-9)  # 0.11 - 0.10 < 0.01 in floating point
    kept = [float(finite[0])]
    for v in finite[1:-1]:
        if v - kept[-1] >= step:
            kept.append(float(v))
    top = float(finite[-1])
    if len(finite) > 1:
        if top - kept[-1] < step and len(kept) > 1:
            kept[-1] = top
        elif top - kept[-1] < step:
            kept.append(kept[0] + resolution)
        else:
            kept.append(top)
    out = np.array(kept)
    return np.concatenate([out, [float(lv[-1])]]) if sentinel else out


def shared_levels(
    values: Any,
    n: int = 7,
    log_alpha: float = -5.0,
    vmax: float | None = None,
    resolution: float | None = None,
) -> np.ndarray:
    r"""One set of :func:`log_levels` for several surfaces compared side by side.

    ``values`` is one array or a sequence of arrays (any shapes; NaNs ignored): the levels are
    ``log_levels`` of all their values pooled (so the bottom level is the lowest value of any
    surface and every panel's bands mean the same metric values), then, with ``resolution``,
    :func:`coarsen_levels` so that no band is thinner than the metric's resolution (e.g.
    ``1 / n_test`` for a test error in ``[0, 1]``). With ``resolution`` and the default
    ``log_alpha``, ``log_alpha`` is raised to ``log(resolution)``: the first band above the minimum
    is then one resolution step wide. Pass the result to ``plot_plane(..., levels=...)``.
    """
    arrays = [values] if isinstance(values, np.ndarray) else list(values)
    if not arrays:
        raise ValueError("values must hold at least one array")
    pooled = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
    if resolution is not None:
        if not (np.isfinite(resolution) and resolution > 0):
            raise ValueError(f"resolution must be a positive finite number, got {resolution!r}")
        log_alpha = max(float(log_alpha), float(np.log(resolution)))
    levels = log_levels(pooled, n=n, log_alpha=log_alpha, vmax=vmax)
    return levels if resolution is None else coarsen_levels(levels, resolution)


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
