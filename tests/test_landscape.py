"""Landscape geometry and grid evaluation: analytic values, BN recompute, vmap, cache, sharding."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from swa_lib import landscape as L
from swa_lib.averaging import update_bn

# ----------------------------------------------------------------------------------- fixtures


class Quadratic(nn.Module):
    """A "model" whose per-sample output is the loss 0.5 (w-c)^T A (w-c) (same for every x)."""

    def __init__(self, p: int = 5, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        m = torch.randn(p, p, generator=g, dtype=torch.float64)
        self.register_buffer("A", m @ m.T + 0.1 * torch.eye(p, dtype=torch.float64))
        self.register_buffer("c", torch.randn(p, generator=g, dtype=torch.float64))
        self.w = nn.Parameter(torch.randn(p, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.w - self.c
        return (0.5 * d @ self.A @ d).expand(x.shape[0])


def _identity_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return out


def _q(model: Quadratic, w: np.ndarray) -> float:
    d = w - model.c.numpy()
    return float(0.5 * d @ model.A.numpy() @ d)


def _quad_data(n: int = 6):
    x = torch.zeros(n, 1, dtype=torch.float64)
    return {"train": (x, torch.zeros(n)), "test": (x, torch.zeros(n))}


def _tiny_bn_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv1d(1, 4, 3, padding=1, bias=False), nn.BatchNorm1d(4), nn.ReLU(),
        nn.Conv1d(4, 4, 3, padding=1), nn.BatchNorm1d(4), nn.ReLU(),
        nn.Flatten(), nn.Linear(4 * 12, 3),
    )


def _tiny_data(seed: int = 0, n_train: int = 70, n_test: int = 30):
    g = torch.Generator().manual_seed(seed + 100)
    return {"train": (torch.randn(n_train, 1, 12, generator=g),
                      torch.randint(0, 3, (n_train,), generator=g)),
            "test": (torch.randn(n_test, 1, 12, generator=g),
                     torch.randint(0, 3, (n_test,), generator=g))}


def _tiny_plane(model: nn.Module):
    w0 = L.get_flat_params(model)
    d1, d2 = L.random_plane(model, seed=1)
    return w0, d1, d2


# ----------------------------------------------------------------------------- flat vectors


def test_flat_params_and_buffers_roundtrip():
    model = _tiny_bn_cnn()
    vec = L.get_flat_params(model)
    torch.testing.assert_close(vec, nn.utils.parameters_to_vector(model.parameters()))
    other = _tiny_bn_cnn(seed=1)
    L.set_flat_params_(other, vec)
    torch.testing.assert_close(L.get_flat_params(other), vec)
    model[1].running_mean.fill_(3.0)
    bufs = L.get_flat_buffers(model)
    assert bufs.numel() == 4 * 4  # two BNs x (mean, var); num_batches_tracked excluded
    L.set_flat_buffers_(other, bufs)
    torch.testing.assert_close(other[1].running_mean, torch.full((4,), 3.0))
    parts = L.unflatten_like(vec, list(model.parameters()))
    assert [p.shape for p in parts] == [p.shape for p in model.parameters()]
    with pytest.raises(ValueError):
        L.set_flat_params_(other, vec[:-1])


# --------------------------------------------------------------------------------- directions


def test_filter_normalize_norms_and_biasbn():
    model = _tiny_bn_cnn()
    weights = [p.detach() for p in model.parameters()]
    g = torch.Generator().manual_seed(0)
    direction = [torch.randn(w.shape, generator=g) for w in weights]
    out = L.filter_normalize(direction, weights, ignore="biasbn")
    for d, w, raw in zip(out, weights, direction):
        if w.dim() <= 1:
            assert torch.count_nonzero(d) == 0
        else:
            torch.testing.assert_close(d.reshape(d.shape[0], -1).norm(dim=1),
                                       w.reshape(w.shape[0], -1).norm(dim=1))
            # same direction per filter, only rescaled
            cos = F.cosine_similarity(d.reshape(d.shape[0], -1), raw.reshape(d.shape[0], -1))
            torch.testing.assert_close(cos, torch.ones_like(cos))
    kept = L.filter_normalize(direction, weights, ignore=None)
    for d, w in zip(kept, weights):
        if w.dim() <= 1:
            torch.testing.assert_close(d, w)
    assert direction[0] is not out[0]


def test_random_direction_is_seeded():
    model = _tiny_bn_cnn()
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


# -------------------------------------------------------------------- analytic grid values


@pytest.mark.parametrize("k", [1, 4])
def test_plane_ray_line_match_quadratic(k):
    model = Quadratic()
    data = _quad_data()
    g = torch.Generator().manual_seed(1)
    w0, w1, w2 = (torch.randn(5, generator=g, dtype=torch.float64) for _ in range(3))
    u, v, dx, dy = L.plane_basis(w0, w1, w2)
    alphas = np.linspace(-0.2, 1.2, 5) * dx
    betas = np.linspace(-0.2, 1.2, 4) * dy
    wd = 0.05
    opts = dict(data=data, loss_fn=_identity_loss, weight_decay=wd, points_per_pass=k,
                metrics=("train_loss", "train_nll", "test_nll"), progress=False)
    s = L.evaluate_plane(model, w0, u, v, alphas, betas, **opts)
    assert s["train_loss"].shape == (5, 4) and s.complete and s.evaluated == 20
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            w = (w0 + a * u + b * v).numpy()
            assert s["train_nll"][i, j] == pytest.approx(_q(model, w), rel=1e-12)
            assert s["test_nll"][i, j] == pytest.approx(_q(model, w), rel=1e-12)
            assert s["train_loss"][i, j] == pytest.approx(_q(model, w) + 0.5 * wd * w @ w,
                                                          rel=1e-12)

    d = torch.randn(5, generator=g, dtype=torch.float64) * 3.0
    dhat = (d / d.norm()).numpy()
    ts = np.array([0.0, 0.5, 1.0, 2.5])
    r = L.ray_profile(model, w1, d, ts, **opts)
    expect = [_q(model, w1.numpy() + t * dhat) for t in ts]
    np.testing.assert_allclose(r["train_nll"], expect, rtol=1e-12)
    np.testing.assert_allclose(r.distances, ts)
    rays = L.ray_profile(model, w1, torch.stack([d, -d]), ts, **opts)
    assert rays["train_nll"].shape == (2, 4)
    np.testing.assert_allclose(rays["train_nll"][0], expect, rtol=1e-12)
    np.testing.assert_allclose(rays["train_nll"][1],
                               [_q(model, w1.numpy() - t * dhat) for t in ts], rtol=1e-12)

    ts = np.linspace(-0.5, 1.5, 5)
    line = L.line_profile(model, w0, w2, ts, **opts)
    exp = [_q(model, (w0 + t * (w2 - w0)).numpy()) for t in ts]
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
        s = L.evaluate_plane(model, w0, u, v, alphas, betas, train=(x, y), metrics=("train_nll",),
                             loss_fn=mse, batch_size=5, points_per_pass=k, progress=False)
        xn, yn = x.numpy(), y.numpy()
        for i, a in enumerate(alphas):
            for j, b in enumerate(betas):
                w = (w0 + a * u + b * v).numpy()
                weight, bias = w[:6].reshape(2, 3), w[6:]
                expect = np.mean(np.sum((xn @ weight.T + bias - yn) ** 2, 1))
                assert s["train_nll"][i, j] == pytest.approx(expect, rel=1e-12)


# ------------------------------------------------------------------- BN recompute and vmap


def _brute_force(model, w, data, bn_batch_size):
    fresh = copy.deepcopy(model)
    L.set_flat_params_(fresh, w)
    x, y = data["train"]
    update_bn(fresh, [x[i:i + bn_batch_size] for i in range(0, len(x), bn_batch_size)])
    fresh.eval()
    with torch.no_grad():
        train_loss = F.cross_entropy(fresh(x), y).item()
        xt, yt = data["test"]
        test_err = 100.0 * (fresh(xt).argmax(1) != yt).double().mean().item()
    return train_loss, test_err


@pytest.mark.parametrize("k", [1, 3])
def test_bn_recompute_matches_brute_force(k):
    model = _tiny_bn_cnn()
    data = _tiny_data()
    w0, d1, d2 = _tiny_plane(model)
    alphas, betas = [-0.5, 0.5], [0.0, 1.0]
    s = L.evaluate_plane(model, w0, d1, d2, alphas, betas, data=data, bn_recompute=True,
                         bn_batch_size=16, points_per_pass=k, progress=False)
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            loss, err = _brute_force(model, w0 + a * d1 + b * d2, data, 16)
            assert s["train_loss"][i, j] == pytest.approx(loss, abs=1e-5)
            assert s["test_err"][i, j] == pytest.approx(err, abs=1e-9)
    # without recompute the model's own BN statistics are used, so values differ
    s_fixed = L.evaluate_plane(model, w0, d1, d2, alphas, betas, data=data, progress=False)
    assert not np.allclose(s_fixed["train_loss"], s["train_loss"])


@pytest.mark.parametrize("bn", [False, True])
def test_vmap_equals_per_point(bn):
    model = _tiny_bn_cnn()
    data = _tiny_data()
    w0, d1, d2 = _tiny_plane(model)
    opts = dict(data=data, bn_recompute=bn, bn_batch_size=32, progress=False,
                metrics=("train_loss", "train_err", "test_nll", "test_acc"))
    grid = (np.linspace(-1, 1, 3), np.linspace(-1, 1, 2))
    one = L.evaluate_plane(model, w0, d1, d2, *grid, points_per_pass=1, **opts)
    many = L.evaluate_plane(model, w0, d1, d2, *grid, points_per_pass=4, batch_size=40, **opts)
    for m in one.metrics:
        np.testing.assert_allclose(many[m], one[m], rtol=0, atol=1e-5)


# ------------------------------------------------------------------------ cache and resume


def test_interrupted_grid_resumes_missing_cells_only(tmp_path):
    model = _tiny_bn_cnn()
    data = _tiny_data()
    w0, d1, d2 = _tiny_plane(model)
    grid = (np.linspace(-1, 1, 4), np.linspace(-1, 1, 3))
    opts = dict(data=data, progress=False, checkpoint_every=5, points_per_pass=2)
    full = L.evaluate_plane(model, w0, d1, d2, *grid, **opts)

    seen: list[int] = []

    def stop_after_7(cell, values):
        seen.append(cell)
        if len(seen) == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        L.evaluate_plane(model, w0, d1, d2, *grid, cache=tmp_path, callback=stop_after_7, **opts)
    files = list(tmp_path.glob("plane-*.npz"))
    assert len(files) == 1
    with np.load(files[0]) as z:
        assert int(z["done"].sum()) == 7  # saved on the way out, not only at checkpoints

    resumed_cells: list[int] = []
    part = L.evaluate_plane(model, w0, d1, d2, *grid, cache=tmp_path, max_cells=2,
                            callback=lambda c, v: resumed_cells.append(c), **opts)
    assert not part.complete and part.evaluated == 2
    assert np.isnan(part["train_loss"]).sum() == 12 - 9
    rest = L.evaluate_plane(model, w0, d1, d2, *grid, cache=tmp_path,
                            callback=lambda c, v: resumed_cells.append(c), **opts)
    assert rest.complete and rest.evaluated == 3
    assert sorted(seen + resumed_cells) == list(range(12))  # every cell exactly once
    for m in full.metrics:
        np.testing.assert_allclose(rest[m], full[m], rtol=0, atol=1e-6)
    cached = L.evaluate_plane(model, w0, d1, d2, *grid, cache=tmp_path, **opts)
    assert cached.evaluated == 0
    np.testing.assert_array_equal(cached["test_err"], rest["test_err"])


def test_stale_cache_is_detected(tmp_path):
    model = _tiny_bn_cnn()
    data = _tiny_data()
    w0, d1, d2 = _tiny_plane(model)
    grid = ([0.0, 1.0], [0.0])
    path = tmp_path / "grid.npz"
    L.evaluate_plane(model, w0, d1, d2, *grid, data=data, cache=path, progress=False)
    with pytest.raises(L.CacheMismatchError, match="metrics"):
        L.evaluate_plane(model, w0, d1, d2, *grid, data=data, cache=path, progress=False,
                         metrics=("train_loss",))
    with pytest.raises(L.CacheMismatchError, match="base"):
        L.evaluate_plane(model, w0 + 1, d1, d2, *grid, data=data, cache=path, progress=False)
    other = _tiny_data(seed=5)
    with pytest.raises(L.CacheMismatchError, match="data"):
        L.evaluate_plane(model, w0, d1, d2, *grid, data=other, cache=path, progress=False)
    with pytest.raises(L.CacheMismatchError, match="bn_recompute"):
        L.evaluate_plane(model, w0, d1, d2, *grid, data=data, cache=path, progress=False,
                         bn_recompute=True)
    with pytest.warns(UserWarning, match="overwriting"):
        s = L.evaluate_plane(model, w0, d1, d2, *grid, data=data, cache=path, progress=False,
                             metrics=("train_loss",), on_mismatch="overwrite")
    assert s.evaluated == 2
    # a directory cache keys the file name, so both grids live side by side
    L.evaluate_plane(model, w0, d1, d2, *grid, data=data, cache=tmp_path / "d", progress=False)
    L.evaluate_plane(model, w0, d1, d2, *grid, data=data, cache=tmp_path / "d", progress=False,
                     metrics=("test_err",))
    assert len(list((tmp_path / "d").glob("*.npz"))) == 2
    assert not list(tmp_path.glob("**/*.tmp"))


# ------------------------------------------------------------------------------ sharding


def _shard_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        model = _tiny_bn_cnn()
        w0, d1, d2 = _tiny_plane(model)
        s = L.evaluate_plane(model, w0, d1, d2, np.linspace(-1, 1, 3), np.linspace(-1, 1, 3),
                             data=_tiny_data(), bn_recompute=True, bn_batch_size=32,
                             points_per_pass=2, checkpoint_every=4,
                             cache=os.path.join(out_dir, "cache"), progress=False)
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), train_loss=s["train_loss"],
                 test_err=s["test_err"], evaluated=s.evaluated)
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_equal_single_process(tmp_path):
    mp.spawn(_shard_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2,
             join=True)
    model = _tiny_bn_cnn()
    w0, d1, d2 = _tiny_plane(model)
    single = L.evaluate_plane(model, w0, d1, d2, np.linspace(-1, 1, 3), np.linspace(-1, 1, 3),
                              data=_tiny_data(), bn_recompute=True, bn_batch_size=32,
                              points_per_pass=2, progress=False, distributed=False)
    evaluated = 0
    for rank in range(2):
        with np.load(tmp_path / f"rank{rank}.npz") as z:
            np.testing.assert_allclose(z["train_loss"], single["train_loss"], atol=1e-6, rtol=0)
            np.testing.assert_array_equal(z["test_err"], single["test_err"])
            evaluated += int(z["evaluated"])
    assert evaluated == 9  # each cell once, over both ranks
    # rank 0 wrote the complete cache; a single process reuses it without evaluating
    cached = L.evaluate_plane(model, w0, d1, d2, np.linspace(-1, 1, 3), np.linspace(-1, 1, 3),
                              data=_tiny_data(), bn_recompute=True, bn_batch_size=32,
                              cache=tmp_path / "cache", progress=False, distributed=False)
    assert cached.evaluated == 0


# ---------------------------------------------------------------------------------- plotting


def test_plot_helpers_return_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from swa_lib import plotting as P

    a = np.linspace(-0.2, 1.2, 6) * 3.0
    b = np.linspace(-0.2, 1.2, 5) * 2.0
    x, y = np.meshgrid(a, b, indexing="ij")
    z = 0.05 + (x - 1.5) ** 2 + 2 * (y - 1.0) ** 2
    surf = L.Surface(a, b, {"train_loss": z, "test_err": 10 + z})
    levels = P.log_levels(z)
    assert np.all(np.diff(levels) > 0) and levels[0] == z.min() and levels[-1] == 1e10
    t = np.linspace(0, 4, 5)
    ray = L.Profile(t, {"train_loss": np.stack([t**2, 2 * t**2]), "test_err": np.stack([t, t])},
                    t)
    line = L.Profile(t - 1, {"train_loss": t**2, "test_err": 10 + t}, (t - 1) * 2.5)
    figs = [
        P.plot_plane(surf, "train_loss", points={"SWA": (1.5, 1.0), "SGD": (0.0, 0.0)}),
        P.plot_rays({"SGD": ray, "SWA": ray}),
        P.plot_line(line),
        P.plot_surface(surf, "train_loss", log=True),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
    texts = [t.get_text() for t in figs[0].axes[0].texts]
    assert {"SWA", "SGD"} <= set(texts)
    assert len(figs[1].axes) == 2
    assert len(figs[2].axes) == 2  # twin axes
    assert any(ax.name == "3d" for ax in figs[3].axes)
    for fig in figs:
        plt.close(fig)
