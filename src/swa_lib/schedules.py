"""Learning-rate schedules of the SWA paper (Izmailov et al. 2018, Sec. 4 and the authors' code).

Per-epoch schedule (``timgaripov/swa/train.py``): with ``t`` the fraction of the decay horizon and
``r`` the final ratio,

.. math::
    \\text{factor}(t) = \\begin{cases} 1 & t \\le 0.5 \\\\
        1 - (1 - r)\\,\\frac{t - 0.5}{0.4} & 0.5 < t \\le 0.9 \\\\
        r & t > 0.9 \\end{cases}, \\qquad \\text{lr} = \\text{lr\\_init}\\cdot\\text{factor}.

* SWA runs: ``t = epoch / swa_start``, ``r = swa_lr / lr_init`` -- the rate falls to ``swa_lr``
  by ``0.9 * swa_start`` and stays there through the averaging phase.
* SGD baselines: ``t = epoch / epochs``, ``r = 0.01``.

Cyclic schedule (paper Eq. 2), per iteration ``i = 1, 2, ...`` with cycle length ``c``:
``alpha(i) = (1 - t(i)) * lr_max + t(i) * lr_min``, ``t(i) = (mod(i - 1, c) + 1) / c``; the rate
falls linearly from just below ``lr_max`` to exactly ``lr_min`` at the end of each cycle, where the
model is collected.
"""

from __future__ import annotations

__all__ = ["swa_schedule", "sgd_schedule", "cyclic_lr", "piecewise_factor"]


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def piecewise_factor(t: float, ratio: float) -> float:
    """The paper's factor: 1 up to ``t = 0.5``, linear to ``ratio`` at ``t = 0.9``, then flat."""
    if t <= 0.5:
        return 1.0
    if t <= 0.9:
        return 1.0 - (1.0 - ratio) * (t - 0.5) / 0.4
    return ratio


def swa_schedule(epoch: float, *, lr_init: float, swa_lr: float, swa_start: float) -> float:
    """Learning rate at ``epoch`` (0-based, may be fractional) of an SWA run.

    ``t = epoch / swa_start``, ``r = swa_lr / lr_init``; see the module docstring.
    """
    _check_positive("lr_init", lr_init)
    _check_positive("swa_lr", swa_lr)
    _check_positive("swa_start", swa_start)
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch!r}")
    return lr_init * piecewise_factor(epoch / swa_start, swa_lr / lr_init)


def sgd_schedule(epoch: float, *, lr_init: float, epochs: float) -> float:
    """Learning rate at ``epoch`` of the SGD baseline: ``t = epoch / epochs``, ``r = 0.01``."""
    _check_positive("lr_init", lr_init)
    _check_positive("epochs", epochs)
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch!r}")
    return lr_init * piecewise_factor(epoch / epochs, 0.01)


def cyclic_lr(iteration: int, *, lr_max: float, lr_min: float, cycle: int) -> float:
    """Cyclic rate ``alpha(i) = (1 - t) lr_max + t lr_min``, ``t = (mod(i - 1, c) + 1) / c``.

    ``iteration`` is 1-based; the last iteration of each cycle gets exactly ``lr_min``.
    """
    if int(iteration) != iteration or iteration < 1:
        raise ValueError(f"iteration must be an integer >= 1 (1-based), got {iteration!r}")
    if int(cycle) != cycle or cycle < 1:
        raise ValueError(f"cycle must be an integer >= 1, got {cycle!r}")
    _check_positive("lr_max", lr_max)
    _check_positive("lr_min", lr_min)
    t = (((int(iteration) - 1) % int(cycle)) + 1) / int(cycle)
    return (1.0 - t) * lr_max + t * lr_min
