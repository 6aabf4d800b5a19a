"""Branches from a run's checkpoint (``swa_lib.training.from_checkpoint``) against independent
references: the run itself (a branch with the run's own schedule must *be* the run), the paper's
cyclic formula written out here, and a brute-force mean of the iterates."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

import swa_lib.training.from_checkpoint as fc
from swa_lib.training import run
from swa_lib.training.from_checkpoint import (
    BranchConfig,
    branch_curves,
    branch_run,
    branches,
    start_state,
)
from tests.training_fixtures import tiny

torch.set_num_threads(1)

METRICS = ["sgd_test_loss", "sgd_test_accuracy", "sgd_train_loss", "swa_test_loss", "swa_test_nll"]


def _same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_start_state_is_the_run(tmp_path):
    """After all epochs the prefix is the run's final iterate; a prefix resumed from an earlier
    cached one equals one trained from scratch."""
    base = tiny(tmp_path / "data", swa=False)
    ref = run(base, tmp_path / "runs", progress=False)
    full = start_state(base, base.epochs, tmp_path / "a")
    _same_weights(full["model"], ref.load_model("sgd").state_dict())
    start_state(base, 2, tmp_path / "b")  # cached, then resumed from
    resumed = start_state(base, base.epochs, tmp_path / "b")
    _same_weights(resumed["model"], full["model"])
    assert int(resumed["epoch"]) == base.epochs - 1
    with pytest.raises(ValueError, match="epoch=0 is invalid"):
        start_state(base, 0, tmp_path / "a")


@pytest.mark.parametrize(
    "schedule",
    [
        dict(swa_lr=0.05),  # = lr_init: the run's rate is constant from its first epoch
        dict(swa_lr=0.01, swa_lr_schedule="cyclic", swa_lr_max=0.05),
    ],
    ids=["constant", "cyclic"],
)
def test_branch_with_the_runs_schedule_is_the_run(tmp_path, schedule):
    """From the state before the first averaged epoch, the run's own SWA phase (one-epoch
    cycles, averaging every epoch, the run's RNG streams) reproduces the run exactly."""
    base = tiny(tmp_path / "data", **schedule)
    ref = run(base, tmp_path / "runs", progress=False)
    k = base.swa_start - 1
    b = branch_run(BranchConfig(base, k, base.epochs - k, **schedule), tmp_path / "runs")
    mine = b.metrics.set_index("epoch").loc[base.swa_start :, METRICS]
    theirs = ref.metrics.set_index("epoch").loc[base.swa_start :, METRICS]
    assert mine.to_numpy().tolist() == theirs.to_numpy().tolist()
    _same_weights(b.load_model("swa").state_dict(), ref.load_model("swa").state_dict())
    _same_weights(b.load_model("sgd").state_dict(), ref.load_model("sgd").state_dict())
    assert b.final["swa_n"] == ref.final["swa_n"]
    # row 0 is the start: the run's iterate after k epochs, before any averaging
    assert b.metrics.loc[0, "epoch"] == k and b.metrics.loc[0, "swa_n"] == 0


