"""training.loop: train_epoch against a brute-force SGD loop; runs are deterministic, resume
exactly after a kill, average the right iterates, and every protocol trains with train_epoch."""

from __future__ import annotations

import math
import sys

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from training_fixtures import tiny

from swa_lib.averaging import EMA
from swa_lib.data import iterate_batches
from swa_lib.training import build_optimizer, run, train_epoch
from swa_lib.training import loop as loop_mod

TIME_COLUMNS = ["epoch_time_s"]


def metrics_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.drop(columns=TIME_COLUMNS), b.drop(columns=TIME_COLUMNS), check_exact=True
    )


def state_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# -- train_epoch --------------------------------------------------------------------------------


def _mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))


def _data(n: int = 23):
    gen = torch.Generator().manual_seed(1)
    return torch.randn(n, 5, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def _noise(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return x + 0.1 * torch.randn(x.shape, generator=gen)


def brute_force_epoch(model, x, y, batch_size, gen, lrs, momentum, wd, ema_decay):
    """Float64 SGD by hand: torch.optim.SGD's update g = grad + wd w, b = m b + g (b = g at
    the first step), w -= lr b; the EMA by its definition."""
    params = [p.detach().double().clone() for p in model.parameters()]
    bufs = [None] * len(params)
    ema = None
    perm = torch.randperm(x.shape[0], generator=gen)
    losses, sizes = [], []
    for i, start in enumerate(range(0, x.shape[0], batch_size)):
        idx = perm[start : start + batch_size]
        xb, yb = _noise(x[idx], gen).double(), y[idx]
        ps = [p.requires_grad_(True) for p in params]
        h = torch.tanh(xb @ ps[0].T + ps[1])
        loss = F.cross_entropy(h @ ps[2].T + ps[3], yb)
        grads = torch.autograd.grad(loss, ps)
        new = []
        for k, (p, g) in enumerate(zip(ps, grads)):
            g = g + wd * p.detach()
            bufs[k] = g if bufs[k] is None else momentum * bufs[k] + g
            new.append(p.detach() - lrs[i] * bufs[k])
        params = new
        ema = (
            [p.clone() for p in params]
            if ema is None
            else [ema_decay * e + (1 - ema_decay) * p for e, p in zip(ema, params)]
        )
        losses.append(loss.item())
        sizes.append(len(idx))
    return params, ema, sum(ls * s for ls, s in zip(losses, sizes)) / sum(sizes)


def test_train_epoch_matches_a_brute_force_sgd_loop() -> None:
    x, y = _data()
    batch_size, momentum, wd, decay = 5, 0.9, 1e-2, 0.7  # 23 = 4 * 5 + 3: a smaller last batch
    lrs = [0.3, 0.1, 0.2, 0.05, 0.4]  # a different rate each step
    model = _mlp(0)
    ref_params, ref_ema, ref_loss = brute_force_epoch(
        _mlp(0), x, y, batch_size, torch.Generator().manual_seed(5), lrs, momentum, wd, decay
    )

    gen = torch.Generator().manual_seed(5)
    opt = build_optimizer("sgd", model.parameters(), lr=1.0, momentum=momentum, weight_decay=wd)
    ema = EMA(model, decay)
    seen_steps = []
    out = train_epoch(
        model,
        opt,
        iterate_batches(x, y, batch_size, shuffle=True, generator=gen),
        lr_at=lambda i: seen_steps.append(i) or lrs[i],
        augment=lambda xb: _noise(xb, gen),
        ema=ema,
    )
    assert seen_steps == [0, 1, 2, 3, 4] and out.n_steps == 5 and out.n_samples == 23
    for p, ref in zip(model.parameters(), ref_params):
        torch.testing.assert_close(p.detach().double(), ref, rtol=1e-5, atol=1e-6)
    for p, ref in zip(ema.module.parameters(), ref_ema):
        torch.testing.assert_close(p.detach().double(), ref, rtol=1e-5, atol=1e-6)
    assert out.loss_sum.dtype == torch.float64 and out.loss_sum.dim() == 0
    assert out.mean == pytest.approx(ref_loss, rel=1e-6)
    assert model.training and opt.param_groups[0]["lr"] == lrs[-1]


def test_train_epoch_leaves_rates_alone_without_lr_at_and_ignores_amp_on_cpu() -> None:
    x, y = _data()
    results = []
    for amp in (False, True):
        model = _mlp(0)
        opt = build_optimizer("sgd", model.parameters(), lr=0.1)
        out = train_epoch(
            model, opt, iterate_batches(x, y, 8, shuffle=False), amp=amp, channels_last=True
        )  # 2-D inputs: channels_last does nothing
        assert opt.param_groups[0]["lr"] == 0.1
        results.append(([p.detach().clone() for p in model.parameters()], out.mean))
    assert all(torch.equal(a, b) for a, b in zip(results[0][0], results[1][0]))
    assert results[0][1] == results[1][1]
    empty = train_epoch(_mlp(0), opt, iter(()))
    assert empty.n_steps == 0 and math.isnan(empty.mean)


def test_build_optimizer_choices_and_errors() -> None:
    params = list(_mlp(0).parameters())
    sgd = build_optimizer("sgd", params, lr=0.1, momentum=0.9, weight_decay=5e-4)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.9
    adamw = build_optimizer("adamw", params, lr=1e-3, weight_decay=1e-2)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["weight_decay"] == 1e-2
    with pytest.raises(ValueError, match="optimizer='lion' is unknown; allowed: sgd, adam, adamw"):
        build_optimizer("lion", params, lr=0.1)
    with pytest.raises(ValueError, match="adamw takes betas, not momentum"):
        build_optimizer("adamw", params, lr=0.1, momentum=0.9)


# -- run ----------------------------------------------------------------------------------------


def test_batch_size_larger_than_train_set_is_rejected(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root, batch_size=10_000)
    with pytest.raises(
        ValueError,
        match=r"TrainConfig\.batch_size=10000 is larger than the "
        r"training set",
    ):
        run(cfg, tmp_path)


def test_run_is_deterministic_and_logs_one_row_per_epoch(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root)
    a = run(cfg, tmp_path / "a")
    b = run(cfg, tmp_path / "b")
    metrics_equal(a.metrics, b.metrics)
    state_equal(torch.load(a.path / "swa.pt"), torch.load(b.path / "swa.pt"))
    m = a.metrics
    assert list(m["epoch"]) == [1, 2, 3, 4]
    assert list(m["swa_n"]) == [0, 1, 2, 3]
    assert m["swa_test_accuracy"].isna().tolist() == [True, False, False, False]
    assert m["sgd_test_nll"].notna().all()
    for col in ("lr", "sgd_train_loss", "sgd_train_accuracy", "sgd_test_loss", "swa_train_nll"):
        assert col in m.columns
    assert a.final["swa_n"] == 3
    metrics_equal(pd.read_csv(a.path / "metrics.csv"), m)
    assert not (a.path / "checkpoint.pt").exists()


def test_evaluation_frequency_does_not_change_training(tmp_path, mnist1d_root) -> None:
    every = run(tiny(mnist1d_root), tmp_path / "every")
    sparse = run(tiny(mnist1d_root, eval_every=3), tmp_path / "sparse")
    assert sparse.metrics["sgd_test_accuracy"].isna().tolist() == [True, True, False, False]
    assert list(sparse.metrics["running_train_loss"]) == list(every.metrics["running_train_loss"])
    state_equal(torch.load(sparse.path / "swa.pt"), torch.load(every.path / "swa.pt"))


def test_swa_model_is_mean_of_averaged_iterates(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root, snapshots=True)
    res = run(cfg, tmp_path)
    snaps = [torch.load(p) for p in res.snapshot_paths()]
    assert len(snaps) == 3
    swa = torch.load(res.path / "swa.pt")
    model = res.load_model("swa")
    for name, _ in model.named_parameters():
        mean = torch.stack([s[name].double() for s in snaps]).mean(0)
        torch.testing.assert_close(swa[name].double(), mean, rtol=1e-5, atol=1e-6)
    # the saved SWA model's BN stats were recomputed: evaluation matches the logged number
    from swa_lib.metrics import evaluate

    ds = res.dataset()
    acc = evaluate(model, ds.x_test, ds.y_test)["accuracy"]
    assert acc == pytest.approx(res.final["swa_test_accuracy"])


class Killed(RuntimeError):
    pass


@pytest.mark.parametrize("kill_after", [0, 2])
def test_killed_run_resumes_to_identical_result(tmp_path, mnist1d_root, kill_after) -> None:
    cfg = tiny(mnist1d_root, ema_decay=0.9)
    full = run(cfg, tmp_path / "full")

    def kill(epoch, row):
        if epoch == kill_after:
            raise Killed

    with pytest.raises(Killed):
        run(cfg, tmp_path / "killed", callback=kill)
    folder = loop_mod.run_dir_for(cfg, tmp_path / "killed")
    assert (folder / "checkpoint.pt").exists() and not (folder / "final.json").exists()
    assert len(pd.read_csv(folder / "metrics.csv")) == kill_after + 1  # finished work is on disk
    epochs_trained = []
    resumed = run(cfg, tmp_path / "killed", callback=lambda e, r: epochs_trained.append(e))
    assert epochs_trained == list(range(kill_after + 1, cfg.epochs))
    metrics_equal(resumed.metrics, full.metrics)
    for name in ("sgd", "swa", "ema"):
        state_equal(torch.load(resumed.path / f"{name}.pt"), torch.load(full.path / f"{name}.pt"))
    assert resumed.final["swa_test_accuracy"] == full.final["swa_test_accuracy"]


def test_run_trains_every_epoch_with_train_epoch(tmp_path, mnist1d_root, monkeypatch) -> None:
    calls = []
    real = loop_mod.train_epoch

    def counting(*args, **kwargs):
        calls.append(kwargs["lr_at"](0))
        return real(*args, **kwargs)

    monkeypatch.setattr(loop_mod, "train_epoch", counting)
    res = run(tiny(mnist1d_root), tmp_path)
    assert calls == list(res.metrics["lr"])  # one call per epoch, at the logged rate


def test_run_emits_progress_events(tmp_path, mnist1d_root, monkeypatch) -> None:
    from swa_lib import progress

    status = tmp_path / "status.jsonl"
    monkeypatch.setenv(progress.ENV_VAR, str(status))
    cfg = tiny(mnist1d_root, epochs=2, swa_start=1)
    run(cfg, tmp_path)
    run(cfg, tmp_path)
    events = [(e["event"], e.get("epoch"), e.get("cached")) for e in progress.read_events(status)]
    assert events == [
        ("run_start", None, False),
        ("epoch", 1, None),
        ("epoch", 2, None),
        ("run_end", None, False),
        ("run_start", None, True),
        ("run_end", None, True),
    ]


def test_benchmark_times_the_library_loop() -> None:
    """benchmarks/bench_training.py's on-device epoch is train_epoch: same weights."""
    from swa_lib.data import ArrayDataset

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "benchmarks"))
    try:
        import bench_training
    finally:
        sys.path.pop(0)
    x = torch.randn(40, 1, 40)
    y = torch.randint(0, 3, (40,))
    ds = ArrayDataset(
        name="mnist1d",
        x_train=x,
        y_train=y,
        x_test=x[:4],
        y_test=y[:4],
        num_classes=3,
        augmentation="shift_noise",
    )

    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), nn.Linear(40, 3))

    bench_model = net()
    trainer = bench_training.make_trainer(bench_model, "cpu")
    assert bench_training.on_device_epoch(ds, 16, torch.Generator().manual_seed(2), trainer) == 3
    model = net()
    gen = torch.Generator().manual_seed(2)
    opt = build_optimizer("sgd", model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    train_epoch(
        model,
        opt,
        iterate_batches(x, y, 16, shuffle=True, generator=gen),
        augment=lambda xb: ds.augment(xb, gen),
    )
    state_equal(bench_model.state_dict(), model.state_dict())
