"""The course project's protocol (training.course_project): its BN update, its accuracy, its run."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from swa_lib.averaging import update_bn
from swa_lib.training.course_project import (
    BN_MODES,
    CourseConfig,
    cosine_lr,
    course_project_run,
    course_protocol,
    paper_protocol,
    per_batch_accuracy,
    update_bn_no_reset,
)


def _bn_with_stale_stats() -> nn.BatchNorm1d:
    bn = nn.BatchNorm1d(2)  # momentum 0.1
    bn.running_mean.copy_(torch.tensor([5.0, -5.0]))
    bn.running_var.copy_(torch.tensor([9.0, 9.0]))
    return bn.eval()


def test_bn_no_reset_is_an_exponential_average_of_the_stale_stats():
    x1 = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])  # 3 samples, means (2, 3)
    x2 = torch.tensor([[10.0, 20.0]])  # 1 sample, mean (10, 20)
    # a BN sees a single-sample batch in train mode only if it has more than one value per
    # channel, so feed (N, C, L) with L = 2 identical positions
    batches = [x1[:, :, None].repeat(1, 1, 2), x2[:, :, None].repeat(1, 1, 2)]

    course = nn.Sequential(_bn_with_stale_stats()).eval()
    update_bn_no_reset(course, batches)
    m = 0.1
    stale = torch.tensor([5.0, -5.0])
    expected = (1 - m) * ((1 - m) * stale + m * torch.tensor([2.0, 3.0])) + m * torch.tensor(
        [10.0, 20.0]
    )
    torch.testing.assert_close(course[0].running_mean, expected)
    assert not course.training and course[0].momentum == m  # mode and momentum untouched

    exact = nn.Sequential(_bn_with_stale_stats()).eval()
    update_bn(exact, batches)
    # the exact sample mean over the 4 samples, independent of the stale statistics
    torch.testing.assert_close(exact[0].running_mean, torch.tensor([4.0, 7.25]))
    assert not torch.allclose(course[0].running_mean, exact[0].running_mean, atol=0.5)


def test_bn_no_reset_without_bn_returns_at_once():
    lin = nn.Linear(2, 2)
    assert update_bn_no_reset(lin, iter(())) is lin


class _Identity(nn.Module):
    def forward(self, x):
        return x


def test_per_batch_accuracy_differs_from_exact_with_unequal_batches():
    # logits whose arg-max is the first class; labels make batch 1 (4 samples) 50 % correct
    # and batch 2 (1 sample) 100 % correct
    x = torch.tensor([[1.0, 0.0]] * 5)
    y = torch.tensor([0, 0, 1, 1, 0])
    model = _Identity().train()
    assert per_batch_accuracy(model, x, y, batch_size=4) == pytest.approx(0.75)
    assert (x.argmax(1) == y).double().mean().item() == pytest.approx(0.6)
    assert per_batch_accuracy(model, x, y, batch_size=5) == pytest.approx(0.6)  # one batch
    assert model.training  # mode restored
    with pytest.raises(ValueError, match="batch_size"):
        per_batch_accuracy(model, x, y, batch_size=0)


def test_schedules():
    assert cosine_lr(0, 10, lr_max=1e-2, lr_min=1e-3) == pytest.approx(1e-2)
    assert cosine_lr(10, 10, lr_max=1e-2, lr_min=1e-3) == pytest.approx(1e-3)
    assert cosine_lr(5, 10, lr_max=1e-2, lr_min=1e-3) == pytest.approx(5.5e-3)
    cfg = CourseConfig(**course_protocol())
    ipe = 4
    lrs = [cfg.swa_learning_rate(e, i, ipe) for e in range(12) for i in range(ipe)]
    # each 3-epoch cycle ends exactly at swa_lr, where a snapshot is taken
    for e in (2, 5, 8, 11):
        assert lrs[(e + 1) * ipe - 1] == pytest.approx(1e-4)
    assert max(lrs) < 1e-3 and lrs[0] == pytest.approx(1e-3 - (1e-3 - 1e-4) / 12)
    assert [e for e in range(12) if cfg.snapshot_after(e)] == [2, 5, 8, 11]
    assert cfg.n_snapshots == 4
    paper = CourseConfig(**paper_protocol())
    assert paper.n_snapshots == 12 and paper.swa_learning_rate(3, 1, ipe) == 0.05
    assert paper.pretrain_key() == cfg.pretrain_key() and paper.key() != cfg.key()


@pytest.mark.parametrize(
    "changes, name",
    [
        ({"model": "resnet"}, "model"),
        ({"swa_momentum": 1.0}, "swa_momentum"),
        ({"swa_lr": 0.0}, "swa_lr"),
        ({"swa_c_epochs": 13}, "swa_c_epochs"),
        ({"swa_lr_schedule": "cosine"}, "swa_lr_schedule"),
        ({"swa_lr_max": 1e-5}, "swa_lr_max"),
        ({"pretrain_epochs": 0}, "pretrain_epochs"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_config_errors_name_the_field(changes, name):
    with pytest.raises(ValueError, match=rf"CourseConfig\.{name}\b"):
        CourseConfig(**{**course_protocol(), **changes})


def _tiny(root, **kw) -> CourseConfig:
    base = course_protocol(
        model_kw={"width": 4},
        num_samples=200,
        batch_size=32,
        eval_batch_size=32,
        pretrain_epochs=1,
        data_root=str(root),
        save_snapshots=True,
    )
    base.update(kw)
    return CourseConfig(**base)


def test_run_averages_four_snapshots_caches_and_shares_pretraining(tmp_path, mnist1d_root):
    runs = tmp_path / "runs"
    res = course_project_run(_tiny(mnist1d_root), runs)
    assert res.final["swa_n"] == 4 and res.final["snapshot_epochs"] == [3, 6, 9, 12]
    snaps = [torch.load(p) for p in res.snapshot_paths()]
    assert len(snaps) == 4
    swa = torch.load(res.path / "swa.pt")
    for name, _ in res.load_model("swa").named_parameters():
        mean = torch.stack([s[name] for s in snaps]).mean(0)
        torch.testing.assert_close(swa[name], mean, rtol=1e-6, atol=1e-7)
    # every model is evaluated under every evaluation choice
    table = res.table()
    assert list(table.index) == ["pretrained", "last"] + [f"swa_{m}" for m in BN_MODES]
    assert (
        table.notna().all().all()
        and ((table["test_accuracy"] >= 0) & (table["test_accuracy"] <= 1)).all()
    )
    # 40 test samples in batches of 32: 32 + 8, so the two accuracies may differ; exact agrees
    # with a direct evaluation of the saved model
    model = res.load_model("swa").eval()
    ds_x, ds_y = _test_split(mnist1d_root)
    acc = (model(ds_x).argmax(1) == ds_y).double().mean().item()
    assert res.final["swa_exact"]["test_accuracy"] == pytest.approx(acc)

    again = course_project_run(_tiny(mnist1d_root), runs)
    assert again.cached and again.final == res.final
    # the paper protocol reuses the cached pre-training (one pre-training folder) and starts
    # from the same pre-trained model
    paper = course_project_run(_tiny(mnist1d_root, **paper_protocol(swa_epochs=3)), runs)
    assert len(list(runs.glob("course-pretrain-*"))) == 1
    assert paper.final["pretrained"] == res.final["pretrained"] and paper.final["swa_n"] == 3


def test_run_is_deterministic_with_or_without_cached_pretraining(tmp_path, mnist1d_root):
    cfg = _tiny(mnist1d_root, swa_epochs=3, swa_c_epochs=3, save_snapshots=False)
    a = course_project_run(cfg, tmp_path / "a")
    # a second config first (so the pre-training is cached), then the same one in a fresh dir
    course_project_run(cfg.replace(swa_momentum=0.5), tmp_path / "b")
    b = course_project_run(cfg, tmp_path / "b")
    assert not b.cached
    for k in ("pretrained", "last", "swa_exact", "swa_no_reset", "swa_stale"):
        assert a.final[k] == b.final[k]


def _test_split(root):
    from swa_lib.data import load_dataset

    ds = load_dataset("mnist1d", root, num_samples=200, augment=False)
    return ds.x_test, ds.y_test


class Killed(RuntimeError):
    pass


@pytest.mark.parametrize(
    "phase, epoch, next_epoch",
    [("pretrain", 0, ("pretrain", 1)), ("pretrain", 1, ("swa", 0)), ("swa", 3, ("swa", 4))],
)
def test_killed_run_resumes_to_identical_result(tmp_path, mnist1d_root, phase, epoch, next_epoch):
    cfg = _tiny(mnist1d_root, pretrain_epochs=2, swa_epochs=6, save_snapshots=False)
    full = course_project_run(cfg, tmp_path / "full")

    def kill(p, e):
        if (p, e) == (phase, epoch):
            raise Killed

    with pytest.raises(Killed):
        course_project_run(cfg, tmp_path / "killed", callback=kill)
    assert list((tmp_path / "killed").glob("*/checkpoint.pt"))
    seen = []
    resumed = course_project_run(
        cfg, tmp_path / "killed", callback=lambda p, e: seen.append((p, e))
    )
    done = epoch + 1 + (cfg.pretrain_epochs if phase == "swa" else 0)
    assert seen[0] == next_epoch and len(seen) == cfg.n_epochs - done  # no epoch trained twice
    times = ("wall_time_s", "pretrain_wall_time_s")
    assert {k: v for k, v in resumed.final.items() if k not in times} == {
        k: v for k, v in full.final.items() if k not in times
    }
    for name in ("sgd", "swa"):
        a, b = torch.load(resumed.path / f"{name}.pt"), torch.load(full.path / f"{name}.pt")
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert not list((tmp_path / "killed").glob("*/checkpoint.pt"))


def test_cached_run_loads_nothing_and_trains_with_train_epoch(tmp_path, mnist1d_root, monkeypatch):
    from swa_lib.training import course_project as cp
    from swa_lib.training import runs as runs_mod

    cfg = _tiny(mnist1d_root, pretrain_epochs=2, swa_epochs=3, save_snapshots=False)
    calls = []
    real = cp.train_epoch
    monkeypatch.setattr(
        cp, "train_epoch", lambda *a, **k: calls.append(type(a[1]).__name__) or real(*a, **k)
    )
    first = course_project_run(cfg, tmp_path)
    assert calls == ["AdamW", "AdamW", "SGD", "SGD", "SGD"]  # both phases, one call per epoch

    def boom(*a, **k):
        raise AssertionError("a cached run must not load data or train")

    monkeypatch.setattr(runs_mod, "load_dataset", boom)
    monkeypatch.setattr(cp, "train_epoch", boom)
    again = course_project_run(cfg, tmp_path)
    assert again.cached and again.final == first.final
    # what it saved loads with weights_only=True, as RunResult's files do
    for file in [
        again.path / "sgd.pt",
        again.path / "swa.pt",
        *tmp_path.glob("course-pretrain-*/model.pt"),
    ]:
        torch.load(file, weights_only=True)


def test_batch_size_larger_than_train_set_is_rejected(tmp_path, mnist1d_root):
    with pytest.raises(
        ValueError,
        match=r"CourseConfig\.batch_size=1000 is larger than the "
        r"training set",
    ):
        course_project_run(_tiny(mnist1d_root, batch_size=1000), tmp_path)
