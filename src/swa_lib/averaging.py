"""Weight averaging (SWA, EMA) and BatchNorm recomputation.

Three public names, as in ``torch.optim.swa_utils`` but with the anchors' pitfalls fixed:

* :class:`SWA` -- the equal-weight running mean of the weights (Izmailov et al. 2018),
  ``w_swa <- (n * w_swa + w) / (n + 1)``, computed in place with one fused ``lerp_`` per
  dtype/device group (no temporaries, no extra parameter copy beyond the average itself).
* :class:`EMA` -- the exponential moving average ``w_ema <- decay * w_ema + (1 - decay) * w``.
* :func:`update_bn` -- recompute every BatchNorm's running statistics with one pass over the data,
  weighting each batch by its size so that the running mean is the *exact* sample mean even when
  the last batch is smaller (``torch.optim.swa_utils.update_bn`` weights batches equally).

``SWA(model).module.state_dict()`` has exactly the keys of ``model.state_dict()`` (no ``module.``
prefix), so the averaged weights load into a plain model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["SWA", "EMA", "update_bn", "batch_size_of"]


class _Averager:
    """Shared machinery: a deep copy of the model whose floating tensors are averaged in place.

    Subclasses define :meth:`_weight`, the interpolation weight ``alpha`` of the ``k``-th update
    (``k = n_averaged`` before the update) in ``avg <- avg + alpha * (new - avg)``.
    """

    def __init__(self, model: nn.Module, *, use_buffers: bool = False,
                 device: torch.device | str | None = None) -> None:
        self.module: nn.Module = copy.deepcopy(model)
        if device is not None:
            self.module.to(device)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.use_buffers = bool(use_buffers)
        self.n_averaged: int = 0

    # -- the averaging step -------------------------------------------------------------------
    def _weight(self, n: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pairs(self, model: nn.Module) -> tuple[list[Tensor], list[Tensor], list[Tensor],
                                                 list[Tensor]]:
        """``(mine, theirs, mine_rest, theirs_rest)``: the tensors to average and the buffers to
        copy (empty with ``use_buffers=True``), in ``parameters()`` / ``buffers()`` order."""
        my_params, my_buffers = _params_and_buffers(self.module)
        params, buffers = _params_and_buffers(model)
        if len(my_params) != len(params) or len(my_buffers) != len(buffers):
            raise ValueError(
                f"model has {len(params)} parameters and {len(buffers)} buffers but the averaged "
                f"copy has {len(my_params)} and {len(my_buffers)}: update() needs a model of the "
                f"same architecture"
            )
        if self.use_buffers:
            return my_params + my_buffers, params + buffers, [], []
        return my_params, params, my_buffers, buffers

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold ``model``'s current weights into the average; ``n_averaged`` grows by one.

        Floating-point tensors are averaged. Integer buffers (``num_batches_tracked``) are copied
        from ``model`` (an average of a counter is meaningless); with ``use_buffers=False`` all
        buffers are copied from ``model``, as ``AveragedModel`` does, until :func:`update_bn`
        recomputes them for the averaged weights.

        Cost: one pass over each model's modules, one ``torch._foreach_lerp_`` per (device,
        dtype) group and one ``torch._foreach_copy_`` for the copied buffers; nothing is
        allocated on the common path (all tensors on one device and dtype), so the peak memory
        of an update is the average itself (``benchmarks/bench_averaging.py`` measures both).
        """
        mine, theirs, mine_rest, theirs_rest = self._pairs(model)
        if self.n_averaged == 0:
            _copy_all(mine, theirs)
        else:
            alpha = self._weight(self.n_averaged)
            avg_f: list[Tensor] = []
            new_f: list[Tensor] = []
            copy_dst: list[Tensor] = []
            copy_src: list[Tensor] = []
            for avg, new in zip(mine, theirs):
                if avg.is_floating_point():
                    avg_f.append(avg)
                    new_f.append(new)
                else:  # integer buffers are copied, not averaged
                    copy_dst.append(avg)
                    copy_src.append(new)
            if avg_f:
                _lerp_all(avg_f, new_f, alpha)
            _copy_all(copy_dst, copy_src)
        # As AveragedModel: unaveraged buffers follow the source model (BN stats are then
        # recomputed by update_bn).
        _copy_all(mine_rest, theirs_rest)
        self.n_averaged += 1

    # -- conveniences so the averager can be used like the model -------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def to(self, *args: Any, **kwargs: Any) -> _Averager:
        self.module.to(*args, **kwargs)
        return self

    def eval(self) -> _Averager:
        self.module.eval()
        return self

    def train(self, mode: bool = True) -> _Averager:
        self.module.train(mode)
        return self

    def state_dict(self) -> dict[str, Any]:
        """``{"module": <plain model state dict>, "n_averaged": int}``."""
        return {"module": self.module.state_dict(), "n_averaged": int(self.n_averaged)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or "module" not in state or "n_averaged" not in state:
            raise ValueError(
                "averager state must be a dict with keys 'module' and 'n_averaged' "
                "(as returned by state_dict())"
            )
        self.module.load_state_dict(state["module"])
        self.n_averaged = int(state["n_averaged"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_averaged={self.n_averaged}, module={self.module!r})"


def _params_and_buffers(model: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
    """``(list(model.parameters()), list(model.buffers()))`` in one pass over the modules.

    Same order and the same de-duplication of shared modules and tensors as the ``nn.Module``
    iterators, without their nested generators, which cost several times more on deep nets
    (PreResNet-164 has ~1,500 modules; an EMA update runs every step).
    """
    params: list[Tensor | None] = []
    buffers: list[Tensor | None] = []
    seen: set[int] = set()
    stack = [model]  # pre-order over ``_modules``, as ``Module.modules()``
    while stack:
        module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        stack.extend(c for c in reversed(module._modules.values()) if c is not None)
        params.extend(module._parameters.values())
        buffers.extend(module._buffers.values())
    return _unique(params), _unique(buffers)


def _unique(tensors: list[Tensor | None]) -> list[Tensor]:
    """Drop ``None`` entries and repeats of a tensor (keeping its first position)."""
    out = [t for t in tensors if t is not None]
    if len({id(t) for t in out}) == len(out):
        return out
    seen: set[int] = set()
    unique = []
    for t in out:
        if id(t) not in seen:
            seen.add(id(t))
            unique.append(t)
    return unique


def _same_place(dst: list[Tensor], src: list[Tensor]) -> bool:
    """Whether every tensor of both lists has the device and dtype of ``dst[0]``."""
    if not dst:
        return True
    device, dtype = dst[0].device, dst[0].dtype
    return all(t.device == device and t.dtype == dtype for t in dst) and \
        all(t.device == device and t.dtype == dtype for t in src)


def _copy_all(dst: list[Tensor], src: list[Tensor]) -> None:
    """``d.copy_(s)`` for each pair: one ``_foreach_copy_`` per (device, dtype) combination.

    BN nets mix float running stats with int64 counters, so the pairs are grouped first; pairs
    that differ in device or dtype (a conversion) are copied one by one.
    """
    if not dst:
        return
    groups: dict[tuple[Any, ...], tuple[list[Tensor], list[Tensor]]] = {}
    for d, s in zip(dst, src):
        d_list, s_list = groups.setdefault((d.device, d.dtype, s.device, s.dtype), ([], []))
        d_list.append(d)
        s_list.append(s)
    for (d_dev, d_dtype, s_dev, s_dtype), (d_list, s_list) in groups.items():
        if d_dev == s_dev and d_dtype == s_dtype and hasattr(torch, "_foreach_copy_"):
            torch._foreach_copy_(d_list, s_list)
        else:
            for d, s in zip(d_list, s_list):
                d.copy_(s)


def _lerp_all(avg: list[Tensor], new: list[Tensor], alpha: float) -> None:
    """``a += alpha * (n - a)`` in place for each pair, one ``_foreach_lerp_`` per device/dtype.

    Sources on another device or dtype than their average are converted first (a temporary the
    size of that tensor only).
    """
    if _same_place(avg, new):
        torch._foreach_lerp_(avg, new, alpha)
        return
    groups: dict[tuple[torch.device, torch.dtype], tuple[list[Tensor], list[Tensor]]] = {}
    for a, n in zip(avg, new):
        if n.device != a.device or n.dtype != a.dtype:
            n = n.to(device=a.device, dtype=a.dtype)
        a_list, n_list = groups.setdefault((a.device, a.dtype), ([], []))
        a_list.append(a)
        n_list.append(n)
    for a_list, n_list in groups.values():
        torch._foreach_lerp_(a_list, n_list, alpha)


class SWA(_Averager):
    r"""Stochastic Weight Averaging: the equal-weight running mean of the weights.

    After ``k`` calls of :meth:`update` (constructing does not count as a sample),
    ``n_averaged == k`` and every floating parameter is the mean of the ``k`` models seen:

    .. math:: w_{\mathrm{SWA}} \leftarrow \frac{n\,w_{\mathrm{SWA}} + w}{n + 1}
              = w_{\mathrm{SWA}} + \tfrac{1}{n+1}(w - w_{\mathrm{SWA}})

    This agrees with ``torch.optim.swa_utils.AveragedModel`` to float rounding, but is computed
    with one in-place ``torch._foreach_lerp_`` per (device, dtype) group.

    Args:
        model: the model whose weights are averaged (deep-copied; the copy is ``.module``).
        use_buffers: also average floating buffers (BN running stats). Leave ``False`` (buffers
            then follow the latest model) and call :func:`update_bn` on ``.module`` before
            evaluating, as the paper does.
        device: where to keep the average (e.g. ``"cpu"`` to save GPU memory).

    Example::

        swa = SWA(model)
        for epoch in range(epochs):
            train_one_epoch(model)
            if epoch >= swa_start:
                swa.update(model)
        update_bn(swa.module, train_batches)
        plain.load_state_dict(swa.module.state_dict())
    """

    def _weight(self, n: int) -> float:
        return 1.0 / (n + 1)


class EMA(_Averager):
    r"""Exponential moving average of the weights: ``w_ema <- decay * w_ema + (1 - decay) * w``.

    The first :meth:`update` copies the model (so the average starts at a real model, not at the
    weights seen at construction). Same interface as :class:`SWA`.

    Args:
        decay: in ``[0, 1)``; the weight kept by the old average at each update.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, *, use_buffers: bool = False,
                 device: torch.device | str | None = None) -> None:
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        super().__init__(model, use_buffers=use_buffers, device=device)
        self.decay = float(decay)

    def _weight(self, n: int) -> float:
        return 1.0 - self.decay


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


def _to_device(batch: Any, device: torch.device | str | None) -> Any:
    if device is None:
        return batch
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _default_forward(model: nn.Module, batch: Any) -> Any:
    """A tensor is the input; a tuple or list is ``(input, target, ...)``."""
    if isinstance(batch, (list, tuple)):
        return model(batch[0])
    if isinstance(batch, dict):
        raise TypeError("dict batches need forward=lambda model, batch: ...")
    return model(batch)


@torch.no_grad()
def update_bn(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    forward: Callable[[nn.Module, Any], Any] | None = None,
    device: torch.device | str | None = None,
) -> nn.Module:
    r"""Recompute the running statistics of every BatchNorm in ``model`` from ``batches``.

    Resets each BN's running mean/variance, then runs one pass in train mode under ``no_grad``.
    Batch ``j`` (of size :math:`b_j`, after :math:`n_j` samples) uses momentum
    :math:`b_j / (n_j + b_j)`, so after the pass

    .. math:: \mu_{\mathrm{run}} = \frac{1}{N}\sum_j b_j\,\bar x_j \quad(\text{the exact sample
              mean}),\qquad \sigma^2_{\mathrm{run}} = \frac{1}{N}\sum_j b_j\,s_j^2,

    where :math:`s_j^2` is batch ``j``'s unbiased variance (what BN tracks). Each BN's momentum
    and every module's train/eval mode are restored afterwards. A model without BN returns at once.

    Args:
        model: the model to update in place (also returned).
        batches: an iterable of tensors, ``(input, target, ...)`` tuples, or anything ``forward``
            understands (dicts, multi-input models).
        forward: ``forward(model, batch)``; default calls ``model(batch)`` or ``model(batch[0])``.
        device: if given, each batch is moved there first.
    """
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not bns:
        return model
    forward = forward or _default_forward
    momenta = {bn: bn.momentum for bn in bns}
    modes = {m: m.training for m in model.modules()}
    for bn in bns:
        bn.reset_running_stats()
    model.train()
    seen = 0
    try:
        for batch in batches:
            b = batch_size_of(batch)
            if b == 0:
                continue
            momentum = b / (seen + b)
            for bn in bns:
                bn.momentum = momentum
            forward(model, _to_device(batch, device))
            seen += b
    finally:
        for bn, m in momenta.items():
            bn.momentum = m
        for module, mode in modes.items():
            module.training = mode
    return model
