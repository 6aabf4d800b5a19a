"""The course project's learning-rate tables, exactly as its ``utils/scheduler.py`` builds them.

The course (BayesianML-SWA, ``src/swa_benchmark/utils/scheduler.py``) precomputes one rate per
iteration and its ``train_epoch`` (``utils/training.py`` lines 11-13) sets
``lr = table[epoch * len(loader) + it]``. Two tables are used by every experiment:

* :func:`course_cosine_table` (``scheduler.py`` lines 6-15), pre-training:
  ``lr_t = lr_min + (lr_max - lr_min) (1 + cos(pi t / (T - 1))) / 2`` for ``t = 0..T-1``,
  ``T = epochs * iters_per_epoch``: the first step uses ``lr_max`` and the *last* step exactly
  ``lr_min`` (unlike ``torch.optim.lr_scheduler.CosineAnnealingLR``, whose ``T_max`` is reached
  one step after the end).
* :func:`course_swa_linear_table` (``scheduler.py`` lines 24-30), the SWA phase: within each cycle
  of ``cycle_epochs`` epochs a linear decay ``lr_max -> lr_min`` over ``L = cycle_epochs *
  iters_per_epoch`` steps, ``lr_s = lr_max + (lr_min - lr_max) s / (L - 1)``, tiled
  ``epochs // cycle_epochs`` times. Every cycle's last step is exactly ``lr_min``; the paper's
  cyclic rate (Eq. 2, :func:`swa_lib.schedules.cyclic_lr`) instead starts one step below
  ``lr_max``.

Both return float64 NumPy arrays of length ``epochs * iters_per_epoch`` (rates, unitless step
sizes).
"""

from __future__ import annotations

import numpy as np

__all__ = ["course_cosine_table", "course_swa_linear_table"]


def _check(epochs: int, iters_per_epoch: int, lr_min: float, lr_max: float) -> None:
    if epochs < 1 or iters_per_epoch < 1:
        raise ValueError(
            f"epochs and iters_per_epoch must be >= 1, got {epochs}, {iters_per_epoch}"
        )
    if not 0 < lr_min <= lr_max:
        raise ValueError(f"need 0 < lr_min <= lr_max, got lr_min={lr_min}, lr_max={lr_max}")


def course_cosine_table(
    epochs: int, iters_per_epoch: int, *, lr_min: float, lr_max: float
) -> np.ndarray:
    """Per-iteration cosine rates ``lr_max -> lr_min`` (both reached), as ``cosineLR``."""
    _check(epochs, iters_per_epoch, lr_min, lr_max)
    total = epochs * iters_per_epoch
    steps = np.arange(total, dtype=np.float64)
    denom = max(total - 1, 1)  # the course divides by T - 1 (a one-step table is lr_max)
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + np.cos(steps / denom * np.pi))


def course_swa_linear_table(
    epochs: int, iters_per_epoch: int, *, lr_min: float, lr_max: float, cycle_epochs: int
) -> np.ndarray:
    """Per-iteration linear decay ``lr_max -> lr_min`` within each cycle, as ``swaLinearLR``.

    ``epochs`` must be a multiple of ``cycle_epochs`` (the course's ``np.tile`` would otherwise
    produce a table shorter than the phase, and its training loop would index past its end).
    """
    _check(epochs, iters_per_epoch, lr_min, lr_max)
    if cycle_epochs < 1 or epochs % cycle_epochs:
        raise ValueError(
            f"cycle_epochs must be >= 1 and divide epochs={epochs}, got {cycle_epochs}"
        )
    length = cycle_epochs * iters_per_epoch
    steps = np.arange(length, dtype=np.float64)
    cycle = lr_max + (lr_min - lr_max) * steps / max(length - 1, 1)
    return np.tile(cycle, epochs // cycle_epochs)
