r"""Recomputing BatchNorm running statistics for given weights: :func:`update_bn`.

An average's BN statistics must be recomputed for the averaged weights (Izmailov et al. 2018
run one more pass over the training data). ``torch.optim.swa_utils.update_bn``
(torch/optim/swa_utils.py) does this with ``model.train()`` and ``momentum=None``, which has
three faults that :func:`update_bn` fixes:

* **equal weights per batch** -- its running mean is the mean of batch means, off when the last
  batch is smaller; here batch ``j`` of size ``b_j`` after ``n_j`` samples uses momentum
  ``b_j / (n_j + b_j)``, so the running mean is the exact sample mean;
* **every module in train mode** -- so dropout noise (and any other train-mode behaviour) enters
  the statistics; here only the BatchNorm layers are switched to train mode, every other module
  keeps its mode (the averages' modules are in eval mode, so their dropout stays off);
* **no budget, no distributed** -- here ``max_batches`` / ``max_samples`` stop the pass early (as
  fvcore's precise-BN ``update_bn_stats(model, loader, num_iters=200)``, fvcore/nn/precise_bn.py,
  does), and under ``torch.distributed`` the
  size-weighted sums are all-reduced, so that every rank ends with the statistics of the union of
  the ranks' batches -- the same numbers as one process passing over all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..modes import train_mode
from .guard import tracked_bns

__all__ = ["update_bn", "batch_size_of"]


def batch_size_of(batch: Any) -> int:
    """Number of samples in ``batch``: dim 0 of its first tensor (tensor, tuple, list or dict)."""
    if isinstance(batch, Tensor):
        return int(batch.shape[0]) if batch.dim() > 0 else 1
    if isinstance(batch, dict):
        items: Iterable[Any] = batch.values()
    elif isinstance(batch, (list, tuple)):
        items = batch
    else:
        raise TypeError(f"cannot find a tensor in a batch of type {type(batch).__name__}")
    for item in items:
        try:
            return batch_size_of(item)
        except TypeError:
            continue
    raise TypeError("batch holds no tensor, so its size is unknown")


def _rebuild(batch: tuple | list, items: Iterable[Any]) -> Any:
    """A tuple / list / namedtuple of the same type as ``batch`` holding ``items``."""
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*items)
    return type(batch)(items)


def _to_device(batch: Any, device: torch.device | str | None) -> Any:
    """``batch`` with every tensor in it moved to ``device`` (``None``: unchanged)."""
    if device is None:
        return batch
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return _rebuild(batch, (_to_device(v, device) for v in batch))
    return batch


def _first(batch: Any, k: int, b: int) -> Any:
    """The first ``k`` samples of a batch of ``b``: every tensor whose dim 0 is ``b`` is sliced
    ``[:k]`` (in tuples, lists and dicts too); anything else is kept as it is."""
    if isinstance(batch, Tensor):
        return batch[:k] if batch.dim() > 0 and batch.shape[0] == b else batch
    if isinstance(batch, dict):
        return {key: _first(v, k, b) for key, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return _rebuild(batch, (_first(v, k, b) for v in batch))
    return batch


def _default_forward(model: nn.Module, batch: Any) -> Any:
    """A tensor is the input; a tuple or list is ``(input, target, ...)``."""
    if isinstance(batch, (list, tuple)):
        return model(batch[0])
    if isinstance(batch, dict):
        raise TypeError("dict batches need forward=lambda model, batch: ...")
    return model(batch)


def _check_budget(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be None or an int >= 1, got {value!r}")
    return value


def _distributed_group(distributed: bool | None, group: Any) -> tuple[bool, Any]:
    """``(reduce, group)``: whether to all-reduce (``None``: when a process group of more than
    one rank is initialized)."""
    import torch.distributed as dist

    ready = dist.is_available() and dist.is_initialized()
    if distributed is None:
        return bool(ready and dist.get_world_size(group) > 1), group
    if distributed and not ready:
        raise ValueError(
            "distributed=True needs an initialized torch.distributed process group "
            "(torch.distributed.init_process_group)"
        )
    return bool(distributed), group


@torch.no_grad()
def update_bn(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    forward: Callable[[nn.Module, Any], Any] | None = None,
    device: torch.device | str | None = None,
    max_batches: int | None = None,
    max_samples: int | None = None,
    distributed: bool | None = None,
    group: Any = None,
) -> nn.Module:
    r"""Recompute the running statistics of every BatchNorm in ``model`` from ``batches``.

    Resets each BN's running mean/variance, then runs one pass under ``no_grad`` with the BN
    layers (only them) in train mode. Batch ``j`` (of size :math:`b_j`, after :math:`n_j`
    samples) uses momentum :math:`b_j / (n_j + b_j)`, so after the pass over :math:`N` samples

    .. math:: \mu_{\mathrm{run}} = \frac{1}{N}\sum_j b_j\,\bar x_j \quad(\text{the exact sample
              mean}),\qquad \sigma^2_{\mathrm{run}} = \frac{1}{N}\sum_j b_j\,s_j^2,

    where :math:`s_j^2` is batch ``j``'s unbiased variance (what BN tracks). Under
    ``torch.distributed`` rank ``r`` holds :math:`(N_r, \mu_r, \sigma^2_r)` after its pass; one
    all-reduce of :math:`N_r\mu_r`, :math:`N_r\sigma^2_r`, :math:`N_r` and the batch counts gives
    every rank :math:`\mu = \sum_r N_r\mu_r / \sum_r N_r` (likewise :math:`\sigma^2`), which are
    the two sums above over the union of the ranks' batches: one process passing over all of them
    gets the same numbers, to float rounding. Each BN's momentum and every module's train/eval
    mode are restored afterwards. A model without BN returns at once (``batches`` is not read).

    Args:
        model: the model to update in place (also returned); an average (:class:`SWA`,
            :class:`EMA`) stands for its ``.module``. Non-BN modules run in the mode they are in:
            put a model with dropout in ``eval()`` first (an average's module already is).
        batches: an iterable of tensors, ``(input, target, ...)`` tuples, or anything ``forward``
            understands (dicts, multi-input models).
        forward: ``forward(model, batch)``; default calls ``model(batch)`` or ``model(batch[0])``.
        device: if given, each batch is moved there first.
        max_batches: use at most this many (non-empty) batches; the iterator is not advanced
            past the last one used. Per rank under ``torch.distributed``.
        max_samples: use exactly the first ``max_samples`` samples (the batch that crosses the
            budget is cut: every tensor in it whose dim 0 is the batch size). Per rank.
        distributed: all-reduce the statistics over ``group``. ``None`` (default): when
            ``torch.distributed`` is initialized with more than one rank -- then *every* rank of
            the group must call ``update_bn`` (pass ``False`` to recompute on one rank alone).
        group: the process group (default: the world).

    Raises:
        ValueError: a bad budget; ``distributed=True`` without a process group; a
            ``SyncBatchNorm`` with the all-reduce (it already synchronises every batch: convert
            the copy to plain BatchNorm, or pass ``distributed=False``).
    """
    target = model.module if _is_average(model) else model
    max_batches = _check_budget("max_batches", max_batches)
    max_samples = _check_budget("max_samples", max_samples)
    reduce, group = _distributed_group(distributed, group)
    bns = tracked_bns(target)
    if not bns:
        return model
    if reduce and any(isinstance(bn, nn.SyncBatchNorm) for bn in bns):
        raise ValueError(
            "SyncBatchNorm already all-reduces every batch's statistics; convert the "
            "model to plain BatchNorm for update_bn or pass distributed=False"
        )
    momenta = {bn: bn.momentum for bn in bns}
    for bn in bns:
        bn.reset_running_stats()
    chosen = set(bns)
    try:
        with train_mode(target, only=lambda m: m in chosen):
            seen, n_batches = _pass(
                target, bns, batches, forward or _default_forward, device, max_batches, max_samples
            )
    finally:
        for bn, m in momenta.items():
            bn.momentum = m
    if reduce:
        _all_reduce_stats(bns, seen, n_batches, group)
    return model


def _is_average(obj: Any) -> bool:
    """An :class:`SWA` / :class:`EMA` (anything with ``n_averaged`` and a ``.module``), not a
    module."""
    return (
        not isinstance(obj, nn.Module)
        and hasattr(obj, "n_averaged")
        and isinstance(getattr(obj, "module", None), nn.Module)
    )


def _pass(
    model: nn.Module,
    bns: list[_BatchNorm],
    batches: Iterable[Any],
    forward: Callable[[nn.Module, Any], Any],
    device: torch.device | str | None,
    max_batches: int | None,
    max_samples: int | None,
) -> tuple[int, int]:
    """The forward passes with size-weighted momenta; returns ``(samples, batches)`` used."""
    seen = n_batches = 0
    for batch in batches:
        b = batch_size_of(batch)
        if b == 0:
            continue
        if max_samples is not None and seen + b > max_samples:
            batch, b = _first(batch, max_samples - seen, b), max_samples - seen
        momentum = b / (seen + b)
        for bn in bns:
            bn.momentum = momentum
        forward(model, _to_device(batch, device))
        seen += b
        n_batches += 1
        if n_batches == max_batches or seen == max_samples:
            break
    return seen, n_batches


def _all_reduce_stats(bns: list[_BatchNorm], seen: int, n_batches: int, group: Any) -> None:
    r"""Replace each rank's statistics by the union's: one float64 all-reduce of
    :math:`N_r\mu_r`, :math:`N_r\sigma^2_r` (every BN), :math:`N_r` and the batch count."""
    import torch.distributed as dist

    ref = bns[0].running_mean
    parts = []
    for bn in bns:
        parts += [
            bn.running_mean.double().flatten() * seen,
            bn.running_var.double().flatten() * seen,
        ]
    parts.append(
        torch.tensor([float(seen), float(n_batches)], dtype=torch.float64, device=ref.device)
    )
    flat = torch.cat([p.to(ref.device) for p in parts])
    dist.all_reduce(flat, group=group)
    total, total_batches = flat[-2].item(), flat[-1].item()
    offset = 0
    for bn in bns:
        for stat in (bn.running_mean, bn.running_var):
            n = stat.numel()
            if total > 0:
                stat.copy_((flat[offset : offset + n] / total).view_as(stat))
            offset += n
        if bn.num_batches_tracked is not None:
            bn.num_batches_tracked.fill_(round(total_batches))
