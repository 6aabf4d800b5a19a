r"""Plot helpers in the SWA paper's figure styles. Each function returns its matplotlib Figure.

No function calls ``plt.show``; pass ``ax=`` to draw into an existing axes (the figure returned is
then ``ax.figure``). Functions are independent of each other.

Landscape plots (results of :mod:`swa_lib.landscape`):

* :func:`plot_plane` -- filled contours of a metric on a plane with log-spaced levels and the
  defining points marked (Garipov et al.'s ``plane`` style, used by the SWA paper); ``levels=``
  takes shared levels (:func:`~swa_lib.plotting.style.shared_levels`) for compared panels.
* :func:`plot_rays` -- metric vs L2 distance along random rays, one colour per solution (SGD vs
  SWA "width" curves).
* :func:`plot_line` -- train loss and test error along the SGD-to-SWA line on twin axes.
* :func:`plot_surface` -- Li et al.'s random-direction landscape as a 2-D contour and a 3-D surface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import LogNormalize, _label, _new_axes, log_levels, panel_figsize


def plot_plane(
    surface: Any,
    metric: str,
    *,
    points: Mapping[str, Sequence[float]] | None = None,
    n_levels: int = 7,
    log_alpha: float = -5.0,
    vmax: float | None = None,
    levels: Sequence[float] | np.ndarray | None = None,
    cmap: str = "jet_r",
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "",
    ylabel: str = "",
    colorbar: bool = True,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Filled contours of ``surface[metric]`` with log-spaced levels and labelled points.

    Args:
        surface: a :class:`swa_lib.landscape.Surface` (``alphas``, ``betas``, ``values``).
        metric: e.g. ``"train_loss"`` or ``"test_error"``.
        points: label -> plane coordinates, e.g. ``{"SWA": plane_coordinates(w_swa, w0, u, v)}``;
            each is marked with a dot and its label.
        n_levels, log_alpha, vmax: see :func:`log_levels` (the paper's style: 7 levels, ``-5``,
            values above ``vmax`` share the top band).
        levels: explicit increasing contour levels, e.g. from :func:`shared_levels` for panels
            compared side by side; the colour scale then comes from the levels alone (bottom
            level to the top finite one), so equal colours mean equal values in every panel
            that gets the same levels; values below the bottom level (if any) are filled with
            the bottom colour. Default: :func:`log_levels` of this surface (``n_levels``,
            ``log_alpha``, ``vmax``) and a colour scale from its minimum.
        cmap: Garipov et al. use ``"jet_r"``.
        ax: draw here instead of a new figure.
    """
    fig, ax = _new_axes(ax, figsize)
    z = np.asarray(surface[metric], dtype=np.float64)
    x, y = np.meshgrid(surface.alphas, surface.betas, indexing="ij")
    zc = np.where(np.isfinite(z), z, np.nan)
    if levels is None:
        lv = log_levels(z, n=n_levels, log_alpha=log_alpha, vmax=vmax)
        lo, hi, extend = float(np.nanmin(zc)), float(lv[-2]), "neither"
        top = lv[-2] if vmax is None else lv[-1]
    else:
        lv = np.asarray(levels, dtype=np.float64)
        if lv.ndim != 1 or lv.size < 2 or not np.all(np.diff(lv) > 0):
            raise ValueError("levels must be a 1-D increasing sequence of at least 2 values")
        finite_lv = lv[lv < 1e10]
        lo, hi = float(lv[0]), float(finite_lv[-1])
        # values below the bottom level get the bottom colour (an arrow on the colour bar)
        extend = "min" if float(np.nanmin(zc)) < lo else "neither"
        top = hi
    if len(lv) > 3 and hi > lo:
        norm: colors.Normalize = LogNormalize(
            lo - 1e-8, hi + 1e-8, log_alpha=min(log_alpha, float(np.log(hi - lo)))
        )
    else:
        norm = colors.Normalize(lo - 1.0, lo + 1.0)
    ax.contour(x, y, zc, levels=lv, cmap=cmap, norm=norm, linewidths=2.0, zorder=1)
    filled = ax.contourf(
        x, y, zc, levels=lv, cmap=cmap, norm=norm, alpha=0.55, zorder=0, extend=extend
    )
    if colorbar:
        cb = fig.colorbar(filled, ax=ax, format="%.3g")
        cb.set_label(_label(metric))
        if len(lv) > 3:
            cb.set_ticks(lv[lv < 1e10] if levels is not None else lv[:-1])
            cb.ax.set_ylim(lv[0], top)
    for name, (px, py) in (points or {}).items():
        ax.scatter([px], [py], s=60, c="k", marker="o", zorder=3, edgecolors="white")
        ax.annotate(
            name, (px, py), xytext=(5, 5), textcoords="offset points", fontsize=11, zorder=4
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else _label(metric))
    ax.set_aspect("equal", adjustable="box")
    return fig


