"""Training wrappers (DDP, DataParallel, ``torch.compile``) stripped from what an average holds.

``DistributedDataParallel(model)`` and ``DataParallel(model)`` keep the model as ``.module``, so
their state-dict keys start with ``module.``; ``torch.compile(model)`` keeps it as ``._orig_mod``
(keys ``_orig_mod.``). ``torch.optim.swa_utils.AveragedModel`` deep-copies whatever it is given
and adds its own ``module.`` on top, so the averaged weights of a compiled DDP model come out as
``module._orig_mod.module.conv.weight`` (pytorch/pytorch issues 102981, 149138). The averages of
this package average the bare model: :func:`unwrap_model` at construction and at every
``update``, and :func:`strip_wrapper_prefixes` when loading a state dict saved by a wrapper.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn

__all__ = ["unwrap_model", "strip_wrapper_prefixes", "WRAPPER_PREFIXES"]

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""Leading key prefixes added by DDP / DataParallel (``module.``) and ``torch.compile``
(``_orig_mod.``)."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside any nesting of ``DistributedDataParallel``, ``DataParallel`` and
    ``torch.compile`` wrappers (``model`` itself when it is not wrapped).

    ``torch.compile``'s wrapper is recognised by its class name (``OptimizedModule``) and its
    ``_orig_mod`` attribute, so that importing ``torch._dynamo`` is never needed here.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    parallel = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    while True:
        if isinstance(model, parallel):
            model = model.module
        elif type(model).__name__ == "OptimizedModule" and isinstance(
            getattr(model, "_orig_mod", None), nn.Module
        ):
            model = model._orig_mod
        else:
            return model


def strip_wrapper_prefixes(
    state: Mapping[str, Any], expected: Iterable[str] | None = None
) -> dict[str, Any]:
    """``state`` with the wrappers' key prefixes removed.

    Leading ``module.`` / ``_orig_mod.`` are stripped while *every* key carries the same one (a
    model with a submodule of its own called ``module`` is only stripped as far as needed: with
    ``expected`` given, stripping stops as soon as the keys are exactly ``expected``). If the keys
    still differ from ``expected``, ``_orig_mod.`` segments inside the keys (a compiled
    *submodule*, ``backbone._orig_mod.conv.weight``) are removed as well, when that makes them
    match. The values are the same objects (nothing is copied).

    Args:
        state: a state dict (name -> tensor).
        expected: the keys the result should have (the bare model's ``state_dict()`` keys).
    """
    want = set(expected) if expected is not None else None
    out = dict(state)
    while out and (want is None or set(out) != want):
        prefix = next((p for p in WRAPPER_PREFIXES if all(k.startswith(p) for k in out)), None)
        if prefix is None:
            break
        out = {k[len(prefix) :]: v for k, v in out.items()}
    if want is not None and set(out) != want:
        inner = {k.replace("._orig_mod.", "."): v for k, v in out.items()}
        if set(inner) == want:
            out = inner
    return out
