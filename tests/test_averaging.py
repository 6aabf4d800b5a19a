"""SWA / EMA against torch.optim.swa_utils and float64 references; update_bn against exact stats."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from swa_lib.averaging import EMA, SWA, update_bn


def small_net(bn: bool = True) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv1d(1, 4, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm1d(4))
    layers += [nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8, 3)]
    return nn.Sequential(*layers)


def perturb(model: nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.add_(torch.randn(t.shape, generator=gen))
            else:
                t.add_(int(torch.randint(1, 5, (), generator=gen)))


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("k", [1, 2, 7])
def test_swa_matches_averaged_model(use_buffers: bool, k: int) -> None:
    gen = torch.Generator().manual_seed(k + 10 * use_buffers)
    model = small_net()
    ours = SWA(model, use_buffers=use_buffers)
    ref = AveragedModel(model, use_buffers=use_buffers)
    snapshots = []
    for _ in range(k):
        perturb(model, gen)
        ours.update(model)
        ref.update_parameters(model)
        snapshots.append(copy.deepcopy(model.state_dict()))
    assert ours.n_averaged == k == int(ref.n_averaged)
    ref_sd = {n[len("module.") :]: t for n, t in ref.state_dict().items() if n != "n_averaged"}
    ours_sd = ours.module.state_dict()
    assert set(ours_sd) == set(model.state_dict()) == set(ref_sd)
    for name, t in ours_sd.items():
        if t.is_floating_point():
            torch.testing.assert_close(t, ref_sd[name], rtol=1e-5, atol=1e-6)
            # and the float64 mean of the snapshots, for parameters (and buffers if averaged)
            if use_buffers or name in dict(model.named_parameters()):
                mean64 = torch.stack([s[name].double() for s in snapshots]).mean(0)
                torch.testing.assert_close(t.double(), mean64, rtol=1e-5, atol=1e-6)
        elif not use_buffers:
            assert torch.equal(t, ref_sd[name])
    # integer buffers: copied from the latest model, not averaged into nonsense
    nbt = ours_sd["1.num_batches_tracked"]
    assert nbt.dtype == torch.long
    assert int(nbt) == int(snapshots[-1]["1.num_batches_tracked"])
    if not use_buffers:  # float buffers follow the latest model, as in AveragedModel
        torch.testing.assert_close(ours_sd["1.running_mean"], snapshots[-1]["1.running_mean"])


def test_swa_construction_is_not_a_sample() -> None:
    model = small_net(bn=False)
    swa = SWA(model)
    assert swa.n_averaged == 0
    target = copy.deepcopy(model)
    with torch.no_grad():
        for p in target.parameters():
            p.mul_(3.0)
    swa.update(target)
    for p, q in zip(swa.module.parameters(), target.parameters()):
        torch.testing.assert_close(p, q)


def test_swa_state_dict_roundtrip_and_plain_load() -> None:
    gen = torch.Generator().manual_seed(0)
    model = small_net()
    swa = SWA(model)
    for _ in range(3):
        perturb(model, gen)
        swa.update(model)
    plain = small_net()
    plain.load_state_dict(swa.module.state_dict())  # strict: same keys, no "module." prefix
    again = SWA(small_net())
    again.load_state_dict(swa.state_dict())
    assert again.n_averaged == 3
    for a, b in zip(again.module.state_dict().values(), swa.module.state_dict().values()):
        torch.testing.assert_close(a, b)
    # continuing after a reload gives the same average as never stopping
    perturb(model, gen)
    swa.update(model)
    again.update(model)
    for a, b in zip(again.module.parameters(), swa.module.parameters()):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="n_averaged"):
        again.load_state_dict({"module": plain.state_dict()})


def test_swa_rejects_other_architecture() -> None:
    swa = SWA(small_net())
    with pytest.raises(ValueError, match="same architecture"):
        swa.update(nn.Linear(3, 3))


def test_ema_matches_float64_recursion_and_timm_style_reference() -> None:
    gen = torch.Generator().manual_seed(1)
    model = small_net(bn=False)
    ema = EMA(model, decay=0.9)
    ref = AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.9))
    expected = None
    for _ in range(5):
        perturb(model, gen)
        ema.update(model)
        ref.update_parameters(model)
        w = torch.nn.utils.parameters_to_vector(model.parameters()).double()
        expected = w.clone() if expected is None else 0.9 * expected + 0.1 * w
    got = torch.nn.utils.parameters_to_vector(ema.module.parameters()).double()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    refv = torch.nn.utils.parameters_to_vector(ref.module.parameters()).double()
    torch.testing.assert_close(got, refv, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="decay"):
        EMA(model, decay=1.0)


# -- update_bn ------------------------------------------------------------------------------


class TwoBN(nn.Module):
    """BN on the raw input and on a linear map of it, so both inputs are known exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm1d(3, momentum=0.3)
        self.lin = nn.Linear(3, 2)
        self.bn2 = nn.BatchNorm1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.lin(self.bn1(x)))


