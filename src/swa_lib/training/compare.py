"""SGD against SWA on the same seeds: the pair of runs behind every paired comparison.

The book compares an SGD baseline (``swa=False``: the SGD schedule, no averaging) with an SWA run
(``swa=True``) of the same configuration and seed, and reports the paired difference. This module
trains (or reads from the cache) such pairs and tabulates them, so no notebook or command writes
the loop itself. The runs go through :func:`~swa_lib.training.run_many`, so the seeds' baselines
train together as one stacked model, and so do their SWA runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .batched import run_many
from .config import TrainConfig
from .runs import RunResult

__all__ = ["Pair", "sgd_and_swa", "pairs_frame"]


@dataclass(frozen=True)
class Pair:
    """The SGD baseline and the SWA run of one seed."""

    seed: int
    sgd: RunResult
    swa: RunResult


def sgd_and_swa(
    base: Mapping[str, Any],
    seeds: Sequence[int],
    runs_dir: str | Path = "runs",
    *,
    swa_changes: Mapping[str, Any] | None = None,
    sgd_changes: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> list[Pair]:
    """Train (or load) ``TrainConfig(**base, seed=s, swa=False)`` and ``swa=True`` per seed.

    Args:
        base: ``TrainConfig`` keyword arguments shared by both runs (without ``seed``/``swa``).
        seeds: training seeds, one pair each, in this order.
        swa_changes, sgd_changes: fields that only the SWA run / only the baseline changes
            (e.g. ``swa_changes={"ema_decay": 0.998}``, ``sgd_changes={"epochs": 90}``).

    The ``2 * len(seeds)`` runs are one :func:`~swa_lib.training.run_many` call: the baselines
    of all seeds train together, and the SWA runs (cached ones are read, not retrained).
    """
    for name in ("seed", "swa"):
        if name in base:
            raise ValueError(f"base must not set {name!r}: sgd_and_swa sets it per run")
    configs = []
    for seed in seeds:
        configs.append(TrainConfig(**{**base, **(sgd_changes or {}), "seed": seed, "swa": False}))
        configs.append(TrainConfig(**{**base, **(swa_changes or {}), "seed": seed, "swa": True}))
    results = run_many(configs, runs_dir, progress=progress)
    return [Pair(seed, results[2 * i], results[2 * i + 1]) for i, seed in enumerate(seeds)]


def pairs_frame(
    pairs: Sequence[Pair], metrics: Sequence[str] = ("test_accuracy", "test_nll")
) -> pd.DataFrame:
    """One row per seed: ``sgd_<m>`` (the baseline), ``swa_<m>`` (the SWA model),
    ``swa_run_last_<m>`` (the SWA run's own last iterate) and ``diff_<m>`` (SWA - SGD, paired)
    for each final metric ``m`` (``"test_accuracy"``, ``"test_nll"``, ``"train_loss"``, ...)."""
    rows = []
    for p in pairs:
        row: dict[str, Any] = {"seed": p.seed}
        for m in metrics:
            row[f"sgd_{m}"] = p.sgd.final[f"sgd_{m}"]
            row[f"swa_{m}"] = p.swa.final[f"swa_{m}"]
            row[f"swa_run_last_{m}"] = p.swa.final[f"sgd_{m}"]
            row[f"diff_{m}"] = row[f"swa_{m}"] - row[f"sgd_{m}"]
        rows.append(row)
    return pd.DataFrame(rows)
