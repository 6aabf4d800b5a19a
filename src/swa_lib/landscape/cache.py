r"""The grid cache: a landscape evaluation's values in one keyed ``.npz``, saved as it goes.

A grid (plane, rays, line or a plain list of points) is cached with ``cache=`` a directory (the
file is ``{kind}-{key[:20]}.npz`` in it) or an ``.npz`` path. The file is a
:class:`swa_lib.io.ResultCache`: its key is the SHA-256 of the canonical JSON of
:func:`grid_key_parts` -- digests of the base point, the directions and the cell coefficients,
the model's architecture (and its buffers when they are used, i.e. without BN recomputation), the
data, the metric list, the BN option, the weight decay (when a ``*_loss`` metric uses it), the
loss function's name, the dtype and a free ``tag`` -- and the key is stored inside the file and
compared on load: a stale or mismatched file raises :class:`CacheMismatchError` naming the parts
that differ (or is overwritten with ``on_mismatch="overwrite"``); it is never silently reused.

Resuming: the file holds ``values`` ``(N, M)`` (NaN where not evaluated) and ``done`` ``(N,)``;
it is rewritten atomically after every round of cells and when an exception stops the loop, so
a killed grid continues with :func:`missing_cells` only.

Stored arrays (format version :data:`CACHE_VERSION`): ``key``, ``key_json`` (the parts),
``metrics``, ``coeffs``, ``values``, ``done``, ``kind``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..io import CacheMismatchError, ResultCache, digest
from .vectors import LossFn, _float_buffers, flatten

__all__ = [
    "CACHE_VERSION",
    "CacheMismatchError",
    "GridCache",
    "grid_key_parts",
    "missing_cells",
    "model_identity",
    "loss_name",
]

CACHE_VERSION = 1
"""Version of the grid-cache key; bump it when the meaning of stored values changes."""


def model_identity(model: nn.Module, with_buffers: bool) -> dict[str, Any]:
    """What identifies the architecture in a key: ``repr``, parameter and buffer names, shapes
    and dtypes; with ``with_buffers`` also a digest of the floating buffers' values (the BN
    statistics used when they are not recomputed)."""
    ident: dict[str, Any] = {
        "repr": repr(model),
        "params": [[n, list(p.shape), str(p.dtype)] for n, p in model.named_parameters()],
        "buffers": [[n, list(b.shape), str(b.dtype)] for n, b in model.named_buffers()],
    }
    if with_buffers:
        bufs = [b for _, b in _float_buffers(model)]
        ident["buffer_values"] = digest(flatten(bufs)) if bufs else None
    return ident


def loss_name(loss_fn: LossFn | None) -> str:
    """``module.qualname`` of the loss function (``"cross_entropy"`` for the default). A lambda
    is ``"<module>.<lambda>"``: pass a ``tag`` to tell two of them apart."""
    if loss_fn is None:
        return "cross_entropy"
    mod = getattr(loss_fn, "__module__", "") or ""
    name = getattr(loss_fn, "__qualname__", None) or type(loss_fn).__qualname__
    return f"{mod}.{name}"


def grid_key_parts(
    *,
    kind: str,
    model: nn.Module,
    base: Tensor,
    directions: Tensor,
    coeffs: np.ndarray,
    data: dict[str, tuple[Tensor, Tensor]],
    metrics: list[str],
    bn_recompute: bool,
    bn_batch_size: int,
    weight_decay: float,
    loss_fn: LossFn | None,
    dtype: torch.dtype,
    data_key: str | None = None,
    tag: str = "",
) -> dict[str, Any]:
    """Everything that defines a grid's values, as the JSON-able dict the key is hashed from.

    ``data`` holds the splits used (the evaluated ones, and ``train`` for BN recomputation);
    ``data_key`` replaces their digests by a name. ``bn_recompute`` is the *effective* option
    (false for a model without BN).
    """
    return {
        "version": CACHE_VERSION,
        "kind": kind,
        "base": digest(base),
        "directions": digest(directions),
        "coeffs": digest(coeffs),
        "model": model_identity(model, with_buffers=not bn_recompute),
        "data": data_key
        if data_key is not None
        else {s: [digest(x), digest(y)] for s, (x, y) in data.items()},
        "metrics": metrics,
        "bn_recompute": bn_recompute,
        "bn_batch_size": bn_batch_size if bn_recompute else None,
        "weight_decay": float(weight_decay) if any(m.endswith("_loss") for m in metrics) else None,
        "loss_fn": loss_name(loss_fn),
        "dtype": str(dtype),
        "tag": tag,
    }


class GridCache:
    """The cache file of one grid: load (with shape checks) and atomic save of the partial grid.

    Args:
        location: a directory or an ``.npz`` path (``cache=`` of the evaluators).
        parts: from :func:`grid_key_parts`.
        kind: ``"plane"``, ``"ray"``, ``"line"`` or ``"points"``: the file-name prefix and the
            stored ``kind``.
        on_mismatch: ``"error"`` or ``"overwrite"`` (see :class:`swa_lib.io.ResultCache`).
    """

    def __init__(
        self,
        location: str | os.PathLike,
        parts: dict[str, Any],
        kind: str,
        on_mismatch: str = "error",
    ) -> None:
        self.store = ResultCache(
            location,
            parts,
            name=kind,
            on_mismatch=on_mismatch,
            label="grid cache",
            subject="a different grid",
        )
        self.kind = kind
        self.path = self.store.path
        self.key = self.store.key

    def load(self, n_cells: int, n_metrics: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(values (N, M) float64, done (N,) bool)`` from the file, or ``None`` (no file, or a
        stale one with ``on_mismatch="overwrite"``); raises :class:`CacheMismatchError` for a
        stale or unreadable file."""
        arrays = self.store.load()
        if arrays is None:
            return None
        values = np.array(arrays["values"], dtype=np.float64)
        done = np.array(arrays["done"], dtype=bool)
        if values.shape != (n_cells, n_metrics) or done.shape != (n_cells,):
            return self.store.mismatch(["shape"])
        return values, done

    def save(
        self, values: np.ndarray, done: np.ndarray, metrics: list[str], coeffs: np.ndarray
    ) -> None:
        """Write the grid so far (atomically: a killed write leaves the previous file)."""
        self.store.save(
            metrics=np.array(metrics),
            coeffs=coeffs,
            values=values,
            done=done,
            kind=np.array(self.kind),
        )


def missing_cells(done: np.ndarray, max_cells: int | None) -> np.ndarray:
    """Indices of the cells still to evaluate, in order; at most ``max_cells`` of them."""
    missing = np.flatnonzero(~done)
    if max_cells is not None:
        missing = missing[: max(0, int(max_cells))]
    return missing
