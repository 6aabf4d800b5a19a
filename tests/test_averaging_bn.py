"""update_bn: only BN in train mode (no dropout noise), budgets, the union's statistics over 2
gloo ranks -- each against float64 statistics computed by hand or against one process."""

from __future__ import annotations

import copy
import os
from collections import namedtuple

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.optim.swa_utils import update_bn as torch_update_bn

from swa_lib.averaging import SWA, update_bn


def dropout_bn_net() -> nn.Sequential:
    """BN after a dropout: in train mode the dropout noise is in the BN input."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(3, 6), nn.Dropout(0.5), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)
    )


def exact_stats(h_batches: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 (sample mean over all rows, size-weighted mean of per-batch unbiased variances)."""
    n = sum(len(h) for h in h_batches)
    mean = torch.cat(h_batches).mean(0)
    var = sum(len(h) * h.var(0, unbiased=True) for h in h_batches) / n
    return mean, var


def data_batches(sizes=(16, 16, 16, 7), seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, 3, generator=g) * 2 + 1 for b in sizes]


def test_dropout_noise_stays_out_of_the_statistics() -> None:
    model = dropout_bn_net().eval()
    batches = data_batches()
    lin = model[0]
    with torch.no_grad():
        h = [x.double() @ lin.weight.double().T + lin.bias.double() for x in batches]
    mean, var = exact_stats(h)  # BN input with dropout off, as at evaluation

    ours = update_bn(copy.deepcopy(model), [(x, torch.zeros(len(x))) for x in batches])
    bn = ours[2]
    torch.testing.assert_close(bn.running_mean.double(), mean, rtol=0, atol=1e-5)
    torch.testing.assert_close(bn.running_var.double(), var, rtol=1e-5, atol=1e-5)
    assert not any(m.training for m in ours.modules())  # every mode restored

    ref = copy.deepcopy(model)
    torch.manual_seed(1)
    torch_update_bn(batches, ref)  # model.train(): dropout on during the pass
    # dropout zeroes half of the units and doubles the rest: the variance is far off
    assert (ref[2].running_var.double() - var).abs().max() > 0.1
    assert not ref.training


def test_only_bn_modules_are_switched_and_modes_restored() -> None:
    model = dropout_bn_net().train()
    model[1].eval()  # a user's mixed setting: dropout off, the rest training
    seen_modes = []
    model[1].register_forward_hook(lambda m, i, o: seen_modes.append(m.training))
    update_bn(model, data_batches())
    assert seen_modes == [False] * 4  # dropout kept its (eval) mode during the pass
    assert model.training and model[0].training and not model[1].training and model[2].training


def test_average_module_is_in_eval_mode_so_dropout_stays_off() -> None:
    model = dropout_bn_net().train()  # a training model, dropout on
    swa = SWA(model)
    swa.update(model)
    assert not swa.module.training
    batches = data_batches()
    update_bn(swa.module, batches)
    lin = swa.module[0]
    with torch.no_grad():
        h = [x.double() @ lin.weight.double().T + lin.bias.double() for x in batches]
    torch.testing.assert_close(
        swa.module[2].running_var.double(), exact_stats(h)[1], rtol=1e-5, atol=1e-5
    )


def bn_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(1, 4, 3, padding=1),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.Conv1d(4, 4, 3, padding=1),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 10, 3),
    )


def test_models_without_dropout_give_torch_numbers_bit_for_bit() -> None:
    """Equal batches, no mode-dependent layer but BN: the numbers are exactly torch's."""
    g = torch.Generator().manual_seed(3)
    batches = [torch.randn(8, 1, 10, generator=g) for _ in range(5)]
    ours, ref = bn_cnn(), bn_cnn()
    update_bn(ours, batches)
    torch_update_bn(batches, ref)
    for a, b in zip(ours.buffers(), ref.buffers()):
        assert torch.equal(a, b)


class TwoBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm1d(3)
        self.lin = nn.Linear(3, 2)
        self.bn2 = nn.BatchNorm1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.lin(self.bn1(x)))


