"""Training curves: a metric against epoch for runs of :func:`swa_lib.training.run`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import _new_axes


def plot_training_curves(runs: Sequence[Any], *, metric: str = "test_accuracy",
                         ax: Axes | None = None, as_error: bool = True) -> Figure:
    """Per-epoch curves of SWA runs: the SGD iterate (dotted) and the SWA model (solid).

    Args:
        runs: :class:`swa_lib.training.RunResult` objects (SGD baselines draw only their iterate).
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

    Runs come from the cache (``swa_lib.training.run`` trains the missing ones).
    """
    from ..training import TrainConfig, run

    runs = []
    for seed in seeds:
        for swa in (False, True):
            runs.append(run(TrainConfig(**{**base, "seed": seed, "swa": swa}), runs_dir,
                            progress=False))
    fig = plot_training_curves(runs, metric=metric)
    fig.axes[0].set_title(f"{base.get('dataset')} / {base.get('model')}, seeds {list(seeds)}")
    return fig
