r"""Flatness of a minimum: the Hessian's top eigenvalue and trace, matrix-free.

Both estimators only need Hessian-vector products ``H v`` of the loss with respect to the model's
parameters (double backward: ``grad(grad(L) · v)``), never the Hessian itself:

* :func:`hessian_top_eigenvalue` -- power iteration (PyHessian's ``eigenvalues``): ``v <- Hv /
  ||Hv||``, eigenvalue estimate ``v·Hv``; stops when the relative change of the estimate is below
  ``tol`` or after ``max_iter`` products. Power iteration converges to the eigenvalue of largest
  *magnitude* (at a minimum, the largest positive one).
* :func:`hessian_trace` -- Hutchinson's estimator with Rademacher vectors, ``tr H = E[v·Hv]``;
  stops (PyHessian's rule) when the running mean changes by less than ``tol`` relative, or after
  ``max_iter`` samples. The result carries the standard error of the mean.

The loss is the *exact* full-set mean ``L(w) = (1/N) sum_i l_i(w)`` (plus ``0.5 * wd * ||w||^2``
if ``weight_decay`` is given): each batch's Hessian-vector product is weighted by its size, so
the answer does not depend on the batch size (as in PyHessian's data-loader mode). Pass a fixed
``subset`` (an int: that many samples drawn once with the seed; or an index tensor) to use a
cheaper fixed mini-dataset. The Hessian is taken with respect to the parameters that require
grad (all of them, usually), flattened in ``model.parameters()`` order. The model is evaluated
in eval mode (BN uses its running statistics, dropout is off), as PyHessian does, and its mode
is restored afterwards.

Caching
-------
Both estimators take ``cache=`` -- a directory (the file is ``hessian-eig-<key>.npz`` or
``hessian-trace-<key>.npz`` in it) or an ``.npz`` path -- built on :class:`swa_lib.io.ResultCache`.
The key holds everything that defines the estimate: a digest of the weights and buffers, the
architecture, the data (or ``data_key``), ``subset``, ``loss_fn``'s name, ``batch_size``,
``max_iter``, ``tol``, ``seed`` (or the given generator's state), ``weight_decay``, the device type
and dtype, and ``cache_tag``. A file with another key raises
:class:`~swa_lib.io.CacheMismatchError` naming the parts that differ (``on_mismatch="overwrite"``
recomputes instead). A hit returns the stored numbers without a single Hessian-vector product
(``est.cached`` is true, ``est.seconds`` is the wall time of the original computation) and does
not advance a passed ``generator``.

>>> import tempfile
>>> _ = torch.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
>>> xy = (torch.randn(20, 3, dtype=torch.float64), torch.randint(0, 2, (20,)))
>>> folder = tempfile.mkdtemp()
>>> first = hessian_trace(model, xy, seed=0, cache=folder)
>>> again = hessian_trace(model, xy, seed=0, cache=folder)      # read from the file
>>> (first.cached, again.cached, again.value == first.value, again.history == first.history)
(False, True, True, True)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..io import cached, digest
from ..modes import eval_mode
from .cache import loss_name, model_identity

__all__ = ["HessianEstimate", "hessian_vector_product", "hessian_top_eigenvalue", "hessian_trace"]

LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass
class HessianEstimate:
    """Result of :func:`hessian_top_eigenvalue` or :func:`hessian_trace` (``float(est)`` works).

    Attributes:
        value: the estimate.
        iterations: Hessian-vector products used.
        converged: the tolerance was met before ``max_iter``.
        std_error: trace only: standard error of the Hutchinson mean (NaN for one sample).
        history: the eigenvalue estimates per iteration, or the per-sample ``v·Hv`` values.
        vector: eigenvalue only: the last (unit-norm, flat) eigenvector estimate.
        cached: the numbers were read from the ``cache=`` file (no product was computed).
        cache_path: that file, when ``cache=`` was given.
        seconds: wall-clock seconds of the computation (now, or when the file was written);
            NaN without ``cache=``.
    """

    value: float
    iterations: int
    converged: bool
    std_error: float = float("nan")
    history: list[float] = field(default_factory=list)
    vector: Tensor | None = None
    cached: bool = False
    cache_path: str | None = None
    seconds: float = float("nan")

    def __float__(self) -> float:
        return float(self.value)


def _default_loss(output: Tensor, target: Tensor) -> Tensor:
    return F.cross_entropy(output, target, reduction="none")


def _resolve_xy(data: Any) -> tuple[Tensor, Tensor]:
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1]
    if hasattr(data, "x_train") and hasattr(data, "y_train"):
        return data.x_train, data.y_train
    raise TypeError("data must be an (x, y) pair or have x_train / y_train (ArrayDataset)")


class _HVP:
    """Hessian-vector products of the size-weighted full-set loss."""

    def __init__(
        self,
        model: nn.Module,
        data: Any,
        *,
        loss_fn: LossFn | None,
        batch_size: int,
        subset: int | Tensor | None,
        weight_decay: float,
        generator: torch.Generator,
    ) -> None:
        x, y = _resolve_xy(data)
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no parameters that require grad")
        p0 = self.params[0]
        self.device, self.dtype = p0.device, p0.dtype
        if subset is not None:
            if isinstance(subset, Tensor):
                idx = subset.to(torch.long).cpu()
            else:
                n_sub = int(subset)
                if not 0 < n_sub <= x.shape[0]:
                    raise ValueError(f"subset must be in 1..{x.shape[0]}, got {subset}")
                idx = torch.randperm(x.shape[0], generator=generator)[:n_sub]
            x, y = x[idx.to(x.device)], y[idx.to(y.device)]
        self.x = x.to(self.device, self.dtype) if x.is_floating_point() else x.to(self.device)
        self.y = y.to(self.device)
        self.n = int(self.x.shape[0])
        if self.n == 0:
            raise ValueError("no data")
        self.loss_fn = loss_fn or _default_loss
        self.batch_size = int(batch_size)
        self.weight_decay = float(weight_decay)
        self.numel = sum(p.numel() for p in self.params)
        self.products = 0

    def _split(self, vec: Tensor) -> list[Tensor]:
        out, off = [], 0
        for p in self.params:
            out.append(vec[off : off + p.numel()].view_as(p))
            off += p.numel()
        return out

    def __call__(self, v: Tensor) -> Tensor:
        """``H v`` for a flat ``v`` of length ``numel`` (same device/dtype as the parameters)."""
        self.products += 1
        vs = self._split(v)
        hv = torch.zeros_like(v)
        for i in range(0, self.n, self.batch_size):
            xb, yb = self.x[i : i + self.batch_size], self.y[i : i + self.batch_size]
            # mean over the batch times b/N: the batches add up to the full-set mean
            loss = self.loss_fn(self.model(xb), yb).sum() / self.n
            grads = torch.autograd.grad(loss, self.params, create_graph=True)
            dot = sum((g * vv).sum() for g, vv in zip(grads, vs))
            hvs = torch.autograd.grad(dot, self.params, allow_unused=True)
            hv += torch.cat(
                [
                    (h if h is not None else torch.zeros_like(p)).reshape(-1)
                    for h, p in zip(hvs, self.params)
                ]
            ).detach()
        if self.weight_decay:
            hv += self.weight_decay * v
        return hv


def hessian_vector_product(
    model: nn.Module,
    data: Any,
    v: Tensor,
    *,
    loss_fn: LossFn | None = None,
    batch_size: int = 1000,
    weight_decay: float = 0.0,
) -> Tensor:
    """``H v`` of the full-set mean loss at the model's weights (flat ``v``, parameters order).

    ``data`` is an ``(x, y)`` pair or an ``ArrayDataset`` (its training split). The model's mode
    is left as it is (call ``model.eval()`` first for the estimators' convention).
    """
    hvp = _HVP(
        model,
        data,
        loss_fn=loss_fn,
        batch_size=batch_size,
        subset=None,
        weight_decay=weight_decay,
        generator=torch.Generator(),
    )
    return hvp(v.to(hvp.device, hvp.dtype))


def _setup(
    model: nn.Module,
    data: Any,
    loss_fn: LossFn | None,
    batch_size: int,
    subset: int | Tensor | None,
    weight_decay: float,
    seed: int,
    generator: torch.Generator | None,
) -> tuple[_HVP, torch.Generator]:
    if generator is None:
        generator = torch.Generator().manual_seed(int(seed))
    hvp = _HVP(
        model,
        data,
        loss_fn=loss_fn,
        batch_size=batch_size,
        subset=subset,
        weight_decay=weight_decay,
        generator=generator,
    )
    return hvp, generator


def _check_caps(max_iter: int, tol: float) -> None:
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")


def _key_parts(
    estimator: str,
    model: nn.Module,
    data: Any,
    *,
    loss_fn: LossFn | None,
    batch_size: int,
    subset: int | Tensor | None,
    max_iter: int,
    tol: float,
    seed: int,
    generator: torch.Generator | None,
    weight_decay: float,
    data_key: str | None,
    cache_tag: str,
) -> dict[str, Any]:
    """Everything an estimate depends on, for its cache key (see the module docstring)."""
    x, y = _resolve_xy(data)
    params = list(model.parameters())
    return {
        "version": 1,
        "estimator": estimator,
        "model": model_identity(model, with_buffers=True),
        "weights": digest(torch.cat([p.detach().reshape(-1) for p in params])),
        "trainable": [n for n, p in model.named_parameters() if p.requires_grad],
        "data": data_key if data_key is not None else [digest(x), digest(y)],
        "subset": digest(subset) if isinstance(subset, Tensor) else subset,
        "loss_fn": loss_name(loss_fn),
        "batch_size": int(batch_size),
        "max_iter": int(max_iter),
        "tol": float(tol),
        "seed": int(seed) if generator is None else None,
        "generator": digest(generator.get_state()) if generator is not None else None,
        "weight_decay": float(weight_decay),
        "device": params[0].device.type,
        "dtype": str(params[0].dtype),
        "tag": cache_tag,
    }


def _with_cache(
    compute: Callable[[], HessianEstimate],
    cache: str | os.PathLike | None,
    on_mismatch: str,
    name: str,
    parts: Callable[[], dict[str, Any]],
    device: torch.device,
) -> HessianEstimate:
    """``compute()``, or the estimate stored under ``parts()`` in ``cache`` (then not computed)."""
    if cache is None:
        return compute()
    fresh: list[HessianEstimate] = []

    def arrays() -> dict[str, Any]:
        est = compute()
        fresh.append(est)
        out = {
            "value": est.value,
            "iterations": est.iterations,
            "converged": est.converged,
            "std_error": est.std_error,
            "history": np.asarray(est.history, np.float64),
        }
        if est.vector is not None:
            out["vector"] = est.vector.detach().cpu().numpy()
        return out

    res = cached(cache, parts(), arrays, name=name, on_mismatch=on_mismatch)
    if fresh:
        est = fresh[0]
    else:
        a = res.arrays
        vector = torch.from_numpy(a["vector"]).to(device) if "vector" in a else None
        est = HessianEstimate(
            value=float(a["value"]),
            iterations=int(a["iterations"]),
            converged=bool(a["converged"]),
            std_error=float(a["std_error"]),
            history=[float(h) for h in a["history"]],
            vector=vector,
        )
    est.cached, est.cache_path, est.seconds = res.hit, str(res.path), res.seconds
    return est


def _estimate(
    estimator_fn: Callable[..., HessianEstimate],
    estimator: str,
    cache_name: str,
    model: nn.Module,
    data: Any,
    *,
    loss_fn: LossFn | None,
    batch_size: int,
    subset: int | Tensor | None,
    max_iter: int,
    tol: float,
    seed: int,
    generator: torch.Generator | None,
    weight_decay: float,
    cache: str | os.PathLike | None,
    on_mismatch: str,
    data_key: str | None,
    cache_tag: str,
) -> HessianEstimate:
    """Run ``estimator_fn`` (power iteration or Hutchinson), or read its cached estimate: the
    shared body of :func:`hessian_top_eigenvalue` and :func:`hessian_trace`."""
    _check_caps(max_iter, tol)

    def compute() -> HessianEstimate:
        return estimator_fn(
            model, data, loss_fn, batch_size, subset, weight_decay, seed, generator, max_iter, tol
        )

    def parts() -> dict[str, Any]:
        return _key_parts(
            estimator,
            model,
            data,
            loss_fn=loss_fn,
            batch_size=batch_size,
            subset=subset,
            max_iter=max_iter,
            tol=tol,
            seed=seed,
            generator=generator,
            weight_decay=weight_decay,
            data_key=data_key,
            cache_tag=cache_tag,
        )

    return _with_cache(
        compute, cache, on_mismatch, cache_name, parts, next(model.parameters()).device
    )


def hessian_top_eigenvalue(
    model: nn.Module,
    data: Any,
    *,
    loss_fn: LossFn | None = None,
    batch_size: int = 1000,
    subset: int | Tensor | None = None,
    max_iter: int = 100,
    tol: float = 1e-3,
    seed: int = 0,
    generator: torch.Generator | None = None,
    weight_decay: float = 0.0,
    cache: str | os.PathLike | None = None,
    on_mismatch: str = "error",
    data_key: str | None = None,
    cache_tag: str = "",
) -> HessianEstimate:
    r"""Largest-magnitude eigenvalue of the loss Hessian by power iteration (PyHessian's rule).

    Args:
        model: evaluated in eval mode at its current weights (mode restored afterwards).
        data: ``(x, y)`` tensors or an ``ArrayDataset`` (training split).
        loss_fn: per-sample losses ``loss_fn(output, target)``; default cross-entropy.
        batch_size: samples per backward pass (does not change the result beyond rounding).
        subset: ``None`` (the whole set), an int (that many samples drawn once with the
            generator), or an index tensor.
        max_iter, tol: at most ``max_iter`` Hessian-vector products; stop once
            ``|lambda_k - lambda_{k-1}| / (|lambda_{k-1}| + 1e-6) < tol`` (PyHessian: 100, 1e-3).
        seed, generator: the random start vector (CPU generator; ``seed`` builds one).
        weight_decay: adds ``weight_decay * I`` (the Hessian of ``0.5 * wd * ||w||^2``).
        cache: a directory or an ``.npz`` path: the estimate is stored there under a key of
            everything above (and the weights, data, device type and dtype) and read back on the
            next call with the same key; see "Caching" in the module docstring.
        on_mismatch: ``"error"`` (default): a cache file with another key raises
            :class:`~swa_lib.io.CacheMismatchError`; ``"overwrite"``: it is recomputed.
        data_key: a name for the data in the key instead of a digest of the tensors.
        cache_tag: extra text in the key (e.g. to tell two ``loss_fn`` lambdas apart).

    Returns:
        :class:`HessianEstimate` with ``value``, ``iterations``, ``converged``, ``history`` and
        the unit eigenvector estimate ``vector`` (and ``cached``, ``cache_path``, ``seconds``).

    Example, with a cache (``cache_dir`` any folder)::

        est = hessian_top_eigenvalue(model, (x_train, y_train), subset=1000, seed=0,
                                     cache=cache_dir)
        est.value, est.cached        # a second call returns the same value, cached=True
    """
    return _estimate(
        _power_iteration,
        "top_eigenvalue",
        "hessian-eig",
        model,
        data,
        loss_fn=loss_fn,
        batch_size=batch_size,
        subset=subset,
        max_iter=max_iter,
        tol=tol,
        seed=seed,
        generator=generator,
        weight_decay=weight_decay,
        cache=cache,
        on_mismatch=on_mismatch,
        data_key=data_key,
        cache_tag=cache_tag,
    )


def _power_iteration(
    model: nn.Module,
    data: Any,
    loss_fn: LossFn | None,
    batch_size: int,
    subset: int | Tensor | None,
    weight_decay: float,
    seed: int,
    generator: torch.Generator | None,
    max_iter: int,
    tol: float,
) -> HessianEstimate:
    hvp, gen = _setup(model, data, loss_fn, batch_size, subset, weight_decay, seed, generator)
    with eval_mode(model):
        v = torch.randn(hvp.numel, generator=gen, dtype=torch.float64).to(hvp.device, hvp.dtype)
        v = v / v.norm()
        eig: float | None = None
        history: list[float] = []
        converged = False
        for _ in range(int(max_iter)):
            hv = hvp(v)
            new = float(torch.dot(hv, v))
            history.append(new)
            norm = hv.norm()
            if float(norm) == 0.0:
                eig, converged = new, True
                break
            v = hv / norm
            if eig is not None and abs(eig - new) / (abs(eig) + 1e-6) < tol:
                eig, converged = new, True
                break
            eig = new
    return HessianEstimate(
        value=float(eig),
        iterations=hvp.products,
        converged=converged,
        history=history,
        vector=v.detach(),
    )


def hessian_trace(
    model: nn.Module,
    data: Any,
    *,
    loss_fn: LossFn | None = None,
    batch_size: int = 1000,
    subset: int | Tensor | None = None,
    max_iter: int = 100,
    tol: float = 1e-3,
    seed: int = 0,
    generator: torch.Generator | None = None,
    weight_decay: float = 0.0,
    cache: str | os.PathLike | None = None,
    on_mismatch: str = "error",
    data_key: str | None = None,
    cache_tag: str = "",
) -> HessianEstimate:
    r"""Hutchinson estimate of the Hessian trace with Rademacher vectors (PyHessian's rule).

    ``tr H ~ mean_k v_k·H v_k`` with ``v_k`` uniform on ``{-1, +1}^P``; the variance of one sample
    is ``2 sum_{i != j} H_ij^2``. Stops once the running mean changes by less than ``tol``
    relative (``|mean_k - mean_{k-1}| / (|mean_{k-1}| + 1e-6) < tol``) or after ``max_iter``
    samples (PyHessian: 100, 1e-3). Arguments (``cache=`` included) as in
    :func:`hessian_top_eigenvalue`.

    Returns:
        :class:`HessianEstimate` with ``value`` (the mean), ``std_error`` (sample std / sqrt(k)),
        and the per-sample values in ``history``.
    """
    return _estimate(
        _hutchinson,
        "trace",
        "hessian-trace",
        model,
        data,
        loss_fn=loss_fn,
        batch_size=batch_size,
        subset=subset,
        max_iter=max_iter,
        tol=tol,
        seed=seed,
        generator=generator,
        weight_decay=weight_decay,
        cache=cache,
        on_mismatch=on_mismatch,
        data_key=data_key,
        cache_tag=cache_tag,
    )


def _hutchinson(
    model: nn.Module,
    data: Any,
    loss_fn: LossFn | None,
    batch_size: int,
    subset: int | Tensor | None,
    weight_decay: float,
    seed: int,
    generator: torch.Generator | None,
    max_iter: int,
    tol: float,
) -> HessianEstimate:
    hvp, gen = _setup(model, data, loss_fn, batch_size, subset, weight_decay, seed, generator)
    samples: list[float] = []
    trace = 0.0
    converged = False
    with eval_mode(model):
        for _ in range(int(max_iter)):
            v = (torch.randint(0, 2, (hvp.numel,), generator=gen) * 2 - 1).to(hvp.device, hvp.dtype)
            samples.append(float(torch.dot(hvp(v), v)))
            mean = float(np.mean(samples))
            if abs(mean - trace) / (abs(trace) + 1e-6) < tol:
                trace, converged = mean, True
                break
            trace = mean
    k = len(samples)
    se = float(np.std(samples, ddof=1) / np.sqrt(k)) if k > 1 else float("nan")
    return HessianEstimate(
        value=trace, iterations=k, converged=converged, std_error=se, history=samples
    )
