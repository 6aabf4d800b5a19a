r"""The evaluation engine: metrics at a list of points ``base + coeffs[n] @ directions``.

:func:`evaluate_points` is a pipeline of three steps, each its own function:

1. **prepare** (:func:`_prepare`): check the options, move the data to the device once, build the
   flat base point and directions and the :class:`_Evaluator`;
2. **cache** (:func:`_open_cache`): the grid's :class:`~swa_lib.landscape.cache.GridCache` --
   key, load on rank 0, broadcast to the other ranks (:mod:`swa_lib.landscape.distributed`);
3. **sharded loop** (:func:`_sharded_loop`): the missing cells in rounds of ``checkpoint_every``,
   each round split round-robin over the ranks, combined with an ``all_reduce`` and saved.

The evaluator runs under ``torch.inference_mode`` in large batches (slices of device tensors, no
``DataLoader``); with ``points_per_pass=K > 1`` it evaluates ``K`` points in one forward pass
(``torch.func.functional_call`` + ``vmap`` over ``K`` stacked weight vectors; with BN
recomputation the running statistics are stacked too and updated in train mode with the same
size-weighted momentum ``b / (n + b)`` as :func:`~swa_lib.averaging.update_bn`). The defaults
(:func:`default_points_per_pass`, :func:`default_batch_size`) follow measurements with
``benchmarks/bench_landscape.py``; the tables are in the landscape section of
``benchmarks/README.md``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..averaging import update_bn
from ..io import ON_MISMATCH
from ..modes import train_mode
from .cache import CacheMismatchError, GridCache, grid_key_parts, missing_cells
from .distributed import Sharding, sharding
from .results import SPLITS, metric_spec
from .vectors import (
    LossFn,
    WeightsLike,
    _as_flat,
    _float_buffers,
    set_flat_params_,
)

__all__ = ["CacheMismatchError", "default_batch_size", "default_points_per_pass", "evaluate_points"]


def _default_loss(output: Tensor, target: Tensor) -> Tensor:
    return F.cross_entropy(output, target, reduction="none")


def _slices(x: Tensor, batch_size: int) -> Iterator[Tensor]:
    for i in range(0, x.shape[0], batch_size):
        yield x[i : i + batch_size]


def default_points_per_pass(model: nn.Module, device: torch.device, bn_recompute: bool) -> int:
    """How many grid points share one forward pass by default (1 = the per-point loop).

    The rule: ``1`` on the CPU (a convolution under ``vmap`` becomes one grouped convolution over
    ``K`` times the channels, which the CPU kernels run slower than ``K`` plain ones) and for
    models above 1M parameters (a large model fills the GPU by itself, and ``K`` copies of its
    weights cost memory); on CUDA ``64`` with BN recomputation (its 128-sample train-mode batches
    are launch-bound) and ``16`` without. Measured with ``benchmarks/bench_landscape.py``: see
    "Defaults of the engine" in the landscape section of ``benchmarks/README.md``.
    """
    if device.type != "cuda" or sum(p.numel() for p in model.parameters()) > 1_000_000:
        return 1
    return 64 if bn_recompute else 16


def default_batch_size(device: torch.device) -> int:
    """Samples per forward pass and point: 256 on CPU, 4096 on CUDA.

    On a CPU larger batches are *slower* for conv nets (activations fall out of cache); a GPU
    wants large batches. Measurements: "Defaults of the engine" in the landscape section of
    ``benchmarks/README.md``.
    """
    return 4096 if device.type == "cuda" else 256


# ================================================================== evaluation of points
class _Evaluator:
    """Evaluates metrics at a stack of flat weight vectors ``(K, P)`` -> float64 ``(K, M)``."""

    def __init__(
        self,
        model: nn.Module,
        *,
        metrics: Sequence[str],
        splits: dict[str, tuple[Tensor, Tensor]],
        loss_fn: LossFn | None,
        weight_decay: float,
        bn_recompute: bool,
        bn_batch_size: int,
        batch_size: int,
        device: torch.device,
    ) -> None:
        self.model = copy.deepcopy(model).to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.params = [(n, p) for n, p in self.model.named_parameters()]
        if not self.params:
            raise ValueError("the model has no parameters")
        self.dtype = self.params[0][1].dtype
        self.device = device
        self.metrics = list(metrics)
        self.specs = [metric_spec(m) for m in self.metrics]  # (split, kind, percent)
        self.loss_fn = loss_fn or _default_loss
        self.weight_decay = float(weight_decay)
        self.bns = [
            m for m in self.model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats
        ]
        self.bn_recompute = bool(bn_recompute) and bool(self.bns)
        self.bn_batch_size = int(bn_batch_size)
        self.batch_size = int(batch_size)
        self.needed = [s for s in SPLITS if any(sp == s for sp, _, _ in self.specs)]
        self.need_pred = {
            s: any(sp == s and kind in ("error", "accuracy") for sp, kind, _ in self.specs)
            for s in SPLITS
        }
        self.data = {s: splits[s] for s in self.needed}
        if self.bn_recompute:
            if "train" not in splits:
                raise ValueError("bn_recompute=True needs the training data")
            self.bn_x = splits["train"][0]
        # names of the BN running stats (reset before a recompute) among the floating buffers
        self.bn_stats: dict[str, float] = {}
        for mname, m in self.model.named_modules():
            if m in self.bns:
                pre = f"{mname}." if mname else ""
                self.bn_stats[pre + "running_mean"] = 0.0
                self.bn_stats[pre + "running_var"] = 1.0
        self.evaluations = 0

    # -- helpers ------------------------------------------------------------------------------
    def _wd_term(self, points: Tensor) -> Tensor:
        return 0.5 * self.weight_decay * points.double().pow(2).sum(1)

    def _finish(self, sums: dict[str, tuple[Tensor, Tensor]], points: Tensor) -> np.ndarray:
        wd = self._wd_term(points) if self.weight_decay else None
        cols = []
        for split, kind, percent in self.specs:
            loss_sum, correct = sums[split]
            n = self.data[split][0].shape[0]
            if kind == "nll":
                cols.append(loss_sum / n)
            elif kind == "loss":
                cols.append(loss_sum / n + (wd if wd is not None else 0.0))
            else:
                cols.append(_rate(correct, n, kind, percent))
        return torch.stack(cols, 1).cpu().numpy()

    def _accumulate(
        self, out: Tensor, y: Tensor, pred: bool, k: int
    ) -> tuple[Tensor, Tensor | None]:
        """``out``: ``(k*B, ...)`` outputs for ``k`` points; returns per-point sums ``(k,)``."""
        yk = y.unsqueeze(0).expand(k, *y.shape).reshape(k * y.shape[0], *y.shape[1:])
        losses = self.loss_fn(out, yk).reshape(k, -1).sum(1, dtype=torch.float64)
        correct = None
        if pred:
            correct = (out.argmax(-1) == yk).reshape(k, -1).sum(1)
        return losses, correct

    def _sums(
        self, run: Callable[[Tensor], Tensor], k: int, batch_size: int
    ) -> dict[str, tuple[Tensor, Tensor]]:
        """Per-point loss sums and correct counts ``(k,)`` per split; ``run(x)`` gives the
        outputs ``(k, B, ...)`` (or ``(B, ...)`` for ``k = 1``) of a batch."""
        sums = {}
        for split in self.needed:
            x, y = self.data[split]
            loss_sum = torch.zeros(k, dtype=torch.float64, device=self.device)
            correct = torch.zeros(k, dtype=torch.long, device=self.device)
            for i in range(0, x.shape[0], batch_size):
                out = run(x[i : i + batch_size])
                out = out.reshape(-1, *out.shape[2:]) if k > 1 else out
                ls, c = self._accumulate(out, y[i : i + batch_size], self.need_pred[split], k)
                loss_sum += ls
                if c is not None:
                    correct += c
            sums[split] = (loss_sum, correct)
        return sums

    # -- per-point loop -----------------------------------------------------------------------
    def _one(self, p: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        set_flat_params_(self.model, p)
        if self.bn_recompute:
            # this rank's point only: no all-reduce of the statistics over a process group
            update_bn(self.model, _slices(self.bn_x, self.bn_batch_size), distributed=False)
        self.model.eval()
        return self._sums(self.model, 1, self.batch_size)

    # -- vmap over stacked weights ------------------------------------------------------------
    def _stacked_params(self, points: Tensor) -> dict[str, Tensor]:
        k, params, off = points.shape[0], {}, 0
        for name, p in self.params:
            params[name] = points[:, off : off + p.numel()].reshape(k, *p.shape)
            off += p.numel()
        return params

    def _recomputed_buffers(
        self, params: dict[str, Tensor], k: int, forward: Callable[..., Tensor]
    ) -> dict[str, Tensor]:
        """``k`` stacked copies of the floating buffers, BN statistics recomputed at each point:
        reset (mean 0, var 1), then one pass over the training inputs in batches of
        ``bn_batch_size`` with the BN layers (only them) in train mode and momentum
        ``b / (seen + b)`` (a size-weighted mean), as :func:`~swa_lib.averaging.update_bn` does
        for the per-point loop."""
        from torch.func import vmap

        bufs = {}
        for name, b in _float_buffers(self.model):
            if name in self.bn_stats:
                bufs[name] = torch.full(
                    (k, *b.shape), self.bn_stats[name], dtype=b.dtype, device=b.device
                )
            else:
                bufs[name] = b.unsqueeze(0).expand(k, *b.shape).clone()
        bns = set(self.bns)
        momenta = [bn.momentum for bn in self.bns]
        seen = 0
        with train_mode(self.model, only=lambda m: m in bns):
            try:
                fwd = vmap(forward, in_dims=(0, 0, None), randomness="different")
                for xb in _slices(self.bn_x, self.bn_batch_size):
                    b = xb.shape[0]
                    for bn in self.bns:
                        bn.momentum = b / (seen + b)
                    fwd(params, bufs, xb)
                    seen += b
            finally:
                for bn, mom in zip(self.bns, momenta):
                    bn.momentum = mom
        return bufs

    def _many(self, points: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        from torch.func import functional_call, vmap

        k = points.shape[0]
        params = self._stacked_params(points)
        model = self.model
        if self.bn_recompute:

            def f_bufs(pr: dict, bf: dict, x: Tensor) -> Tensor:
                return functional_call(model, (pr, bf), (x,))

            bufs = self._recomputed_buffers(params, k, f_bufs)
            model.eval()
            fwd_eval = vmap(f_bufs, in_dims=(0, 0, None))

            def run(x: Tensor) -> Tensor:
                return fwd_eval(params, bufs, x)
        else:
            model.eval()

            def f_plain(pr: dict, x: Tensor) -> Tensor:
                return functional_call(model, pr, (x,))

            fwd_plain = vmap(f_plain, in_dims=(0, None))

            def run(x: Tensor) -> Tensor:
                return fwd_plain(params, x)

        return self._sums(run, k, max(1, self.batch_size // k))

    @torch.inference_mode()
    def __call__(self, points: Tensor, vectorize: bool) -> np.ndarray:
        """Metrics at each row of ``points`` ``(K, P)``: float64 numpy ``(K, M)``."""
        self.evaluations += points.shape[0]
        if vectorize and points.shape[0] > 1:
            return self._finish(self._many(points), points)
        rows = [self._finish(self._one(p), p.unsqueeze(0)) for p in points]
        return np.concatenate(rows, 0)


def _rate(correct: Tensor, n: int, kind: str, percent: bool) -> Tensor:
    """Accuracy ``c / n`` or error ``(n - c) / n`` from ``c`` correct of ``n`` (float64).

    The deprecated percent names keep the formulas they always had, ``100 c / n`` and
    ``100 - 100 c / n``, so their values stay bit-identical.
    """
    c = correct.double()
    if percent:
        return 100.0 * c / n if kind == "accuracy" else 100.0 - 100.0 * c / n
    return c / n if kind == "accuracy" else (n - c) / n


# ========================================================================== the options
@dataclass
class _Options:
    """The keyword options of :func:`evaluate_points` (documented there)."""

    data: Any = None
    train: tuple[Tensor, Tensor] | None = None
    test: tuple[Tensor, Tensor] | None = None
    metrics: Sequence[str] = ("train_loss", "test_error")
    loss_fn: LossFn | None = None
    weight_decay: float = 0.0
    bn_recompute: bool = False
    bn_batch_size: int = 128
    batch_size: int | None = None
    points_per_pass: int | None = None
    device: torch.device | str | None = None
    cache: str | os.PathLike | None = None
    checkpoint_every: int | None = None
    max_cells: int | None = None
    callback: Callable[[int, dict[str, float]], None] | None = None
    distributed: bool | None = None
    progress: bool | None = None
    on_mismatch: str = "error"
    data_key: str | None = None
    cache_tag: str = ""


_OPTION_NAMES = tuple(f.name for f in fields(_Options))


@dataclass
class _Job:
    """A prepared evaluation: what the cache and the loop need."""

    metrics: list[str]
    device: torch.device
    dtype: torch.dtype
    splits: dict[str, tuple[Tensor, Tensor]]  # the splits used, in SPLITS order
    base: Tensor  # (P,)
    dirs: Tensor  # (D, P)
    coeffs: np.ndarray  # (N, D) float64
    evaluator: _Evaluator
    k: int  # points per pass
    round_size: int  # cells per checkpoint (all ranks together)
    shard: Sharding
    values: np.ndarray  # (N, M), NaN where not evaluated
    done: np.ndarray  # (N,) bool


# ============================================================================ 1. prepare
def _resolve_splits(
    data: Any, train: tuple[Tensor, Tensor] | None, test: tuple[Tensor, Tensor] | None
) -> dict[str, tuple[Tensor, Tensor]]:
    splits: dict[str, tuple[Tensor, Tensor]] = {}
    if data is not None:
        if isinstance(data, dict):
            splits.update({k: tuple(v) for k, v in data.items() if k in SPLITS})
        else:
            for s in SPLITS:
                if hasattr(data, f"x_{s}"):
                    splits[s] = (getattr(data, f"x_{s}"), getattr(data, f"y_{s}"))
    if train is not None:
        splits["train"] = tuple(train)
    if test is not None:
        splits["test"] = tuple(test)
    return splits


def _device_splits(
    opt: _Options, metrics: list[str], device: torch.device, dtype: torch.dtype
) -> dict[str, tuple[Tensor, Tensor]]:
    """The splits the metrics (and BN recomputation) use, on ``device``, inputs in ``dtype``."""
    splits_in = _resolve_splits(opt.data, opt.train, opt.test)
    needed = [s for s in SPLITS if any(metric_spec(m)[0] == s for m in metrics)]
    needed_data = needed + ["train"] if opt.bn_recompute and "train" not in needed else needed
    splits: dict[str, tuple[Tensor, Tensor]] = {}
    for s in needed_data:
        if s not in splits_in:
            raise ValueError(
                f"metrics {metrics} (or bn_recompute) need the {s} split: pass data= or {s}=(x, y)"
            )
        x, y = splits_in[s]
        x = x.to(device, dtype) if x.is_floating_point() else x.to(device)
        splits[s] = (x, y.to(device))
    return splits


def _geometry(
    model: nn.Module,
    base: WeightsLike,
    directions: Tensor | Sequence[Tensor],
    coeffs: Any,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[Tensor, Tensor, np.ndarray]:
    """``(base (P,), directions (D, P))`` on ``device`` in ``dtype`` and ``coeffs (N, D)``."""
    base_v = _as_flat(base, "base").to(device, dtype)
    if isinstance(directions, Tensor):
        dirs = directions.detach()
        if dirs.dim() == 1:
            dirs = dirs.unsqueeze(0)
    else:
        dirs = torch.stack([_as_flat(d, "direction").to(device) for d in directions])
    dirs = dirs.to(device, dtype)
    coeffs_np = np.asarray(coeffs, dtype=np.float64)
    if coeffs_np.ndim != 2 or coeffs_np.shape[1] != dirs.shape[0]:
        raise ValueError(f"coeffs must have shape (N, {dirs.shape[0]}), got {coeffs_np.shape}")
    n_params = sum(p.numel() for p in model.parameters())
    if base_v.numel() != n_params or dirs.shape[1] != n_params:
        raise ValueError(
            f"the model has {n_params} parameters but base has {base_v.numel()} "
            f"and directions {dirs.shape[1]} entries"
        )
    return base_v, dirs, coeffs_np


def _prepare(
    model: nn.Module,
    base: WeightsLike,
    directions: Tensor | Sequence[Tensor],
    coeffs: Any,
    opt: _Options,
) -> _Job:
    metrics = list(opt.metrics)
    for m in metrics:
        metric_spec(m)  # ValueError naming the allowed metrics
    if not metrics:
        raise ValueError("metrics is empty")
    if opt.on_mismatch not in ON_MISMATCH:
        raise ValueError(f"on_mismatch must be 'error' or 'overwrite', got {opt.on_mismatch!r}")
    first = next(model.parameters())
    device = torch.device(opt.device) if opt.device is not None else first.device
    dtype = first.dtype
    shard = sharding(opt.distributed, device)
    device = shard.local_device(device)
    splits = _device_splits(opt, metrics, device, dtype)
    base_v, dirs, coeffs_np = _geometry(model, base, directions, coeffs, device, dtype)
    evaluator = _Evaluator(
        model,
        metrics=metrics,
        splits=splits,
        loss_fn=opt.loss_fn,
        weight_decay=opt.weight_decay,
        bn_recompute=opt.bn_recompute,
        bn_batch_size=opt.bn_batch_size,
        batch_size=opt.batch_size or default_batch_size(device),
        device=device,
    )
    k = opt.points_per_pass or default_points_per_pass(model, device, evaluator.bn_recompute)
    k = max(1, int(k))
    round_size = int(opt.checkpoint_every) if opt.checkpoint_every else max(32, shard.world * k)
    n_cells = coeffs_np.shape[0]
    return _Job(
        metrics=metrics,
        device=device,
        dtype=dtype,
        splits=splits,
        base=base_v,
        dirs=dirs,
        coeffs=coeffs_np,
        evaluator=evaluator,
        k=k,
        round_size=max(1, round_size),
        shard=shard,
        values=np.full((n_cells, len(metrics)), np.nan),
        done=np.zeros(n_cells, dtype=bool),
    )


# ============================================================================== 2. cache
def _open_cache(kind: str, model: nn.Module, job: _Job, opt: _Options) -> GridCache | None:
    """The grid's cache (rank 0 only; ``None`` elsewhere or without ``cache=``); what it holds is
    loaded into ``job.values`` / ``job.done`` on every rank."""
    if opt.cache is None:
        return None
    grid, status, err = None, 0, None
    if job.shard.rank == 0:
        ev = job.evaluator
        parts = grid_key_parts(
            kind=kind,
            model=model,
            base=job.base,
            directions=job.dirs,
            coeffs=job.coeffs,
            data=job.splits,
            metrics=job.metrics,
            bn_recompute=ev.bn_recompute,
            bn_batch_size=opt.bn_batch_size,
            weight_decay=opt.weight_decay,
            loss_fn=opt.loss_fn,
            dtype=job.dtype,
            data_key=opt.data_key,
            tag=opt.cache_tag,
        )
        grid = GridCache(opt.cache, parts, kind, opt.on_mismatch)
        try:
            loaded = grid.load(*job.values.shape)
        except CacheMismatchError as exc:
            status, err, loaded = 1, exc, None
        if loaded is not None:
            job.values, job.done = loaded
    if job.shard.distributed:
        status, job.done, job.values = job.shard.broadcast_cache(status, job.done, job.values)
    if status:
        raise (
            err
            if err is not None
            else CacheMismatchError("rank 0 found a mismatched grid cache (see its error)")
        )
    return grid


# ======================================================================= 3. sharded loop
def _progress_bar(opt: _Options, job: _Job, n_missing: int, kind: str) -> Any:
    progress = opt.progress
    if progress is None:
        progress = os.environ.get("SWA_LIB_PROGRESS", "1") != "0"
    if not (progress and job.shard.rank == 0 and n_missing):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=len(job.done), initial=int(job.done.sum()), desc=f"{kind} cells", leave=False)


def _round(
    job: _Job, cells: np.ndarray, coeffs_t: Tensor, on_row: Callable[[int, int, np.ndarray], None]
) -> None:
    """Evaluate this rank's share of ``cells`` (round-robin positions), ``k`` points per pass;
    ``on_row(position, cell, values)`` for each."""
    positions = job.shard.positions(len(cells))
    for c0 in range(0, len(positions), job.k):
        pos = positions[c0 : c0 + job.k]
        chunk = cells[pos]
        c = coeffs_t[chunk].to(job.device, job.dtype)
        pts = job.base.unsqueeze(0) + c @ job.dirs
        vals = job.evaluator(pts, vectorize=job.k > 1)
        for row, cell, j in zip(vals, chunk, pos):
            on_row(int(j), int(cell), row)


def _sharded_loop(kind: str, job: _Job, grid: GridCache | None, opt: _Options) -> int:
    """Evaluate the missing cells into ``job.values`` / ``job.done``; returns how many this
    process evaluated. Saves after every round and when an exception stops the loop."""
    shard, values, done = job.shard, job.values, job.done

    def save() -> None:
        if grid is not None:
            grid.save(values, done, job.metrics, job.coeffs)

    missing = missing_cells(done, opt.max_cells)
    bar = _progress_bar(opt, job, len(missing), kind)
    coeffs_t = torch.from_numpy(job.coeffs)
    evaluated = 0
    local = np.zeros((0, len(job.metrics)))

    def on_row(j: int, cell: int, row: np.ndarray) -> None:
        nonlocal evaluated
        evaluated += 1
        if shard.distributed:
            local[j] = row
        else:
            values[cell] = row
            done[cell] = True
        if bar is not None:
            bar.update(shard.world)
        if opt.callback is not None:
            opt.callback(cell, {m: float(v) for m, v in zip(job.metrics, row)})

    try:
        for start in range(0, len(missing), job.round_size):
            cells = missing[start : start + job.round_size]
            local = np.zeros((len(cells), len(job.metrics)))
            _round(job, cells, coeffs_t, on_row)
            if shard.distributed:
                values[cells] = shard.all_reduce(local)
                done[cells] = True
            save()
    except BaseException:
        if not shard.distributed:
            save()
        raise
    finally:
        if bar is not None:
            bar.close()
    if not len(missing) and grid is not None and not grid.path.exists():
        save()
    return evaluated


# ============================================================================ the engine
def _evaluate(
    kind: str,
    model: nn.Module,
    base: WeightsLike,
    directions: Tensor | Sequence[Tensor],
    coeffs: Any,
    opt: _Options,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """prepare -> cache -> sharded loop; ``kind`` names the cache file and enters its key."""
    job = _prepare(model, base, directions, coeffs, opt)
    grid = _open_cache(kind, model, job, opt)
    evaluated = _sharded_loop(kind, job, grid, opt)
    return (
        job.values,
        job.done,
        {
            "metrics": job.metrics,
            "evaluated": evaluated,
            "cache_path": str(grid.path) if grid is not None else None,
        },
    )


def _evaluate_kind(
    kind: str,
    model: nn.Module,
    base: WeightsLike,
    directions: Tensor | Sequence[Tensor],
    coeffs: Any,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """:func:`evaluate_points` for the shapes of :mod:`.surfaces` (``kind`` = ``"plane"``,
    ``"ray"``, ``"line"``): the same options, passed as keywords."""
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        raise TypeError(
            f"unknown option(s) {unknown}; the options are those of "
            f"evaluate_points: {', '.join(_OPTION_NAMES)}"
        )
    return _evaluate(kind, model, base, directions, coeffs, _Options(**options))


def evaluate_points(
    model: nn.Module,
    base: WeightsLike,
    directions: Tensor | Sequence[Tensor],
    coeffs: np.ndarray | Sequence[Sequence[float]],
    *,
    data: Any = None,
    train: tuple[Tensor, Tensor] | None = None,
    test: tuple[Tensor, Tensor] | None = None,
    metrics: Sequence[str] = ("train_loss", "test_error"),
    loss_fn: LossFn | None = None,
    weight_decay: float = 0.0,
    bn_recompute: bool = False,
    bn_batch_size: int = 128,
    batch_size: int | None = None,
    points_per_pass: int | None = None,
    device: torch.device | str | None = None,
    cache: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    max_cells: int | None = None,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    distributed: bool | None = None,
    progress: bool | None = None,
    on_mismatch: str = "error",
    data_key: str | None = None,
    cache_tag: str = "",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    r"""Evaluate metrics at the points ``base + coeffs[n] @ directions``, ``n = 0..N-1``.

    The engine behind :func:`evaluate_plane`, :func:`ray_profile` and :func:`line_profile`; their
    keyword options are the ones documented here.

    Args:
        model: defines the architecture (its parameters are replaced at each point) and, with
            ``bn_recompute=False``, the BN running statistics used everywhere. Not modified: a
            copy is evaluated.
        base: a flat vector ``(P,)``, a model, or a list of parameter tensors.
        directions: ``(D, P)`` tensor or a list of ``D`` flat vectors.
        coeffs: ``(N, D)`` coefficients, one row per cell.
        data: an object with ``x_train, y_train, x_test, y_test`` (``swa_lib.data.ArrayDataset``)
            or a dict ``{"train": (x, y), "test": (x, y)}``; or pass ``train=`` / ``test=``.
            Tensors are moved once to ``device``; floating inputs are cast to the model's dtype.
        metrics: names from :data:`METRICS`, e.g. ``("train_loss", "test_error", "test_nll")``
            (error and accuracy as fractions); the deprecated percent names of
            :data:`METRIC_ALIASES` (``"test_err"``, ``"test_acc"``, ...) still work.
        loss_fn: ``loss_fn(output, target)`` -> per-sample losses (summed over any extra dims);
            default cross-entropy. Must also accept ``k`` points' outputs concatenated along dim 0.
        weight_decay: coefficient of the ``0.5 * wd * ||w||^2`` term of the ``*_loss`` metrics.
        bn_recompute: recompute BN running statistics at every point with ``update_bn`` on the
            training inputs in batches of ``bn_batch_size`` (size-weighted, in order; the
            variance estimate depends on the batch size, the mean does not).
        batch_size: samples per forward pass and point (split over the points of a vmap pass);
            default :func:`default_batch_size` (256 on CPU, 4096 on CUDA).
        points_per_pass: points per ``vmap`` forward pass; ``1`` is the per-point loop; ``None``
            uses :func:`default_points_per_pass`.
        device: where to evaluate; default the model's device. Under ``torchrun`` with CUDA, an
            index-less ``"cuda"`` becomes ``cuda:LOCAL_RANK``.
        cache: a directory (the file name is derived from the key) or a ``.npz`` path; see
            :mod:`swa_lib.landscape.cache`.
        checkpoint_every: cells (of the whole grid, all ranks together) between cache writes and,
            when distributed, between all-reduces; default ``max(32, world * points_per_pass)``.
        max_cells: evaluate at most this many missing cells in this call, then return the
            partial result (NaN where missing) after saving it.
        callback: ``callback(cell_index, {metric: value})`` after each cell this process
            evaluates (stored before the call, so an exception raised there loses nothing).
        distributed: ``None``: shard over the ranks if a process group is initialised (or the
            process was started by ``torchrun``); ``False``: never; ``True``: require it.
        progress: a tqdm bar on rank 0 (default: on unless the environment sets
            ``SWA_LIB_PROGRESS=0``, as the tests and benchmarks do).
        on_mismatch: ``"error"`` (default) raises :class:`CacheMismatchError` when the cache file
            holds another grid; ``"overwrite"`` warns and recomputes.
        data_key: a string identifying the data in the cache key instead of hashing the tensors.
        cache_tag: extra text mixed into the cache key (e.g. for a custom ``loss_fn`` lambda).

    Returns:
        ``(values, done, info)``: float64 ``(N, M)`` (NaN where not evaluated), bool ``(N,)``,
        and ``{"metrics", "evaluated", "cache_path"}``.
    """
    opt = _Options(
        data=data,
        train=train,
        test=test,
        metrics=metrics,
        loss_fn=loss_fn,
        weight_decay=weight_decay,
        bn_recompute=bn_recompute,
        bn_batch_size=bn_batch_size,
        batch_size=batch_size,
        points_per_pass=points_per_pass,
        device=device,
        cache=cache,
        checkpoint_every=checkpoint_every,
        max_cells=max_cells,
        callback=callback,
        distributed=distributed,
        progress=progress,
        on_mismatch=on_mismatch,
        data_key=data_key,
        cache_tag=cache_tag,
    )
    return _evaluate("points", model, base, directions, coeffs, opt)
