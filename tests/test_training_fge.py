"""Fast Geometric Ensembling: the schedule, the config, the run (cache, kill and resume), the
ensemble's probabilities, the SWA of the snapshots, and the prediction-space comparison."""

from __future__ import annotations

import copy
import importlib
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from swa_lib.data import iterate_batches
from swa_lib.io import load_torch
from swa_lib.training import TrainConfig, run
from swa_lib.training.fge import (
    FGEConfig,
    average_models,
    compare_predictions,
    fge_dir_for,
    fge_lr,
    predict_ensemble,
    run_fge,
)


def reference_cyclic_learning_rate(epoch, cycle, alpha_1, alpha_2):
    """``utils.cyclic_learning_rate`` of timgaripov/dnn-mode-connectivity (lines 18-25), copied
    as the independent reference; its ``train`` calls it with ``iter / num_iters``."""

    def schedule(iter):  # the reference's name
        t = ((epoch % cycle) + iter) / cycle
        if t < 0.5:
            return alpha_1 * (1.0 - 2.0 * t) + alpha_2 * 2.0 * t
        return alpha_1 * (2.0 * t - 1.0) + alpha_2 * (2.0 - 2.0 * t)

    return schedule


# -- the schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize("cycle", [2, 4])
def test_fge_lr_at_quarter_points_of_the_cycle(cycle) -> None:
    lr_1, lr_2 = 0.05, 0.001
    for k in range(3):  # three consecutive cycles
        start = k * cycle
        assert fge_lr(start, lr_1=lr_1, lr_2=lr_2, cycle=cycle) == pytest.approx(lr_1)
        assert fge_lr(start + 0.25 * cycle, lr_1=lr_1, lr_2=lr_2, cycle=cycle) == pytest.approx(
            (lr_1 + lr_2) / 2
        )
        assert fge_lr(start + 0.5 * cycle, lr_1=lr_1, lr_2=lr_2, cycle=cycle) == pytest.approx(lr_2)
        assert fge_lr(start + 0.75 * cycle, lr_1=lr_1, lr_2=lr_2, cycle=cycle) == pytest.approx(
            (lr_1 + lr_2) / 2
        )


def test_fge_lr_inside_an_epoch_matches_the_reference() -> None:
    lr_1, lr_2, cycle, n_iters = 0.05, 0.01, 4, 40
    for epoch in range(9):
        ref = reference_cyclic_learning_rate(epoch, cycle, lr_1, lr_2)
        for it in range(n_iters):
            ours = fge_lr(epoch + it / n_iters, lr_1=lr_1, lr_2=lr_2, cycle=cycle)
            assert ours == pytest.approx(ref(it / n_iters), rel=1e-12, abs=1e-15)
    # a point inside an epoch, by hand: epoch 5 + 0.3 of cycle 4 -> t = 1.3 / 4 = 0.325 < 0.5
    t = 1.3 / 4
    assert fge_lr(5.3, lr_1=lr_1, lr_2=lr_2, cycle=4) == pytest.approx(
        (1 - 2 * t) * lr_1 + 2 * t * lr_2
    )


@pytest.mark.parametrize("kw", [dict(cycle=0), dict(cycle=-2), dict(epoch=-0.5)])
def test_fge_lr_rejects_bad_arguments(kw) -> None:
    args = dict(epoch=1.0, lr_1=0.1, lr_2=0.01, cycle=2)
    args.update(kw)
    epoch = args.pop("epoch")
    with pytest.raises(ValueError, match=next(iter(kw))):
        fge_lr(epoch, **args)


# -- the configuration -------------------------------------------------------------------------