def test_cyclic_rates_step_by_step(tmp_path, monkeypatch):
    """Every applied rate is paper Eq. 2 written out here, in float64, over two-epoch cycles;
    the iterate is averaged at each cycle's end only."""
    base = tiny(tmp_path / "data", swa=False)
    seen: list[float] = []
    real = fc.train_epoch

    def recording(model, optimizer, batches, *, lr_at, **kw):
        def lr(i):
            seen.append(lr_at(i))
            return seen[-1]

        return real(model, optimizer, batches, lr_at=lr, **kw)

    monkeypatch.setattr(fc, "train_epoch", recording)
    cfg = BranchConfig(
        base, 2, 4, swa_lr=1e-3, swa_lr_schedule="cyclic", swa_lr_max=0.04, swa_c_epochs=2
    )
    b = branch_run(cfg, tmp_path / "runs")
    ipe = -(-b.final["n_train"] // base.batch_size)
    cycle = 2 * ipe
    expected = []
    for i in range(1, 4 * ipe + 1):
        t = ((i - 1) % cycle + 1) / cycle
        expected.append((1 - t) * 0.04 + t * 1e-3)
    assert len(seen) == len(expected)
    assert seen == pytest.approx(expected, rel=1e-12, abs=0)
    assert seen[cycle - 1] == pytest.approx(1e-3, rel=1e-12)  # a cycle ends at alpha_2
    assert b.metrics["swa_n"].tolist() == [0, 0, 1, 1, 2]


def test_average_is_the_mean_of_the_iterates(tmp_path):
    """The SWA model of a 3-epoch branch is the float64 mean of the last iterates of the 1-, 2-
    and 3-epoch branches (a constant rate: their paths agree epoch by epoch)."""
    base = tiny(tmp_path / "data", swa=False)
    kw = dict(swa_lr=0.03, keep_optimizer=False)
    iterates = [
        branch_run(BranchConfig(base, 3, n, **kw), tmp_path / "runs").load_model("sgd")
        for n in (1, 2, 3)
    ]
    avg = branch_run(BranchConfig(base, 3, 3, **kw), tmp_path / "runs").load_model("swa")
    for name, p in avg.named_parameters():
        ref = torch.stack([dict(m.named_parameters())[name].double() for m in iterates]).mean(0)
        torch.testing.assert_close(p.double(), ref, rtol=0, atol=1e-6)


def test_fresh_optimizer_and_seed_change_the_path(tmp_path):
    """``keep_optimizer=False`` drops the momentum buffers, ``seed`` reseeds the data order:
    each gives another path from the same start (same start row)."""
    base = tiny(tmp_path / "data", swa=False)
    runs = tmp_path / "runs"
    kept = branch_run(BranchConfig(base, 2, 2, swa_lr=0.02), runs)
    fresh = branch_run(BranchConfig(base, 2, 2, swa_lr=0.02, keep_optimizer=False), runs)
    reseeded = branch_run(BranchConfig(base, 2, 2, swa_lr=0.02, seed=5), runs)
    for other in (fresh, reseeded):
        assert (
            other.metrics.loc[0, METRICS[:3]].tolist() == kept.metrics.loc[0, METRICS[:3]].tolist()
        )
        assert other.final["sgd_test_loss"] != kept.final["sgd_test_loss"]


def test_cache_and_stale_final(tmp_path):
    base = tiny(tmp_path / "data", swa=False)
    cfg = BranchConfig(base, 2, 2, swa_lr=0.02)
    first = branch_run(cfg, tmp_path / "runs")
    again = branch_run(cfg, tmp_path / "runs")
    assert again.cached and not first.cached
    assert again.final == json.loads((first.path / "final.json").read_text())
    final = json.loads((first.path / "final.json").read_text())
    final["key"] = "something-else"
    (first.path / "final.json").write_text(json.dumps(final))
    with pytest.raises(ValueError, match="belongs to another branch"):
        branch_run(cfg, tmp_path / "runs")


def test_killed_branch_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    base = tiny(tmp_path / "data", swa=False)
    cfg = BranchConfig(base, 2, 3, swa_lr=0.02)
    ref = branch_run(cfg, tmp_path / "ref")
    real = fc._branch_epoch

    def killed(state, epoch):
        real(state, epoch)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(fc, "_branch_epoch", killed)
    with pytest.raises(KeyboardInterrupt):
        branch_run(cfg, tmp_path / "runs")
    monkeypatch.setattr(fc, "_branch_epoch", real)
    resumed = branch_run(cfg, tmp_path / "runs")
    pd.testing.assert_frame_equal(resumed.metrics[METRICS], ref.metrics[METRICS], check_exact=True)


def test_branches_and_curves(tmp_path):
    base = tiny(tmp_path / "data", swa=False)
    res = branches(base, [0, 1], 2, 2, {"a": {"swa_lr": 0.02}, "b": {"swa_lr": 0.01}}, tmp_path)
    df = branch_curves(res)
    assert sorted(set(df["schedule"])) == ["a", "b"] and sorted(set(df["seed"])) == [0, 1]
    assert len(df) == 2 * 2 * 3  # start row + 2 epochs per branch
    with pytest.raises(ValueError, match="schedules is empty"):
        branches(base, [0], 2, 2, {}, tmp_path)


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(start_epoch=9), "start_epoch"),
        (dict(start_epoch=0), "start_epoch"),
        (dict(epochs=0), "epochs"),
        (dict(swa_c_epochs=5), "swa_c_epochs"),
        (dict(swa_lr_schedule="cosine"), "swa_lr_schedule"),
        (dict(swa_lr_schedule="cyclic"), "swa_lr_max"),
        (dict(swa_lr_schedule="cyclic", swa_lr_max=0.01), "swa_lr_max"),
        (dict(swa_lr=-1.0), "swa_lr"),
        (dict(momentum=1.5), "momentum"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_fields_are_named(tmp_path, changes, field):
    base = tiny(tmp_path / "data", swa=False)
    kw = dict(start_epoch=2, epochs=2, swa_lr=0.02) | changes
    with pytest.raises(ValueError, match=rf"BranchConfig\.{field}="):
        BranchConfig(base, **kw)
