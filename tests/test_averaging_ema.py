"""EMA: timm ModelEmaV3's warm-up, update_every with decay^k, a start step, and an exact resume --
against float64 recursions written out here (timm's formula re-typed from
timm/utils/model_ema.py, ModelEmaV3.get_decay)."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector

from swa_lib.averaging import EMA, SWA


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def set_step(model: nn.Module, t: int) -> torch.Tensor:
    """Deterministic weights for step ``t``; returns them flat in float64."""
    g = torch.Generator().manual_seed(1000 + t)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) + 0.1 * t)
    return parameters_to_vector(model.parameters()).double()


def vec(ema: EMA) -> torch.Tensor:
    return parameters_to_vector(ema.module.parameters()).double()


def timm_decay(
    step: int, decay: float, min_decay: float, start: int, warmup: bool, gamma: float, power: float
) -> float:
    """timm ModelEmaV3.get_decay(step) with update_after_step=start."""
    step = max(0, step - start - 1)
    if step <= 0:
        return 0.0
    if warmup:
        d = 1 - (1 + step / gamma) ** -power
        return max(min(d, decay), min_decay)
    return decay


@pytest.mark.parametrize("start, gamma, power", [(0, 1.0, 2 / 3), (3, 2.0, 0.75)])
def test_warmup_follows_timm_model_ema_v3(start: int, gamma: float, power: float) -> None:
    model = net()
    ema = EMA(
        model,
        decay=0.95,
        warmup=True,
        warmup_gamma=gamma,
        warmup_power=power,
        min_decay=0.2,
        start_step=start,
    )
    expected = None
    for step in range(1, 41):
        w = set_step(model, step)
        d = timm_decay(step, 0.95, 0.2, start, True, gamma, power)
        assert ema.decay_at(step) == pytest.approx(d, rel=1e-15, abs=0)
        expected = w.clone() if expected is None or d == 0 else d * expected + (1 - d) * w
        ema.update(model)
        if step <= start + 1:  # before the start the EMA *is* the model
            assert torch.equal(vec(ema), w.float().double())
    torch.testing.assert_close(vec(ema), expected, rtol=1e-5, atol=1e-5)
    assert ema.step == 40 and ema.n_averaged == 40


def test_warmup_gamma_1_power_1_is_the_running_mean() -> None:
    model = net()
    ema = EMA(model, decay=0.999999, warmup=True, warmup_gamma=1.0, warmup_power=1.0)
    swa = SWA(model)
    for step in range(1, 13):
        set_step(model, step)
        ema.update(model)
        swa.update(model)
    torch.testing.assert_close(
        vec(ema), parameters_to_vector(swa.module.parameters()).double(), rtol=1e-6, atol=1e-6
    )


def test_update_every_k_uses_decay_to_the_k() -> None:
    k, decay = 4, 0.9
    model = net()
    every_step = EMA(model, decay=decay)
    sparse = EMA(model, decay=decay, update_every=k)
    expected = None
    for step in range(1, 4 * k * 3 + 1):
        block = (step - 1) // k  # the model changes only at the start of a block of k steps
        w = set_step(model, block)
        every_step.update(model)
        sparse.update(model)
        if step % k == 0:
            dk = decay**k
            expected = w.clone() if expected is None else dk * expected + (1 - dk) * w
    torch.testing.assert_close(vec(sparse), expected, rtol=1e-5, atol=1e-5)
    # with the model constant over each block, k steps of d are one step of d^k: the sparse EMA
    # equals the every-step EMA (a sparse EMA that kept d, as ema-pytorch does, would not)
    torch.testing.assert_close(vec(sparse), vec(every_step), rtol=1e-5, atol=1e-5)
    assert (vec(sparse) - vec(every_step)).abs().max() < 1e-5
    assert sparse.n_averaged == 12 and sparse.step == 48


def test_resumed_ema_continues_exactly() -> None:
    kw = dict(decay=0.97, warmup=True, warmup_power=0.75, update_every=3, start_step=2)
    model = net()
    whole = EMA(model, **kw)
    first = EMA(model, **kw)
    for step in range(1, 21):
        set_step(model, step)
        whole.update(model)
        if step <= 10:
            first.update(model)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    resumed = EMA(net(), **kw)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    assert resumed.step == 10
    for step in range(11, 21):
        set_step(model, step)
        resumed.update(model)
    assert resumed.step == whole.step and resumed.n_averaged == whole.n_averaged
    for a, b in zip(resumed.module.state_dict().values(), whole.module.state_dict().values()):
        assert torch.equal(a, b)
    # a resume that forgot the counter (today's state dicts) would restart the warm-up
    stale = EMA(net(), **kw)
    state = first.state_dict()
    del state["step"], state["config"]
    stale.load_state_dict(state)
    assert stale.step == first.n_averaged != first.step


def test_config_mismatch_and_bad_arguments() -> None:
    model = net()
    ema = EMA(model, decay=0.9, warmup=True)
    ema.update(model)
    with pytest.raises(ValueError, match="warmup_power"):
        EMA(model, decay=0.9, warmup=True, warmup_power=0.5).load_state_dict(ema.state_dict())
    for kwargs, field in (
        (dict(decay=1.0), "decay"),
        (dict(min_decay=0.9995), "min_decay"),
        (dict(warmup_gamma=0.0), "warmup_gamma"),
        (dict(warmup_power=-1.0), "warmup_power"),
        (dict(update_every=0), "update_every"),
        (dict(start_step=-1), "start_step"),
        (dict(update_every=2.5), "update_every"),
    ):
        with pytest.raises(ValueError, match=field):
            EMA(model, **kwargs)
