r"""SWAG: a Gaussian posterior over the weights from the SWA iterates (Maddox et al. 2019).

At every averaging point the SGD iterate :math:`w_i` (flat, ``parameters_to_vector`` order,
``P`` entries) is folded into running moments and the deviation from the running mean is kept:

.. math::
    \bar w_n = \frac1n\sum_{i\le n} w_i,\qquad
    \sigma^2_n = \frac1n\sum_{i\le n} (w_i - \bar w_n)^2 = \overline{w^2}_n - \bar w_n^2,\qquad
    d_i = w_i - \bar w_i \ (\text{the mean *after* including } w_i).

The rows ``D`` (``(K, P)``) are the last ``K <= max_rank`` deviations. A sample is

.. math:: \tilde w = \bar w + \sqrt{s}\,\Big(\sigma \odot z_1 + \frac{D^\top z_2}{\sqrt{K-1}}\Big),
          \quad z_1 \sim N(0, I_P),\ z_2 \sim N(0, I_K),

so :math:`\mathrm{Cov}[\tilde w] = s\,(\mathrm{diag}(\sigma^2) + D^\top D / (K-1))`: the paper's
:math:`\tfrac12(\Sigma_{\mathrm{diag}} + \Sigma_{\mathrm{low\text{-}rank}})` at the reference scale
``s = 0.5``. SWAG-diagonal drops the second term (reference scale ``s = 1``). The reference code
(``wjmaddox/swa_gaussian``, ``swag/posteriors/swag.py``) divides by ``sqrt(max_rank - 1)`` even
before ``max_rank`` deviations exist; here ``K`` is the number of deviations held, which agrees
with it once ``n >= max_rank`` (always, in its experiments).

Numerics: the moments are kept in ``dtype`` (float64 by default) as a running mean and a *centred*
second moment (Welford's update, ``m2 = sum_i (w_i - mean_i-1)(w_i - mean_i)``), so the variance
never suffers the catastrophic cancellation of ``E[w^2] - E[w]^2`` in float32 (the reference's
form, where variances below ``~1e-7 * w^2`` are lost); it is clamped at ``var_clamp`` (1e-30, as
in the reference) so ``sqrt`` is safe. Deviations are stored in the parameters' dtype (at least
float32).

Memory, on ``device``: ``K`` deviation rows plus 2 moment vectors, i.e. ``K + 2`` parameter copies
in the moment dtype's units -- ``K + 4`` float32-sized copies with the float64 default, ``K + 2``
with ``dtype=torch.float32``. The template model is kept on the ``meta`` device (no memory);
buffers (BN statistics) of the last collected model are kept as in :class:`~swa_lib.averaging.SWA`.

Names follow the library's averages (``CONTRIBUTING.md``): a new iterate is folded in with
:meth:`SWAG.update` and counted by :attr:`SWAG.n_averaged`; ``collect`` and ``n_collected`` are
deprecated aliases of them. The state dict keeps its ``"n_collected"`` entry, so ``swag.pt`` files
written before the rename still load.

Public names: :class:`SWAG` and :func:`predict_bma` (Bayesian model averaging over samples, with
an optional ``cache=``).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .averaging import update_bn
from .io import cached, digest
from .metrics import predict_logits

__all__ = ["SWAG", "predict_bma"]

BnBatches = Iterable[Any] | Callable[[], Iterable[Any]]
_STATE_KEYS = ("mean", "m2", "deviations", "n_collected", "max_rank", "buffers")


def _flat(model: nn.Module) -> Tensor:
    return nn.utils.parameters_to_vector(p.detach() for p in model.parameters())


def _resolve_batches(bn_batches: BnBatches) -> Iterable[Any]:
    return bn_batches() if callable(bn_batches) else bn_batches


class SWAG:
    r"""SWAG-diagonal and low-rank posterior collected from SGD iterates.

    Args:
        model: a model of the architecture to collect (its parameters fix ``P`` and the order;
            a structural copy on the ``meta`` device becomes the template of :meth:`sample`).
        max_rank: ``K_max``, the number of most recent deviation rows kept (reference: 20).
        device: where moments, deviations and samples live (default: the model's device).
        dtype: dtype of the moment vectors (default ``torch.float64``).
        var_clamp: floor of :attr:`variance` (default 1e-30, as in the reference).

    Example::

        swag = SWAG(model, max_rank=20)
        for epoch in range(epochs):
            train_one_epoch(model)
            if epoch + 1 >= swa_start:
                swag.update(model)
        probs = predict_bma(swag, x_test, num_samples=30, bn_batches=lambda: train_batches())
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        max_rank: int = 20,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float64,
        var_clamp: float = 1e-30,
    ) -> None:
        if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 1:
            raise ValueError(f"max_rank must be an integer >= 1, got {max_rank!r}")
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got {dtype}")
        if not var_clamp > 0:
            raise ValueError(f"var_clamp must be > 0, got {var_clamp!r}")
        params = list(model.parameters())
        if not params:
            raise ValueError("model has no parameters to collect")
        self.device = torch.device(device) if device is not None else params[0].device
        self.dtype = dtype
        self.max_rank = max_rank
        self.var_clamp = float(var_clamp)
        self.num_parameters = sum(p.numel() for p in params)
        dev_dtype = torch.promote_types(params[0].dtype, torch.float32)
        p_count, kw = self.num_parameters, {"device": self.device}
        self._mean = torch.zeros(p_count, dtype=dtype, **kw)
        self._m2 = torch.zeros(p_count, dtype=dtype, **kw)
        self._dev = torch.zeros(max_rank, p_count, dtype=dev_dtype, **kw)  # ring of rows
        self.n_averaged: int = 0
        self._buffers = self._copy_buffers(model)
        self._template = copy.deepcopy(model).to("meta")

    # -- collection -----------------------------------------------------------------------------
    def _copy_buffers(self, model: nn.Module) -> dict[str, Tensor]:
        return {name: b.detach().to(self.device, copy=True) for name, b in model.named_buffers()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        r"""Fold ``model``'s weights :math:`w_n` in: :math:`\delta = w_n - \bar w_{n-1}`,
        :math:`\bar w_n = \bar w_{n-1} + \delta / n`, :math:`d_n = w_n - \bar w_n`,
        :math:`m_2 \mathrel{+}= \delta \odot d_n`; :math:`d_n` replaces the oldest row once
        ``max_rank`` rows are held. Buffers are copied from ``model``. ``n_averaged`` grows by 1.
        """
        w = _flat(model)
        if w.numel() != self.num_parameters:
            raise ValueError(
                f"model has {w.numel()} parameters but this SWAG collects "
                f"{self.num_parameters}: update() needs the same architecture"
            )
        w = w.to(self.device, self.dtype)
        n = self.n_averaged + 1
        delta = w - self._mean
        self._mean.add_(delta, alpha=1.0 / n)
        dev = w.sub_(self._mean)  # w_n - mean_n, reusing w's memory
        self._m2.addcmul_(delta, dev)
        self._dev[self.n_averaged % self.max_rank].copy_(dev)
        self.n_averaged = n
        self._buffers = self._copy_buffers(model)

    def collect(self, model: nn.Module) -> None:
        """Deprecated alias of :meth:`update` (the name every average uses)."""
        self.update(model)

    @property
    def n_collected(self) -> int:
        """Deprecated alias of :attr:`n_averaged`."""
        return self.n_averaged

    @n_collected.setter
    def n_collected(self, value: int) -> None:
        self.n_averaged = value

    # -- the posterior --------------------------------------------------------------------------
    def _require(self, what: str) -> None:
        if self.n_averaged == 0:
            raise ValueError(f"{what}: nothing collected yet (call update(model) first)")

    @property
    def rank(self) -> int:
        """``K``: the number of deviation rows held, ``min(n_averaged, max_rank)``."""
        return min(self.n_averaged, self.max_rank)

    @property
    def mean(self) -> Tensor:
        """The SWA mean :math:`\\bar w` (a copy; ``(P,)``, ``dtype``, parameter units)."""
        self._require("mean")
        return self._mean.clone()

    @property
    def variance(self) -> Tensor:
        """Population variance :math:`\\overline{w^2} - \\bar w^2` of the collected iterates,
        clamped at ``var_clamp`` (``(P,)``, ``dtype``, squared parameter units)."""
        self._require("variance")
        return (self._m2 / self.n_averaged).clamp_(min=self.var_clamp)

    def _order(self) -> Tensor:
        """Storage rows of the deviations, oldest first."""
        k = self.rank
        start = self.n_averaged % self.max_rank if self.n_averaged > self.max_rank else 0
        return (torch.arange(k, device=self.device) + start) % self.max_rank

    @property
    def deviations(self) -> Tensor:
        """``D``: the last ``K`` deviations :math:`w_i - \\bar w_i`, rows oldest to newest
        (a copy; ``(K, P)``)."""
        return self._dev.index_select(0, self._order())

    @torch.no_grad()
    def sample_vectors(
        self,
        num_samples: int = 1,
        scale: float = 0.5,
        *,
        diagonal: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""``S = num_samples`` flat samples at once, ``(S, P)`` in ``dtype`` on ``device``:
        :math:`\bar w + \sqrt{s}\,(\sigma\odot z_1 + D^\top z_2/\sqrt{K-1})` per row, with
        ``z_1`` ``(S, P)`` then ``z_2`` ``(S, K)`` drawn from ``generator``. Same distribution as
        ``S`` calls of :meth:`sample_vector`, not the same random stream (``S x P`` memory)."""
        self._require("sample")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be an integer >= 1, got {num_samples!r}")
        scale = float(scale)
        if not (math.isfinite(scale) and scale >= 0):
            raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
        k = self.rank
        if not diagonal and k < 2:
            raise ValueError(
                f"low-rank SWAG needs at least 2 deviations, this one holds {k} "
                f"(n_averaged={self.n_averaged}, max_rank={self.max_rank}); "
                "collect more models or use diagonal=True"
            )
        gen_device = generator.device if generator is not None else self.device
        z1 = torch.randn(
            num_samples,
            self.num_parameters,
            generator=generator,
            device=gen_device,
            dtype=self.dtype,
        ).to(self.device)
        noise = z1.mul_(self.variance.sqrt_())
        if not diagonal:
            z2 = torch.randn(
                num_samples, k, generator=generator, device=gen_device, dtype=self.dtype
            ).to(self.device, self._dev.dtype)
            # D^T z2 in storage order (no reordered copy of D): row order[j] gets z2[:, j]
            z_rows = torch.zeros(
                num_samples, self.max_rank, device=self.device, dtype=self._dev.dtype
            )
            z_rows[:, self._order()] = z2
            low_rank = z_rows[:, :k] @ self._dev[:k]
            noise.add_(low_rank.to(self.dtype), alpha=1.0 / math.sqrt(k - 1))
        return noise.mul_(math.sqrt(scale)).add_(self._mean)

    def sample_vector(
        self,
        scale: float = 0.5,
        *,
        diagonal: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One flat sample ``(P,)`` (``dtype``, on ``device``): what :meth:`sample` loads."""
        return self.sample_vectors(1, scale, diagonal=diagonal, generator=generator)[0]

    def _new_model(self) -> nn.Module:
        model = copy.deepcopy(self._template).to_empty(device=self.device)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(self._buffers[name])
        return model

    @torch.no_grad()
    def load_vector_into(self, model: nn.Module, vector: Tensor) -> nn.Module:
        """Copy a flat ``(P,)`` vector into ``model``'s parameters (cast to each one's dtype)."""
        if vector.shape != (self.num_parameters,):
            raise ValueError(
                f"vector must have shape ({self.num_parameters},), got {tuple(vector.shape)}"
            )
        offset = 0
        for p in model.parameters():
            p.copy_(vector[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
        if offset != self.num_parameters:
            raise ValueError(f"model has {offset} parameters, expected {self.num_parameters}")
        return model

    def sample(
        self,
        scale: float = 0.5,
        *,
        diagonal: bool = False,
        generator: torch.Generator | None = None,
        bn_batches: BnBatches | None = None,
        forward: Callable[[nn.Module, Any], Any] | None = None,
    ) -> nn.Module:
        r"""A new model with weights drawn from the SWAG posterior.

        .. math:: \tilde w = \bar w + \sqrt{s}\,\big(\sigma \odot z_1
                  + D^\top z_2 / \sqrt{K-1}\big)

        ``z_1`` (``P`` values) then ``z_2`` (``K``) are drawn with ``generator`` (on its device,
        in ``dtype``; the global RNG of ``device`` when ``None``), so a seeded generator gives
        the same sample on any machine with the same state. ``D`` enters in oldest-to-newest order.

        Args:
            scale: ``s``; 0.5 is the reference for SWAG, 1.0 for SWAG-diagonal.
            diagonal: SWAG-diagonal (drop the low-rank term; ``z_2`` is not drawn).
            bn_batches: if given, :func:`~swa_lib.averaging.update_bn` recomputes the sample's
                BatchNorm statistics from it (an iterable, or a zero-argument callable returning
                one), as the reference does after every sample. Otherwise the buffers are those
                of the last collected model.
            forward: passed to ``update_bn``.

        The new model is on ``device``, in the template's train/eval mode.
        """
        vector = self.sample_vector(scale, diagonal=diagonal, generator=generator)
        model = self.load_vector_into(self._new_model(), vector)
        if bn_batches is not None:
            update_bn(model, _resolve_batches(bn_batches), forward=forward, device=self.device)
        return model

    def mean_model(self) -> nn.Module:
        """A new model with the SWA mean weights (buffers from the last collected model; call
        ``update_bn`` before evaluating a BN model)."""
        self._require("mean_model")
        return self.load_vector_into(self._new_model(), self._mean)

    def load_mean_into(self, model: nn.Module) -> nn.Module:
        """Write the SWA mean into ``model``'s parameters in place (buffers untouched)."""
        self._require("load_mean_into")
        return self.load_vector_into(model, self._mean)

    # -- persistence ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"mean", "m2", "deviations" (K, P) oldest first, "n_collected", "max_rank",
        "buffers"}``; tensors on ``device`` (``torch.save`` / ``load_torch`` move them).
        ``"n_collected"`` is :attr:`n_averaged` (the stored name is kept so old files load)."""
        return {
            "mean": self._mean.clone(),
            "m2": self._m2.clone(),
            "deviations": self.deviations,
            "n_collected": int(self.n_averaged),
            "max_rank": int(self.max_rank),
            "buffers": {k: v.clone() for k, v in self._buffers.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output; ``ValueError`` if it does not fit this SWAG."""
        if not isinstance(state, dict) or any(k not in state for k in _STATE_KEYS):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"SWAG state must be a dict with keys {list(_STATE_KEYS)} "
                f"(as returned by SWAG.state_dict()), got {got}"
            )
        n, rank = state["n_collected"], state["max_rank"]
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"SWAG state: n_collected must be an int >= 0, got {n!r}")
        if rank != self.max_rank:
            raise ValueError(
                f"SWAG state has max_rank={rank} but this SWAG has max_rank={self.max_rank}"
            )
        p_count, k = self.num_parameters, min(n, self.max_rank)
        for key, shape in (("mean", (p_count,)), ("m2", (p_count,)), ("deviations", (k, p_count))):
            t = state[key]
            if not isinstance(t, Tensor) or tuple(t.shape) != shape:
                got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
                raise ValueError(
                    f"SWAG state: {key} must have shape {shape} (P = number of "
                    f"parameters, K = min(n_collected, max_rank)), got {got}"
                )
        buffers = state["buffers"]
        if not isinstance(buffers, dict) or set(buffers) != set(self._buffers):
            raise ValueError(
                f"SWAG state: buffers {sorted(buffers)} do not match the model's "
                f"{sorted(self._buffers)}"
            )
        self._mean.copy_(state["mean"])
        self._m2.copy_(state["m2"])
        self._dev.zero_()
        self._dev[:k].copy_(state["deviations"])  # oldest at row 0; the next write goes to k
        # storage row of the next write must be n % max_rank: rotate when the ring has wrapped
        if n > self.max_rank:
            self._dev.copy_(torch.roll(self._dev, shifts=n % self.max_rank, dims=0))
        self.n_averaged = n
        self._buffers = {name: b.detach().to(self.device, copy=True) for name, b in buffers.items()}

    def __repr__(self) -> str:
        return (
            f"SWAG(n_averaged={self.n_averaged}, rank={self.rank}, max_rank="
            f"{self.max_rank}, num_parameters={self.num_parameters}, device={self.device}, "
            f"dtype={self.dtype})"
        )


def _batches_digest(bn_batches: BnBatches | None) -> str | None:
    """One digest of every tensor in the BN batches (tuples, lists and dicts are walked)."""
    if bn_batches is None:
        return None
    found: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, Tensor):
            found.append(digest(obj))
        elif isinstance(obj, dict):
            for k in sorted(obj):
                walk(obj[k])
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                walk(item)
        else:
            found.append(repr(obj))

    for batch in _resolve_batches(bn_batches):
        walk(batch)
    return digest(np.frombuffer("".join(found).encode(), dtype=np.uint8))


