"""Flat weight vectors in ``parameters_to_vector`` order, and the types the landscape code takes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

LossFn = Callable[[Tensor, Tensor], Tensor]
WeightsLike = Any  # nn.Module | Tensor (flat) | Sequence[Tensor] (parameters order)


# =============================================================================== flat vectors
def flatten(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate ``tensors`` (each flattened row-major) into one 1-D tensor (a new tensor)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("flatten() needs at least one tensor")
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def unflatten_like(vec: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    """Split the flat ``vec`` into tensors shaped like ``like`` (views of ``vec``)."""
    like = list(like)
    total = sum(t.numel() for t in like)
    if vec.dim() != 1 or vec.numel() != total:
        raise ValueError(
            f"vector has shape {tuple(vec.shape)}; expected ({total},) for {len(like)} tensors"
        )
    out, offset = [], 0
    for t in like:
        out.append(vec[offset : offset + t.numel()].view_as(t))
        offset += t.numel()
    return out


def get_flat_params(model: nn.Module) -> Tensor:
    """The model's parameters as one detached 1-D tensor (``parameters_to_vector`` order)."""
    return flatten(list(model.parameters()))


def state_params(state: Mapping[str, Tensor], model: nn.Module) -> Tensor:
    """The parameters of a saved ``state_dict`` as one flat vector, in ``model``'s order.

    A snapshot or checkpoint file holds a ``state_dict`` (parameters *and* buffers, by name);
    the landscape code works on the flat parameter vector of :func:`get_flat_params`. This
    picks ``state[name]`` for every ``name`` of ``model.named_parameters()`` and concatenates
    them, so ``state_params(m.state_dict(), m)`` equals ``get_flat_params(m)``. A missing name or
    a shape that differs from the model's raises a ``ValueError`` naming it.
    """
    parts = []
    for name, p in model.named_parameters():
        if name not in state:
            raise ValueError(f"state has no parameter {name!r} (model {type(model).__name__})")
        t = state[name]
        if tuple(t.shape) != tuple(p.shape):
            raise ValueError(
                f"state[{name!r}] has shape {tuple(t.shape)}; the model's is {tuple(p.shape)}"
            )
        parts.append(t)
    return flatten(parts)


def load_flat_states(paths: Sequence[Any], model: nn.Module) -> Tensor:
    """Stack the parameters of saved state dicts (e.g. ``RunResult.snapshot_paths()``).

    Returns a ``(len(paths), P)`` tensor on the CPU, row ``i`` the :func:`state_params` of file
    ``paths[i]`` (read with ``weights_only=True``).
    """
    from ..io import load_torch

    paths = list(paths)
    if not paths:
        raise ValueError("paths is empty: no state files to load")
    return torch.stack([state_params(load_torch(p, what="state"), model) for p in paths])


@torch.no_grad()
def set_flat_params_(model: nn.Module, vec: Tensor) -> nn.Module:
    """Copy the flat ``vec`` into the model's parameters in place (buffers untouched)."""
    params = list(model.parameters())
    for p, v in zip(params, unflatten_like(vec, params)):
        p.copy_(v)
    return model


def _float_buffers(model: nn.Module) -> list[tuple[str, Tensor]]:
    return [(n, b) for n, b in model.named_buffers() if b.is_floating_point()]


def get_flat_buffers(model: nn.Module) -> Tensor:
    """The model's *floating* buffers (BN running mean/var) as one 1-D tensor.

    Integer buffers (``num_batches_tracked``) are not included: they are counters, not weights.
    Returns an empty tensor for a model without floating buffers.
    """
    bufs = [b for _, b in _float_buffers(model)]
    if not bufs:
        p = next(model.parameters(), None)
        return torch.zeros(0, dtype=p.dtype if p is not None else torch.float32)
    return flatten(bufs)


@torch.no_grad()
def set_flat_buffers_(model: nn.Module, vec: Tensor) -> nn.Module:
    """Copy ``vec`` (as returned by :func:`get_flat_buffers`) into the floating buffers."""
    bufs = [b for _, b in _float_buffers(model)]
    if not bufs:
        if vec.numel():
            raise ValueError("model has no floating buffers but the vector is not empty")
        return model
    for b, v in zip(bufs, unflatten_like(vec, bufs)):
        b.copy_(v)
    return model


def _param_list(weights: WeightsLike) -> list[Tensor]:
    if isinstance(weights, nn.Module):
        return [p.detach() for p in weights.parameters()]
    if isinstance(weights, Tensor):
        raise TypeError("pass a model or a list of tensors (parameters order), not a flat tensor")
    return [t.detach() for t in weights]


def _as_flat(w: WeightsLike, what: str) -> Tensor:
    if isinstance(w, nn.Module):
        return get_flat_params(w)
    if isinstance(w, Tensor):
        if w.dim() != 1:
            raise ValueError(f"{what} must be a flat 1-D tensor, got shape {tuple(w.shape)}")
        return w.detach()
    return flatten(list(w))
