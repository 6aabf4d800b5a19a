"""Summaries of landscape results: metrics at points, widths along rays, minima along lines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from swa_lib import landscape as L
from swa_lib.landscape.results import Surface
from swa_lib.landscape.summary import (
    evaluate_at,
    half_axes_mean,
    interval_position,
    level_interval,
    level_radius,
    profile_minimum,
    rise_distance,
)


def _mlp_and_data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    data = {
        "train": (torch.randn(40, 5, generator=g), torch.randint(0, 3, (40,), generator=g)),
        "test": (torch.randn(25, 5, generator=g), torch.randint(0, 3, (25,), generator=g)),
    }
    return model, data


def test_evaluate_at_matches_direct_evaluation(tmp_path):
    model, data = _mlp_and_data()
    other = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    wd = 1e-2
    points = {"a": model, "b": L.get_flat_params(other), "c": list(other.parameters())}
    df = evaluate_at(
        model,
        points,
        data=data,
        weight_decay=wd,
        metrics=("train_loss", "train_nll", "test_err"),
        cache=tmp_path,
    )
    assert list(df.index) == ["a", "b", "c"]
    assert list(df.columns) == ["train_loss", "train_nll", "test_err"]
    for name, m in (("a", model), ("b", other)):
        with torch.no_grad():
            x, y = data["train"]
            nll = F.cross_entropy(m(x), y).item()
            xt, yt = data["test"]
            err = 100.0 * (m(xt).argmax(1) != yt).double().mean().item()
        sq = float(L.get_flat_params(m).double().pow(2).sum())
        assert df.loc[name, "train_nll"] == pytest.approx(nll, rel=1e-5)
        assert df.loc[name, "train_loss"] == pytest.approx(nll + 0.5 * wd * sq, rel=1e-5)
        assert df.loc[name, "test_err"] == pytest.approx(err)
    np.testing.assert_array_equal(df.loc["b"].to_numpy(), df.loc["c"].to_numpy())
    # cached: a second call evaluates nothing and returns the same values
    again = evaluate_at(
        model,
        points,
        data=data,
        weight_decay=wd,
        metrics=("train_loss", "train_nll", "test_err"),
        cache=tmp_path,
    )
    np.testing.assert_array_equal(df.to_numpy(), again.to_numpy())


def test_evaluate_at_rejects_empty_and_bad_shapes():
    model, data = _mlp_and_data()
    with pytest.raises(ValueError):
        evaluate_at(model, {}, data=data)
    with pytest.raises(ValueError):
        evaluate_at(model, {"x": torch.zeros(3, 3)}, data=data)


def test_rise_distance_interpolates_and_flags_never():
    d = np.array([0.0, 1.0, 2.0, 3.0])
    rows = np.array(
        [
            [1.0, 1.5, 2.0, 4.0],  # rises by 1.0 at d = 2 exactly
            [0.0, 0.2, 0.6, 1.0],  # by 0.5 between 1 and 2: 1.75
            [5.0, 5.1, 5.2, 5.3],
        ]
    )  # never by 1.0
    out = rise_distance(d, rows, 1.0)
    assert out[0] == pytest.approx(2.0)
    assert out[1] == pytest.approx(3.0)
    assert np.isnan(out[2])
    assert rise_distance(d, rows[1], 0.5) == pytest.approx(1.75)
    assert rise_distance(d, rows[1], 0.5, baseline=0.1) == pytest.approx(2.0)
    # a quadratic rise 0.5 t^2 crosses h at sqrt(2h); a fine grid gets it to interpolation error
    t = np.linspace(0, 3, 301)
    assert rise_distance(t, 0.5 * t**2, 2.0) == pytest.approx(2.0, abs=1e-3)


def test_rise_distance_validates():
    with pytest.raises(ValueError):
        rise_distance([0, 1], [0, 1], 0.0)
    with pytest.raises(ValueError):
        rise_distance([1, 0], [0, 1], 1.0)
    with pytest.raises(ValueError):
        rise_distance([0, 1, 2], [0, 1], 1.0)


def test_profile_minimum_refines_a_parabola_and_reports_edges():
    t = np.linspace(-1, 2, 31)
    y = (t - 0.537) ** 2 + 0.25
    m = profile_minimum(t, y)
    assert m.t == pytest.approx(0.537, abs=1e-9)
    assert m.value == pytest.approx(0.25, abs=1e-9)
    assert not m.at_edge
    coarse = profile_minimum(t, y, refine=False)
    assert coarse.t == pytest.approx(0.5)
    edge = profile_minimum(t, t)
    assert edge.t == -1.0 and edge.at_edge
    with_nan = profile_minimum([0, 1, 2], [np.nan, 1.0, 2.0])
    assert with_nan.t == 1.0


def test_level_interval_interpolates_both_ends_and_flags_open_ends():
    t = np.linspace(-1, 2, 31)
    y = (t - 0.5) ** 2
    lo, hi = level_interval(t, y, 0.25)  # |t - 0.5| <= 0.5
    assert lo == pytest.approx(0.0, abs=1e-2) and hi == pytest.approx(1.0, abs=1e-2)
    lo, hi = level_interval(t, (t - 0.2) ** 2, 1.5)  # reaches past t = -1 on the left
    assert np.isnan(lo) and hi == pytest.approx(0.2 + np.sqrt(1.5), abs=1e-2)
    assert all(np.isnan(level_interval(t, y, -1.0)))
    # only the connected low region around the minimum counts
    w = np.array([0.9, 5.0, 1.0, 0.5, 1.0, 5.0])
    assert level_interval(np.arange(6.0), w, 2.0) == pytest.approx((1.75, 4.25))
    with pytest.raises(ValueError):
        level_interval([1.0, 0.0], [0.0, 1.0], 1.0)


def test_interval_position():
    assert interval_position(0.0, -1.0, 3.0) == 0.25
    pos = interval_position(1.0, np.array([0.0, 0.5, np.nan]), np.array([2.0, 1.0, 2.0]))
    assert pos[0] == 0.5 and pos[1] == 1.0 and np.isnan(pos[2])


def test_half_axes_mean_picks_the_four_axis_points():
    v = np.arange(49, dtype=float).reshape(7, 7)  # v[i, j] = 7 i + j, centre (3, 3) = 24
    assert half_axes_mean(v, 0) == 24.0
    # (5,3), (1,3), (3,5), (3,1): 38, 10, 26, 22
    assert half_axes_mean(v, 2) == (38 + 10 + 26 + 22) / 4
    with pytest.raises(ValueError, match="odd"):
        half_axes_mean(np.zeros((6, 7)), 1)
    with pytest.raises(ValueError, match="k="):
        half_axes_mean(v, 4)


def _surface(f, n: int = 101, r: float = 1.0) -> Surface:
    g = np.linspace(-r, r, n)
    a, b = np.meshgrid(g, g, indexing="ij")
    return Surface(alphas=g, betas=g, values={"m": f(a, b)})


def test_level_radius_of_a_bowl_is_its_level_circle():
    # 1 + a^2 + b^2 < 1.25 is the disk of radius 0.5 (area pi / 4): the equivalent radius is 0.5
    s = _surface(lambda a, b: 1 + a**2 + b**2)
    assert level_radius(s, "m", 1.25) == pytest.approx(0.5, abs=5e-3)
    assert level_radius(s, "m", 1.25, log=False) == pytest.approx(0.5, abs=5e-3)
    # a linear metric is interpolated exactly: {a < 0.2} covers 0.6 of the window [-1, 1]^2
    half = _surface(lambda a, b: a + 0 * b, n=11)
    frac = np.mean(np.linspace(-1, 1, 401) < 0.2)
    assert level_radius(half, "m", 0.2, log=False) == pytest.approx(np.sqrt(4 * frac / np.pi))
    with pytest.raises(ValueError, match="positive"):
        level_radius(half, "m", 0.2)
