"""The evaluation engine: metrics at a list of points ``base + coeffs @ directions``."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..averaging import update_bn
from ..io import atomic_savez
from .results import _CACHE_VERSION, _SPLITS, METRICS
from .vectors import (
    LossFn,
    WeightsLike,
    _as_flat,
    _float_buffers,
    flatten,
    set_flat_params_,
)


class CacheMismatchError(RuntimeError):
    """A grid cache file exists but was computed for something else (its stored key differs)."""


# ================================================================== evaluation of points
def _default_loss(output: Tensor, target: Tensor) -> Tensor:
    return F.cross_entropy(output, target, reduction="none")


def _slices(x: Tensor, batch_size: int) -> Iterator[Tensor]:
    for i in range(0, x.shape[0], batch_size):
        yield x[i:i + batch_size]


def default_points_per_pass(model: nn.Module, device: torch.device, bn_recompute: bool) -> int:
    """How many grid points share one forward pass by default (1 = the per-point loop).

    Chosen from measurements with ``benchmarks/bench_landscape.py`` (float32; the MNIST-1D CNN,
    23k parameters, 4000/1000 samples, and a CIFAR-shaped BN CNN, 34k parameters, 1000/500
    random images; time per grid point, medians of 3 interleaved runs):

    * CPU (2 shared cores, 1 thread, torch 2.14, ``--quick``: 7x7 grid, 800/200 MNIST-1D and
      300/200 random images): ``vmap`` over 8 points is *slower* than the per-point loop in every
      case (cnn1d 74 vs 59 ms without BN recompute, 260 vs 125 ms with; CIFAR-shaped 613 vs
      336 ms and 935 vs 508 ms): a convolution under ``vmap`` becomes one grouped convolution
      over ``K`` times the channels, which the CPU kernels run slower than ``K`` plain ones.
      So ``1``.
    * CUDA (H100, torch 2.11, 21x21 grid), K = 1 / 8 / 16 / 64:
      without BN recompute cnn1d 1.45 / 1.67 / 1.65 / 1.78 ms, CIFAR-shaped 2.42 / 1.76 / 1.70 /
      1.72 ms (a wash: the big eval batches already fill the GPU); with BN recompute (128-sample
      train-mode batches, launch-bound) cnn1d 17.4 / 8.5 / 5.5 / 2.8 ms, CIFAR-shaped 5.7 / 4.1 /
      3.1 / 2.8 ms. So ``64`` with BN recompute and ``16`` without, for models up to 1M
      parameters; ``1`` above (not measured: a large model fills the GPU by itself, and ``K``
      copies of its weights cost memory).
    """
    if device.type != "cuda" or sum(p.numel() for p in model.parameters()) > 1_000_000:
        return 1
    return 64 if bn_recompute else 16


def default_batch_size(device: torch.device) -> int:
    """Samples per forward pass and point: 256 on CPU, 4096 on CUDA.

    On a CPU larger batches are *slower* for conv nets (activations fall out of cache): 1 thread,
    1000 CIFAR-shaped images, batch 128/256/512/1024/2048: 1.40/1.44/1.61/2.06/2.44 s; 5000
    MNIST-1D signals through the cnn1d: 450/405/470/429 ms for 128/256/512/1024. A GPU wants
    large batches.
    """
    return 4096 if device.type == "cuda" else 256


class _Evaluator:
    """Evaluates metrics at a stack of flat weight vectors ``(K, P)`` -> float64 ``(K, M)``."""

    def __init__(self, model: nn.Module, *, metrics: Sequence[str],
                 splits: dict[str, tuple[Tensor, Tensor]], loss_fn: LossFn | None,
                 weight_decay: float, bn_recompute: bool, bn_batch_size: int, batch_size: int,
                 device: torch.device) -> None:
        self.model = copy.deepcopy(model).to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.params = [(n, p) for n, p in self.model.named_parameters()]
        if not self.params:
            raise ValueError("the model has no parameters")
        self.dtype = self.params[0][1].dtype
        self.device = device
        self.metrics = list(metrics)
        self.loss_fn = loss_fn or _default_loss
        self.weight_decay = float(weight_decay)
        self.bns = [m for m in self.model.modules()
                    if isinstance(m, _BatchNorm) and m.track_running_stats]
        self.bn_recompute = bool(bn_recompute) and bool(self.bns)
        self.bn_batch_size = int(bn_batch_size)
        self.batch_size = int(batch_size)
        self.needed = [s for s in _SPLITS if any(m.startswith(s + "_") for m in self.metrics)]
        self.need_pred = {s: any(m in (f"{s}_err", f"{s}_acc") for m in self.metrics)
                          for s in _SPLITS}
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
        for m in self.metrics:
            split, kind = m.split("_", 1)
            loss_sum, correct = sums[split]
            n = self.data[split][0].shape[0]
            if kind == "nll":
                cols.append(loss_sum / n)
            elif kind == "loss":
                cols.append(loss_sum / n + (wd if wd is not None else 0.0))
            elif kind == "acc":
                cols.append(100.0 * correct.double() / n)
            else:
                cols.append(100.0 - 100.0 * correct.double() / n)
        return torch.stack(cols, 1).cpu().numpy()

    def _accumulate(self, out: Tensor, y: Tensor, pred: bool, k: int
                    ) -> tuple[Tensor, Tensor | None]:
        """``out``: ``(k*B, ...)`` outputs for ``k`` points; returns per-point sums ``(k,)``."""
        yk = y.unsqueeze(0).expand(k, *y.shape).reshape(k * y.shape[0], *y.shape[1:])
        losses = self.loss_fn(out, yk).reshape(k, -1).sum(1, dtype=torch.float64)
        correct = None
        if pred:
            correct = (out.argmax(-1) == yk).reshape(k, -1).sum(1)
        return losses, correct

    # -- per-point loop -----------------------------------------------------------------------
    def _one(self, p: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        set_flat_params_(self.model, p)
        if self.bn_recompute:
            update_bn(self.model, _slices(self.bn_x, self.bn_batch_size))
        self.model.eval()
        sums = {}
        for split in self.needed:
            x, y = self.data[split]
            loss_sum = torch.zeros(1, dtype=torch.float64, device=self.device)
            correct = torch.zeros(1, dtype=torch.long, device=self.device)
            for i in range(0, x.shape[0], self.batch_size):
                out = self.model(x[i:i + self.batch_size])
                ls, c = self._accumulate(out, y[i:i + self.batch_size], self.need_pred[split], 1)
                loss_sum += ls
                if c is not None:
                    correct += c
            sums[split] = (loss_sum, correct)
        return sums

    # -- vmap over stacked weights ------------------------------------------------------------
    def _many(self, points: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        from torch.func import functional_call, vmap

        k = points.shape[0]
        params, off = {}, 0
        for name, p in self.params:
            params[name] = points[:, off:off + p.numel()].reshape(k, *p.shape)
            off += p.numel()
        model = self.model
        if self.bn_recompute:
            bufs = {}
            for name, b in _float_buffers(model):
                if name in self.bn_stats:
                    bufs[name] = torch.full((k, *b.shape), self.bn_stats[name], dtype=b.dtype,
                                            device=b.device)
                else:
                    bufs[name] = b.unsqueeze(0).expand(k, *b.shape).clone()

            def f_bufs(pr: dict, bf: dict, x: Tensor) -> Tensor:
                return functional_call(model, (pr, bf), (x,))

            momenta = [bn.momentum for bn in self.bns]
            modes = {m: m.training for m in model.modules()}
            model.train()
            seen = 0
            try:
                fwd = vmap(f_bufs, in_dims=(0, 0, None), randomness="different")
                for xb in _slices(self.bn_x, self.bn_batch_size):
                    b = xb.shape[0]
                    for bn in self.bns:
                        bn.momentum = b / (seen + b)
                    fwd(params, bufs, xb)
                    seen += b
            finally:
                for bn, mom in zip(self.bns, momenta):
                    bn.momentum = mom
                for m, mode in modes.items():
                    m.training = mode
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

        bs = max(1, self.batch_size // k)
        sums = {}
        for split in self.needed:
            x, y = self.data[split]
            loss_sum = torch.zeros(k, dtype=torch.float64, device=self.device)
            correct = torch.zeros(k, dtype=torch.long, device=self.device)
            for i in range(0, x.shape[0], bs):
                out = run(x[i:i + bs])  # (k, B, ...)
                out = out.reshape(k * out.shape[1], *out.shape[2:])
                ls, c = self._accumulate(out, y[i:i + bs], self.need_pred[split], k)
                loss_sum += ls
                if c is not None:
                    correct += c
            sums[split] = (loss_sum, correct)
        return sums

    @torch.inference_mode()
    def __call__(self, points: Tensor, vectorize: bool) -> np.ndarray:
        """Metrics at each row of ``points`` ``(K, P)``: float64 numpy ``(K, M)``."""
        self.evaluations += points.shape[0]
        if vectorize and points.shape[0] > 1:
            return self._finish(self._many(points), points)
        rows = [self._finish(self._one(p), p.unsqueeze(0)) for p in points]
        return np.concatenate(rows, 0)


# ========================================================================== cache helpers
def _digest_tensor(t: Tensor | np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    if isinstance(t, np.ndarray):
        a = np.ascontiguousarray(t)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
        return h.hexdigest()
    t = t.detach()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    flat = t.cpu().contiguous().reshape(-1)
    if flat.numel():
        h.update(flat.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _model_identity(model: nn.Module, with_buffers: bool) -> dict[str, Any]:
    ident: dict[str, Any] = {
        "repr": repr(model),
        "params": [[n, list(p.shape), str(p.dtype)] for n, p in model.named_parameters()],
        "buffers": [[n, list(b.shape), str(b.dtype)] for n, b in model.named_buffers()],
    }
    if with_buffers:
        bufs = [b for _, b in _float_buffers(model)]
        ident["buffer_values"] = _digest_tensor(flatten(bufs)) if bufs else None
    return ident


def _loss_name(loss_fn: LossFn | None) -> str:
    if loss_fn is None:
        return "cross_entropy"
    mod = getattr(loss_fn, "__module__", "") or ""
    name = getattr(loss_fn, "__qualname__", None) or type(loss_fn).__qualname__
    return f"{mod}.{name}"


def _key_of(parts: dict[str, Any]) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _diff_parts(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _load_cache(path: Path, key: str, parts: dict[str, Any], n: int, m: int, on_mismatch: str
                ) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            stored_key = str(z["key"])
            stored_parts = json.loads(str(z["key_json"]))
            values = np.array(z["values"], dtype=np.float64)
            done = np.array(z["done"], dtype=bool)
    except Exception as exc:  # noqa: BLE001 - reported with the file named
        if on_mismatch == "overwrite":
            warnings.warn(f"unreadable grid cache {path} ({exc}); recomputing", stacklevel=3)
            return None
        raise CacheMismatchError(f"grid cache {path} is unreadable ({type(exc).__name__}: "
                                 f"{exc}); delete it or pass on_mismatch='overwrite'") from exc
    if stored_key != key or values.shape != (n, m) or done.shape != (n,):
        differ = _diff_parts(stored_parts, parts) if isinstance(stored_parts, dict) else ["?"]
        msg = (f"grid cache {path} was computed for a different grid (differs in: "
               f"{', '.join(differ) or 'key'}); delete it, use another file, or pass "
               f"on_mismatch='overwrite'")
        if on_mismatch == "overwrite":
            warnings.warn(msg + "; overwriting", stacklevel=3)
            return None
        raise CacheMismatchError(msg)
    return values, done


# ======================================================================== distributed
def _dist_setup(distributed: bool | None, device: torch.device
                ) -> tuple[int, int, torch.device | None]:
    """``(rank, world_size, communication device)``; ``(0, 1, None)`` when not distributed."""
    if distributed is False:
        return 0, 1, None
    import torch.distributed as dist

    if not dist.is_available():
        if distributed:
            raise RuntimeError("torch.distributed is not available in this build")
        return 0, 1, None
    if not dist.is_initialized():
        launched = int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ
        if not launched:
            if distributed:
                raise RuntimeError("distributed=True but no process group is initialised and "
                                   "no torchrun environment (WORLD_SIZE, MASTER_ADDR) is set")
            return 0, 1, None
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    world, rank = dist.get_world_size(), dist.get_rank()
    if world == 1:
        return 0, 1, None
    backend = str(dist.get_backend()).lower()
    comm = (torch.device("cuda", torch.cuda.current_device()) if "nccl" in backend
            else torch.device("cpu"))
    return rank, world, comm


# =========================================================================== the engine
def _resolve_splits(data: Any, train: tuple[Tensor, Tensor] | None,
                    test: tuple[Tensor, Tensor] | None) -> dict[str, tuple[Tensor, Tensor]]:
    splits: dict[str, tuple[Tensor, Tensor]] = {}
    if data is not None:
        if isinstance(data, dict):
            splits.update({k: tuple(v) for k, v in data.items() if k in _SPLITS})
        else:
            for s in _SPLITS:
                if hasattr(data, f"x_{s}"):
                    splits[s] = (getattr(data, f"x_{s}"), getattr(data, f"y_{s}"))
    if train is not None:
        splits["train"] = tuple(train)
    if test is not None:
        splits["test"] = tuple(test)
    return splits


def evaluate_points(
    model: nn.Module,
    base: WeightsLike,
    directions: Tensor | Sequence[Tensor],
    coeffs: np.ndarray | Sequence[Sequence[float]],
    *,
    data: Any = None,
    train: tuple[Tensor, Tensor] | None = None,
    test: tuple[Tensor, Tensor] | None = None,
    metrics: Sequence[str] = ("train_loss", "test_err"),
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
    _kind: str = "points",
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
        metrics: names from :data:`METRICS`, e.g. ``("train_loss", "test_err", "test_nll")``.
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
        cache: a directory (the file name is derived from the key) or a ``.npz`` path.
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
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; allowed: {', '.join(METRICS)}")
    if not metrics:
        raise ValueError("metrics is empty")
    if on_mismatch not in ("error", "overwrite"):
        raise ValueError(f"on_mismatch must be 'error' or 'overwrite', got {on_mismatch!r}")
    metrics = list(metrics)
    first = next(model.parameters())
    device = torch.device(device) if device is not None else first.device
    dtype = first.dtype
    rank, world, comm = _dist_setup(distributed, device)
    if world > 1 and device.type == "cuda" and device.index is None:
        local = int(os.environ.get("LOCAL_RANK", rank % max(torch.cuda.device_count(), 1)))
        device = torch.device("cuda", local)

    splits_in = _resolve_splits(data, train, test)
    needed = [s for s in _SPLITS if any(m.startswith(s + "_") for m in metrics)]
    if bn_recompute and "train" not in needed:
        needed_data = needed + ["train"]
    else:
        needed_data = needed
    for s in needed_data:
        if s not in splits_in:
            raise ValueError(f"metrics {metrics} (or bn_recompute) need the {s} split: pass "
                             f"data= or {s}=(x, y)")
    splits: dict[str, tuple[Tensor, Tensor]] = {}
    for s in needed_data:
        x, y = splits_in[s]
        x = x.to(device, dtype) if x.is_floating_point() else x.to(device)
        splits[s] = (x, y.to(device))

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
        raise ValueError(f"the model has {n_params} parameters but base has {base_v.numel()} "
                         f"and directions {dirs.shape[1]} entries")
    n_cells, n_metrics = coeffs_np.shape[0], len(metrics)

    evaluator = _Evaluator(model, metrics=metrics, splits=splits, loss_fn=loss_fn,
                           weight_decay=weight_decay, bn_recompute=bn_recompute,
                           bn_batch_size=bn_batch_size,
                           batch_size=batch_size or default_batch_size(device), device=device)
    k = points_per_pass or default_points_per_pass(model, device, evaluator.bn_recompute)
    k = max(1, int(k))
    round_size = int(checkpoint_every) if checkpoint_every else max(32, world * k)
    round_size = max(1, round_size)

    # ---- cache: key, path, load (rank 0), share with the other ranks
    path: Path | None = None
    key = ""
    parts: dict[str, Any] = {}
    values = np.full((n_cells, n_metrics), np.nan)
    done = np.zeros(n_cells, dtype=bool)
    if cache is not None:
        if rank == 0:
            parts = {
                "version": _CACHE_VERSION,
                "kind": _kind,
                "base": _digest_tensor(base_v),
                "directions": _digest_tensor(dirs),
                "coeffs": _digest_tensor(coeffs_np),
                "model": _model_identity(model, with_buffers=not evaluator.bn_recompute),
                "data": data_key if data_key is not None else {
                    s: [_digest_tensor(splits[s][0]), _digest_tensor(splits[s][1])]
                    for s in needed_data},
                "metrics": metrics,
                "bn_recompute": evaluator.bn_recompute,
                "bn_batch_size": bn_batch_size if evaluator.bn_recompute else None,
                "weight_decay": float(weight_decay) if any(
                    m.endswith("_loss") for m in metrics) else None,
                "loss_fn": _loss_name(loss_fn),
                "dtype": str(dtype),
                "tag": cache_tag,
            }
            key = _key_of(parts)
            cache = Path(cache)
            path = cache if cache.suffix == ".npz" else cache / f"{_kind}-{key[:20]}.npz"
        status, err = 0, None
        if rank == 0:
            try:
                loaded = _load_cache(path, key, parts, n_cells, n_metrics, on_mismatch)
            except CacheMismatchError as exc:
                status, err, loaded = 1, exc, None
            if loaded is not None:
                values, done = loaded
        if world > 1:
            import torch.distributed as dist

            st = torch.tensor([status], dtype=torch.long, device=comm)
            dist.broadcast(st, 0)
            status = int(st.item())
            if status == 0:
                buf_done = torch.from_numpy(done.astype(np.uint8)).to(comm)
                buf_vals = torch.from_numpy(values).to(comm)
                dist.broadcast(buf_done, 0)
                dist.broadcast(buf_vals, 0)
                done = buf_done.cpu().numpy().astype(bool)
                values = buf_vals.cpu().numpy().copy()
        if status:
            raise err if err is not None else CacheMismatchError(
                "rank 0 found a mismatched grid cache (see its error)")

    def save() -> None:
        if path is not None and rank == 0:
            atomic_savez(path, key=np.array(key), key_json=np.array(json.dumps(parts)),
                          metrics=np.array(metrics), coeffs=coeffs_np, values=values,
                          done=done, kind=np.array(_kind))

    missing = np.flatnonzero(~done)
    if max_cells is not None:
        missing = missing[:max(0, int(max_cells))]
    evaluated = 0
    bar = None
    if progress is None:
        progress = os.environ.get("SWA_LIB_PROGRESS", "1") != "0"
    if progress and rank == 0 and len(missing):
        from tqdm.auto import tqdm

        bar = tqdm(total=n_cells, initial=int(done.sum()), desc=f"{_kind} cells", leave=False)
    coeffs_t = torch.from_numpy(coeffs_np)
    try:
        for start in range(0, len(missing), round_size):
            cells = missing[start:start + round_size]
            positions = np.arange(rank, len(cells), world)  # this rank's rows of `cells`
            local = np.zeros((len(cells), n_metrics))
            for c0 in range(0, len(positions), k):
                pos = positions[c0:c0 + k]
                chunk = cells[pos]
                c = coeffs_t[chunk].to(device, dtype)
                pts = base_v.unsqueeze(0) + c @ dirs
                vals = evaluator(pts, vectorize=k > 1)
                for row, cell, j in zip(vals, chunk, pos):
                    evaluated += 1
                    if world == 1:
                        values[cell] = row
                        done[cell] = True
                    else:
                        local[j] = row
                    if bar is not None:
                        bar.update(world if world > 1 else 1)
                    if callback is not None:
                        callback(int(cell), {m: float(v) for m, v in zip(metrics, row)})
            if world > 1:
                import torch.distributed as dist

                buf = torch.from_numpy(local).to(comm)
                dist.all_reduce(buf)
                values[cells] = buf.cpu().numpy()
                done[cells] = True
            save()
    except BaseException:
        if world == 1:
            save()
        raise
    finally:
        if bar is not None:
            bar.close()
    if not len(missing) and path is not None and rank == 0 and not path.exists():
        save()
    return values, done, {"metrics": metrics, "evaluated": evaluated,
                          "cache_path": str(path) if path is not None else None}


