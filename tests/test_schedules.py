"""The paper's schedules against the formulas written out independently (Izmailov et al. 2018)."""

from __future__ import annotations

import math

import pytest

from swa_lib.schedules import cyclic_lr, sgd_schedule, swa_schedule


def reference_factor(t: float, r: float) -> float:
    # timgaripov/swa train.py, written out again
    if t <= 0.5:
        return 1.0
    if t <= 0.9:
        return 1.0 - (1.0 - r) * (t - 0.5) / 0.4
    return r


@pytest.mark.parametrize("epoch", [0, 1, 40, 49, 50, 51, 60, 79, 80, 89, 90, 91, 99, 100, 150])
def test_swa_schedule_matches_formula(epoch: int) -> None:
    lr_init, swa_lr, swa_start = 0.1, 0.05, 100
    got = swa_schedule(epoch, lr_init=lr_init, swa_lr=swa_lr, swa_start=swa_start)
    assert got == pytest.approx(lr_init * reference_factor(epoch / swa_start, swa_lr / lr_init))


def test_swa_schedule_boundaries_and_values() -> None:
    kw = dict(lr_init=0.1, swa_lr=0.01, swa_start=100)
    assert swa_schedule(50, **kw) == pytest.approx(0.1)  # t = 0.5: still flat
    assert swa_schedule(70, **kw) == pytest.approx(0.1 * (1 - 0.9 * 0.5))  # halfway down
    assert swa_schedule(90, **kw) == pytest.approx(0.01)  # t = 0.9: reached swa_lr
    assert swa_schedule(95, **kw) == pytest.approx(0.01)
    assert swa_schedule(300, **kw) == pytest.approx(0.01)  # flat through the SWA phase
    # continuity at both kinks
    assert swa_schedule(50 + 1e-9, **kw) == pytest.approx(0.1, abs=1e-9)
    assert swa_schedule(90 - 1e-9, **kw) == pytest.approx(0.01, abs=1e-9)


def test_sgd_schedule_decays_to_one_percent() -> None:
    assert sgd_schedule(0, lr_init=0.05, epochs=200) == pytest.approx(0.05)
    assert sgd_schedule(100, lr_init=0.05, epochs=200) == pytest.approx(0.05)
    assert sgd_schedule(140, lr_init=0.05, epochs=200) == pytest.approx(0.05 * (1 - 0.99 * 0.5))
    assert sgd_schedule(180, lr_init=0.05, epochs=200) == pytest.approx(0.0005)
    assert sgd_schedule(199, lr_init=0.05, epochs=200) == pytest.approx(0.0005)


def test_cyclic_lr_matches_paper_equation() -> None:
    a1, a2, c = 0.05, 0.001, 4
    got = [cyclic_lr(i, lr_max=a1, lr_min=a2, cycle=c) for i in range(1, 10)]
    t = [((i - 1) % c + 1) / c for i in range(1, 10)]
    assert got == pytest.approx([(1 - ti) * a1 + ti * a2 for ti in t])
    assert got[3] == pytest.approx(a2) and got[7] == pytest.approx(a2)  # end of each cycle
    assert got[4] == pytest.approx(0.75 * a1 + 0.25 * a2)  # restart
    assert cyclic_lr(5, lr_max=1.0, lr_min=0.5, cycle=1) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: swa_schedule(1, lr_init=0.0, swa_lr=0.1, swa_start=10), "lr_init"),
        (lambda: swa_schedule(1, lr_init=0.1, swa_lr=-1, swa_start=10), "swa_lr"),
        (lambda: swa_schedule(-1, lr_init=0.1, swa_lr=0.1, swa_start=10), "epoch"),
        (lambda: sgd_schedule(1, lr_init=0.1, epochs=0), "epochs"),
        (lambda: cyclic_lr(0, lr_max=0.1, lr_min=0.01, cycle=3), "iteration"),
        (lambda: cyclic_lr(1, lr_max=0.1, lr_min=0.01, cycle=0), "cycle"),
        (lambda: cyclic_lr(1, lr_max=math.nan, lr_min=0.01, cycle=2), "lr_max"),
    ],
)
def test_schedules_reject_bad_input(call, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        call()
