"""Training options (issue 13, item 7): Adam/AdamW against a hand-written update, averaging every
k steps against the mean of the recorded iterates, SWA/EMA/SWAG over a parameter subset against
their definitions, a diverging run stopping with TrainingDiverged, strict final.json, CLI flags."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from swa_lib import cli
from swa_lib.data import iterate_batches
from swa_lib.schedules import cyclic_lr
from swa_lib.training import TrainConfig, TrainingDiverged, build_optimizer, run, train_epoch
from swa_lib.training import loop as loop_mod
from swa_lib.training.runs import run_dir_for

IPE = 5  # 400 MNIST-1D samples -> 320 training samples, batches of 64


def tiny(root, **kw) -> TrainConfig:
    base = dict(
        dataset="mnist1d",
        model="mlp",
        epochs=4,
        swa_start=2,
        swa_lr=0.02,
        lr_init=0.05,
        batch_size=64,
        num_samples=400,
        data_root=str(root),
        model_kw={"hidden": [16, 16]},
    )
    base.update(kw)
    return TrainConfig(**base)


def strict_json(text: str):
    """``json.loads`` that refuses NaN / Infinity, as JavaScript's and jq's parsers do."""

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def record_iterates(monkeypatch) -> tuple[list[dict[str, torch.Tensor]], list[float]]:
    """Wrap ``loop.train_epoch`` so that every step's weights (after the step) and rate are
    recorded, in order over the whole run: the independent record the averages are checked on."""
    iterates: list[dict[str, torch.Tensor]] = []
    rates: list[float] = []
    real = loop_mod.train_epoch

    def wrapped(model, *args, after_step=None, lr_at=None, **kw):
        def hook(it):
            iterates.append({n: p.detach().double().clone() for n, p in model.named_parameters()})
            rates.append(lr_at(it))
            if after_step is not None:
                after_step(it)

        return real(model, *args, after_step=hook, lr_at=lr_at, **kw)

    monkeypatch.setattr(loop_mod, "train_epoch", wrapped)
    return iterates, rates


def mean_of(iterates, steps, name) -> torch.Tensor:
    """Mean of parameter ``name`` over the 1-based global ``steps``."""
    return torch.stack([iterates[g - 1][name] for g in steps]).mean(0)


# -- optimisers ---------------------------------------------------------------------------------


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))


def brute_force_adam(model, x, y, batch_size, gen, lr, betas, wd, decoupled):
    """Float64 Adam / AdamW by their definitions (Kingma & Ba 2015; Loshchilov & Hutter 2019):
    g = grad (+ wd w for Adam), m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, w -= lr m^/(sqrt(v^)
    + eps) with bias corrections 1 - b^t; AdamW first shrinks w by (1 - lr wd)."""
    b1, b2, eps = betas[0], betas[1], 1e-8
    params = [p.detach().double().clone() for p in model.parameters()]
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    perm = torch.randperm(x.shape[0], generator=gen)
    for t, start in enumerate(range(0, x.shape[0], batch_size), start=1):
        idx = perm[start : start + batch_size]
        ps = [p.requires_grad_(True) for p in params]
        logits = torch.tanh(x[idx].double() @ ps[0].T + ps[1]) @ ps[2].T + ps[3]
        grads = torch.autograd.grad(F.cross_entropy(logits, y[idx]), ps)
        new = []
        for k, (p, g) in enumerate(zip(ps, grads)):
            p = p.detach()
            if decoupled:
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            m_hat, v_hat = m[k] / (1 - b1**t), v[k] / (1 - b2**t)
            new.append(p - lr * m_hat / (v_hat.sqrt() + eps))
        params = new
    return params


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_and_adamw_steps_match_their_definitions(name) -> None:
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(23, 5, generator=gen), torch.randint(0, 3, (23,), generator=gen)
    betas, lr, wd = (0.8, 0.99), 0.05, 0.1
    ref = brute_force_adam(
        _net(0), x, y, 5, torch.Generator().manual_seed(5), lr, betas, wd, decoupled=name == "adamw"
    )
    model = _net(0)
    opt = build_optimizer(name, model.parameters(), lr=lr, weight_decay=wd, betas=betas)
    train_epoch(
        model,
        opt,
        iterate_batches(x, y, 5, shuffle=True, generator=torch.Generator().manual_seed(5)),
    )
    for p, r in zip(model.parameters(), ref):
        torch.testing.assert_close(p.detach().double(), r, rtol=1e-5, atol=1e-6)


def test_adamw_run_has_the_swa_phase_and_resumes_exactly(tmp_path, mnist1d_root) -> None:
    cfg = tiny(
        mnist1d_root,
        optimizer="adamw",
        momentum=0.8,
        lr_init=2e-3,
        swa_lr=5e-4,
        weight_decay=1e-2,
        epochs=3,
    )
    sgd = tiny(mnist1d_root, lr_init=2e-3, swa_lr=5e-4, weight_decay=1e-2, epochs=3)
    assert cfg.key() != sgd.key()
    full = run(cfg, tmp_path / "full")
    assert list(full.metrics["lr"]) == list(run(sgd, tmp_path / "sgd").metrics["lr"])
    assert full.final["swa_n"] == 2

    def kill(epoch, row):
        if epoch == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path / "killed", callback=kill)
    ckpt = torch.load(run_dir_for(cfg, tmp_path / "killed") / "checkpoint.pt", weights_only=True)
    group = ckpt["optimizer"]["param_groups"][0]
    assert tuple(group["betas"]) == (0.8, 0.999) and group["weight_decay"] == 1e-2
    assert "exp_avg_sq" in ckpt["optimizer"]["state"][0]  # Adam's moments are checkpointed
    resumed = run(cfg, tmp_path / "killed")
    for which in ("sgd", "swa"):
        a = torch.load(full.path / f"{which}.pt", weights_only=True)
        b = torch.load(resumed.path / f"{which}.pt", weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a), which


# -- averaging every k steps --------------------------------------------------------------------


def test_swa_every_k_steps_is_the_mean_of_those_iterates(
    tmp_path, mnist1d_root, monkeypatch
) -> None:
    iterates, _ = record_iterates(monkeypatch)
    res = run(tiny(mnist1d_root, swa_c_iters=3), tmp_path)
    assert len(iterates) == 4 * IPE
    # the spec: steps counted from the start of epoch swa_start (1-based): every 3rd of them
    phase_start = (2 - 1) * IPE
    steps = [g for g in range(phase_start + 1, 4 * IPE + 1) if (g - phase_start) % 3 == 0]
    assert steps == [8, 11, 14, 17, 20] and res.final["swa_n"] == len(steps)
    swa = torch.load(res.path / "swa.pt", weights_only=True)
    for name in iterates[0]:
        torch.testing.assert_close(
            swa[name].double(), mean_of(iterates, steps, name), rtol=1e-5, atol=1e-6
        )
    assert list(res.metrics["swa_n"]) == [0, 1, 3, 5]  # epochs' steps 6-10 | 11-15 | 16-20


def test_k_equal_to_an_epoch_averages_the_epoch_mode_iterates(tmp_path, mnist1d_root) -> None:
    by_epoch = run(tiny(mnist1d_root), tmp_path / "epochs")
    by_steps = run(tiny(mnist1d_root, swa_c_iters=IPE), tmp_path / "steps")
    assert by_steps.path != by_epoch.path
    a = torch.load(by_epoch.path / "swa.pt", weights_only=True)
    b = torch.load(by_steps.path / "swa.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert by_steps.final["swa_test_accuracy"] == by_epoch.final["swa_test_accuracy"]


def test_cyclic_cycles_of_k_steps_end_where_a_model_is_averaged(
    tmp_path, mnist1d_root, monkeypatch
) -> None:
    iterates, rates = record_iterates(monkeypatch)
    cfg = tiny(mnist1d_root, swa_c_iters=4, swa_lr_schedule="cyclic", swa_lr_max=0.05, swa_lr=0.01)
    res = run(cfg, tmp_path)
    phase = rates[IPE:]  # the steps from the start of epoch swa_start
    expected = [cyclic_lr(j, lr_max=0.05, lr_min=0.01, cycle=4) for j in range(1, len(phase) + 1)]
    assert phase == pytest.approx(expected, rel=1e-12, abs=0)
    steps = [IPE + j for j in range(4, len(phase) + 1, 4)]
    assert [rates[g - 1] for g in steps] == pytest.approx([0.01] * len(steps))  # cycle minima
    swa = torch.load(res.path / "swa.pt", weights_only=True)
    for name in iterates[0]:
        torch.testing.assert_close(
            swa[name].double(), mean_of(iterates, steps, name), rtol=1e-5, atol=1e-6
        )


def test_averaging_period_options_are_validated(tmp_path, mnist1d_root) -> None:
    for changes, field in [
        ({"swa_c_iters": 0}, "swa_c_iters"),
        ({"swa_c_iters": 3, "swa": False}, "swa_c_iters"),
        ({"swa_c_iters": 3, "swa_c_epochs": 2}, "swa_c_epochs"),
        ({"swa_c_iters": 3, "snapshots": True}, "snapshots"),
        ({"optimizer": "lion"}, "optimizer"),
        ({"average_only": "net.4.*"}, "average_only"),
        ({"average_exclude": []}, "average_exclude"),
    ]:
        with pytest.raises(ValueError, match=rf"^TrainConfig\.{field}="):
            tiny(mnist1d_root, **changes)
    with pytest.raises(
        ValueError,
        match=r"TrainConfig\.swa_c_iters=16 is invalid: the SWA "
        r"phase has 15 steps",
    ):
        run(tiny(mnist1d_root, swa_c_iters=16), tmp_path)


# -- parameter subsets --------------------------------------------------------------------------


def test_last_layer_swa_ema_swag_follow_their_definitions(
    tmp_path, mnist1d_root, monkeypatch
) -> None:
    iterates, _ = record_iterates(monkeypatch)
    cfg = tiny(
        mnist1d_root,
        epochs=5,
        swa_c_epochs=2,
        average_only=["net.4.*"],
        ema_decay=0.5,
        collect_swag=True,
        swag_rank=3,
    )
    res = run(cfg, tmp_path)
    chosen = {"net.4.weight", "net.4.bias"}
    steps = [2 * IPE, 4 * IPE]  # averaged after epochs 2 and 4; the run ends at step 25
    last_avg, last = iterates[steps[-1] - 1], iterates[-1]
    swa = torch.load(res.path / "swa.pt", weights_only=True)
    ema = torch.load(res.path / "ema.pt", weights_only=True)
    ema_ref = {n: iterates[0][n] for n in chosen}  # EMA: a copy at the first step, then d=0.5
    for it in iterates[1:]:
        ema_ref = {n: 0.5 * ema_ref[n] + 0.5 * it[n] for n in chosen}
    for name in iterates[0]:
        if name in chosen:
            swa_ref, e_ref = mean_of(iterates, steps, name), ema_ref[name]
        else:  # not averaged: the iterate at the average's last update
            swa_ref, e_ref = last_avg[name], last[name]
        torch.testing.assert_close(swa[name].double(), swa_ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ema[name].double(), e_ref, rtol=1e-5, atol=1e-6)
    assert not torch.equal(last_avg["net.0.weight"], last["net.0.weight"])  # the test can fail

    swag = res.load_swag()
    flat = [(n, p.numel()) for n, p in res.load_model("sgd").named_parameters()]
    mean, var, dev = swag.mean, swag.variance, swag.deviations
    offset = 0
    for name, size in flat:
        sl = slice(offset, offset + size)
        offset += size
        w = torch.stack([iterates[g - 1][name].reshape(-1) for g in steps])
        if name in chosen:
            torch.testing.assert_close(mean[sl], w.mean(0), rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(
                var[sl], w.var(0, unbiased=False).clamp_min(1e-30), rtol=1e-4, atol=1e-9
            )
        else:  # a point mass at the last collected iterate
            torch.testing.assert_close(mean[sl], w[-1], rtol=1e-6, atol=1e-7)
            assert torch.all(var[sl] == 1e-30) and torch.all(dev[:, sl] == 0)
    sample = swag.sample(generator=torch.Generator().manual_seed(0))
    drawn = nn.utils.parameters_to_vector(sample.parameters()).double()
    moved, offset = set(), 0
    for name, size in flat:  # a sample moves the chosen parameters only
        if not torch.allclose(
            drawn[offset : offset + size], mean[offset : offset + size], atol=1e-6
        ):
            moved.add(name)
        offset += size
    assert moved == chosen


def test_subset_patterns_name_the_field_and_the_parameters(tmp_path, mnist1d_root) -> None:
    with pytest.raises(
        ValueError,
        match=r"TrainConfig\.average_only=\['fc\.\*'\] is invalid: "
        r"'fc\.\*' matches no parameter; the model's are "
        r"\['net\.0\.weight'",
    ):
        run(tiny(mnist1d_root, average_only=["fc.*"]), tmp_path)
    with pytest.raises(ValueError, match=r"leaves no parameter to average"):
        run(tiny(mnist1d_root, average_exclude=["net.*"]), tmp_path)
    res = run(tiny(mnist1d_root, average_exclude=["*.bias"], epochs=3), tmp_path)
    assert res.final["swa_n"] == 2


# -- divergence and strict final.json ------------------------------------------------------------


def test_the_issue_command_stops_with_training_diverged(tmp_path, mnist1d_root, capsys) -> None:
    argv = [
        "train",
        "--dataset",
        "mnist1d",
        "--model",
        "mlp",
        "--epochs",
        "3",
        "--swa-start",
        "2",
        "--lr-init",
        "80",
        "--swa-lr",
        "80",
        "--runs-dir",
        str(tmp_path),
        "--data-root",
        str(mnist1d_root),
        "--no-progress",
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("swa-lib: error: training diverged: the mini-batch loss of iteration ")
    assert " of epoch 1 is nan" in err
    folder = next(tmp_path.iterdir())
    assert not (folder / "final.json").exists() and not (folder / "checkpoint.pt").exists()


def test_divergence_keeps_the_last_good_checkpoint_and_caches_nothing(
    tmp_path, mnist1d_root
) -> None:
    cfg = tiny(mnist1d_root, epochs=3, swa_lr=1e5)  # epochs 1-2 at lr 0.05, then lr 1e5
    with pytest.raises(TrainingDiverged) as info:
        run(cfg, tmp_path)
    exc = info.value
    assert (exc.epoch, exc.iteration) == (3, 3) and math.isnan(exc.loss)
    assert "iteration 3 of epoch 3 is nan" in str(exc)
    folder = run_dir_for(cfg, tmp_path)
    assert exc.path == folder and not (folder / "final.json").exists()
    ckpt_bytes = (folder / "checkpoint.pt").read_bytes()
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["epoch"] == 1  # after epoch 2
    assert all(
        math.isfinite(v)
        for v in torch.load(folder / "checkpoint.pt", weights_only=True)["rows"][-1].values()
    )
    with pytest.raises(TrainingDiverged, match="iteration 3 of epoch 3"):  # resumes, diverges
        run(cfg, tmp_path)
    assert (folder / "checkpoint.pt").read_bytes() == ckpt_bytes
    assert not (folder / "final.json").exists()


def test_final_json_is_strict_json_with_the_world_size(tmp_path, mnist1d_root) -> None:
    res = run(tiny(mnist1d_root, epochs=3, ema_decay=0.9), tmp_path)
    final = strict_json((res.path / "final.json").read_text())
    assert final["world_size"] == 1 and final == res.final
    assert all(math.isfinite(v) for v in final.values() if isinstance(v, float))


# -- command line ----------------------------------------------------------------------------------


def test_cli_builds_flags_for_the_new_fields(tmp_path, mnist1d_root, capsys) -> None:
    argv = [
        "train",
        "--dataset",
        "mnist1d",
        "--model",
        "mlp",
        "--epochs",
        "3",
        "--swa-start",
        "2",
        "--num-samples",
        "400",
        "--batch-size",
        "64",
        "--lr-init",
        "0.002",
        "--swa-lr",
        "0.001",
        "--momentum",
        "0.8",
        "--optimizer",
        "adam",
        "--swa-c-iters",
        "2",
        "--average-only",
        '["net.4.*"]',
        "--average-exclude",
        '["*.bias"]',
        "--runs-dir",
        str(tmp_path),
        "--data-root",
        str(mnist1d_root),
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    final = json.loads(printed[printed.index("{") :])
    assert final["swa_n"] == 5 and final["world_size"] == 1  # 10 phase steps, every 2nd
    folder = next(tmp_path.iterdir())
    config = json.loads((folder / "config.json").read_text())
    assert (
        config["optimizer"],
        config["swa_c_iters"],
        config["average_only"],
        config["average_exclude"],
    ) == ("adam", 2, ["net.4.*"], ["*.bias"])
