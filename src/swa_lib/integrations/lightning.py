"""Lightning callbacks for SWA and EMA: validated with BN recomputed, resumable mid-phase.

:class:`SWACallback` (an epoch-wise equal-weight average from ``swa_start``) and
:class:`EMACallback` (an EMA updated at every optimizer step) keep a :class:`~swa_lib.SWA` /
:class:`~swa_lib.EMA` of the ``LightningModule`` next to the training weights. Where Lightning's
own ``StochasticWeightAveraging`` / ``WeightAveraging`` callbacks (lightning/pytorch/callbacks/
stochastic_weight_avg.py, weight_averaging.py; Lightning issues 8811, 11665, 21724) fall short:

* **validation sees the averaged weights with BatchNorm recomputed** -- before each validation
  the average's BN statistics are recomputed with :func:`~swa_lib.averaging.update_bn` on the
  training data (once per update, cached), the averaged weights and statistics are copied into
  the module, and the training weights are put back after validation (in place: the optimizer
  keeps its tensors). ``WeightAveraging`` averages the running statistics instead
  (``use_buffers=True``), which are not the statistics of the averaged weights;
* **no swap before the first update** -- until the average has had an update, validation runs
  on the training weights (``WeightAveraging`` swaps in the copy made at setup, i.e. the
  initial weights, whenever its ``should_update`` starts late);
* **resume in the middle of the averaging phase** -- the average (weights, ``n_averaged``, the
  EMA's step counter) is the callback's checkpoint state, so ``fit(ckpt_path=...)`` continues
  with exactly the average an uninterrupted run has; a checkpoint saved after ``fit`` (which
  transfers the average into the module) also keeps the training weights, and a resume from it
  trains on from them, not from the average.

Both callbacks take the options of the averages (``module=`` for models ``deepcopy`` cannot copy,
``dtype=``, ``device=``), and the BN pass's (``bn_batches``, ``bn_forward``,
``bn_max_batches``). Under DDP every rank runs the BN pass on its shard of the training data and
:func:`update_bn` all-reduces the statistics, so each rank validates the same model.

Needs ``lightning`` (``pip install lightning``; the optional ``lightning`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

try:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Callback
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "swa_lib.integrations.lightning needs Lightning: pip install lightning "
        "(the 'lightning' extra of swa-lib)"
    ) from exc

from ..averaging import EMA, SWA, update_bn
from ..averaging._tensors import copy_all, params_and_buffers
from ..averaging.average import ModuleSource, _Averager

__all__ = ["SWACallback", "EMACallback"]

BNBatches = Iterable[Any] | Callable[["pl.Trainer", "pl.LightningModule"], Iterable[Any]]


class _AveragingCallback(Callback):
    """What both callbacks share: the average's life cycle, validation swap, checkpoints."""

    def __init__(
        self,
        *,
        module: ModuleSource | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        use_buffers: bool = False,
        bn_batches: BNBatches | None = None,
        bn_forward: Callable[[nn.Module, Any], Any] | None = None,
        bn_max_batches: int | None = None,
        transfer_at_end: bool = True,
    ) -> None:
        self._average_kw = {
            "module": module,
            "device": device,
            "dtype": dtype,
            "use_buffers": use_buffers,
        }
        self.bn_batches = bn_batches
        self.bn_forward = bn_forward
        self.bn_max_batches = bn_max_batches
        self.transfer_at_end = bool(transfer_at_end)
        self.average: _Averager | None = None
        self._pending: dict[str, Any] | None = None  # state loaded before the average exists
        self._backup: list[Tensor] | None = None  # training weights while validating
        self._live: dict[str, Tensor] | None = None  # training weights after the transfer

    # -- subclass interface -----------------------------------------------------------------------
    def _make_average(self, pl_module: pl.LightningModule) -> _Averager:  # pragma: no cover
        raise NotImplementedError

    def _counters(self) -> dict[str, int]:  # pragma: no cover
        raise NotImplementedError

    def _load_counters(self, state: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- life cycle -------------------------------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Build the average once the module is on its device (and apply a restored state)."""
        if self.average is None:
            self.average = self._make_average(pl_module)
        if self._pending is not None:
            self._apply(self._pending)
            self._pending = None

    @torch.no_grad()
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Validate the average (BN recomputed) once it has had an update; else the module."""
        avg = self.average
        if avg is None or avg.n_averaged == 0 or self._backup is not None:
            return
        self._refresh_bn(trainer, avg)
        mine = _tensors(pl_module)
        self._backup = [t.detach().clone() for t in mine]
        copy_all(mine, _tensors(avg.module))

    @torch.no_grad()
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Put the training weights back."""
        if self._backup is not None:
            copy_all(_tensors(pl_module), self._backup)
            self._backup = None

    @torch.no_grad()
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """With ``transfer_at_end``: the module ends holding the average (BN recomputed)."""
        avg = self.average
        if not self.transfer_at_end or avg is None or avg.n_averaged == 0:
            return
        self._refresh_bn(trainer, avg)
        self._live = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        copy_all(_tensors(pl_module), _tensors(avg.module))

    def _refresh_bn(self, trainer: pl.Trainer, avg: _Averager) -> None:
        if not avg.bn_stale:
            return
        device = next(iter(avg.module.parameters())).device
        update_bn(
            avg.module,
            self._bn_batches(trainer),
            forward=self.bn_forward,
            device=device,
            max_batches=self.bn_max_batches,
        )

    def _bn_batches(self, trainer: pl.Trainer) -> Iterable[Any]:
        if self.bn_batches is None:
            batches = trainer.train_dataloader
            if batches is None or isinstance(batches, (dict, list, tuple)):
                raise ValueError(
                    "the BN pass needs one training dataloader; pass bn_batches= "
                    "(an iterable of batches, or a function of trainer and module)"
                )
            return batches
        if callable(self.bn_batches):
            return self.bn_batches(trainer, trainer.lightning_module)
        return self.bn_batches

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The average's state, the update counters and, after a transfer, the training weights
        (tensors, numbers and ``None`` only: ``weights_only``-loadable)."""
        if self.average is None:
            return dict(self._pending) if self._pending is not None else {}
        return {"average": self.average.state_dict(), "live": self._live, **self._counters()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not state_dict:
            return
        if self.average is None:
            self._pending = dict(state_dict)
        else:
            self._apply(state_dict)

    def _apply(self, state: dict[str, Any]) -> None:
        assert self.average is not None
        self.average.load_state_dict(state["average"])
        self._load_counters(state)

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """A checkpoint saved after the transfer: training resumes from the training weights."""
        state = checkpoint.get("callbacks", {}).get(self.state_key) or {}
        if state.get("live") is not None:
            pl_module.load_state_dict(state["live"])


def _tensors(module: nn.Module) -> list[Tensor]:
    """Parameters then buffers, in one list (the order ``copy_all`` pairs them in)."""
    params, buffers = params_and_buffers(module)
    return params + buffers


class SWACallback(_AveragingCallback):
    """Stochastic Weight Averaging over epochs: the average of the weights at the end of epochs
    ``swa_start, swa_start + every_n_epochs, ...`` (0-based, as ``trainer.current_epoch``).

    The update happens at the epoch's last training batch, before that epoch's validation (so
    the validation of epoch ``e`` includes epoch ``e``); an epoch of unknown length is averaged
    at its ``on_train_epoch_end`` instead. The learning rate is the module's business (e.g. a
    ``LambdaLR`` over :func:`swa_lib.schedules.swa_schedule`).

    Args:
        swa_start: the first averaged epoch (0-based).
        every_n_epochs: average every this many epochs (the paper's ``c``).
        module, device, dtype, use_buffers: for :class:`~swa_lib.SWA`.
        bn_batches: the BN pass's data: an iterable of batches or ``f(trainer, module)``;
            default the trainer's training dataloader.
        bn_forward: ``forward(module, batch)`` for the BN pass (default ``module(batch[0])``).
        bn_max_batches: cap on the BN pass (per rank).
        transfer_at_end: copy the average into the module when training ends.

    Example::

        trainer = Trainer(max_epochs=40, callbacks=[SWACallback(swa_start=30)])
        trainer.fit(model, train_loader, val_loader)   # validation from epoch 30 on: the SWA
    """

    def __init__(self, swa_start: int, every_n_epochs: int = 1, **kw: Any) -> None:
        for name, value, low in (
            ("swa_start", swa_start, 0),
            ("every_n_epochs", every_n_epochs, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        super().__init__(**kw)
        self.swa_start = swa_start
        self.every_n_epochs = every_n_epochs
        self._last_epoch = -1

    def _make_average(self, pl_module: pl.LightningModule) -> _Averager:
        return SWA(pl_module, **self._average_kw)

    def _counters(self) -> dict[str, int]:
        return {"last_update_epoch": self._last_epoch}

    def _load_counters(self, state: dict[str, Any]) -> None:
        self._last_epoch = int(state.get("last_update_epoch", -1))

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if batch_idx + 1 == trainer.num_training_batches:
            self._maybe_update(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._maybe_update(trainer, pl_module)  # epochs whose last batch was not recognised

    def _maybe_update(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        due = epoch >= self.swa_start and (epoch - self.swa_start) % self.every_n_epochs == 0
        if due and epoch > self._last_epoch and self.average is not None:
            self.average.update(pl_module)
            self._last_epoch = epoch


class EMACallback(_AveragingCallback):
    """An exponential moving average updated after every optimizer step (``trainer.global_step``
    grows), with :class:`~swa_lib.EMA`'s warm-up, ``update_every`` and ``start_step``.

    Args:
        decay, warmup, warmup_gamma, warmup_power, min_decay, update_every, start_step: of
            :class:`~swa_lib.EMA` (steps are optimizer steps).
        **kw: as for :class:`SWACallback` (``module``, ``device``, ``dtype``, ``bn_batches``,
            ``bn_forward``, ``bn_max_batches``, ``transfer_at_end``, ``use_buffers``).

    Example::

        trainer = Trainer(max_steps=10_000,
                          callbacks=[EMACallback(0.9999, warmup=True, update_every=4)])
    """

    def __init__(
        self,
        decay: float = 0.999,
        *,
        warmup: bool = False,
        warmup_gamma: float = 1.0,
        warmup_power: float = 2 / 3,
        min_decay: float = 0.0,
        update_every: int = 1,
        start_step: int = 0,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self._ema_kw = {
            "decay": decay,
            "warmup": warmup,
            "warmup_gamma": warmup_gamma,
            "warmup_power": warmup_power,
            "min_decay": min_decay,
            "update_every": update_every,
            "start_step": start_step,
        }
        EMA(nn.Linear(1, 1), **self._ema_kw)  # validate the schedule now, not at fit time
        self._last_step = 0

    def _make_average(self, pl_module: pl.LightningModule) -> _Averager:
        return EMA(pl_module, **self._ema_kw, **self._average_kw)

    def _counters(self) -> dict[str, int]:
        return {"last_global_step": self._last_step}

    def _load_counters(self, state: dict[str, Any]) -> None:
        self._last_step = int(state.get("last_global_step", 0))

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer.global_step > self._last_step and self.average is not None:
            self.average.update(pl_module)
            self._last_step = trainer.global_step
