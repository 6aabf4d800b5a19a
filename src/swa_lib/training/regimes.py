"""The two learning-rate regimes of SWA's evidence, and a grid of SGD/SWA pairs over them.

Izmailov et al. (2018) report SWA in two regimes, and a result holds for the regime it was
measured in:

* ``"recipe"`` -- **the paper's recipe ratio** (Table 1, the README of the authors' code
  github.com/timgaripov/swa): the rate stays at ``lr_init`` for half of ``swa_start``, falls
  linearly to ``swa_lr`` by ``0.9 * swa_start`` and stays there while models are averaged, with
  ``swa_lr / lr_init`` between 0.1 and 0.5 (VGG16 0.01 / 0.05 = 0.2; PreResNet 0.05 / 0.1 = 0.5 on
  CIFAR-100 and 0.01 / 0.1 = 0.1 on CIFAR-10; WRN-28-10 0.05 / 0.1 = 0.5). Here ``swa_lr =
  ratio * lr_init`` with ``ratio`` = :data:`RECIPE_RATIO` (0.3) unless given.
* ``"constant"`` -- **a constant rate from scratch** (the paper's Figure 7 / Section 4.4):
  ``swa_lr = lr_init``, so the piecewise schedule is flat and the rate never falls.

Both use the library's one SWA schedule (:func:`swa_lib.schedules.swa_schedule`, which is the
paper's piecewise schedule and is flat when the ratio is 1), so a regime is only a value of
``swa_lr``: :func:`regime_changes` returns the ``TrainConfig`` fields to change. The SGD baseline
is the same in both (its own schedule, decaying to 1 % of ``lr_init``).

:func:`regime_pairs` is :func:`~swa_lib.training.sgd_and_swa` with the SWA run in a regime (and,
optionally, the data drawn with the seed); :func:`regime_grid` trains (or reads from the run
cache) every setting x regime x seed and returns one tidy row per pair; :func:`regime_summary`
reduces it to the paired mean SWA - SGD with its 95 % t interval per setting and regime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..reporting.stats import paired_interval
from .compare import Pair, pairs_frame, sgd_and_swa

__all__ = [
    "REGIMES",
    "RECIPE_RATIO",
    "regime_changes",
    "regime_label",
    "regime_pairs",
    "regime_grid",
    "regime_summary",
]

#: The recipe ratio ``swa_lr / lr_init`` used when none is given: inside the 0.1-0.5 range of the
#: paper's Table 1 recipes (README of timgaripov/swa).
RECIPE_RATIO = 0.3

#: regime name -> what it is, in the words the book uses for it.
REGIMES: dict[str, str] = {
    "recipe": "the paper's recipe ratio (swa_lr / lr_init of 0.1-0.5, Table 1)",
    "constant": "a constant rate from scratch (swa_lr = lr_init, Figure 7 / Section 4.4)",
}


def _check_regime(name: str) -> None:
    if name not in REGIMES:
        raise ValueError(f"regime={name!r} is invalid: allowed values are {', '.join(REGIMES)}")


def regime_changes(name: str, lr_init: float, *, ratio: float = RECIPE_RATIO) -> dict[str, Any]:
    """The ``TrainConfig`` fields that put an SWA run of base rate ``lr_init`` in regime ``name``.

    ``"recipe"``: ``swa_lr = ratio * lr_init`` (``0 < ratio < 1``) with the constant SWA-phase
    schedule (the paper's piecewise decay to ``swa_lr`` by ``0.9 * swa_start``); ``"constant"``:
    ``swa_lr = lr_init`` (ratio ignored), a flat rate from the first epoch. Returned as
    ``{"lr_init", "swa_lr", "swa_lr_schedule"}`` so they can be passed as ``swa_changes``.
    """
    _check_regime(name)
    if not (isinstance(lr_init, (int, float)) and lr_init > 0):
        raise ValueError(f"lr_init={lr_init!r} is invalid: must be a number > 0")
    if name == "constant":
        swa_lr = float(lr_init)
    else:
        if not 0 < ratio < 1:
            raise ValueError(f"ratio={ratio!r} is invalid: the recipe needs 0 < ratio < 1")
        swa_lr = float(ratio) * float(lr_init)
    return {"lr_init": float(lr_init), "swa_lr": swa_lr, "swa_lr_schedule": "constant"}


def regime_label(name: str, *, ratio: float = RECIPE_RATIO) -> str:
    """The regime's name in prose: ``"the paper's recipe ratio 0.3"`` or ``"a constant rate from
    scratch"`` (how the book names every SWA result's regime)."""
    _check_regime(name)
    return (
        f"the paper's recipe ratio {ratio:g}"
        if name == "recipe"
        else "a constant rate from scratch"
    )


def _pairs_rows(pairs: Sequence[Pair]) -> pd.DataFrame:
    """:func:`pairs_frame` plus the SWA model against its own run's last iterate."""
    frame = pairs_frame(pairs)
    for m in ("test_accuracy", "test_nll"):
        frame[f"diff_last_{m}"] = frame[f"swa_{m}"] - frame[f"swa_run_last_{m}"]
    frame["n_train"] = [p.sgd.final["n_train"] for p in pairs]
    frame["n_test"] = [p.sgd.final["n_test"] for p in pairs]
    return frame


def regime_pairs(
    base: Mapping[str, Any],
    seeds: Sequence[int],
    runs_dir: str | Path = "runs",
    *,
    regime: str,
    ratio: float = RECIPE_RATIO,
    swa_changes: Mapping[str, Any] | None = None,
    data_seed_per_seed: bool = False,
    progress: bool | None = None,
) -> list[Pair]:
    """:func:`~swa_lib.training.sgd_and_swa` with the SWA run in regime ``regime``.

    ``swa_changes`` are further fields of the SWA run only (e.g. a longer budget); the regime's
    :func:`regime_changes` are applied over them. With ``data_seed_per_seed`` seed ``s`` also
    draws its own data (``data_seed = s``), so paired intervals cover the data draw as well as
    the initialisation and batch order; the seeds then train one after the other (a stack
    shares one data set), which costs more wall time.
    """
    lr_init = base.get("lr_init")
    if lr_init is None:
        raise ValueError("base must set lr_init: the regime's swa_lr is a multiple of it")
    changes = {**(swa_changes or {}), **regime_changes(regime, lr_init, ratio=ratio)}
    if not data_seed_per_seed:
        return sgd_and_swa(base, seeds, runs_dir, swa_changes=changes, progress=progress)
    return [
        pair
        for s in seeds
        for pair in sgd_and_swa(
            {**base, "data_seed": int(s)}, [s], runs_dir, swa_changes=changes, progress=progress
        )
    ]


def regime_grid(
    settings: Mapping[str, Mapping[str, Any]],
    seeds: Sequence[int],
    runs_dir: str | Path = "runs",
    *,
    regimes: Sequence[str] = ("recipe", "constant"),
    ratio: float = RECIPE_RATIO,
    data_seed_per_seed: bool = False,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Train (or load) SGD and SWA pairs for every setting x regime x seed; one row per pair.

    Args:
        settings: name -> ``TrainConfig`` keyword arguments without ``seed``/``swa`` (e.g. from
            :func:`~swa_lib.training.presets.laptop_mnist1d`); ``lr_init`` is read from them.
        seeds: training seeds, one pair per seed, setting and regime.
        regimes: names from :data:`REGIMES`.
        ratio: the recipe's ``swa_lr / lr_init``.
        data_seed_per_seed: draw the data with the seed (:func:`regime_pairs`).

    Returns:
        columns ``setting, regime, swa_lr, seed, data_seed, n_train, n_test`` and, for ``m`` in
        ``test_accuracy`` (fraction), ``test_nll`` (nats): ``sgd_m``, ``swa_m``,
        ``swa_run_last_m``, ``diff_m`` (SWA - SGD) and ``diff_last_m`` (SWA - its own last
        iterate). The baseline of a setting is one cached run shared by its regimes.
    """
    if not settings:
        raise ValueError("settings is empty: give at least one name -> TrainConfig kwargs")
    frames = []
    for setting, base in settings.items():
        if base.get("lr_init") is None:
            raise ValueError(f"settings[{setting!r}] must set lr_init (the regime depends on it)")
        for name in regimes:
            pairs = regime_pairs(
                base,
                seeds,
                runs_dir,
                regime=name,
                ratio=ratio,
                data_seed_per_seed=data_seed_per_seed,
                progress=progress,
            )
            frame = _pairs_rows(pairs)
            frame.insert(0, "setting", setting)
            frame.insert(1, "regime", name)
            frame.insert(2, "swa_lr", pairs[0].swa.config.swa_lr)
            frame.insert(4, "data_seed", [p.sgd.config.data_seed for p in pairs])
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def regime_summary(
    grid: pd.DataFrame,
    columns: Sequence[str] = ("diff_test_accuracy", "diff_test_nll"),
    by: Sequence[str] = ("setting", "regime"),
) -> pd.DataFrame:
    """Per group of ``by``: ``n`` and, per column ``c`` of paired differences, ``c_mean``,
    ``c_low``, ``c_high`` (the two-sided 95 % Student-t interval of the mean,
    :func:`~swa_lib.reporting.stats.paired_interval`) in the column's own units. Groups keep
    their order of first appearance."""
    missing = [c for c in (*columns, *by) if c not in grid.columns]
    if missing:
        raise ValueError(f"grid has no column(s) {missing}; it has {list(grid.columns)}")
    rows = []
    for key, group in grid.groupby(list(by), sort=False):
        row: dict[str, Any] = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row["n"] = len(group)
        for c in columns:
            d = group[c].to_numpy(dtype=np.float64)
            lo, hi = paired_interval(d)
            row[f"{c}_mean"], row[f"{c}_low"], row[f"{c}_high"] = float(d.mean()), lo, hi
        rows.append(row)
    return pd.DataFrame(rows)
