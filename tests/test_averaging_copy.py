"""No deepcopy needed (module= a copy or a factory; FSDP2 shards averaged rank-locally over 2 gloo
ranks) and wrappers (DDP, DataParallel, torch.compile) stripped from the average and its loads."""

from __future__ import annotations

import copy
import os
import warnings

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.nn.utils import parametrize
from torch.optim.swa_utils import AveragedModel

from swa_lib.averaging import SWA, strip_wrapper_prefixes, unwrap_model


def old_weight_norm_net(seed: int = 0) -> nn.Module:
    """``torch.nn.utils.weight_norm`` (the hook version): a non-leaf ``weight`` attribute."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in favour of parametrizations
        return nn.Sequential(
            torch.nn.utils.weight_norm(nn.Linear(3, 4)), nn.ReLU(), nn.Linear(4, 2)
        )


def jiggle(model: nn.Module, t: int) -> dict[str, torch.Tensor]:
    """Set every parameter to a deterministic value for step ``t``; return the float64 values."""
    g = torch.Generator().manual_seed(100 + t)
    out = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g))
            out[name] = p.double().clone()
    return out


def test_models_deepcopy_cannot_copy_take_a_factory() -> None:
    model = old_weight_norm_net()
    with pytest.raises(RuntimeError):
        copy.deepcopy(model)
    with pytest.raises(RuntimeError):
        AveragedModel(model)  # torch: no way around the deepcopy
    with pytest.raises(ValueError, match="module="):
        SWA(model)
    swa = SWA(model, module=lambda: old_weight_norm_net(seed=9))  # a factory
    assert isinstance(SWA(module=old_weight_norm_net(seed=9)).module, nn.Sequential)  # a copy
    snaps = []
    for t in range(3):
        snaps.append(jiggle(model, t))
        swa.update(model)
    for name, p in swa.module.named_parameters():
        mean64 = torch.stack([s[name] for s in snaps]).mean(0)
        torch.testing.assert_close(p.double(), mean64, rtol=1e-6, atol=1e-6)
    # the hook recomputes weight = g v / |v| from the averaged g and v
    lin = swa.module[0]
    x = torch.randn(5, 3)
    w = lin.weight_g * lin.weight_v / lin.weight_v.norm(dim=1, keepdim=True)
    torch.testing.assert_close(swa.module[0](x), x @ w.T + lin.bias)


class Symmetric(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + x.T


def sym_net() -> nn.Linear:
    lin = nn.Linear(3, 3)
    parametrize.register_parametrization(lin, "weight", Symmetric())
    return lin


def test_parametrized_model_with_a_user_copy() -> None:
    model = sym_net()
    swa = SWA(model, module=sym_net())
    weights = []
    for t in range(4):
        jiggle(model, t)
        weights.append(model.weight.double().clone())  # the effective (symmetric) weight
        swa.update(model)
    # X -> X + X^T is linear: the average of the originals gives the average weight
    torch.testing.assert_close(
        swa.module.weight.double(), torch.stack(weights).mean(0), rtol=1e-6, atol=1e-6
    )
    assert set(swa.module.state_dict()) == set(model.state_dict())


def test_bad_module_arguments() -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="model itself"):
        SWA(model, module=model)
    with pytest.raises(ValueError, match="architecture"):
        SWA(model, module=nn.Linear(3, 5))
    with pytest.raises(ValueError, match="nn.Module"):
        SWA(model, module=lambda: "not a module")
    with pytest.raises(ValueError, match="pass the model"):
        SWA()
    shared = nn.Linear(3, 2)
    shared.weight = model.weight  # shares the model's tensor
    swa = SWA(module=shared)
    with pytest.raises(ValueError, match="shares its tensors"):
        swa.update(model)


# -- wrappers -----------------------------------------------------------------------------------


def bn_mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))


def test_dataparallel_and_compile_are_unwrapped() -> None:
    bare = bn_mlp()
    keys = set(bare.state_dict())
    compiled = torch.compile(bare, backend="eager")
    for wrapped in (nn.DataParallel(bare), compiled, nn.DataParallel(compiled)):
        assert unwrap_model(wrapped) is bare
        swa = SWA(wrapped)
        swa.update(wrapped)
        assert set(swa.module.state_dict()) == keys
        bn_mlp(1).load_state_dict(swa.module.state_dict())  # strict, into a plain model
        ref = AveragedModel(wrapped)  # torch: the wrapper's prefixes under its own "module."
        assert not any(k[len("module.") :] in keys for k in ref.state_dict() if k != "n_averaged")


def test_prefixed_state_dicts_load() -> None:
    gen_model = bn_mlp(2)
    swa = SWA(bn_mlp())
    plain = gen_model.state_dict()
    for prefix in ("module.", "_orig_mod.", "_orig_mod.module.", "module._orig_mod."):
        swa.load_state_dict({"module": {prefix + k: v for k, v in plain.items()}, "n_averaged": 3})
        assert swa.n_averaged == 3
        for k, v in swa.module.state_dict().items():
            assert torch.equal(v, plain[k])
    # torch's AveragedModel state dict (of a DataParallel model: module.module.<key>)
    ref = AveragedModel(nn.DataParallel(gen_model))
    ref.update_parameters(nn.DataParallel(gen_model))
    swa.load_state_dict(ref.state_dict())
    assert swa.n_averaged == 1 and torch.equal(swa.module[0].weight, gen_model[0].weight)
    # a compiled submodule: "_orig_mod." inside the keys
    inner = {
        k.replace("0.", "0._orig_mod.", 1) if k.startswith("0.") else k: v for k, v in plain.items()
    }
    assert set(strip_wrapper_prefixes(inner, plain.keys())) == set(plain)
    # a model whose own submodule is called "module" is not over-stripped
    holder = nn.Sequential()
    holder.module = nn.Linear(2, 2)
    own = holder.state_dict()
    assert strip_wrapper_prefixes(own, own.keys()) == own


# -- 2 gloo ranks: FSDP2 shards averaged rank-locally; DDP unwrapped -----------------------------


def _fsdp_model(mesh) -> nn.Module:
    from torch.distributed.fsdp import fully_shard

    m = bn_mlp()
    fully_shard(m[0], mesh=mesh)
    fully_shard(m[3], mesh=mesh)
    fully_shard(m, mesh=mesh)
    return m


def _full_state(t: int) -> dict[str, torch.Tensor]:
    """The unsharded parameters of step ``t`` (the same on every rank)."""
    g = torch.Generator().manual_seed(200 + t)
    return {name: torch.randn(p.shape, generator=g) for name, p in bn_mlp().named_parameters()}


def _dist_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import distribute_tensor

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        mesh = init_device_mesh("cpu", (world,))
        model = _fsdp_model(mesh)
        try:
            SWA(model)
            deepcopy_error = ""
        except ValueError as exc:
            deepcopy_error = str(exc)
        swa = SWA(model, module=lambda: _fsdp_model(mesh))
        for t in range(4):
            full = _full_state(t)
            with torch.no_grad():
                for name, p in model.named_parameters():
                    p.copy_(distribute_tensor(full[name], mesh, p.placements))
            swa.update(model)
        local = {n: p._local_tensor.clone() for n, p in swa.module.named_parameters()}
        gathered = {n: p.full_tensor() for n, p in swa.module.named_parameters()}
        ddp = nn.parallel.DistributedDataParallel(bn_mlp())
        swa_ddp = SWA(ddp)
        swa_ddp.update(ddp)
        torch.save(
            {
                "deepcopy_error": deepcopy_error,
                "local": local,
                "gathered": gathered,
                "ddp_keys": sorted(swa_ddp.module.state_dict()),
            },
            os.path.join(out_dir, f"rank{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


def test_fsdp2_shards_average_rank_locally_like_the_unsharded_model(tmp_path) -> None:
    mp.spawn(_dist_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    plain = bn_mlp()
    ref = SWA(plain)
    snaps = []
    for t in range(4):
        full = _full_state(t)
        plain.load_state_dict(full, strict=False)
        snaps.append({k: v.double() for k, v in full.items()})
        ref.update(plain)
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for rank, got in enumerate(results):
        assert "deep-copied" in got["deepcopy_error"] and "module=" in got["deepcopy_error"]
        for name, p in ref.module.named_parameters():
            torch.testing.assert_close(got["gathered"][name], p, rtol=1e-6, atol=1e-7)
            mean64 = torch.stack([s[name] for s in snaps]).mean(0)
            torch.testing.assert_close(got["gathered"][name].double(), mean64, rtol=1e-6, atol=1e-6)
            # each rank holds only its shard (dim-0 chunks, as FSDP2 shards)
            shard = torch.chunk(p, 2, dim=0)[rank]
            torch.testing.assert_close(got["local"][name], shard, rtol=1e-6, atol=1e-7)
        assert got["ddp_keys"] == sorted(plain.state_dict())
