r"""The running average of a model's weights: the shared machinery and :class:`SWA`.

:class:`SWA` is the equal-weight running mean of Izmailov et al. 2018,
``w_swa <- (n * w_swa + w) / (n + 1)``, computed in place with one fused ``lerp_`` per
dtype/device group (no temporaries, no extra copy beyond the average itself). Where
``torch.optim.swa_utils.AveragedModel`` (torch/optim/swa_utils.py) falls short, the averages of
this package (``SWA`` here, ``EMA`` in :mod:`.ema`) do the following:

* **precision** -- the average of a bf16/fp16 model is kept in float32 (``dtype=`` to choose);
  a bf16 running mean stalls once ``(w - w_swa)/(n + 1)`` is below half a bf16 ulp;
* **no deepcopy needed** -- ``module=`` takes a user-built copy or a factory, for models that
  cannot be deep-copied (parametrizations, the old ``weight_norm``, FSDP2); FSDP2/DTensor
  parameters are averaged shard by shard on each rank;
* **wrappers** -- DDP / DataParallel / ``torch.compile`` are unwrapped, so ``.module`` is the
  bare model and its state dict loads into a plain model; prefixed dicts load back;
* **stale BatchNorm guard** -- an average with no update refuses to run; evaluating it with BN
  statistics copied from the last model warns once (see :mod:`.guard`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ._tensors import (
    cast_floating,
    copy_all,
    has_dtensor,
    lerp_all,
    local_tensors,
    params_and_buffers,
    resolve_dtype,
    split_floating,
)
from .guard import BNFreshness, StaleBNGuard
from .wrappers import strip_wrapper_prefixes, unwrap_model

__all__ = ["SWA"]

ModuleSource = nn.Module | Callable[[], nn.Module]


class _Averager:
    """Shared machinery: a module whose floating tensors hold a running average, updated in place.

    Subclasses call :meth:`_fold` with the interpolation weight ``alpha`` of the new model in
    ``avg <- avg + alpha * (new - avg)`` (``None``: copy the model).
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        module: ModuleSource | None = None,
        use_buffers: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.module: nn.Module = _build_module(model, module)
        if device is not None:
            self.module.to(device)
        self.dtype = resolve_dtype(dtype)
        cast_floating(self.module, self.dtype)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.module.eval()  # the average is for evaluation: update_bn then keeps dropout off
        self.use_buffers = bool(use_buffers)
        self.n_averaged: int = 0
        params, buffers = params_and_buffers(self.module)
        self._sharded = has_dtensor(params + buffers)
        self._bn = BNFreshness(self.module)
        self._warned_stale = False
        self.module.register_forward_pre_hook(StaleBNGuard(self))

    # -- the averaging step -------------------------------------------------------------------
    def _pairs(
        self, model: nn.Module
    ) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        """``(mine, theirs, mine_rest, theirs_rest)``: the tensors to average and the buffers to
        copy (empty with ``use_buffers=True``), in ``parameters()`` / ``buffers()`` order."""
        my_params, my_buffers = params_and_buffers(self.module)
        params, buffers = params_and_buffers(unwrap_model(model))
        if len(my_params) != len(params) or len(my_buffers) != len(buffers):
            raise ValueError(
                f"model has {len(params)} parameters and {len(buffers)} buffers but the averaged "
                f"copy has {len(my_params)} and {len(my_buffers)}: update() needs a model of the "
                f"same architecture"
            )
        if self.n_averaged == 0:  # checked once: a sharded model needs a sharded average
            self._sharded = self._sharded or has_dtensor(params + buffers)
        if self._sharded:
            my_params, params = local_tensors(my_params, params)
            my_buffers, buffers = local_tensors(my_buffers, buffers)
        if self.n_averaged == 0 and my_params and my_params[0].data_ptr() == params[0].data_ptr():
            raise ValueError(
                "module= shares its tensors with the model being averaged: pass a "
                "separate copy (or a function that builds one)"
            )
        if self.use_buffers:
            return my_params + my_buffers, params + buffers, [], []
        return my_params, params, my_buffers, buffers

    @torch.no_grad()
    def _fold(self, model: nn.Module, alpha: float | None) -> None:
        """Fold ``model`` in with weight ``alpha`` (``None``: copy it); ``n_averaged`` grows by 1.

        Floating-point tensors are interpolated; integer buffers (``num_batches_tracked``) are
        copied (an average of a counter is meaningless). With ``use_buffers=False`` all buffers
        are copied from ``model``, as ``AveragedModel`` does, until :func:`update_bn`
        recomputes them for the averaged weights (the stale-BN guard watches for that).

        Cost: one pass over each model's modules, one ``torch._foreach_lerp_`` per (device,
        dtype) group and one ``torch._foreach_copy_`` for the copied buffers; nothing is
        allocated on the common path (all tensors on one device and dtype), so the peak memory
        of an update is the average itself (``benchmarks/bench_averaging.py`` measures both).
        A bf16 model folded into a float32 average is upcast one tensor at a time.
        """
        mine, theirs, mine_rest, theirs_rest = self._pairs(model)
        if alpha is None:
            copy_all(mine, theirs)
        else:
            avg_f, new_f, dst_i, src_i = split_floating(mine, theirs)
            if avg_f:
                lerp_all(avg_f, new_f, alpha)
            copy_all(dst_i, src_i)
        copy_all(mine_rest, theirs_rest)
        self.n_averaged += 1
        if not self.use_buffers:
            self._bn.mark_stale()

    @property
    def bn_stale(self) -> bool:
        """True while the BN statistics of ``.module`` are those copied from the last model
        (``use_buffers=False``, an ``update`` since the last :func:`update_bn` or load)."""
        return self._bn.stale

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

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"module": <plain model state dict>, "n_averaged": int, "bn_stale": bool}``.

        Only tensors, numbers and strings: loads with ``torch.load(..., weights_only=True)``.
        """
        return {
            "module": self.module.state_dict(),
            "n_averaged": int(self.n_averaged),
            "bn_stale": bool(self.bn_stale),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`, with keys of a wrapped model accepted.

        ``state["module"]`` may carry ``module.`` / ``_orig_mod.`` prefixes (saved from a DDP or
        compiled model); a ``torch.optim.swa_utils.AveragedModel`` state dict (``module.*`` keys
        and an ``n_averaged`` tensor) is accepted too.
        """
        if isinstance(state, dict) and "module" not in state and "n_averaged" in state:
            state = _from_averaged_model(state)  # AveragedModel.state_dict()
        if not isinstance(state, dict) or "module" not in state or "n_averaged" not in state:
            raise ValueError(
                "averager state must be a dict with keys 'module' and 'n_averaged' "
                "(as returned by state_dict())"
            )
        own_keys = self.module.state_dict().keys()
        self.module.load_state_dict(strip_wrapper_prefixes(state["module"], own_keys))
        self.n_averaged = int(state["n_averaged"])
        if state.get("bn_stale", False):
            self._bn.mark_stale()
        else:
            self._bn.mark_fresh()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_stale_when_copied"] = self.bn_stale  # copied tensors get new version counters
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickle / deepcopy of the average: the copied module's hook is inert (or the old
        # average's), so the copy gets its own guard and its own record of staleness
        stale = state.pop("_stale_when_copied", False)
        self.__dict__.update(state)
        self._bn.mark_stale() if stale else self._bn.mark_fresh()
        self.module.register_forward_pre_hook(StaleBNGuard(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_averaged={self.n_averaged}, module={self.module!r})"


def _from_averaged_model(state: dict[str, Any]) -> dict[str, Any]:
    """Our state layout from ``AveragedModel.state_dict()`` (``module.<key>`` + ``n_averaged``)."""
    module = {k[len("module.") :]: v for k, v in state.items() if k.startswith("module.")}
    n = state["n_averaged"]
    return {
        "module": module,
        "n_averaged": int(n.item() if isinstance(n, Tensor) else n),
        "bn_stale": True,
    }


def _build_module(model: nn.Module | None, module: ModuleSource | None) -> nn.Module:
    """The module that will hold the average: a deep copy of ``model`` (unwrapped), or the
    user's ``module`` (an ``nn.Module``, or a zero-argument function returning one)."""
    if module is None:
        if model is None:
            raise ValueError(
                "pass the model to average (or module=, a copy of it or a function that builds one)"
            )
        bare = unwrap_model(model)
        try:
            return copy.deepcopy(bare)
        except Exception as exc:  # re-raised with the way out
            raise ValueError(
                f"model cannot be deep-copied ({type(exc).__name__}: {exc}); pass module= a "
                f"separately built model of the same architecture (or a function that builds "
                f"one) to hold the average"
            ) from exc
    built = module() if callable(module) and not isinstance(module, nn.Module) else module
    if not isinstance(built, nn.Module):
        raise ValueError(
            f"module must be an nn.Module or a function returning one, got {type(built).__name__}"
        )
    built = unwrap_model(built)
    if model is not None:
        _check_same_architecture(unwrap_model(model), built)
    return built


def _check_same_architecture(model: nn.Module, module: nn.Module) -> None:
    if module is model:
        raise ValueError(
            "module= is the model itself: pass a separate copy (or a function that builds one)"
        )
    a_p, a_b = params_and_buffers(model)
    b_p, b_b = params_and_buffers(module)
    if [t.shape for t in a_p] != [t.shape for t in b_p] or len(a_b) != len(b_b):
        raise ValueError(
            "module= does not have the model's architecture (its parameters differ "
            "in number or shape)"
        )


class SWA(_Averager):
    r"""Stochastic Weight Averaging: the equal-weight running mean of the weights.

    After ``k`` calls of :meth:`update` (constructing does not count as a sample),
    ``n_averaged == k`` and every floating parameter is the mean of the ``k`` models seen:

    .. math:: w_{\mathrm{SWA}} \leftarrow \frac{n\,w_{\mathrm{SWA}} + w}{n + 1}
              = w_{\mathrm{SWA}} + \tfrac{1}{n+1}(w - w_{\mathrm{SWA}})

    This agrees with ``torch.optim.swa_utils.AveragedModel`` to float rounding, but is computed
    with one in-place ``torch._foreach_lerp_`` per (device, dtype) group.

    Args:
        model: the model whose weights are averaged; deep-copied (DDP / DataParallel /
            ``torch.compile`` wrappers removed first) into ``.module``, which is put in eval mode.
        module: instead of the deep copy, the module that holds the average: a separately built
            model of the same architecture (its values are overwritten by the first update) or
            a zero-argument function returning one. For models ``copy.deepcopy`` cannot copy
            (``torch.nn.utils.parametrize``, the old ``weight_norm``, FSDP2's ``fully_shard``:
            shard the copy like the model and each rank averages its own shards).
        use_buffers: also average floating buffers (BN running stats). Leave ``False`` (buffers
            then follow the latest model) and call :func:`update_bn` on ``.module`` before
            evaluating, as the paper does; evaluating before that warns once.
        device: where to keep the average (e.g. ``"cpu"`` to save GPU memory).
        dtype: precision of the average's floating tensors. Default ``None``: float32 for a
            bf16 / fp16 model (a bf16 running mean stalls: past ``n`` of a few hundred the step
            ``(w - w_swa)/(n+1)`` rounds to zero), the model's own dtype otherwise.

    Example::

        swa = SWA(model)                       # or SWA(module=build_model())
        for epoch in range(epochs):
            train_one_epoch(model)
            if epoch >= swa_start:
                swa.update(model)              # a DDP / compiled model is fine
        update_bn(swa.module, train_batches)
        plain.load_state_dict(swa.module.state_dict())
    """

    def update(self, model: nn.Module) -> None:
        """Fold ``model``'s current weights into the mean; ``n_averaged`` grows by one (the
        first update copies the model). ``model`` may be wrapped (DDP, compile)."""
        n = self.n_averaged
        self._fold(model, None if n == 0 else 1.0 / (n + 1))


SWA.__module__ = "swa_lib.averaging"  # its public home (pickles, docs)
