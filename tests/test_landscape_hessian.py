"""swa_lib.landscape.hessian: top eigenvalue and trace against a dense float64 Hessian of a small
MLP; the cache= option."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from swa_lib.landscape.hessian import hessian_top_eigenvalue, hessian_trace, hessian_vector_product


def _setup(n: int = 48):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x = torch.randn(n, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (n,))
    return model, x, y


def _dense_hessian(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(w: torch.Tensor) -> torch.Tensor:
        params, off = {}, 0
        for name, shape in zip(names, shapes):
            k = math.prod(shape)
            params[name] = w[off : off + k].view(shape)
            off += k
        return F.cross_entropy(functional_call(model, params, (x,)), y)

    return torch.autograd.functional.hessian(loss, flat)


@pytest.fixture(scope="module")
def problem():
    model, x, y = _setup()
    h = _dense_hessian(model, x, y)
    return model, x, y, h


def test_hvp_matches_dense_and_is_batch_size_invariant(problem):
    model, x, y, h = problem
    v = torch.randn(h.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    full = hessian_vector_product(model, (x, y), v, batch_size=1000)
    small = hessian_vector_product(model, (x, y), v, batch_size=7)  # last batch smaller
    torch.testing.assert_close(full, h @ v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(small, h @ v, rtol=1e-10, atol=1e-12)


def test_top_eigenvalue_matches_dense(problem):
    model, x, y, h = problem
    eigs = torch.linalg.eigvalsh(h)
    top = float(eigs[eigs.abs().argmax()])
    tight = hessian_top_eigenvalue(model, (x, y), max_iter=3000, tol=1e-12, batch_size=10)
    assert tight.value == pytest.approx(top, rel=1e-6)
    # the eigenvector estimate is an eigenvector
    torch.testing.assert_close(h @ tight.vector, top * tight.vector, atol=1e-4, rtol=0)
    default = hessian_top_eigenvalue(model, (x, y), seed=0)
    assert default.iterations <= 100
    assert default.value == pytest.approx(top, rel=2e-2)
    again = hessian_top_eigenvalue(model, (x, y), seed=0)
    assert again.value == default.value and again.iterations == default.iterations
    wd = hessian_top_eigenvalue(model, (x, y), max_iter=3000, tol=1e-12, weight_decay=0.1)
    assert wd.value == pytest.approx(top + 0.1, rel=1e-6)


def test_trace_within_estimator_tolerance(problem):
    model, x, y, h = problem
    exact = float(torch.trace(h))
    est = hessian_trace(model, (x, y), seed=0)
    assert 1 <= est.iterations <= 100 and len(est.history) == est.iterations
    off = h - torch.diag(torch.diag(h))
    sd_one = math.sqrt(2.0 * float((off**2).sum()))  # std of one Rademacher sample v.Hv
    assert abs(est.value - exact) <= 4.0 * sd_one / math.sqrt(est.iterations) + 1e-9
    assert hessian_trace(model, (x, y), seed=0).value == est.value  # seeded
    # tol=0 forces max_iter samples; the mean of 400 samples is close
    many = hessian_trace(model, (x, y), seed=3, tol=0.0, max_iter=400)
    assert many.iterations == 400 and not many.converged
    assert abs(many.value - exact) <= 4.0 * sd_one / 20.0
    assert many.std_error == pytest.approx(sd_one / 20.0, rel=0.25)


def test_subset_is_fixed_and_matches_manual(problem):
    model, x, y, _ = problem
    idx = torch.arange(0, 48, 3)
    est = hessian_top_eigenvalue(model, (x, y), subset=idx, tol=1e-12, max_iter=3000)
    h_sub = _dense_hessian(model, x[idx], y[idx])
    eigs = torch.linalg.eigvalsh(h_sub)
    assert est.value == pytest.approx(float(eigs[eigs.abs().argmax()]), rel=1e-6)
    a = hessian_trace(model, (x, y), subset=16, seed=5)
    b = hessian_trace(model, (x, y), subset=16, seed=5)
    assert a.value == b.value
    assert model.training  # mode restored


def test_bad_arguments(problem):
    model, x, y, _ = problem
    with pytest.raises(ValueError):
        hessian_trace(model, (x, y), max_iter=0)
    with pytest.raises(ValueError):
        hessian_top_eigenvalue(model, (x, y), subset=0)


# -- the cache= option --------------------------------------------------------------------------


def _count_products(monkeypatch) -> list[int]:
    """Counts Hessian-vector products (calls of the estimators' product operator)."""
    from swa_lib.landscape import hessian

    calls: list[int] = []
    real = hessian._HVP.__call__

    def counting(self, v):
        calls.append(1)
        return real(self, v)

    monkeypatch.setattr(hessian._HVP, "__call__", counting)
    return calls


@pytest.mark.parametrize("estimator", [hessian_top_eigenvalue, hessian_trace])
def test_cache_hit_returns_same_numbers_without_products(problem, tmp_path, monkeypatch, estimator):
    model, x, y, _ = problem
    calls = _count_products(monkeypatch)
    plain = estimator(model, (x, y), seed=1, subset=20)
    n_plain = len(calls)
    first = estimator(model, (x, y), seed=1, subset=20, cache=tmp_path)
    assert len(calls) == 2 * n_plain and not first.cached  # computed (same products as plain)
    again = estimator(model, (x, y), seed=1, subset=20, cache=tmp_path)
    assert len(calls) == 2 * n_plain  # no product: read from the file
    assert again.cached and again.cache_path == first.cache_path
    for est in (first, again):
        assert est.value == plain.value and est.iterations == plain.iterations
        assert est.converged == plain.converged and est.history == plain.history
        assert est.std_error == plain.std_error or (
            math.isnan(est.std_error) and math.isnan(plain.std_error)
        )
    if plain.vector is not None:
        assert torch.equal(again.vector, plain.vector)
    assert again.seconds == first.seconds > 0  # the original computation's time
    assert len(list(tmp_path.glob("hessian-*.npz"))) == 1


def test_cache_stale_key_raises_and_overwrite_recomputes(problem, tmp_path, monkeypatch):
    from swa_lib.io import CacheMismatchError

    model, x, y, _ = problem
    path = tmp_path / "eig.npz"
    hessian_top_eigenvalue(model, (x, y), seed=0, cache=path)
    with pytest.raises(CacheMismatchError, match="max_iter"):
        hessian_top_eigenvalue(model, (x, y), seed=0, max_iter=50, cache=path)
    with pytest.raises(CacheMismatchError, match="data"):
        hessian_top_eigenvalue(model, (x[:40], y[:40]), seed=0, cache=path)
    moved = copy.deepcopy(model)
    with torch.no_grad():
        next(moved.parameters()).add_(0.1)
    with pytest.raises(CacheMismatchError, match="weights"):
        hessian_top_eigenvalue(moved, (x, y), seed=0, cache=path)
    with pytest.raises(CacheMismatchError, match="generator"):
        hessian_top_eigenvalue(
            model, (x, y), generator=torch.Generator().manual_seed(0), cache=path
        )
    calls = _count_products(monkeypatch)
    with pytest.warns(UserWarning, match="overwriting"):
        new = hessian_top_eigenvalue(moved, (x, y), seed=0, cache=path, on_mismatch="overwrite")
    assert calls and not new.cached
    assert new.value == hessian_top_eigenvalue(moved, (x, y), seed=0).value
    assert hessian_top_eigenvalue(moved, (x, y), seed=0, cache=path).cached
