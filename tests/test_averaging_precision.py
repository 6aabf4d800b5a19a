"""dtype= of the averages: a bf16 model is averaged in float32 by default, within float32
rounding of the float64 mean of its bf16 values, where a bf16 average (torch's) stalls."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from swa_lib.averaging import EMA, SWA

N_UPDATES = 1000


def drifting_bf16_model(t: int, model: nn.Linear) -> nn.Linear:
    """Weights ``1 + t * step`` in bf16: tiny steps next to the bf16 spacing 2^-7 at 1."""
    step = torch.linspace(1e-4, 2e-3, model.weight.numel()).view_as(model.weight)
    with torch.no_grad():
        model.weight.copy_((1.0 + t * step.double()).to(torch.bfloat16))
        model.bias.copy_(torch.full_like(model.bias, 0.5 + 1e-4 * t))
    return model


def test_bf16_model_is_averaged_in_float32_and_does_not_stall() -> None:
    model = nn.Linear(8, 4).to(torch.bfloat16)
    ours = SWA(model)
    half = SWA(model, dtype=torch.bfloat16)
    ref = AveragedModel(model)  # torch: the average in the model's bf16
    assert ours.module.weight.dtype == torch.float32 and half.module.weight.dtype == torch.bfloat16
    total = torch.zeros(model.weight.shape, dtype=torch.float64)
    for t in range(N_UPDATES):
        drifting_bf16_model(t, model)
        total += model.weight.double()
        ours.update(model)
        half.update(model)
        ref.update_parameters(model)
    mean64 = total / N_UPDATES
    err = (ours.module.weight.double() - mean64).abs().max().item()
    # float32 rounding: at most half an ulp (2^-24 relative) per update, N updates
    bound = N_UPDATES * 2.0**-24 * mean64.abs().max().item()
    assert err <= bound
    for stalled in (half.module.weight, ref.module.weight):
        assert (stalled.double() - mean64).abs().max().item() > 1000 * bound


def test_ema_of_bf16_model_follows_the_float64_recursion() -> None:
    model = nn.Linear(8, 4).to(torch.bfloat16)
    ours = EMA(model, decay=0.999)
    ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    expected = None
    for t in range(N_UPDATES):
        drifting_bf16_model(t, model)
        w = model.weight.double()
        expected = w.clone() if expected is None else 0.999 * expected + 0.001 * w
        ours.update(model)
        ref.update_parameters(model)
    err = (ours.module.weight.double() - expected).abs().max().item()
    assert err < 1e-4  # float32 lerp rounding over 1000 steps (the EMA moved by ~0.5)
    assert (ref.module.weight.double() - expected).abs().max().item() > 0.05


def test_explicit_dtype_and_integer_buffers() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to(torch.bfloat16)
    swa = SWA(model, dtype=torch.float64)
    sd = swa.module.state_dict()
    assert sd["0.weight"].dtype == torch.float64 and sd["1.running_mean"].dtype == torch.float64
    assert sd["1.num_batches_tracked"].dtype == torch.long
    swa.update(model)
    plain = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to(torch.bfloat16)
    plain.load_state_dict(swa.module.state_dict())  # back into the bf16 model
    assert torch.equal(plain[0].weight, model[0].weight)
    # a float32 model keeps float32 by default
    assert SWA(nn.Linear(2, 2)).module.weight.dtype == torch.float32
    with pytest.raises(ValueError, match="dtype"):
        SWA(model, dtype=torch.int32)
