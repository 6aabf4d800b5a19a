"""The stale-BatchNorm guard: an empty average refuses to run; stale statistics warn once; the
library's own paths (training, FGE) never trigger it."""

from __future__ import annotations

import copy
import io
import pickle
import warnings

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from swa_lib.averaging import EMA, SWA, update_bn

STALE = r"update_bn"


def bn_net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))


def trained_pair(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """Two models with different weights and BN statistics (two points of a trajectory)."""
    torch.manual_seed(seed)
    a = bn_net()
    b = copy.deepcopy(a)
    with torch.no_grad():
        for m, shift in ((a, 0.0), (b, 1.5)):
            for p in m.parameters():
                p.add_(torch.randn_like(p) * 0.5 + shift)
            m.train()(torch.randn(64, 3) * 3 + 2)  # running stats of its own weights
    return a, b


def batches() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return [torch.randn(32, 3, generator=g) * 3 + 2 for _ in range(4)]


def recorded(fn) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [w for w in caught if "update_bn" in str(w.message)]


def test_stale_statistics_warn_once_in_eval_mode() -> None:
    a, b = trained_pair()
    swa = SWA(a)
    swa.update(a)
    swa.update(b)
    x = torch.randn(8, 3)
    assert swa.bn_stale and not swa.module.training
    first = recorded(lambda: swa.module(x))
    assert len(first) == 1 and issubclass(first[0].category, UserWarning)
    assert recorded(lambda: swa(x)) == []  # once per average
    # the warning is about something real: the stale output is not the recomputed one
    stale_out = swa.module(x)
    update_bn(swa.module, batches())
    assert not swa.bn_stale
    assert (swa.module(x) - stale_out).abs().max() > 1e-2


def test_train_mode_forwards_use_batch_statistics_and_count_as_a_recompute() -> None:
    a, b = trained_pair(6)
    swa = SWA(a)
    swa.update(b)
    swa.module.train()
    assert recorded(lambda: [swa.module(x) for x in batches()]) == []
    assert not swa.bn_stale  # the old-style recompute (a train-mode pass) is one
    assert recorded(lambda: swa.module.eval()(torch.randn(2, 3))) == []


def test_no_warning_after_update_bn_and_torch_never_warns() -> None:
    a, b = trained_pair(1)
    swa = SWA(a)
    swa.update(a)
    swa.update(b)
    update_bn(swa.module, batches())
    assert recorded(lambda: swa.module.eval()(torch.randn(4, 3))) == []
    ref = AveragedModel(a)  # the reference: stale statistics, evaluated without a word
    ref.update_parameters(a)
    ref.update_parameters(b)
    assert recorded(lambda: ref.eval()(torch.randn(4, 3))) == []


def test_an_average_without_update_refuses_to_run() -> None:
    for average in (SWA(bn_net()), EMA(bn_net(), 0.9), SWA(nn.Linear(3, 2))):
        with pytest.raises(RuntimeError, match=r"no update\(\).*n_averaged == 0"):
            average.module(torch.randn(2, 3))
        if any(isinstance(m, nn.BatchNorm1d) for m in average.module.modules()):
            with pytest.raises(RuntimeError, match="n_averaged == 0"):
                update_bn(average.module, batches())
    # torch's AveragedModel happily evaluates the weights it was built with
    AveragedModel(bn_net()).eval()(torch.randn(2, 3))


def test_no_warning_without_bn_or_with_averaged_buffers_or_after_load() -> None:
    swa = SWA(nn.Sequential(nn.Linear(3, 2)))
    swa.update(swa.module.__class__(nn.Linear(3, 2)))
    assert recorded(lambda: swa.module.eval()(torch.randn(2, 3))) == []
    a, b = trained_pair(2)
    both = SWA(a, use_buffers=True)
    both.update(a)
    both.update(b)
    assert not both.bn_stale
    assert recorded(lambda: both.module.eval()(torch.randn(2, 3))) == []
    # the flag travels with the state: stale stays stale, recomputed stays fresh
    stale = SWA(a)
    stale.update(b)
    again = SWA(bn_net())
    again.load_state_dict(torch.load(_saved(stale.state_dict()), weights_only=True))
    assert again.bn_stale and len(recorded(lambda: again.module.eval()(torch.randn(2, 3)))) == 1
    update_bn(stale.module, batches())
    fresh = SWA(bn_net())
    fresh.load_state_dict(stale.state_dict())
    assert not fresh.bn_stale


def _saved(obj) -> io.BytesIO:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return buf


def test_copies_and_pickles_of_the_module_are_left_alone() -> None:
    a, b = trained_pair(3)
    swa = SWA(a)
    copied = copy.deepcopy(swa.module)  # before any update: the copy is the user's model
    copied.eval()(torch.randn(2, 3))
    swa.update(b)
    m = copy.deepcopy(swa.module)
    assert recorded(lambda: m.eval()(torch.randn(2, 3))) == []
    unpickled = pickle.loads(pickle.dumps(swa.module))
    assert recorded(lambda: unpickled.eval()(torch.randn(2, 3))) == []
    # a deep copy of the average itself is guarded like the original
    twin = copy.deepcopy(swa)
    assert len(recorded(lambda: twin.module.eval()(torch.randn(2, 3)))) == 1
    empty_twin = copy.deepcopy(SWA(a))
    with pytest.raises(RuntimeError, match="n_averaged == 0"):
        empty_twin.module(torch.randn(2, 3))


def test_the_library_paths_never_trigger_the_guard(tmp_path) -> None:
    from swa_lib.training import TrainConfig, run
    from swa_lib.training.fge import average_models

    cfg = TrainConfig(
        dataset="mnist1d",
        model="cnn1d",
        epochs=3,
        swa_start=1,
        swa_lr=0.02,
        lr_init=0.05,
        batch_size=64,
        num_samples=400,
        data_root=str(tmp_path),
        model_kw={"width": 8},
        ema_decay=0.9,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*update_bn.*")
        result = run(cfg, tmp_path / "runs")
        a, b = trained_pair(4)
        avg = average_models([a, b], bn_batches=batches())
        avg.eval()(torch.randn(2, 3))
    assert result.final["swa_n"] == 3 and 0 <= result.final["ema_test_accuracy"] <= 1
