"""swa_lib.convex: the closed-form ridge optimum, SGD with the Polyak-Ruppert average."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from swa_lib.convex import (
    averaged_sgd,
    loglog_slope,
    make_least_squares,
    ridge_objective,
    ridge_optimum,
    step_sizes,
)


def test_closed_form_optimum_against_brute_force_solvers():
    X, y = make_least_squares(200, 6, condition=20.0, seed=3)
    l2 = 0.05
    w = ridge_optimum(X, y, l2)
    # 1) the same problem as an augmented least-squares system, solved by SVD (lstsq)
    n, d = X.shape
    A = np.vstack([X / np.sqrt(n), np.sqrt(l2) * np.eye(d)])
    b = np.concatenate([y / np.sqrt(n), np.zeros(d)])
    np.testing.assert_allclose(w, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-10, atol=1e-12)
    # 2) a generic minimiser of the objective, from a random start
    res = optimize.minimize(
        ridge_objective, np.ones(d), args=(X, y, l2), method="BFGS", options={"gtol": 1e-10}
    )
    np.testing.assert_allclose(w, res.x, atol=1e-6)
    assert ridge_objective(w, X, y, l2) <= res.fun + 1e-14


def test_running_average_is_the_mean_of_the_stored_iterates():
    X, y = make_least_squares(50, 4, seed=1)
    l2, steps = 0.1, 300
    gam = step_sizes("decaying", 0.05, steps)
    cps = [1, 2, 7, 100, 300]
    r = averaged_sgd(X, y, l2, gam, [0, 5], checkpoints=cps, keep_iterates=True)
    w_star = ridge_optimum(X, y, l2)
    for k, t in enumerate(cps):
        mean = np.mean(r.iterates[:, :t], axis=1)  # numpy's mean of w_1 .. w_t
        np.testing.assert_allclose(r.average[:, k], np.linalg.norm(mean - w_star, axis=1))
        np.testing.assert_allclose(
            r.last[:, k], np.linalg.norm(r.iterates[:, t - 1] - w_star, axis=1)
        )


def test_one_sgd_step_by_hand():
    X, y = make_least_squares(30, 3, seed=2)
    l2, gamma = 0.2, 0.01
    r = averaged_sgd(X, y, l2, [gamma, gamma], [7], checkpoints=[1, 2], keep_iterates=True)
    rows = np.random.default_rng(7).integers(0, 30, 2)
    w1 = -gamma * (X[rows[0]] * (0.0 - y[rows[0]]))  # from w0 = 0
    w2 = w1 - gamma * (X[rows[1]] * (X[rows[1]] @ w1 - y[rows[1]]) + l2 * w1)
    np.testing.assert_allclose(r.iterates[0], np.stack([w1, w2]))


def test_constant_step_average_beats_the_last_iterate():
    X, y = make_least_squares(500, 5, condition=4.0, noise=1.0, seed=0)
    gam = step_sizes("constant", 0.25 / (X**2).sum(1).mean(), 20000)
    r = averaged_sgd(X, y, 0.01, gam, range(4))
    assert np.all(r.average[:, -1] < 0.5 * r.last[:, -1])  # the last iterate sits on its floor
    assert np.all(loglog_slope(r.checkpoints, r.last, start=1000) > -0.2)


def test_loglog_slope_recovers_a_power_law():
    t = np.geomspace(1, 1e4, 30)
    d = np.stack([3.0 * t**-0.5, 0.1 * t**-0.25])
    np.testing.assert_allclose(loglog_slope(t, d), [-0.5, -0.25], atol=1e-12)
    np.testing.assert_allclose(loglog_slope(t, d, start=100), [-0.5, -0.25], atol=1e-12)
    with pytest.raises(ValueError, match="start"):
        loglog_slope(t, d, start=1e5)


def test_bad_input_is_refused():
    np.testing.assert_allclose(step_sizes("decaying", 1.0, 3, 0.5 + 1e-9)[0], 1.0)
    with pytest.raises(ValueError, match="schedule"):
        step_sizes("cyclic", 0.1, 10)
    with pytest.raises(ValueError, match="power"):
        step_sizes("decaying", 0.1, 10, power=1.0)
    X, y = make_least_squares(10, 2)
    with pytest.raises(ValueError, match="checkpoints"):
        averaged_sgd(X, y, 0.1, [0.1] * 5, [0], checkpoints=[3, 2])
    with pytest.raises(ValueError, match="l2"):
        ridge_optimum(X, y, -1.0)
    with pytest.raises(ValueError, match="X must be"):
        ridge_optimum(X, y[:5], 0.1)
