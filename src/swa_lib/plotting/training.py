"""Training curves: a metric against epoch for runs of :func:`swa_lib.training.run`.

Both functions draw results that already exist (``RunResult`` objects, or the SGD/SWA pairs of
:func:`swa_lib.training.sgd_and_swa`); they train and load nothing. Each takes ``ax=`` (a new
figure of ``figsize`` otherwise) and returns the Figure it drew on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import _new_axes

__all__ = ["plot_training_curves", "plot_compare_curves"]


def plot_training_curves(
    runs: Sequence[Any],
    *,
    metric: str = "test_accuracy",
    ax: Axes | None = None,
    as_error: bool = True,
    figsize: tuple[float, float] = (7.0, 3.8),
) -> Figure:
    """Per-epoch curves: SGD baselines (solid), the SGD iterate of SWA runs (dotted) and the SWA
    model (solid), with a dashed line at each SWA run's ``swa_start``.

    Args:
        runs: :class:`swa_lib.training.RunResult` objects (SGD baselines draw only their iterate).
        metric: a ``metrics.csv`` suffix, e.g. ``"test_accuracy"``, ``"test_nll"``; a
            ``KeyError`` names a missing one.
        ax: the axes to draw on (default: a new figure of ``figsize`` inches).
        as_error: plot ``100 * (1 - accuracy)`` (error in %) for accuracy metrics.
    """
    fig, ax = _new_axes(ax, figsize)
    is_acc = metric.endswith("accuracy")

    def values(series):
        return 100 * (1 - series) if (is_acc and as_error) else series

    for i, res in enumerate(runs):
        m, swa = res.metrics, res.config.swa
        ax.plot(
            m["epoch"],
            values(m[f"sgd_{metric}"]),
            color="C0" if not swa else "C1",
            ls=":" if swa else "-",
            alpha=0.8,
            label=("SGD iterate of the SWA run" if swa else "SGD") if i < 2 else None,
        )
        if swa:
            ax.plot(
                m["epoch"],
                values(m[f"swa_{metric}"]),
                color="C3",
                alpha=0.8,
                label="SWA" if i < 2 else None,
            )
            ax.axvline(res.config.swa_start, color="grey", lw=0.8, ls="--")
    name = metric.replace("_", " ")
    ylabel = name.replace("accuracy", "error (%)") if (is_acc and as_error) else name
    ax.set(xlabel="epoch", ylabel=ylabel)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys())
    return fig


def plot_compare_curves(
    pairs: Sequence[Any],
    *,
    metric: str = "test_accuracy",
    ax: Axes | None = None,
    as_error: bool = True,
    figsize: tuple[float, float] = (7.0, 3.8),
    title: str | None = None,
) -> Figure:
    """Curves of the SGD baseline and the SWA run of each seed, titled with their setting.

    Args:
        pairs: what :func:`swa_lib.training.sgd_and_swa` returns (``Pair`` objects with
            ``.sgd`` and ``.swa`` runs), or ``RunResult`` objects directly.
        metric, ax, as_error, figsize: as :func:`plot_training_curves`.
        title: default ``"<dataset> / <model>, seeds [...]"`` from the runs.
    """
    runs: list[Any] = []
    for p in pairs:
        runs.extend((p.sgd, p.swa) if hasattr(p, "sgd") else (p,))
    if not runs:
        raise ValueError("pairs is empty: pass the result of training.sgd_and_swa(...)")
    fig, ax = _new_axes(ax, figsize)
    plot_training_curves(runs, metric=metric, ax=ax, as_error=as_error)
    if title is None:
        c = runs[0].config
        seeds = list(dict.fromkeys(r.config.seed for r in runs))
        title = f"{c.dataset} / {c.model}, seeds {seeds}"
    ax.set_title(title)
    return fig
