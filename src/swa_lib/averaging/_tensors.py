"""Tensor plumbing of the averages: collecting a model's tensors fast, fused in-place copy/lerp.

Nothing here knows about SWA or EMA; :mod:`.average` builds the averages on these helpers.

* :func:`params_and_buffers` -- ``(parameters, buffers)`` in one pass over the modules.
* :func:`copy_all` / :func:`lerp_all` -- ``d.copy_(s)`` / ``a += alpha (n - a)`` for lists of
  pairs, one ``torch._foreach_*`` call per (device, dtype) group.
* :func:`local_tensors` -- the rank-local shard of each ``DTensor`` (FSDP2's parameters), so an
  elementwise average of sharded parameters runs on each rank's shard, with no collective.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

try:  # torch built without distributed support has no DTensor
    from torch.distributed.tensor import DTensor
except ImportError:  # pragma: no cover - depends on the torch build
    DTensor = None  # type: ignore[assignment,misc]

HALF_DTYPES = (torch.float16, torch.bfloat16)
"""Floating dtypes too coarse to hold an average (8 / 11 significant bits)."""


def params_and_buffers(model: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
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


def has_dtensor(tensors: list[Tensor]) -> bool:
    """Whether any tensor is a ``DTensor`` (an FSDP2 / tensor-parallel parameter)."""
    return DTensor is not None and any(isinstance(t, DTensor) for t in tensors)


def local_tensors(tensors: list[Tensor], other: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """Replace each ``DTensor`` pair by its rank-local shards (``_local_tensor``, the storage).

    The average is elementwise, so with both tensors sharded the same way (same device mesh and
    placements, e.g. two ``fully_shard``-ed copies of one architecture) each rank averages its own
    shard and the shards of the average are the average of the shards -- no all-gather, and the
    memory of an average is its shard. A ``DTensor`` paired with a plain tensor, or two
    ``DTensor`` of different placements, raise ``ValueError`` (their local pieces do not line up).
    """
    mine_out, other_out = [], []
    for a, b in zip(tensors, other):
        a_dt, b_dt = isinstance(a, DTensor), isinstance(b, DTensor)
        if a_dt or b_dt:
            if (
                not (a_dt and b_dt)
                or a.placements != b.placements
                or a.device_mesh != b.device_mesh
            ):
                raise ValueError(
                    "a sharded (DTensor) tensor is paired with one sharded differently (or not at "
                    "all): build the average's module sharded exactly like the model (the same "
                    "fully_shard/mesh calls) and pass it as module="
                )
            a, b = a._local_tensor, b._local_tensor
        mine_out.append(a)
        other_out.append(b)
    return mine_out, other_out


def _same_place(dst: list[Tensor], src: list[Tensor]) -> bool:
    """Whether every tensor of both lists has the device and dtype of ``dst[0]``."""
    if not dst:
        return True
    device, dtype = dst[0].device, dst[0].dtype
    return all(t.device == device and t.dtype == dtype for t in dst) and all(
        t.device == device and t.dtype == dtype for t in src
    )


def copy_all(dst: list[Tensor], src: list[Tensor]) -> None:
    """``d.copy_(s)`` for each pair: one ``_foreach_copy_`` per (device, dtype) combination.

    BN nets mix float running stats with int64 counters, so the pairs are grouped first; pairs
    that differ in device or dtype (a conversion, e.g. a bf16 model into a float32 average) are
    copied one by one.
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


def lerp_all(avg: list[Tensor], new: list[Tensor], alpha: float) -> None:
    """``a += alpha * (n - a)`` in place for each pair, one ``_foreach_lerp_`` per device/dtype.

    Sources on another device or dtype than their average are converted first (a temporary the
    size of that tensor only): a bf16 model folded into a float32 average is upcast exactly, and
    the arithmetic runs in float32.
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


def split_floating(
    mine: list[Tensor], theirs: list[Tensor]
) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
    """``(avg_float, new_float, dst_int, src_int)``: the pairs to average and the integer pairs
    (``num_batches_tracked``), which are copied -- an average of a counter is meaningless."""
    avg_f: list[Tensor] = []
    new_f: list[Tensor] = []
    dst_i: list[Tensor] = []
    src_i: list[Tensor] = []
    for avg, new in zip(mine, theirs):
        if avg.is_floating_point():
            avg_f.append(avg)
            new_f.append(new)
        else:
            dst_i.append(avg)
            src_i.append(new)
    return avg_f, new_f, dst_i, src_i


def resolve_dtype(dtype: torch.dtype | None) -> torch.dtype | None:
    """Check ``dtype=`` of an average: ``None`` or a floating ``torch.dtype``."""
    if dtype is None:
        return None
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(
            f"dtype must be None or a floating torch.dtype (torch.float32, "
            f"torch.float64, ...), got {dtype!r}"
        )
    return dtype


def cast_floating(module: nn.Module, dtype: torch.dtype | None) -> None:
    """Store ``module``'s floating parameters and buffers in the average's precision, in place.

    ``dtype=None``: bf16 and fp16 tensors become float32, every other dtype is kept (a running
    mean in bf16 stalls: once ``1/(n+1)`` of a step is below half a unit in the last place of
    the 8-bit mantissa, ``w_swa + (w - w_swa)/(n+1)`` rounds back to ``w_swa``). A floating
    ``dtype``: every floating tensor is stored in it. Integer buffers are never touched.
    """

    def target(t: Tensor) -> torch.dtype:
        if not t.is_floating_point():
            return t.dtype
        if dtype is None:
            return torch.float32 if t.dtype in HALF_DTYPES else t.dtype
        return dtype

    params, buffers = params_and_buffers(module)
    if all(target(t) == t.dtype for t in params + buffers):  # nothing to do (FSDP2 modules too)
        return
    module._apply(lambda t: t.to(target(t)))