def plot_rays(
    profiles: Mapping[str, Any],
    metrics: Sequence[str] = ("train_loss", "test_error"),
    *,
    colors_: Mapping[str, str] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
    show_rays: bool = True,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Metrics vs distance along random rays, one colour per solution (SGD vs SWA width curves).

    Args:
        profiles: label -> :class:`swa_lib.landscape.Profile` from ``ray_profile`` (values
            ``(T,)`` or ``(R, T)`` for ``R`` rays), e.g. ``{"SGD": p_sgd, "SWA": p_swa}``.
        metrics: one panel per metric.
        colors_: label -> colour (default the property cycle).
        ax: one axes per metric to draw into.
        show_rays: draw each ray thinly under the mean curve.
    """
    metrics = list(metrics)
    if ax is None:
        fig, axes_arr = plt.subplots(
            1, len(metrics), figsize=figsize or panel_figsize(len(metrics)), squeeze=False
        )
        axes = list(axes_arr[0])
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != len(metrics):
            raise ValueError(f"{len(metrics)} metrics but {len(axes)} axes")
        fig = axes[0].figure
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2"])
    for a, metric in zip(axes, metrics):
        for i, (name, prof) in enumerate(profiles.items()):
            color = (colors_ or {}).get(name, cycle[i % len(cycle)])
            vals = np.atleast_2d(np.asarray(prof[metric], dtype=np.float64))
            dist = np.asarray(prof.distances, dtype=np.float64)
            if show_rays and vals.shape[0] > 1:
                for row in vals:
                    a.plot(dist, row, color=color, alpha=0.25, linewidth=0.8)
            a.plot(dist, np.nanmean(vals, 0), color=color, linewidth=2.2, label=name)
        a.set_xlabel("Distance (L2)")
        a.set_ylabel(_label(metric))
        a.legend()
    return fig


def plot_line(
    profile: Any,
    *,
    train_metric: str = "train_loss",
    test_metric: str = "test_error",
    labels: Sequence[str] = ("SGD", "SWA"),
    x: str = "distance",
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Train loss (left axis) and test error (right axis) along the line ``w_a -> w_b``.

    The SWA paper's SGD-to-SWA figure: ``profile`` from ``line_profile(model, w_sgd, w_swa, ts)``.
    Vertical dotted lines mark ``t = 0`` and ``t = 1``, labelled with ``labels``.

    Args:
        x: ``"distance"`` (L2 units, ``Profile.distances``) or ``"t"`` (the line parameter).
    """
    if x not in ("distance", "t"):
        raise ValueError(f"x must be 'distance' or 't', got {x!r}")
    fig, ax = _new_axes(ax, figsize)
    xs = np.asarray(profile.distances if x == "distance" else profile.t, dtype=np.float64)
    scale = 1.0
    if x == "distance":
        t = np.asarray(profile.t, dtype=np.float64)
        nz = np.flatnonzero(t != 0)
        scale = float(xs[nz[0]] / t[nz[0]]) if nz.size else 1.0
    l1 = ax.plot(xs, profile[train_metric], color="C0", linewidth=2.2, label=_label(train_metric))
    ax.set_ylabel(_label(train_metric), color="C0")
    ax.tick_params(axis="y", labelcolor="C0")
    ax2 = ax.twinx()
    l2 = ax2.plot(
        xs,
        profile[test_metric],
        color="C3",
        linewidth=2.2,
        linestyle="--",
        label=_label(test_metric),
    )
    ax2.set_ylabel(_label(test_metric), color="C3")
    ax2.tick_params(axis="y", labelcolor="C3")
    for pos, name in zip((0.0, scale), labels):
        ax.axvline(pos, color="gray", linestyle=":", linewidth=1.2)
        ax.annotate(
            name,
            (pos, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
        )
    ax.set_xlabel("Distance (L2)" if x == "distance" else "t")
    lines = l1 + l2
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper center")
    return fig


def plot_surface(
    surface: Any,
    metric: str = "train_loss",
    *,
    log: bool = False,
    levels: int | Sequence[float] | np.ndarray = 30,
    cmap: str = "viridis",
    elev: float = 35.0,
    azim: float = -60.0,
    title: str | None = None,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""A random-direction landscape (Li et al.) as a 2-D contour (left) and a 3-D surface (right).

    Args:
        surface: a :class:`swa_lib.landscape.Surface` from ``evaluate_plane`` on
            ``random_plane`` directions.
        log: plot ``log10`` of the values (Li et al. show log loss for sharp surfaces).
        levels: number of contour levels, or the increasing levels themselves -- in the plotted
            units, i.e. ``log10`` of the metric when ``log`` -- so that surfaces compared side
            by side share one set (equal spacing then means equal change of the metric).
        elev, azim: the 3-D view.
        axes: ``(ax_2d, ax_3d)`` to draw into (the second made with ``projection="3d"``);
            default a new figure of two panels.

    Returns:
        The figure drawn on.
    """
    z = np.asarray(surface[metric], dtype=np.float64)
    if log:
        z = np.log10(np.maximum(z, 1e-12))
    x, y = np.meshgrid(surface.alphas, surface.betas, indexing="ij")
    if axes is None:
        fig = plt.figure(figsize=figsize or panel_figsize(2))
        ax, ax3 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2, projection="3d")
    else:
        ax, ax3 = axes
        if getattr(ax3, "name", "") != "3d":
            raise ValueError("axes[1] must be a 3-D axes (add_subplot(..., projection='3d'))")
        fig = ax.figure
    if not isinstance(levels, (int, np.integer)):
        levels = np.asarray(levels, dtype=np.float64)
        if levels.ndim != 1 or levels.size < 2 or not np.all(np.diff(levels) > 0):
            raise ValueError("levels must be an int or a 1-D increasing sequence of >= 2 values")
    cs = ax.contour(x, y, z, levels=levels, cmap=cmap)
    # every other level labelled: at 9 points the labels of all of them overlap near the centre
    ax.clabel(cs, cs.levels[::2], inline=True, fontsize=9, fmt="%.2g")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"$\beta$")
    ax.set_aspect("equal", adjustable="box")
    ax3.plot_surface(x, y, z, cmap=cmap, linewidth=0, antialiased=True)
    ax3.set_xlabel(r"$\alpha$")
    ax3.set_ylabel(r"$\beta$")
    ax3.set_zlabel(("log10 " if log else "") + _label(metric))
    ax3.view_init(elev=elev, azim=azim)
    fig.suptitle(title if title is not None else _label(metric))
    return fig