def test_max_batches_stops_without_reading_further() -> None:
    batches = data_batches((5, 9, 4, 8))
    pulled = []

    def stream():
        for x in batches:
            pulled.append(len(x))
            yield x

    model = TwoBN()
    update_bn(model, stream(), max_batches=2)
    assert pulled == [5, 9]  # the third batch is never drawn
    mean, var = exact_stats([x.double() for x in batches[:2]])
    torch.testing.assert_close(model.bn1.running_mean.double(), mean, rtol=0, atol=1e-5)
    torch.testing.assert_close(model.bn1.running_var.double(), var, rtol=1e-5, atol=1e-5)
    assert int(model.bn1.num_batches_tracked) == 2


def test_max_samples_cuts_the_crossing_batch() -> None:
    batches = data_batches((5, 9, 4, 8))
    Batch = namedtuple("Batch", "x y")
    model = TwoBN()
    update_bn(
        model,
        [Batch(x, torch.arange(len(x))) for x in batches],
        forward=lambda m, b: m(b.x),
        max_samples=11,
    )
    # the first 11 samples: batch 1 whole, batch 2 cut to its first 6 rows
    used = [batches[0].double(), batches[1][:6].double()]
    mean, var = exact_stats(used)
    torch.testing.assert_close(model.bn1.running_mean.double(), mean, rtol=0, atol=1e-5)
    torch.testing.assert_close(model.bn1.running_var.double(), var, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="max_samples"):
        update_bn(model, batches, max_samples=0)
    with pytest.raises(ValueError, match="max_batches"):
        update_bn(model, batches, max_batches=1.5)
    with pytest.raises(ValueError, match="distributed=True"):
        update_bn(model, batches, distributed=True)


def test_an_average_stands_for_its_module() -> None:
    model = TwoBN()
    swa = SWA(model)
    swa.update(model)
    batches = data_batches()
    assert update_bn(swa, batches) is swa
    torch.testing.assert_close(
        swa.module.bn1.running_mean.double(),
        exact_stats([x.double() for x in batches])[0],
        rtol=0,
        atol=1e-5,
    )


# -- torch.distributed: 2 gloo ranks = one process over the union --------------------------------

SIZES = (16, 16, 9, 16, 5)  # unequal batches; rank 0 gets batches 0, 2, 4 and rank 1 gets 1, 3


def _cnn_batches() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    return [torch.randn(b, 1, 10, generator=g) * (1 + i) + i for i, b in enumerate(SIZES)]


def _bn_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        mine = _cnn_batches()[rank::world]
        union = update_bn(bn_cnn(), mine)  # distributed=None: on, since 2 ranks are initialized
        alone = update_bn(bn_cnn(), mine, distributed=False)
        capped = update_bn(bn_cnn(), mine, max_batches=1)
        torch.save(
            {
                "union": union.state_dict(),
                "alone": alone.state_dict(),
                "capped": capped.state_dict(),
            },
            os.path.join(out_dir, f"rank{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_get_the_statistics_of_one_process_over_all_batches(tmp_path) -> None:
    mp.spawn(_bn_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    batches = _cnn_batches()
    single = update_bn(bn_cnn(), batches, distributed=False).state_dict()
    capped = update_bn(bn_cnn(), [batches[0], batches[1]], distributed=False).state_dict()
    # and bn 1 against float64: its input conv(x) does not depend on the batch composition
    conv = bn_cnn()[0].double()
    with torch.no_grad():
        h = [conv(x.double()).transpose(1, 2).reshape(-1, 4) for x in batches]
    mean_1 = torch.cat(h).mean(0)
    torch.testing.assert_close(single["1.running_mean"].double(), mean_1, rtol=0, atol=1e-5)
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        for key, ref in single.items():
            if ref.is_floating_point():
                torch.testing.assert_close(got["union"][key], ref, rtol=1e-5, atol=1e-6)
                torch.testing.assert_close(got["capped"][key], capped[key], rtol=1e-5, atol=1e-6)
            else:
                assert torch.equal(got["union"][key], ref)  # num_batches_tracked: all 5
        # without the all-reduce a rank only has its own shard's statistics
        diff = (got["alone"]["1.running_mean"] - single["1.running_mean"]).abs().max()
        assert diff > 0.1