def _bma_key(
    swag: SWAG,
    x: Tensor,
    *,
    num_samples: int,
    scale: float,
    diagonal: bool,
    bn_batches: BnBatches | None,
    forward: Callable | None,
    generator: torch.Generator | None,
    batch_size: int,
    data_key: str | None,
    cache_tag: str,
) -> dict[str, Any]:
    """Everything a BMA prediction depends on, for its cache key."""
    if generator is None:
        raise ValueError(
            "predict_bma(cache=...) needs a seeded generator=: samples drawn from "
            "the global RNG are not defined by the arguments, so they cannot be "
            "keyed"
        )
    template = swag._template
    return {
        "version": 1,
        "swag": {
            "mean": digest(swag._mean),
            "m2": digest(swag._m2),
            "deviations": digest(swag.deviations),
            "n_averaged": swag.n_averaged,
            "max_rank": swag.max_rank,
            "var_clamp": swag.var_clamp,
            "dtype": str(swag.dtype),
            "buffers": {k: digest(v) for k, v in sorted(swag._buffers.items())},
        },
        "model": {
            "repr": repr(template),
            "params": [[n, list(p.shape), str(p.dtype)] for n, p in template.named_parameters()],
        },
        "x": data_key if data_key is not None else digest(x),
        "bn_batches": data_key if data_key is not None else _batches_digest(bn_batches),
        "num_samples": num_samples,
        "scale": float(scale),
        "diagonal": bool(diagonal),
        "forward": None
        if forward is None
        else f"{getattr(forward, '__module__', '')}.{getattr(forward, '__qualname__', forward)}",
        "generator": {"device": str(generator.device), "state": digest(generator.get_state())},
        "batch_size": int(batch_size),
        "device": swag.device.type,
        "tag": cache_tag,
    }