def test_update_bn_exact_sample_mean_with_unequal_batches() -> None:
    torch.manual_seed(0)
    model = TwoBN()
    data = torch.randn(53, 3, dtype=torch.float64).float() * 2 + 1
    sizes = [16, 16, 16, 5]  # the last batch is smaller
    batches = list(torch.split(data, sizes))
    model.bn1.running_mean.fill_(100.0)  # stale statistics must be reset
    model.eval()
    update_bn(model, [(b, torch.zeros(len(b))) for b in batches])

    x64 = data.double()
    torch.testing.assert_close(model.bn1.running_mean.double(), x64.mean(0), rtol=0, atol=1e-5)
    var_avg = sum(len(b) * b.double().var(0, unbiased=True) for b in batches) / len(data)
    torch.testing.assert_close(model.bn1.running_var.double(), var_avg, rtol=1e-5, atol=1e-5)

    # bn2's input: lin(bn1(x)) with bn1 in train mode, i.e. normalised with each batch's stats
    with torch.no_grad():
        h = []
        for b in batches:
            b64 = b.double()
            z = (b64 - b64.mean(0)) / torch.sqrt(b64.var(0, unbiased=False) + model.bn1.eps)
            z = z * model.bn1.weight.double() + model.bn1.bias.double()
            h.append(z @ model.lin.weight.double().T + model.lin.bias.double())
    h_all = torch.cat(h)
    torch.testing.assert_close(model.bn2.running_mean.double(), h_all.mean(0), rtol=0, atol=1e-5)
    # momentum and mode restored
    assert model.bn1.momentum == 0.3 and model.bn2.momentum == 0.1
    assert not model.training and not model.bn1.training


def test_update_bn_is_more_exact_than_torch_reference() -> None:
    """torch's update_bn weights batches equally: with unequal batches its mean is off."""
    torch.manual_seed(0)
    data = torch.randn(40, 3) + torch.linspace(0, 5, 40)[:, None]  # batches differ in mean
    batches = [data[:32], data[32:]]
    ours, ref = TwoBN(), TwoBN()
    update_bn(ours, batches)
    torch.optim.swa_utils.update_bn(batches, ref)
    exact = data.double().mean(0)
    err_ours = (ours.bn1.running_mean.double() - exact).abs().max().item()
    err_ref = (ref.bn1.running_mean.double() - exact).abs().max().item()
    assert err_ours < 1e-5 < err_ref


def test_update_bn_dict_batches_with_forward_and_device() -> None:
    torch.manual_seed(0)
    model = TwoBN().train()
    data = torch.randn(30, 3)
    batches = [{"signal": data[:20], "id": 1}, {"signal": data[20:], "id": 2}]
    update_bn(model, batches, forward=lambda m, b: m(b["signal"]), device="cpu")
    torch.testing.assert_close(
        model.bn1.running_mean.double(), data.double().mean(0), rtol=0, atol=1e-5
    )
    assert model.training
    with pytest.raises(TypeError, match="forward"):
        update_bn(TwoBN(), batches)


def test_update_bn_without_bn_is_untouched() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    before = copy.deepcopy(model.state_dict())
    calls = []

    class Batches:
        def __iter__(self):
            calls.append(1)
            return iter([torch.randn(4, 3)])

    update_bn(model, Batches())
    assert not calls  # the data are never iterated
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