def tiny_pre(root, **kw) -> TrainConfig:
    base = dict(
        dataset="mnist1d",
        model="mlp",
        epochs=3,
        swa=True,
        swa_start=2,
        swa_lr=0.05,
        lr_init=0.05,
        batch_size=64,
        num_samples=300,
        data_root=str(root),
        model_kw={"hidden": [32]},
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"cycle": 3}, "cycle"),
        ({"cycle": 0}, "cycle"),
        ({"epochs": 0}, "epochs"),
        ({"cycle": 4, "epochs": 1}, "epochs"),
        ({"lr_1": 0.0}, "lr_1"),
        ({"lr_2": float("nan")}, "lr_2"),
        ({"momentum": 1.0}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"batch_size": 0}, "batch_size"),
        ({"which": "ema"}, "which"),
        ({"device": "tpu"}, "device"),
        ({"checkpoint_every": 0}, "checkpoint_every"),
        ({"pretrained": "not a config"}, "pretrained"),
    ],
)
def test_config_errors_name_the_field(tmp_path, changes, field) -> None:
    kw = dict(pretrained=tiny_pre(tmp_path))
    kw.update(changes)
    with pytest.raises(ValueError, match=rf"FGEConfig\.{field}\b"):
        FGEConfig(**kw)


def test_which_swa_needs_an_swa_run(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"FGEConfig\.which"):
        FGEConfig(tiny_pre(tmp_path, swa=False), which="swa")


def test_config_defaults_come_from_the_pretrained_run(tmp_path) -> None:
    pre = tiny_pre(tmp_path, momentum=0.8, weight_decay=1e-3, batch_size=32, seed=7)
    c = FGEConfig(pre)
    assert (c.momentum, c.weight_decay, c.batch_size, c.seed, c.device) == (0.8, 1e-3, 32, 7, "cpu")
    assert FGEConfig.from_dict(c.to_dict()) == c
    assert c.budget_epochs() == pre.epochs + c.epochs


def test_key_follows_what_changes_the_numbers(tmp_path) -> None:
    c = FGEConfig(tiny_pre(tmp_path))
    assert c.key() == FGEConfig(tiny_pre(tmp_path)).key()
    assert c.key() == c.replace(checkpoint_every=3).key()
    assert c.key() != c.replace(lr_2=0.02).key()
    assert c.key() != c.replace(cycle=4).key()
    assert c.key() != FGEConfig(tiny_pre(tmp_path, seed=1)).key()  # another pretrained run