@torch.no_grad()
def predict_bma(
    swag: SWAG,
    x: Tensor,
    *,
    num_samples: int = 30,
    scale: float = 0.5,
    diagonal: bool = False,
    bn_batches: BnBatches | None = None,
    forward: Callable[[nn.Module, Any], Any] | None = None,
    generator: torch.Generator | None = None,
    batch_size: int = 2048,
    cache: str | os.PathLike | None = None,
    on_mismatch: str = "error",
    data_key: str | None = None,
    cache_tag: str = "",
) -> Tensor:
    r"""Bayesian model average :math:`\frac1S\sum_{s=1}^S \mathrm{softmax}(f(x; \tilde w_s))`.

    Draws ``S = num_samples`` weights exactly as ``S`` calls of :meth:`SWAG.sample` with the same
    arguments would (same generator stream), recomputes BN from ``bn_batches`` after each draw
    when given (a re-iterable such as a list, or a zero-argument callable returning the batches;
    a one-shot iterator is refused), and averages the probabilities (accumulated in float64).

    Returns the mean predictive probabilities, ``(N, C)`` float32 on ``swag.device`` (``x`` is
    moved there). Score them with :func:`swa_lib.metrics.nll` etc.: the NLL of the average.

    Caching: with ``cache=`` a directory (the file is ``bma-<key>.npz`` in it) or an ``.npz``
    path, the probabilities are stored in a :class:`swa_lib.io.ResultCache` keyed by everything
    they depend on -- digests of the SWAG state (mean, second moment, deviations, buffers,
    ``n_averaged``), the architecture, ``x``, the BN batches (or ``data_key`` for both),
    ``num_samples``, ``scale``, ``diagonal``, ``forward``'s name, the generator's device and
    state, ``batch_size``, the device type and ``cache_tag`` -- and read back, without drawing a
    sample, by the next call with the same key (the generator is then not advanced). A file
    with another key raises :class:`~swa_lib.io.CacheMismatchError` naming what differs
    (``on_mismatch="overwrite"`` recomputes). ``cache=`` needs a seeded ``generator``. The file's
    meta holds the wall time of the computation: ``swa_lib.io.read_meta(path)["seconds"]`` (pass
    an ``.npz`` path to know the file's name).

    >>> import tempfile
    >>> from pathlib import Path
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Linear(4, 3)
    >>> swag = SWAG(model, max_rank=5)
    >>> for _ in range(5):
    ...     with torch.no_grad():
    ...         _ = model.weight.add_(0.1 * torch.randn_like(model.weight))
    ...     swag.update(model)
    >>> x, folder = torch.randn(8, 4), tempfile.mkdtemp()
    >>> def bma():
    ...     return predict_bma(swag, x, num_samples=4, cache=folder,
    ...                        generator=torch.Generator().manual_seed(0))
    >>> first, again = bma(), bma()                       # the second call reads the file
    >>> torch.equal(first, again), [p.name[:4] for p in Path(folder).iterdir()]
    (True, ['bma-'])
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be an integer >= 1, got {num_samples!r}")
    if bn_batches is not None and not callable(bn_batches) and iter(bn_batches) is bn_batches:
        raise ValueError(
            "bn_batches is a one-shot iterator but BN is recomputed for every "
            "sample: pass a list or a zero-argument callable returning the batches"
        )

    def compute() -> Tensor:
        return _bma(
            swag,
            x,
            num_samples=num_samples,
            scale=scale,
            diagonal=diagonal,
            bn_batches=bn_batches,
            forward=forward,
            generator=generator,
            batch_size=batch_size,
        )

    if cache is None:
        return compute()
    parts = _bma_key(
        swag,
        x,
        num_samples=num_samples,
        scale=scale,
        diagonal=diagonal,
        bn_batches=bn_batches,
        forward=forward,
        generator=generator,
        batch_size=batch_size,
        data_key=data_key,
        cache_tag=cache_tag,
    )
    fresh: list[Tensor] = []

    def arrays() -> dict[str, Any]:
        fresh.append(compute())
        return {"probs": fresh[0].cpu().numpy()}

    res = cached(cache, parts, arrays, name="bma", on_mismatch=on_mismatch)
    return fresh[0] if fresh else torch.from_numpy(res.arrays["probs"]).to(swag.device)


def _bma(
    swag: SWAG,
    x: Tensor,
    *,
    num_samples: int,
    scale: float,
    diagonal: bool,
    bn_batches: BnBatches | None,
    forward: Callable[[nn.Module, Any], Any] | None,
    generator: torch.Generator | None,
    batch_size: int,
) -> Tensor:
    x = x.to(swag.device)
    model = swag._new_model()
    total: Tensor | None = None
    for _ in range(num_samples):
        swag.load_vector_into(
            model, swag.sample_vector(scale, diagonal=diagonal, generator=generator)
        )
        if bn_batches is not None:
            update_bn(model, _resolve_batches(bn_batches), forward=forward, device=swag.device)
        probs = F.softmax(predict_logits(model, x, batch_size=batch_size), dim=1).double()
        total = probs if total is None else total.add_(probs)
    assert total is not None
    return total.div_(num_samples).float()
