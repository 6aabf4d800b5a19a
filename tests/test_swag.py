"""SWAG: moments and deviations against brute force, the sample covariance, persistence, BMA,
and the training loop's swag.pt (including kill-and-resume)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from swa_lib.averaging import SWA, update_bn
from swa_lib.metrics import nll, predict_proba
from swa_lib.swag import SWAG, predict_bma

P_SMALL = 10  # nn.Linear(4, 2): 8 weights + 2 biases


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(4, 2)


def bn_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def iterates(model: nn.Module, n: int, seed: int = 0) -> list[torch.Tensor]:
    """``n`` float64 weight vectors around a common centre, with structured (low-rank) spread."""
    g = torch.Generator().manual_seed(seed)
    p = sum(q.numel() for q in model.parameters())
    centre = torch.randn(p, generator=g, dtype=torch.float64)
    basis = torch.randn(3, p, generator=g, dtype=torch.float64)
    return [
        centre
        + 0.3 * torch.randn(3, generator=g, dtype=torch.float64) @ basis
        + 0.05 * torch.randn(p, generator=g, dtype=torch.float64)
        for _ in range(n)
    ]


def collect_all(swag: SWAG, model: nn.Module, ws: list[torch.Tensor]) -> None:
    for w in ws:
        vector_to_parameters(w.float(), model.parameters())
        swag.collect(model)


def brute_deviations(ws: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([w - torch.stack(ws[: i + 1]).mean(0) for i, w in enumerate(ws)])


def flat32(ws: list[torch.Tensor]) -> list[torch.Tensor]:
    """The iterates as the model holds them (float32), back in float64."""
    return [w.float().double() for w in ws]


# -- moments and deviations ---------------------------------------------------------------------


def test_mean_and_variance_match_brute_force_and_swa() -> None:
    model = small_model()
    swag, swa = SWAG(model, max_rank=4), SWA(model)
    ws = flat32(iterates(model, 7))
    for w in ws:
        vector_to_parameters(w.float(), model.parameters())
        swag.collect(model)
        swa.update(model)
    stack = torch.stack(ws)
    assert swag.n_collected == 7 and swag.rank == 4
    assert swag.mean.dtype == torch.float64 and swag.variance.shape == (P_SMALL,)
    torch.testing.assert_close(swag.mean, stack.mean(0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(swag.variance, stack.var(0, unbiased=False), rtol=1e-10, atol=1e-14)
    swa_vec = parameters_to_vector(swa.module.parameters()).double()
    torch.testing.assert_close(swag.mean, swa_vec, rtol=1e-6, atol=1e-6)
    # mean_model / load_mean_into give the SWA solution
    torch.testing.assert_close(
        parameters_to_vector(swag.mean_model().parameters()).double(), swa_vec, rtol=1e-6, atol=1e-6
    )
    target = small_model()
    swag.load_mean_into(target)
    torch.testing.assert_close(parameters_to_vector(target.parameters()), swa_vec.float())


def test_variance_is_floored_and_tiny_spread_survives() -> None:
    model = small_model()
    swag = SWAG(model)
    w = parameters_to_vector(model.parameters()).detach()
    for _ in range(3):
        swag.collect(model)  # identical iterates: zero variance, clamped
    assert torch.all(swag.variance == 1e-30)
    # spread 1e-4 around weights ~1: E[w^2] - E[w]^2 in float32 would lose it entirely
    swag2 = SWAG(model, max_rank=2)
    base = torch.ones_like(w)
    for sign in (1.0, -1.0):
        vector_to_parameters(base + sign * 1e-4, model.parameters())
        swag2.collect(model)
    exact = torch.stack([(base + 1e-4).double(), (base - 1e-4).double()]).var(0, unbiased=False)
    torch.testing.assert_close(swag2.variance, exact, rtol=1e-6, atol=0)


@pytest.mark.parametrize("n", [2, 3, 8])
def test_deviations_are_last_k_of_brute_force_ring(n: int) -> None:
    model = small_model()
    k_max = 3
    swag = SWAG(model, max_rank=k_max)
    ws = flat32(iterates(model, n, seed=n))
    collect_all(swag, model, ws)
    expected = brute_deviations(ws)[-k_max:]
    got = swag.deviations
    assert got.shape == (min(n, k_max), P_SMALL)
    torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=1e-6)


# -- sampling -----------------------------------------------------------------------------------


def frobenius_tolerance(sigma: torch.Tensor, n: int, sds: float = 4.0) -> float:
    """``sds`` times the RMS Frobenius error of a known-mean Gaussian sample covariance:
    ``E||S - Sigma||_F^2 = ((tr Sigma)^2 + ||Sigma||_F^2) / n``."""
    return sds * math.sqrt((sigma.trace() ** 2 + (sigma**2).sum()).item() / n)


@pytest.mark.parametrize("diagonal", [False, True])
def test_sample_covariance_matches_swag_covariance(diagonal: bool) -> None:
    model = small_model()
    k_max, n_samples = 3, 20_000
    swag = SWAG(model, max_rank=k_max)
    ws = flat32(iterates(model, 8))  # 8 > K: the ring has wrapped
    collect_all(swag, model, ws)
    stack = torch.stack(ws)
    mean, var = stack.mean(0), stack.var(0, unbiased=False)
    d = brute_deviations(ws)[-k_max:]
    low_rank = d.T @ d / (k_max - 1)
    scale = 1.0 if diagonal else 0.5
    sigma = scale * (torch.diag(var) + (0 if diagonal else low_rank))

    g = torch.Generator().manual_seed(1234)
    x = swag.sample_vectors(n_samples, scale, diagonal=diagonal, generator=g)
    assert x.shape == (n_samples, P_SMALL)
    centred = x - mean
    cov = centred.T @ centred / n_samples
    err = torch.linalg.matrix_norm(cov - sigma).item()
    tol = frobenius_tolerance(sigma, n_samples)
    assert err < tol, (err, tol)
    # the test has power: the usual slips lie far outside the tolerance
    slips = (
        [0.5 * sigma, torch.diag(var**2)]
        if diagonal
        else [
            0.5 * (torch.diag(var) + d.T @ d / k_max),  # K instead of K - 1
            0.5 * torch.diag(var),  # low-rank term lost
            0.25 * (torch.diag(var) + low_rank),  # scale instead of sqrt(scale)
        ]
    )
    for wrong in slips:
        assert torch.linalg.matrix_norm(cov - wrong).item() > 2 * tol, (wrong, tol)
    # sample mean within 4 standard errors, per coordinate
    se = (sigma.diagonal() / n_samples).sqrt()
    assert torch.all((x.mean(0) - mean).abs() < 4 * se)


def test_sample_loads_sample_vector_and_keeps_the_template_architecture() -> None:
    model = bn_model()
    swag = SWAG(model, max_rank=3)
    collect_all(swag, model, iterates(model, 4))
    vec = swag.sample_vector(0.5, generator=torch.Generator().manual_seed(3))
    sampled = swag.sample(0.5, generator=torch.Generator().manual_seed(3))
    assert type(sampled) is type(model) and sampled is not model
    torch.testing.assert_close(parameters_to_vector(sampled.parameters()), vec.float())
    # buffers come from the last collected model; weights of the source are untouched
    for (name, b), (_, ref) in zip(sampled.named_buffers(), model.named_buffers()):
        assert torch.equal(b, ref), name
    assert not torch.equal(parameters_to_vector(model.parameters()), vec.float())
    # the diagonal sample draws only z1: same z1 stream, so it is the low-rank sample minus D^T z2
    diag = swag.sample_vector(0.5, diagonal=True, generator=torch.Generator().manual_seed(3))
    z1 = torch.randn(
        1, swag.num_parameters, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )[0]
    torch.testing.assert_close(diag, swag.mean + math.sqrt(0.5) * swag.variance.sqrt() * z1)
    # the documented stream: z1 (P) then z2 (K), z2[j] on the j-th oldest deviation (ring wrapped)
    g = torch.Generator().manual_seed(3)
    z1 = torch.randn(1, swag.num_parameters, generator=g, dtype=torch.float64)[0]
    z2 = torch.randn(1, 3, generator=g, dtype=torch.float64)[0]
    d = swag.deviations.double()
    expected = swag.mean + math.sqrt(0.5) * (swag.variance.sqrt() * z1 + d.T @ z2 / math.sqrt(2))
    torch.testing.assert_close(vec, expected)


def test_sample_with_bn_batches_recomputes_bn() -> None:
    model = bn_model()
    swag = SWAG(model, max_rank=3)
    collect_all(swag, model, iterates(model, 4))
    xb = torch.randn(50, 5, generator=torch.Generator().manual_seed(0))
    batches = [(xb[i : i + 16], None) for i in range(0, 50, 16)]
    a = swag.sample(generator=torch.Generator().manual_seed(7), bn_batches=batches)
    b = update_bn(swag.sample(generator=torch.Generator().manual_seed(7)), batches)
    assert a.training == model.training
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    bn = a[1]
    h = a[0](xb)
    torch.testing.assert_close(bn.running_mean, h.mean(0))


def test_errors_are_clear() -> None:
    model = small_model()
    with pytest.raises(ValueError, match="max_rank"):
        SWAG(model, max_rank=0)
    swag = SWAG(model, max_rank=3)
    with pytest.raises(ValueError, match="nothing collected"):
        swag.sample()
    swag.collect(model)
    with pytest.raises(ValueError, match="at least 2 deviations"):
        swag.sample()
    swag.sample(1.0, diagonal=True)  # fine with one model
    with pytest.raises(ValueError, match="same architecture"):
        swag.collect(nn.Linear(4, 3))
    with pytest.raises(ValueError, match="scale"):
        swag.sample(-1.0, diagonal=True)
    swag.collect(model)
    with pytest.raises(ValueError, match="one-shot iterator"):
        predict_bma(swag, torch.randn(3, 4), num_samples=2, bn_batches=iter([torch.randn(3, 4)]))


# -- persistence --------------------------------------------------------------------------------


def test_state_dict_roundtrip_gives_same_samples_and_validates(tmp_path) -> None:
    model = bn_model()
    swag = SWAG(model, max_rank=3)
    collect_all(swag, model, iterates(model, 5))
    before = [
        parameters_to_vector(swag.sample(generator=torch.Generator().manual_seed(s)).parameters())
        for s in range(3)
    ]
    torch.save(swag.state_dict(), tmp_path / "swag.pt")
    fresh = SWAG(bn_model(), max_rank=3)
    fresh.load_state_dict(torch.load(tmp_path / "swag.pt"))
    assert fresh.n_collected == 5
    for s, b in enumerate(before):
        after = fresh.sample(generator=torch.Generator().manual_seed(s))
        assert torch.equal(parameters_to_vector(after.parameters()), b)
    assert torch.equal(fresh.deviations, swag.deviations)
    state = torch.load(tmp_path / "swag.pt")
    with pytest.raises(ValueError, match="max_rank=3 but this SWAG has max_rank=4"):
        SWAG(bn_model(), max_rank=4).load_state_dict(state)
    with pytest.raises(ValueError, match="mean must have shape"):
        SWAG(
            nn.Sequential(nn.Linear(5, 9), nn.BatchNorm1d(9), nn.ReLU(), nn.Linear(9, 3)),
            max_rank=3,
        ).load_state_dict(state)
    with pytest.raises(ValueError, match="keys"):
        fresh.load_state_dict({"mean": state["mean"]})


def test_resume_mid_ring_continues_identically() -> None:
    model = small_model()
    ws = iterates(model, 7)
    full = SWAG(model, max_rank=3)
    collect_all(full, model, ws)
    for cut in (2, 4, 6):  # before the ring is full, just after it wrapped, later
        head = SWAG(model, max_rank=3)
        collect_all(head, model, ws[:cut])
        tail = SWAG(model, max_rank=3)
        tail.load_state_dict(head.state_dict())
        collect_all(tail, model, ws[cut:])
        a, b = tail.state_dict(), full.state_dict()
        for key in ("mean", "m2", "deviations"):
            assert torch.equal(a[key], b[key]), (cut, key)
        g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
        assert torch.equal(tail.sample_vector(generator=g1), full.sample_vector(generator=g2))


# -- Bayesian model averaging -------------------------------------------------------------------


def test_predict_bma_equals_brute_force_loop() -> None:
    model = bn_model()
    swag = SWAG(model, max_rank=4)
    collect_all(swag, model, iterates(model, 6))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=g)
    y = torch.randint(0, 3, (40,), generator=g)
    train = torch.randn(64, 5, generator=g)
    bn_batches = [train[i : i + 20] for i in range(0, 64, 20)]
    per_sample = []
    g_loop = torch.Generator().manual_seed(42)
    for _ in range(5):
        m = swag.sample(0.5, generator=g_loop, bn_batches=bn_batches)
        per_sample.append(predict_proba(m, x).double())
    expected = torch.stack(per_sample).mean(0)
    for batches in (bn_batches, lambda: iter(bn_batches)):
        bma = predict_bma(
            swag,
            x,
            num_samples=5,
            scale=0.5,
            bn_batches=batches,
            generator=torch.Generator().manual_seed(42),
            batch_size=16,
        )
        assert bma.shape == (40, 3)
        torch.testing.assert_close(bma.double(), expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(bma.sum(1), torch.ones(40))
    # the BMA's NLL is the NLL of the averaged probabilities, below the mean per-sample NLL
    assert nll(bma, y) == pytest.approx(nll(expected.float(), y), rel=1e-6)
    assert nll(bma, y) < sum(nll(p, y) for p in per_sample) / len(per_sample)
    # samples differ (the average is not one model's prediction)
    assert not torch.allclose(per_sample[0], per_sample[1])


# -- names: update / n_averaged, and the deprecated collect / n_collected ---------------------


def test_update_is_canonical_and_collect_an_alias() -> None:
    model = small_model()
    ws = flat32(iterates(model, 5))
    by_update, by_collect = SWAG(model, max_rank=3), SWAG(model, max_rank=3)
    for w in ws:
        vector_to_parameters(w.float(), model.parameters())
        by_update.update(model)
        by_collect.collect(model)
    assert by_update.n_averaged == by_collect.n_averaged == 5
    assert by_update.n_collected == 5  # the deprecated name reads the same count
    a, b = by_update.state_dict(), by_collect.state_dict()
    for key in ("mean", "m2", "deviations"):
        assert torch.equal(a[key], b[key]), key
    torch.testing.assert_close(by_update.mean, torch.stack(ws).mean(0))
    assert a["n_collected"] == 5  # the stored key keeps its name: old swag.pt files load
    fresh = SWAG(model, max_rank=3)
    fresh.load_state_dict(a)
    assert fresh.n_averaged == 5 and "n_averaged=5" in repr(fresh)


# -- predict_bma(cache=...) ---------------------------------------------------------------------


def _bma_setup():
    model = bn_model()
    swag = SWAG(model, max_rank=4)
    collect_all(swag, model, iterates(model, 6))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 5, generator=g)
    train = torch.randn(60, 5, generator=g)
    return swag, x, [train[i : i + 20] for i in range(0, 60, 20)]


def _count_samples(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = SWAG.sample_vectors

    def counting(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SWAG, "sample_vectors", counting)
    return calls


def test_predict_bma_cache_hit_same_numbers_without_sampling(tmp_path, monkeypatch) -> None:
    swag, x, batches = _bma_setup()
    calls = _count_samples(monkeypatch)

    def bma(**kw):
        return predict_bma(
            swag,
            x,
            num_samples=3,
            bn_batches=batches,
            generator=torch.Generator().manual_seed(7),
            **kw,
        )

    plain = bma()
    first = bma(cache=tmp_path)
    assert len(calls) == 6  # 3 samples each
    again = bma(cache=tmp_path)
    assert len(calls) == 6  # none drawn: read from the file
    assert torch.equal(first, plain) and torch.equal(again, plain)
    assert again.dtype == torch.float32 and again.device == swag.device
    assert [p.name[:4] for p in tmp_path.iterdir()] == ["bma-"]
    # the callable form of the same batches is the same key
    lazy = predict_bma(
        swag,
        x,
        num_samples=3,
        bn_batches=lambda: iter(batches),
        generator=torch.Generator().manual_seed(7),
        cache=tmp_path,
    )
    assert len(calls) == 6 and torch.equal(lazy, plain)


def test_predict_bma_cache_stale_raises_and_overwrite_recomputes(tmp_path, monkeypatch) -> None:
    from swa_lib.io import CacheMismatchError

    swag, x, batches = _bma_setup()
    path = tmp_path / "bma.npz"
    gen = torch.Generator().manual_seed
    predict_bma(swag, x, num_samples=3, bn_batches=batches, generator=gen(0), cache=path)
    with pytest.raises(CacheMismatchError, match="num_samples"):
        predict_bma(swag, x, num_samples=4, bn_batches=batches, generator=gen(0), cache=path)
    with pytest.raises(CacheMismatchError, match="generator"):
        predict_bma(swag, x, num_samples=3, bn_batches=batches, generator=gen(1), cache=path)
    with pytest.raises(CacheMismatchError, match="bn_batches"):
        predict_bma(swag, x, num_samples=3, bn_batches=batches[:2], generator=gen(0), cache=path)
    model = bn_model()
    collect_all(swag, model, iterates(model, 1, seed=3))  # one more iterate: another posterior
    with pytest.raises(CacheMismatchError, match="swag"):
        predict_bma(swag, x, num_samples=3, bn_batches=batches, generator=gen(0), cache=path)
    calls = _count_samples(monkeypatch)
    with pytest.warns(UserWarning, match="overwriting"):
        new = predict_bma(
            swag,
            x,
            num_samples=3,
            bn_batches=batches,
            generator=gen(0),
            cache=path,
            on_mismatch="overwrite",
        )
    assert len(calls) == 3
    assert torch.equal(
        new, predict_bma(swag, x, num_samples=3, bn_batches=batches, generator=gen(0))
    )
    with pytest.raises(ValueError, match="seeded generator"):
        predict_bma(swag, x, num_samples=3, cache=tmp_path)


# -- the training loop --------------------------------------------------------------------------


def _config(root):
    from swa_lib.training import TrainConfig

    return TrainConfig(
        dataset="mnist1d",
        model="cnn1d",
        epochs=4,
        swa_start=2,
        num_samples=400,
        batch_size=64,
        model_kw={"width": 8},
        collect_swag=True,
        swag_rank=3,
        data_root=str(root),
    )


class Killed(RuntimeError):
    pass


def test_training_writes_swag_and_resume_is_identical(tmp_path, mnist1d_root) -> None:
    from swa_lib.models import build_model
    from swa_lib.training import run

    cfg = _config(mnist1d_root)
    full = run(cfg, tmp_path / "full")
    state = torch.load(full.path / "swag.pt")
    model = build_model("cnn1d", 10, width=8)
    swag = SWAG(model, max_rank=3)
    swag.load_state_dict(state)
    assert swag.n_collected == 3 == full.final["swa_n"] and swag.rank == 3
    model.load_state_dict(torch.load(full.path / "swa.pt"))
    torch.testing.assert_close(
        swag.mean.float(), parameters_to_vector(model.parameters()), rtol=1e-5, atol=1e-6
    )
    assert torch.all(swag.variance > 1e-20)  # the iterates moved

    def kill(epoch, row):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        run(cfg, tmp_path / "killed", callback=kill)
    resumed = run(cfg, tmp_path / "killed")
    again = torch.load(resumed.path / "swag.pt")
    assert again.keys() == state.keys() and again["n_collected"] == 3
    for key in ("mean", "m2", "deviations"):
        assert torch.equal(again[key], state[key]), key
    for name in state["buffers"]:
        assert torch.equal(again["buffers"][name], state["buffers"][name]), name


# -- GPU ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_collect_and_sample_on_cuda() -> None:
    cpu_model = bn_model()
    ws = iterates(cpu_model, 6)
    on_cpu = SWAG(cpu_model, max_rank=4)
    collect_all(on_cpu, cpu_model, ws)
    gpu_model = bn_model().cuda()
    on_gpu = SWAG(gpu_model, max_rank=4)
    collect_all(on_gpu, gpu_model, ws)
    assert on_gpu.device.type == "cuda" and on_gpu.mean.is_cuda
    torch.testing.assert_close(on_gpu.mean.cpu(), on_cpu.mean)
    torch.testing.assert_close(on_gpu.variance.cpu(), on_cpu.variance, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(on_gpu.deviations.cpu(), on_cpu.deviations)
    # a CPU generator gives the same sample on either device
    a = on_gpu.sample(generator=torch.Generator().manual_seed(0))
    b = on_cpu.sample(generator=torch.Generator().manual_seed(0))
    assert next(a.parameters()).is_cuda
    torch.testing.assert_close(
        parameters_to_vector(a.parameters()).cpu(),
        parameters_to_vector(b.parameters()),
        rtol=1e-5,
        atol=1e-5,
    )
    # a CUDA generator works too; BMA on the GPU with BN updates
    x = torch.randn(100, 5, device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    probs = predict_bma(on_gpu, x, num_samples=4, bn_batches=[x[:50], x[50:]], generator=gen)
    assert probs.is_cuda and probs.shape == (100, 3)
    torch.testing.assert_close(probs.sum(1), torch.ones(100, device="cuda"))
    # state saved on the GPU loads into a CPU SWAG
    cpu_again = SWAG(bn_model(), max_rank=4)
    cpu_again.load_state_dict(on_gpu.state_dict())
    torch.testing.assert_close(cpu_again.mean, on_cpu.mean)
