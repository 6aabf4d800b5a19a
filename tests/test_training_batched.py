"""training.batched / training.stacked: run_many against sequential run() calls -- the same
folders and files, numbers equal to float rounding (printed), resume after a kill, the cache,
the order of the results, and the fallback for what cannot be stacked."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import torch

from swa_lib.models import build_model
from swa_lib.training import TrainConfig, run, run_many
from swa_lib.training import batched as batched_mod
from swa_lib.training.stacked import stack_state, stacked_model, unstack_state

TOL = 1e-5  # float32 rounding, amplified by a few epochs of SGD (see run_many's docstring)


def tiny(root, model: str = "cnn1d", **kw) -> TrainConfig:
    base = dict(
        dataset="mnist1d",
        model=model,
        epochs=3,
        swa_start=2,
        swa_lr=0.02,
        lr_init=0.05,
        batch_size=64,
        num_samples=400,
        data_root=str(root),
        model_kw={"width": 8} if model == "cnn1d" else {"hidden": [32, 32]},
    )
    base.update(kw)
    return TrainConfig(**base)


def max_weight_diff(a, b, name: str) -> float:
    sa = torch.load(a.path / name, weights_only=True)
    sb = torch.load(b.path / name, weights_only=True)
    assert sa.keys() == sb.keys()
    return max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa)


def max_metric_diff(a, b) -> float:
    ma, mb = a.metrics.drop(columns="epoch_time_s"), b.metrics.drop(columns="epoch_time_s")
    assert list(ma.columns) == list(mb.columns)
    pd.testing.assert_frame_equal(ma.isna(), mb.isna())  # the same epochs evaluated
    return float((ma - mb).abs().max().max())


def files(result) -> set[str]:
    return {str(p.relative_to(result.path)) for p in result.path.rglob("*") if p.is_file()}


# -- the stack ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kw", [("mlp", {}), ("mlp", {"hidden": [7]}), ("cnn1d", {"width": 4})]
)
def test_stacked_model_is_its_members(name, kw) -> None:
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        members.append(build_model(name, 10, **kw))
    stack = stacked_model(members[0], 3)
    stack.load_state_dict(stack_state([m.state_dict() for m in members]))
    for k, m in enumerate(members):  # the layout round-trips exactly
        back = unstack_state(stack.state_dict(), k, 3)
        assert all(torch.equal(back[n], t) for n, t in m.state_dict().items())
    xs = [torch.randn(5, 1, 40) for _ in members]
    out = stack(stack.stack_inputs(xs))  # train mode: BN batch statistics per member
    ref = torch.stack([m(x) for m, x in zip(members, xs)])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        stack(stack.repeat_input(xs[0])),
        torch.stack([m(xs[0]) for m in members]),
        rtol=1e-5,
        atol=1e-5,
    )
    for k, m in enumerate(members):  # and so do the running statistics it updated
        back = unstack_state(stack.state_dict(), k, 3)
        for n, t in m.state_dict().items():
            torch.testing.assert_close(back[n], t, rtol=1e-5, atol=1e-6)
    stack.eval()
    for m in members:
        m.eval()
    torch.testing.assert_close(
        stack(stack.repeat_input(xs[1])),
        torch.stack([m(xs[1]) for m in members]),
        rtol=1e-5,
        atol=1e-5,
    )


def test_stacked_model_refuses_other_models() -> None:
    with pytest.raises(ValueError, match="cannot stack a VGG"):
        stacked_model(build_model("vgg16", 10), 2)


# -- run_many against sequential runs -------------------------------------------------------------


@pytest.mark.parametrize("model", ["mlp", "cnn1d"])
def test_run_many_equals_sequential_runs(tmp_path, mnist1d_root, model) -> None:
    """Per seed: the same folder name and files, and the weights and metrics of run() to float
    rounding (the BN CNN's running statistics included); the members record different things."""
    cfgs = [
        tiny(mnist1d_root, model, seed=0),
        tiny(mnist1d_root, model, seed=1, eval_every=None, snapshots=True),
        tiny(mnist1d_root, model, seed=2, eval_every=None, eval_epochs=(2,)),
    ]
    seq = [run(c, tmp_path / "seq") for c in cfgs]
    many = run_many(cfgs, tmp_path / "many")
    for c, a, b in zip(cfgs, seq, many):
        assert b.config is c and not b.cached
        assert a.path.name == b.path.name and files(a) == files(b)
        dw = max(max_weight_diff(a, b, f) for f in ("sgd.pt", "swa.pt"))
        dm = max_metric_diff(a, b)
        print(f"{model} seed {c.seed}: max |d weights| {dw:.1e}, max |d metrics| {dm:.1e}")
        assert dw < TOL and dm < TOL
        assert a.final.keys() == b.final.keys()
    assert len(many[1].snapshot_paths()) == 2


def test_run_many_with_ema_and_sgd_baselines(tmp_path, mnist1d_root) -> None:
    cfgs = [tiny(mnist1d_root, "mlp", seed=s, swa=False, ema_decay=0.9) for s in (3, 4)]
    seq = [run(c, tmp_path / "seq") for c in cfgs]
    many = run_many(cfgs, tmp_path / "many")
    for a, b in zip(seq, many):
        dw = max(max_weight_diff(a, b, f) for f in ("sgd.pt", "ema.pt"))
        de = max(abs(a.final[k] - b.final[k]) for k in a.final if k.startswith("ema_"))
        print(f"EMA seed {a.config.seed}: max |d weights| {dw:.1e}, max |d ema metrics| {de:.1e}")
        assert dw < TOL and de < TOL and max_metric_diff(a, b) < TOL


def test_run_many_order_duplicates_and_cache(tmp_path, mnist1d_root, monkeypatch) -> None:
    c0, c1, c2 = (tiny(mnist1d_root, "mlp", seed=s, eval_every=None) for s in range(3))
    first = run(c1, tmp_path)  # cached before the call
    asked = [c2, c1, c0.replace(eval_epochs=(1,)), c0]
    stacks = []
    real = batched_mod._train_stack
    monkeypatch.setattr(
        batched_mod,
        "_train_stack",
        lambda items, progress: stacks.append(len(items)) or real(items, progress),
    )
    out = run_many(asked, tmp_path)
    assert [r.config for r in out] == asked  # in the order given, each with its own config
    assert out[1].cached and out[1].final == first.final
    assert out[2].path == out[3].path  # one run, recording the union of both requests
    evaluated = out[3].metrics.dropna(subset=["sgd_test_loss"])["epoch"].tolist()
    assert evaluated == [1, 3]
    assert stacks == [2]  # seeds 2 and 0 together; seed 1 came from the cache
    again = run_many(asked, tmp_path)
    assert all(r.cached for r in again)


class Killed(RuntimeError):
    pass


def test_killed_stack_resumes_with_run_many_or_run(tmp_path, mnist1d_root, monkeypatch) -> None:
    cfgs = [tiny(mnist1d_root, seed=s) for s in range(3)]
    whole = run_many(cfgs, tmp_path / "whole")
    real = batched_mod._checkpoint

    def kill_after_first(st, epoch):
        real(st, epoch)
        if epoch == 0:
            raise Killed

    monkeypatch.setattr(batched_mod, "_checkpoint", kill_after_first)
    with pytest.raises(Killed):
        run_many(cfgs, tmp_path / "killed")
    monkeypatch.setattr(batched_mod, "_checkpoint", real)
    assert all((tmp_path / "killed" / r.path.name / "checkpoint.pt").exists() for r in whole)
    # member 0 resumes alone with run() (its checkpoint is run()'s), the others together
    alone = run(cfgs[0], tmp_path / "killed")
    rest = run_many(cfgs, tmp_path / "killed")
    assert rest[0].cached and not rest[1].cached
    # run()'s single-model kernels from epoch 2 on: rounding, unless a ReLU input within
    # rounding of 0 flipped (then ~1e-5..1e-4 after a few steps; see run_many's docstring)
    assert max_weight_diff(alone, whole[0], "swa.pt") < 1e-3
    for a, b in zip(rest[1:], whole[1:]):  # a stack resumed is the stack uninterrupted
        assert max_weight_diff(a, b, "swa.pt") == 0.0 and max_metric_diff(a, b) == 0.0
        assert not (a.path / "checkpoint.pt").exists()


def test_unstackable_configs_fall_back_to_run_and_say_so(tmp_path, mnist1d_root, caplog) -> None:
    cfgs = [tiny(mnist1d_root, seed=s, collect_swag=True, swag_rank=2) for s in range(2)]
    with caplog.at_level(logging.WARNING, logger="swa_lib.training"):
        many = run_many(cfgs, tmp_path / "many")
    assert "train one after the other: SWAG" in caplog.text
    seq = [run(c, tmp_path / "seq") for c in cfgs]
    for a, b in zip(seq, many):
        assert max_weight_diff(a, b, "swa.pt") == 0.0  # it is run() itself
    assert (
        batched_mod.unstackable_reason(tiny(mnist1d_root, optimizer="adamw", momentum=0.0))
        == "optimizer 'adamw'"
    )
    assert batched_mod.unstackable_reason(tiny(mnist1d_root)) is None