def test_snapshot_epochs_are_the_middle_of_each_cycle(tmp_path) -> None:
    pre = tiny_pre(tmp_path)
    # the reference (fge.py line 105): after 0-based epoch e when e % cycle + 1 == cycle // 2
    for cycle, epochs in ((2, 7), (4, 10), (6, 12)):
        c = FGEConfig(pre, cycle=cycle, epochs=epochs)
        expected = [e + 1 for e in range(epochs) if (e % cycle + 1) == cycle // 2]
        assert c.snapshot_epochs() == expected
        # ... where the rate of the epoch's last step is close to lr_2 (t -> 1/2 from below)
        iters = 10
        for e1 in expected:
            t = ((e1 - 1) % cycle + (iters - 1) / iters) / cycle
            assert t < 0.5 and 0.5 - t <= 1 / (iters * cycle) + 1e-12
    assert FGEConfig(pre, cycle=2, epochs=6).snapshot_epochs() == [1, 3, 5]
    assert FGEConfig(pre, cycle=4, epochs=8).snapshot_epochs() == [2, 6]


# -- ensembles, averages, comparisons ----------------------------------------------------------


class _BNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(5, 8)
        self.bn = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


def _bn_models(k: int) -> list[nn.Module]:
    models = []
    for i in range(k):
        torch.manual_seed(i)
        m = _BNNet()
        m.train()
        with torch.no_grad():  # give every model its own BN statistics
            for _ in range(3):
                m(torch.randn(16, 5) * (i + 1) + i)
        models.append(m)
    return models


def test_predict_ensemble_equals_a_brute_force_loop() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(53, 5), torch.randint(0, 3, (53,))
    models = _bn_models(3)
    models[1].eval()  # a mixed starting state: modes must come back as they were
    modes = [m.training for m in models]
    # a generator (one pass serves all models) with an uneven last batch
    probs = predict_ensemble(models, iterate_batches(x, y, 10, shuffle=False))
    assert probs.shape == (53, 3)
    assert [m.training for m in models] == modes
    # brute force: every example alone, every model in eval mode with its own BN statistics
    expected = np.zeros((53, 3))
    for i in range(53):
        for m in models:
            mm = copy.deepcopy(m).eval()
            with torch.no_grad():
                expected[i] += F.softmax(mm(x[i : i + 1]).double(), dim=1).numpy()[0] / 3
    np.testing.assert_allclose(probs.numpy(), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(probs.sum(1).numpy(), 1.0, atol=1e-6)
    # inputs alone work as batches too, and one model is its own softmax
    alone = predict_ensemble(models[:1], [x[:20], x[20:]])
    with torch.no_grad():
        np.testing.assert_allclose(
            alone.numpy(),
            F.softmax(copy.deepcopy(models[0]).eval()(x), 1).numpy(),
            rtol=1e-6,
            atol=1e-7,
        )


def test_predict_ensemble_rejects_empty_input() -> None:
    with pytest.raises(ValueError, match="models"):
        predict_ensemble([], [torch.zeros(2, 5)])
    with pytest.raises(ValueError, match="batches"):
        predict_ensemble(_bn_models(1), [])


def test_average_models_is_the_mean_of_weights_with_bn_recomputed() -> None:
    models = _bn_models(3)
    torch.manual_seed(5)
    x = torch.randn(40, 5)
    avg = average_models(models, [x[:25], x[25:]])
    for name, p in avg.named_parameters():
        mean = sum(dict(m.named_parameters())[name].detach() for m in models) / 3
        torch.testing.assert_close(p.detach(), mean, rtol=1e-6, atol=1e-7)
    # BN statistics: the exact mean / unbiased-per-batch variance of the average's features
    with torch.no_grad():
        h = avg.fc1(x)
    torch.testing.assert_close(avg.bn.running_mean, h.mean(0), rtol=1e-5, atol=1e-6)
    var = (25 * h[:25].var(0, unbiased=True) + 15 * h[25:].var(0, unbiased=True)) / 40
    torch.testing.assert_close(avg.bn.running_var, var, rtol=1e-5, atol=1e-6)
    assert all(m is not avg for m in models)


def test_compare_predictions_against_numpy() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=30)
    q = rng.dirichlet(np.ones(4), size=30)
    p[0] = [1.0, 0.0, 0.0, 0.0]  # a zero probability adds nothing to KL(p || q)
    out = compare_predictions(torch.tensor(p), torch.tensor(q, dtype=torch.float32))
    kl = np.mean(
        [sum(pi * math.log(pi / qi) for pi, qi in zip(a, b) if pi > 0) for a, b in zip(p, q)]
    )
    assert out["kl"] == pytest.approx(kl, rel=1e-6)
    assert out["agreement"] == pytest.approx(np.mean(p.argmax(1) == q.argmax(1)))
    same = compare_predictions(torch.tensor(p), torch.tensor(p))
    assert same["kl"] == pytest.approx(0.0, abs=1e-12) and same["agreement"] == 1.0
    with pytest.raises(ValueError, match="reference and other"):
        compare_predictions(torch.tensor(p), torch.tensor(p[:5]))


# -- the run -------------------------------------------------------------------------------------


def _fge(root, **kw) -> FGEConfig:
    args = dict(pretrained=tiny_pre(root), epochs=6, cycle=2, lr_1=0.05, lr_2=0.01)
    args.update(kw)
    return FGEConfig(**args)


def _states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_run_fge_saves_snapshots_ensemble_and_swa(tmp_path, mnist1d_root) -> None:
    cfg = _fge(mnist1d_root)
    res = run_fge(cfg, tmp_path / "runs")
    assert not res.cached and res.path == fge_dir_for(cfg, tmp_path / "runs")
    assert [int(p.stem.split("_")[1]) for p in res.snapshot_paths()] == [1, 3, 5]
    assert res.final["n_snapshots"] == 3 and res.final["budget_epochs"] == 3 + 6
    m = res.metrics
    assert list(m["snapshot"]) == [True, False] * 3
    # logged rates follow the schedule: first step at lr_1, last step near lr_2 in odd epochs
    iters = math.ceil(res.final["n_train"] / cfg.batch_size)
    for _, row in m.iterrows():
        e = int(row["epoch"]) - 1
        assert row["lr"] == pytest.approx(fge_lr(e, lr_1=0.05, lr_2=0.01, cycle=2))
        assert row["lr_last"] == pytest.approx(
            fge_lr(e + (iters - 1) / iters, lr_1=0.05, lr_2=0.01, cycle=2)
        )
    # the ensemble from the saved snapshots, recomputed independently
    snaps = res.load_snapshots()
    pre = run(cfg.pretrained, tmp_path / "runs")
    ds = pre.dataset()
    probs = predict_ensemble(snaps, iterate_batches(ds.x_test, ds.y_test, 97, shuffle=False))
    acc = (probs.argmax(1) == ds.y_test).double().mean().item()
    assert res.final["fge_test_accuracy"] == pytest.approx(acc)
    assert res.metrics["ens_test_accuracy"].dropna().iloc[-1] == pytest.approx(acc)
    nll = -probs.double().gather(1, ds.y_test.view(-1, 1)).clamp_min(1e-12).log().mean().item()
    assert res.final["fge_test_nll"] == pytest.approx(nll, rel=1e-5)
    # the SWA by-product is the mean of the snapshots' weights
    swa = res.load_model("swa")
    for name, p in swa.named_parameters():
        mean = sum(dict(s.named_parameters())[name].detach() for s in snaps) / len(snaps)
        torch.testing.assert_close(p.detach(), mean, rtol=1e-6, atol=1e-7)
    # the first snapshot moved away from the pretrained weights
    start = pre.load_model("sgd")
    assert not torch.equal(next(snaps[0].parameters()), next(start.parameters()))
    again = run_fge(cfg, tmp_path / "runs")
    assert again.cached and again.final == res.final


@pytest.mark.parametrize("kill_after", [1, 2])  # a cycle's end, and just after a mid-cycle snapshot
def test_killed_fge_run_resumes_to_the_same_snapshots(tmp_path, mnist1d_root, kill_after) -> None:
    cfg = _fge(
        mnist1d_root, pretrained=tiny_pre(mnist1d_root, model="cnn1d", model_kw={"width": 4})
    )  # BatchNorm: running statistics must resume too
    full = run_fge(cfg, tmp_path / "a")

    class Kill(Exception):
        pass

    def stop(epoch, row):
        if epoch == kill_after:
            raise Kill

    with pytest.raises(Kill):
        run_fge(cfg, tmp_path / "b", callback=stop)
    folder = fge_dir_for(cfg, tmp_path / "b")
    assert (folder / "checkpoint.pt").exists() and not (folder / "final.json").exists()
    resumed = run_fge(cfg, tmp_path / "b")
    assert not resumed.cached
    assert [p.name for p in resumed.snapshot_paths()] == [p.name for p in full.snapshot_paths()]
    for a, b in zip(full.snapshot_paths(), resumed.snapshot_paths()):
        _states_equal(load_torch(a), load_torch(b))
    _states_equal(load_torch(full.path / "swa.pt"), load_torch(resumed.path / "swa.pt"))
    _states_equal(load_torch(full.path / "last.pt"), load_torch(resumed.path / "last.pt"))
    drop = ["epoch_time_s"]
    pd.testing.assert_frame_equal(
        full.metrics.drop(columns=drop), resumed.metrics.drop(columns=drop), check_exact=True
    )
    for k, v in full.final.items():
        if k != "wall_time_s":
            assert resumed.final[k] == v, k


def test_checkpoint_of_another_config_is_refused(tmp_path, mnist1d_root) -> None:
    cfg = _fge(mnist1d_root)
    folder = fge_dir_for(cfg, tmp_path)
    run(cfg.pretrained, tmp_path)
    folder.mkdir(parents=True)
    torch.save({"key": "someone-else"}, folder / "checkpoint.pt")
    with pytest.raises(ValueError, match="does not belong"):
        run_fge(cfg, tmp_path)


def test_old_import_path_is_the_same_module() -> None:
    old = importlib.import_module("swa_lib.fge")
    new = importlib.import_module("swa_lib.training.fge")
    assert old is new
