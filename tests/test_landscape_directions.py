"""swa_lib.landscape.directions: filter normalisation, seeded random directions, the plane
through three points."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from landscape_fixtures import tiny_bn_cnn

from swa_lib import landscape as L


def test_filter_normalize_norms_and_biasbn():
    model = tiny_bn_cnn()
    weights = [p.detach() for p in model.parameters()]
    g = torch.Generator().manual_seed(0)
    direction = [torch.randn(w.shape, generator=g) for w in weights]
    out = L.filter_normalize(direction, weights, ignore="biasbn")
    for d, w, raw in zip(out, weights, direction):
        if w.dim() <= 1:
            assert torch.count_nonzero(d) == 0
        else:
            torch.testing.assert_close(
                d.reshape(d.shape[0], -1).norm(dim=1), w.reshape(w.shape[0], -1).norm(dim=1)
            )
            # same direction per filter, only rescaled
            cos = F.cosine_similarity(d.reshape(d.shape[0], -1), raw.reshape(d.shape[0], -1))
            torch.testing.assert_close(cos, torch.ones_like(cos))
    kept = L.filter_normalize(direction, weights, ignore=None)
    for d, w in zip(kept, weights):
        if w.dim() <= 1:
            torch.testing.assert_close(d, w)
    assert direction[0] is not out[0]


def test_random_direction_is_seeded():
    model = tiny_bn_cnn()
    a = L.random_direction(model, seed=3)
    b = L.random_direction(model, seed=3)
    c = L.random_direction(model, seed=4)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    d1, d2 = L.random_plane(model, seed=3)
    torch.testing.assert_close(d1, a)
    assert not torch.allclose(d1, d2)
    raw = L.random_direction(model, seed=3, norm=None)
    assert torch.count_nonzero(raw) == raw.numel()


# ------------------------------------------------------------------------------------- plane


def test_plane_basis_orthonormal_and_points():
    g = torch.Generator().manual_seed(0)
    w0, w1, w2 = (torch.randn(50, generator=g, dtype=torch.float64) for _ in range(3))
    u, v, dx, dy = L.plane_basis(w0, w1, w2)
    basis = torch.stack([u, v])
    torch.testing.assert_close(basis @ basis.T, torch.eye(2, dtype=torch.float64))
    assert dx == pytest.approx(float((w2 - w0).norm()))
    assert L.plane_coordinates(w0, w0, u, v) == (0.0, 0.0)
    x2, y2 = L.plane_coordinates(w2, w0, u, v)
    assert (x2, y2) == (pytest.approx(dx), pytest.approx(0.0, abs=1e-12))
    x1, y1 = L.plane_coordinates(w1, w0, u, v)
    assert x1 == pytest.approx(float(torch.dot(w1 - w0, u)))
    assert y1 == pytest.approx(dy)
    # a point of the plane is reconstructed from its coordinates
    p = w0 + 0.3 * u - 1.7 * v
    a, b = L.plane_coordinates(p, w0, u, v)
    assert (a, b) == (pytest.approx(0.3), pytest.approx(-1.7))
    with pytest.raises(ValueError):
        L.plane_basis(w0, w0 + 2 * (w2 - w0), w2)  # collinear
