r"""Plot helpers in the SWA paper's figure styles. Each function returns its matplotlib Figure.

No function calls ``plt.show``; pass ``ax=`` to draw into an existing axes (the figure returned is
then ``ax.figure``). Functions are independent of each other.

Landscape plots (results of :mod:`swa_lib.landscape`):

* :func:`plot_plane` -- filled contours of a metric on a plane with log-spaced levels and the
  defining points marked (Garipov et al.'s ``plane`` style, used by the SWA paper).
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

__all__ = [
    "METRIC_LABELS",
    "log_levels",
    "LogNormalize",
    "plot_plane",
    "plot_rays",
    "plot_line",
    "plot_surface",
    "plot_training_curves",
    "plot_compare_curves",
]

METRIC_LABELS: dict[str, str] = {
    "train_loss": "Train loss",
    "train_nll": "Train NLL",
    "train_err": "Train error (%)",
    "train_acc": "Train accuracy (%)",
    "test_loss": "Test loss",
    "test_nll": "Test NLL",
    "test_err": "Test error (%)",
    "test_acc": "Test accuracy (%)",
}
"""Axis labels for the landscape metric names."""


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def log_levels(values: np.ndarray, n: int = 7, log_alpha: float = -5.0,
               vmax: float | None = None) -> np.ndarray:
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

    def __init__(self, vmin: float | None = None, vmax: float | None = None,
                 clip: bool = False, log_alpha: float = -5.0) -> None:
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


def plot_plane(surface: Any, metric: str, *, points: Mapping[str, Sequence[float]] | None = None,
               n_levels: int = 7, log_alpha: float = -5.0, vmax: float | None = None,
               cmap: str = "jet_r", ax: Axes | None = None, title: str | None = None,
               xlabel: str = "", ylabel: str = "", colorbar: bool = True,
               figsize: tuple[float, float] = (6.0, 5.0)) -> Figure:
    r"""Filled contours of ``surface[metric]`` with log-spaced levels and labelled points.

    Args:
        surface: a :class:`swa_lib.landscape.Surface` (``alphas``, ``betas``, ``values``).
        metric: e.g. ``"train_loss"`` or ``"test_err"``.
        points: label -> plane coordinates, e.g. ``{"SWA": plane_coordinates(w_swa, w0, u, v)}``;
            each is marked with a dot and its label.
        n_levels, log_alpha, vmax: see :func:`log_levels` (the paper's style: 7 levels, ``-5``,
            values above ``vmax`` share the top band).
        cmap: Garipov et al. use ``"jet_r"``.
        ax: draw here instead of a new figure.
    """
    fig, ax = _new_axes(ax, figsize)
    z = np.asarray(surface.values[metric], dtype=np.float64)
    x, y = np.meshgrid(surface.alphas, surface.betas, indexing="ij")
    levels = log_levels(z, n=n_levels, log_alpha=log_alpha, vmax=vmax)
    finite = z[np.isfinite(z)]
    lo = float(finite.min())
    hi = float(levels[-2])
    if len(levels) > 3:
        norm: colors.Normalize = LogNormalize(lo - 1e-8, hi + 1e-8,
                                              log_alpha=min(log_alpha, float(np.log(hi - lo))))
    else:
        norm = colors.Normalize(lo - 1.0, lo + 1.0)
    zc = np.where(np.isfinite(z), z, np.nan)
    ax.contour(x, y, zc, levels=levels, cmap=cmap, norm=norm, linewidths=2.0, zorder=1)
    filled = ax.contourf(x, y, zc, levels=levels, cmap=cmap, norm=norm, alpha=0.55, zorder=0)
    if colorbar:
        cb = fig.colorbar(filled, ax=ax, format="%.3g")
        cb.set_label(_label(metric))
        if len(levels) > 3:
            cb.set_ticks(levels[:-1])
            cb.ax.set_ylim(levels[0], levels[-2] if vmax is None else levels[-1])
    for name, (px, py) in (points or {}).items():
        ax.scatter([px], [py], s=60, c="k", marker="o", zorder=3, edgecolors="white")
        ax.annotate(name, (px, py), xytext=(5, 5), textcoords="offset points", fontsize=11,
                    zorder=4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else _label(metric))
    ax.set_aspect("equal", adjustable="box")
    return fig


def plot_rays(profiles: Mapping[str, Any], metrics: Sequence[str] = ("train_loss", "test_err"),
              *, colors_: Mapping[str, str] | None = None, ax: Axes | Sequence[Axes] | None = None,
              show_rays: bool = True, figsize: tuple[float, float] | None = None) -> Figure:
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
        fig, axes_arr = plt.subplots(1, len(metrics),
                                     figsize=figsize or (5.0 * len(metrics), 4.0), squeeze=False)
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
            vals = np.atleast_2d(np.asarray(prof.values[metric], dtype=np.float64))
            dist = np.asarray(prof.distances, dtype=np.float64)
            if show_rays and vals.shape[0] > 1:
                for row in vals:
                    a.plot(dist, row, color=color, alpha=0.25, linewidth=0.8)
            a.plot(dist, np.nanmean(vals, 0), color=color, linewidth=2.2, label=name)
        a.set_xlabel("Distance (L2)")
        a.set_ylabel(_label(metric))
        a.legend()
    return fig


def plot_line(profile: Any, *, train_metric: str = "train_loss", test_metric: str = "test_err",
              labels: Sequence[str] = ("SGD", "SWA"), x: str = "distance",
              ax: Axes | None = None, figsize: tuple[float, float] = (6.0, 4.0)) -> Figure:
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
    l1 = ax.plot(xs, profile.values[train_metric], color="C0", linewidth=2.2,
                 label=_label(train_metric))
    ax.set_ylabel(_label(train_metric), color="C0")
    ax.tick_params(axis="y", labelcolor="C0")
    ax2 = ax.twinx()
    l2 = ax2.plot(xs, profile.values[test_metric], color="C3", linewidth=2.2, linestyle="--",
                  label=_label(test_metric))
    ax2.set_ylabel(_label(test_metric), color="C3")
    ax2.tick_params(axis="y", labelcolor="C3")
    for pos, name in zip((0.0, scale), labels):
        ax.axvline(pos, color="gray", linestyle=":", linewidth=1.2)
        ax.annotate(name, (pos, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom")
    ax.set_xlabel("Distance (L2)" if x == "distance" else "t")
    lines = l1 + l2
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper center")
    return fig


def plot_surface(surface: Any, metric: str = "train_loss", *, log: bool = False,
                 levels: int = 30, cmap: str = "viridis", elev: float = 35.0,
                 azim: float = -60.0, title: str | None = None,
                 figsize: tuple[float, float] = (12.0, 5.0)) -> Figure:
    r"""A random-direction landscape (Li et al.) as a 2-D contour (left) and a 3-D surface (right).

    Args:
        surface: a :class:`swa_lib.landscape.Surface` from ``evaluate_plane`` on
            ``random_plane`` directions.
        log: plot ``log10`` of the values (Li et al. show log loss for sharp surfaces).
        levels: number of contour levels.
        elev, azim: the 3-D view.
    """
    z = np.asarray(surface.values[metric], dtype=np.float64)
    if log:
        z = np.log10(np.maximum(z, 1e-12))
    x, y = np.meshgrid(surface.alphas, surface.betas, indexing="ij")
    fig = plt.figure(figsize=figsize)
    ax = fig.add_subplot(1, 2, 1)
    cs = ax.contour(x, y, z, levels=levels, cmap=cmap)
    ax.clabel(cs, inline=True, fontsize=7, fmt="%.2g")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"$\beta$")
    ax.set_aspect("equal", adjustable="box")
    ax3 = fig.add_subplot(1, 2, 2, projection="3d")
    ax3.plot_surface(x, y, z, cmap=cmap, linewidth=0, antialiased=True)
    ax3.set_xlabel(r"$\alpha$")
    ax3.set_ylabel(r"$\beta$")
    ax3.set_zlabel(("log10 " if log else "") + _label(metric))
    ax3.view_init(elev=elev, azim=azim)
    fig.suptitle(title if title is not None else _label(metric))
    return fig


# -- training curves (results of swa_lib.train) ----------------------------------------------

def plot_training_curves(runs: Sequence[Any], *, metric: str = "test_accuracy",
                         ax: Axes | None = None, as_error: bool = True) -> Figure:
    """Per-epoch curves of SWA runs: the SGD iterate (dotted) and the SWA model (solid).

    Args:
        runs: :class:`swa_lib.train.RunResult` objects (SGD baselines draw only their iterate).
        metric: a ``metrics.csv`` suffix, e.g. ``"test_accuracy"``, ``"test_nll"``.
        as_error: plot ``100 * (1 - accuracy)`` (error in %) for accuracy metrics.
    """
    fig, ax = _new_axes(ax, (7.0, 3.8))
    is_acc = metric.endswith("accuracy")

    def values(series):
        return 100 * (1 - series) if (is_acc and as_error) else series

    for i, res in enumerate(runs):
        m, swa = res.metrics, res.config.swa
        ax.plot(m["epoch"], values(m[f"sgd_{metric}"]), color="C0" if not swa else "C1",
                ls=":" if swa else "-", alpha=0.8,
                label=("SGD iterate of the SWA run" if swa else "SGD") if i < 2 else None)
        if swa:
            ax.plot(m["epoch"], values(m[f"swa_{metric}"]), color="C3", alpha=0.8,
                    label="SWA" if i < 2 else None)
            ax.axvline(res.config.swa_start, color="grey", lw=0.8, ls="--")
    name = metric.replace("_", " ")
    ylabel = name.replace("accuracy", "error (%)") if (is_acc and as_error) else name
    ax.set(xlabel="epoch", ylabel=ylabel)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys())
    return fig


def plot_compare_curves(base: Mapping[str, Any], seeds: Sequence[int], runs_dir: Any = "runs",
                        *, metric: str = "test_accuracy") -> Figure:
    """Curves of the SGD baseline and the SWA run of ``base`` (TrainConfig kwargs) per seed.

    Runs come from the cache (``swa_lib.train.run`` trains the missing ones).
    """
    from .train import TrainConfig, run

    runs = []
    for seed in seeds:
        for swa in (False, True):
            runs.append(run(TrainConfig(**{**base, "seed": seed, "swa": swa}), runs_dir,
                            progress=False))
    fig = plot_training_curves(runs, metric=metric)
    fig.axes[0].set_title(f"{base.get('dataset')} / {base.get('model')}, seeds {list(seeds)}")
    return fig
