"""swa_lib.landscape.surfaces: planes, rays and lines against analytic values (a quadratic, a
linear least-squares model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from landscape_fixtures import Quadratic, identity_loss, q_value, quad_data
from torch import nn

from swa_lib import landscape as L


@pytest.mark.parametrize("k", [1, 4])
def test_plane_ray_line_match_quadratic(k):
    model = Quadratic()
    data = quad_data()
    g = torch.Generator().manual_seed(1)
    w0, w1, w2 = (torch.randn(5, generator=g, dtype=torch.float64) for _ in range(3))
    u, v, dx, dy = L.plane_basis(w0, w1, w2)
    alphas = np.linspace(-0.2, 1.2, 5) * dx
    betas = np.linspace(-0.2, 1.2, 4) * dy
    wd = 0.05
    opts = dict(
        data=data,
        loss_fn=identity_loss,
        weight_decay=wd,
        points_per_pass=k,
        metrics=("train_loss", "train_nll", "test_nll"),
        progress=False,
    )
    s = L.evaluate_plane(model, w0, u, v, alphas, betas, **opts)
    assert s["train_loss"].shape == (5, 4) and s.complete and s.evaluated == 20
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            w = (w0 + a * u + b * v).numpy()
            assert s["train_nll"][i, j] == pytest.approx(q_value(model, w), rel=1e-12)
            assert s["test_nll"][i, j] == pytest.approx(q_value(model, w), rel=1e-12)
            assert s["train_loss"][i, j] == pytest.approx(
                q_value(model, w) + 0.5 * wd * w @ w, rel=1e-12
            )

    d = torch.randn(5, generator=g, dtype=torch.float64) * 3.0
    dhat = (d / d.norm()).numpy()
    ts = np.array([0.0, 0.5, 1.0, 2.5])
    r = L.ray_profile(model, w1, d, ts, **opts)
    expect = [q_value(model, w1.numpy() + t * dhat) for t in ts]
    np.testing.assert_allclose(r["train_nll"], expect, rtol=1e-12)
    np.testing.assert_allclose(r.distances, ts)
    rays = L.ray_profile(model, w1, torch.stack([d, -d]), ts, **opts)
    assert rays["train_nll"].shape == (2, 4)
    np.testing.assert_allclose(rays["train_nll"][0], expect, rtol=1e-12)
    np.testing.assert_allclose(
        rays["train_nll"][1], [q_value(model, w1.numpy() - t * dhat) for t in ts], rtol=1e-12
    )

    ts = np.linspace(-0.5, 1.5, 5)
    line = L.line_profile(model, w0, w2, ts, **opts)
    exp = [q_value(model, (w0 + t * (w2 - w0)).numpy()) for t in ts]
    np.testing.assert_allclose(line["train_nll"], exp, rtol=1e-12)
    np.testing.assert_allclose(line.distances, ts * dx)


def test_linear_regression_mse_matches_closed_form():
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    x = torch.randn(23, 3, dtype=torch.float64)
    y = torch.randn(23, 2, dtype=torch.float64)
    w0 = L.get_flat_params(model)
    u, v = L.random_plane(model, seed=2, norm=None)
    alphas, betas = np.linspace(-1, 1, 3), np.linspace(-2, 2, 3)

    def mse(out, target):
        return ((out - target) ** 2).sum(-1)

    for k in (1, 3):
        s = L.evaluate_plane(
            model,
            w0,
            u,
            v,
            alphas,
            betas,
            train=(x, y),
            metrics=("train_nll",),
            loss_fn=mse,
            batch_size=5,
            points_per_pass=k,
            progress=False,
        )
        xn, yn = x.numpy(), y.numpy()
        for i, a in enumerate(alphas):
            for j, b in enumerate(betas):
                w = (w0 + a * u + b * v).numpy()
                weight, bias = w[:6].reshape(2, 3), w[6:]
                expect = np.mean(np.sum((xn @ weight.T + bias - yn) ** 2, 1))
                assert s["train_nll"][i, j] == pytest.approx(expect, rel=1e-12)
