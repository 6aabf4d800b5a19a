"""The training loop: one epoch of SGD steps (:func:`train_epoch`) and the run built on it.

:func:`train_epoch` is the one step loop of the package: :func:`run` (the paper's protocol), the
course project's pre-training and SWA phase (:mod:`swa_lib.training.course_project`) and the
training benchmark (``benchmarks/bench_training.py``) all call it, so what the benchmark times is
what the book trains with.

:func:`run` is a short sequence of steps on one :class:`_Run` state: set up (data, seeds, model,
optimiser, averagers), resume from a checkpoint, then per epoch train -> average -> evaluate ->
checkpoint, and finish (final models and metrics). Each step is its own function, so a protocol
option changes one of them: which epochs evaluate is :meth:`TrainConfig.evaluates_after`, the
optimiser comes from :func:`build_optimizer`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..averaging import EMA, SWA, update_bn
from ..data import ArrayDataset, iterate_batches
from ..io import atomic_save_json, atomic_torch_save, atomic_write_text
from ..metrics import evaluate
from ..models import build_model
from ..progress import emit
from .config import OPTIMIZERS, TrainConfig, resolve_device
from .distributed import Ranks, ranks_for
from .divergence import TrainingDiverged
from .runs import (
    CHECKPOINT_FILE,
    FINAL_FILE,
    METRICS_FILE,
    RunResult,
    cached_result,
    checkpoint_covers,
    dataset_of,
    load_checkpoint,
    log,
    make_generator,
    plan_run,
    restore_checkpoint,
    run_dir_for,
    save_checkpoint,
    save_snapshot,
    seed_everything,
)
from .subset import follow_iterate, pin_swag, select_parameters, swag_fixed_mask

__all__ = [
    "EpochLoss",
    "train_epoch",
    "build_optimizer",
    "OPTIMIZERS",
    "evaluate_splits",
    "check_batch_size",
    "run",
    "RunProgress",
    "METRIC_COLUMNS",
]

METRIC_COLUMNS = [
    f"{who}_{split}_{k}"
    for who in ("sgd", "swa")
    for split in ("train", "test")
    for k in ("loss", "accuracy", "nll")
]


# -- one epoch --------------------------------------------------------------------------------


@dataclass
class EpochLoss:
    """The training loss of one epoch, accumulated on the device (no per-step host sync).

    ``loss_sum`` is a float64 0-dim tensor on the model's device: the sum over mini-batches of
    the batch-mean cross-entropy times the batch size, so :attr:`mean` is the running mean
    over the epoch's *augmented* samples. ``n_samples`` / ``n_steps`` count samples and steps.
    ``step_losses`` holds each step's (detached, 0-dim) loss tensor, still on the device, for
    :meth:`first_nonfinite_step`.
    """

    loss_sum: Tensor
    n_samples: int
    n_steps: int
    step_losses: list[Tensor] = field(default_factory=list, repr=False)

    @property
    def mean(self) -> float:
        """``loss_sum / n_samples`` (nats per sample; one device sync; NaN for no samples)."""
        return self.loss_sum.item() / self.n_samples if self.n_samples else float("nan")

    def first_nonfinite_step(self) -> int | None:
        """0-based index of the first step whose mini-batch loss is NaN or infinite (``None``
        when every one is finite). One stack and one host sync for the whole epoch."""
        if not self.step_losses:
            return None
        bad = ~torch.isfinite(torch.stack(self.step_losses))
        return int(bad.nonzero()[0, 0]) if bool(bad.any()) else None


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[Tensor, Tensor]],
    *,
    lr_at: Callable[[int], float] | None = None,
    augment: Callable[[Tensor], Tensor] | None = None,
    ema: EMA | None = None,
    amp: bool = False,
    channels_last: bool = False,
    forward_model: nn.Module | None = None,
    after_step: Callable[[int], None] | None = None,
    shard: Callable[[Tensor, Tensor], tuple[Tensor, Tensor, float]] | None = None,
) -> EpochLoss:
    r"""One pass of mini-batch steps over ``batches`` (the package's only step loop).

    For step ``i`` (0-based) with batch ``(x_i, y_i)`` of size ``b_i``: set every param group's
    rate to ``lr_at(i)`` (per-iteration schedules, e.g. the cyclic rate of paper Eq. 2), replace
    ``x_i`` by ``augment(x_i)``, compute :math:`\ell_i = \frac{1}{b_i}\sum_j
    \mathrm{CE}(f(x_{ij}), y_{ij})` (bf16 autocast on CUDA when ``amp``), take one optimiser
    step, then fold the new weights into ``ema``. The model is put in train mode first and left
    in it.

    Args:
        model: the model whose parameters ``optimizer`` updates (and ``ema`` averages).
        optimizer: any ``torch.optim`` optimiser over ``model``'s parameters.
        batches: ``(x, y)`` pairs on the model's device, e.g. ``iterate_batches(...,
            shuffle=True, generator=gen)`` (its permutation is drawn when it is created).
        lr_at: the rate of step ``i``; ``None`` leaves the optimiser's rates alone.
        augment: ``x -> augmented x`` (e.g. ``lambda x: ds.augment(x, gen)``); ``None``: none.
        ema: an :class:`~swa_lib.averaging.EMA` updated after every step.
        amp: bf16 autocast when the batch is on CUDA (ignored on the CPU).
        channels_last: NHWC memory format for 4-D inputs.
        forward_model: the module to call instead of ``model`` (e.g. ``torch.compile(model)``,
            which shares its parameters, or a ``DistributedDataParallel`` over it).
        after_step: ``after_step(i)`` after step ``i`` (and its EMA update), e.g. to average
            every ``k`` steps.
        shard: data-parallel training (:mod:`~swa_lib.training.distributed`): ``shard(x, y)``
            of the augmented global batch returns this rank's slice ``(x_r, y_r)`` and a factor
            ``f``; the step back-propagates ``f * sum_i CE_i`` over the slice (``f = W / b``
            makes DDP's average over ``W`` ranks the global batch's mean gradient), and
            ``loss_sum`` sums this rank's losses.

    Returns:
        :class:`EpochLoss` -- the summed loss stays on the device until it is read.
    """
    model.train()
    net = forward_model if forward_model is not None else model
    first = next(iter(model.parameters()), None)
    loss_sum = torch.zeros(
        (), dtype=torch.float64, device=first.device if first is not None else "cpu"
    )
    seen = steps = 0
    losses: list[Tensor] = []
    for it, (xb, yb) in enumerate(batches):
        if lr_at is not None:
            lr = lr_at(it)
            for group in optimizer.param_groups:
                group["lr"] = lr
        if augment is not None:
            xb = augment(xb)
        if channels_last and xb.dim() == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        factor = None
        if shard is not None:
            xb, yb, factor = shard(xb, yb)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and xb.device.type == "cuda"):
            if factor is None:
                loss = F.cross_entropy(net(xb), yb)
            else:  # this rank's summed loss: correct for an empty or uneven slice too
                summed = F.cross_entropy(net(xb), yb, reduction="sum")
        optimizer.zero_grad(set_to_none=True)
        if factor is None:
            loss.backward()
        else:
            (summed * factor).backward()
        optimizer.step()
        if ema is not None:
            ema.update(model)
        if after_step is not None:
            after_step(it)
        step_loss = loss.detach() if factor is None else summed.detach()
        losses.append(step_loss)
        loss_sum += step_loss.double() * (xb.shape[0] if factor is None else 1)
        seen += xb.shape[0]
        steps += 1
    return EpochLoss(loss_sum, seen, steps, losses)


def build_optimizer(
    name: str,
    params: Iterable[Tensor],
    *,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    betas: tuple[float, float] | None = None,
) -> torch.optim.Optimizer:
    """The optimiser ``name`` of :data:`OPTIMIZERS` over ``params``.

    ``"sgd"``: ``torch.optim.SGD(lr, momentum, weight_decay)`` (weight decay as L2 in the
    gradient, as the paper's code); ``"adam"``: ``torch.optim.Adam(lr, betas, weight_decay)``
    (L2 in the gradient); ``"adamw"``: ``torch.optim.AdamW(lr, betas, weight_decay)``
    (decoupled decay). Adam's ``betas`` default to torch's ``(0.9, 0.999)``; ``momentum`` must
    then be 0 (pass ``betas=(beta1, beta2)``: :func:`run` uses ``(config.momentum, 0.999)``).
    """
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name in ("adam", "adamw"):
        if momentum:
            raise ValueError(f"momentum={momentum!r}: {name} takes betas, not momentum (use 0)")
        kind = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return kind(
            params,
            lr=lr,
            weight_decay=weight_decay,
            **({"betas": tuple(betas)} if betas is not None else {}),
        )
    raise ValueError(f"optimizer={name!r} is unknown; allowed: {', '.join(OPTIMIZERS)}")


def evaluate_splits(model: nn.Module, ds: ArrayDataset, prefix: str) -> dict[str, float]:
    """``{prefix}_{train|test}_{loss|accuracy|nll}``: exact whole-set metrics in eval mode on the
    *unaugmented* splits (:func:`swa_lib.metrics.evaluate`; accuracy a fraction)."""
    row: dict[str, float] = {}
    for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
        m = evaluate(model, x, y)
        row.update({f"{prefix}_{split}_{k}": m[k] for k in ("loss", "accuracy", "nll")})
    return row


def check_batch_size(config: Any, ds: ArrayDataset) -> int:
    """Steps per epoch, ``ceil(n_train / batch_size)``; ``ValueError`` naming
    ``<Config>.batch_size`` when it exceeds the training set."""
    n_train = int(ds.x_train.shape[0])
    if config.batch_size > n_train:
        raise ValueError(
            f"{type(config).__name__}.batch_size={config.batch_size} is larger "
            f"than the training set ({n_train} samples); allowed: 1..{n_train}"
        )
    return math.ceil(n_train / config.batch_size)


class RunProgress:
    """A run's progress: a tqdm bar in this process and :mod:`swa_lib.progress` events
    (``run_start``, ``epoch``, ``run_end``) for a supervisor outside it (the book's executor).

    Args:
        name: what the run is called on screen, e.g. ``"mlp seed 0"``.
        epochs: the run's length; start_epoch: epochs already done (a resumed run).
        enabled: show the bar (events are written whenever ``SWA_BOOK_STATUS`` is set).
        cached: the run came from the cache (two events, no bar).
    """

    def __init__(
        self,
        name: str,
        epochs: int,
        start_epoch: int = 0,
        *,
        enabled: bool = True,
        cached: bool = False,
    ) -> None:
        self.name, self.epochs, self.cached = name, epochs, cached
        emit("run_start", name=name, epochs=epochs, start_epoch=start_epoch, cached=cached)
        self.bar = None
        if not cached:
            if enabled:  # tqdm.auto picks the notebook widget; it warns without ipywidgets
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm
            self.bar = tqdm(
                total=epochs, initial=start_epoch, desc=name, disable=not enabled, leave=False
            )

    def epoch(self, done: int, **postfix: str) -> None:
        """``done`` epochs are finished (1-based count); ``postfix`` shows beside the bar."""
        emit("epoch", name=self.name, epoch=done, epochs=self.epochs)
        if self.bar is not None:
            self.bar.update(1)
            if postfix:
                self.bar.set_postfix(**postfix)

    def close(self) -> None:
        """The run ended (trained to the end, or read from the cache)."""
        if self.bar is not None:
            self.bar.close()
        emit("run_end", name=self.name, cached=self.cached)


# -- the run ----------------------------------------------------------------------------------


@dataclass
class _Run:
    """Everything one run carries from epoch to epoch."""

    config: TrainConfig
    path: Path
    ds: ArrayDataset
    iters_per_epoch: int
    gen: torch.Generator
    model: nn.Module
    optimizer: torch.optim.Optimizer
    swa: SWA | None
    ema: EMA | None
    swag: Any
    step_model: nn.Module
    t_start: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    start_epoch: int = 0
    ranks: Ranks = field(default_factory=Ranks)
    fixed: list[str] = field(default_factory=list)  # parameters the averages do not average
    swag_fixed: Tensor | None = None  # their entries in SWAG's flat vector

    def objects(self) -> dict[str, Any]:
        """What a checkpoint saves by name (``None``: not used by this run)."""
        return {
            "model": self.model,
            "optimizer": self.optimizer,
            "swa": self.swa,
            "ema": self.ema,
            "swag": self.swag,
        }


def run(
    config: TrainConfig,
    runs_dir: str | Path = "runs",
    *,
    progress: bool | None = None,
    callback: Callable[[int, dict[str, Any]], None] | None = None,
) -> RunResult:
    """Train ``config`` (or return its cached result) under ``runs_dir``.

    Args:
        config: a validated :class:`TrainConfig`.
        runs_dir: the cache folder; the run lives in ``run_dir_for(config, runs_dir)``.
        progress: show a tqdm bar (default: on unless ``SWA_LIB_PROGRESS=0``).
        callback: ``callback(epoch, row)`` after each epoch's checkpoint is written (0-based
            epoch, the metrics row); raising from it stops the run as a kill would.

    Under ``torchrun --nproc_per_node N`` (or in an initialised process group of ``N > 1``
    ranks) every rank calls ``run`` with the same config and the run trains with DDP, equal to
    the single-process run (:mod:`~swa_lib.training.distributed`); every rank returns the
    result, ``callback`` is called on every rank, the bar shows on rank 0.

    Raises:
        TrainingDiverged: a training loss became NaN or infinite (the epoch and iteration are
            named; the last checkpoint is kept and no ``final.json`` is written).
    """
    if progress is None:
        progress = os.environ.get("SWA_LIB_PROGRESS", "1") != "0"
    # One process trains a given config at a time; a second one waits, then finds it cached.
    name = f"{config.model} seed {config.seed}"
    ranks = ranks_for(config)
    with ranks.lock(run_dir_for(config, runs_dir)) as path:
        cached = ranks.from_rank0(lambda: cached_result(config, path))
        if cached is not None:
            _progress(ranks, name, config.epochs, config.epochs, cached=True).close()
            return cached
        # what to train: the request with what the folder records (a killed run's promises,
        # a finished run's epochs when it lacks one asked for now: then retrained with both)
        state = _setup(ranks.from_rank0(lambda: plan_run(config, path)), path, ranks)
        _resume(state)
        bar = _progress(ranks, name, config.epochs, state.start_epoch, enabled=progress)
        for epoch in range(state.start_epoch, config.epochs):
            row = _epoch(state, epoch)
            _checkpoint(state, epoch)
            bar.epoch(
                epoch + 1,
                sgd=f"{row['sgd_test_accuracy']:.3f}",
                swa=f"{row['swa_test_accuracy']:.3f}",
            )
            if callback is not None:
                callback(epoch, row)
        result = _finish(state)
        bar.close()
        result.config = config  # the caller's request; the folder's config.json may record more
        return result


class _NoProgress:
    """The progress of a rank other than 0: nothing shown, no events."""

    def epoch(self, done: int, **postfix: str) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(ranks: Ranks, *args: Any, **kwargs: Any) -> RunProgress | _NoProgress:
    return RunProgress(*args, **kwargs) if ranks.is_writer else _NoProgress()


def _setup(config: TrainConfig, path: Path, ranks: Ranks | None = None) -> _Run:
    """Data, seeds, model, optimiser and averagers, in the order that fixes the RNG streams:
    the global seeds, then the data generator, then the model's initialisation."""
    ranks = ranks if ranks is not None else Ranks(device=resolve_device(config.device))
    if ranks.is_writer:
        atomic_save_json(path / "config.json", config.to_dict())
    device = ranks.device
    t_start = time.perf_counter()
    ds = dataset_of(config, device=device)
    iters_per_epoch = check_batch_size(config, ds)

    seed_everything(config.seed)
    gen = make_generator(device, config.seed)
    model = build_model(config.model, ds.num_classes, **config.model_kw).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = _optimizer(config, model)
    swa = SWA(model) if config.swa else None
    ema = EMA(model, config.ema_decay) if config.ema_decay is not None else None
    swag = None
    if config.collect_swag:
        from ..swag import SWAG

        swag = SWAG(model, max_rank=config.swag_rank)
    step_model = ranks.step_model(model, compile=config.compile)
    state = _Run(
        config,
        path,
        ds,
        iters_per_epoch,
        gen,
        model,
        optimizer,
        swa,
        ema,
        swag,
        step_model,
        t_start,
        ranks=ranks,
    )
    _choose_averaged(state)
    return state


def _optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """``config.optimizer`` over the model; Adam's ``beta1`` is ``config.momentum``."""
    adam = config.optimizer in ("adam", "adamw")
    return build_optimizer(
        config.optimizer,
        model.parameters(),
        lr=config.lr_init,
        momentum=0.0 if adam else config.momentum,
        weight_decay=config.weight_decay,
        betas=(config.momentum, 0.999) if adam else None,
    )


def _choose_averaged(state: _Run) -> None:
    """The parameter subset of ``average_only`` / ``average_exclude`` (:mod:`.subset`), and a
    ``swa_c_iters`` that leaves the SWA phase without an averaging point refused."""
    c = state.config
    if c.average_only is not None or c.average_exclude is not None:
        chosen = select_parameters(state.model, c.average_only, c.average_exclude)
        state.fixed = [n for n, _ in state.model.named_parameters() if n not in set(chosen)]
        state.swag_fixed = swag_fixed_mask(state.model, chosen) if state.swag else None
    if c.swa_c_iters is not None:
        assert c.swa_start is not None
        phase = (c.epochs - c.swa_start + 1) * state.iters_per_epoch
        if c.swa_c_iters > phase:
            raise ValueError(
                f"TrainConfig.swa_c_iters={c.swa_c_iters} is invalid: the SWA "
                f"phase has {phase} steps ({state.iters_per_epoch} per epoch), so "
                f"nothing would be averaged; allowed: 1..{phase}"
            )


def _resume(state: _Run) -> None:
    """Continue from ``checkpoint.pt`` when a killed run left one (weights, optimiser,
    averagers, RNG states and the logged rows)."""
    ckpt = load_checkpoint(state.path / CHECKPOINT_FILE, state.config.key())
    if ckpt is None:
        return
    if not checkpoint_covers(ckpt, state.config, state.path):  # lacks an epoch asked for now
        log.info(
            "%s: checkpoint after epoch %d lacks an evaluation or snapshot now asked "
            "for; training from epoch 1",
            state.path.name,
            int(ckpt["epoch"]) + 1,
        )
        return
    state.start_epoch = restore_checkpoint(ckpt, state.objects(), state.gen)
    state.rows = ckpt["rows"]


def _epoch(state: _Run, epoch: int) -> dict[str, Any]:
    """Train epoch ``epoch`` (0-based), average, evaluate; append and return its metrics row."""
    c, ds, t0 = state.config, state.ds, time.perf_counter()
    batches = iterate_batches(
        ds.x_train, ds.y_train, c.batch_size, shuffle=True, generator=state.gen
    )
    loss = train_epoch(
        state.model,
        state.optimizer,
        batches,
        lr_at=lambda it: c.learning_rate(epoch, it, state.iters_per_epoch),
        augment=(lambda xb: ds.augment(xb, state.gen)) if c.augment else None,
        ema=state.ema,
        amp=c.amp,
        channels_last=c.channels_last,
        forward_model=state.step_model,
        after_step=_step_averaging(state, epoch),
        shard=state.ranks.shard(),
    )
    running_loss = _check_finite(state, epoch, loss)
    _average(state, epoch)
    row: dict[str, Any] = {
        "epoch": epoch + 1,
        "lr": c.learning_rate(epoch, 0, state.iters_per_epoch),
        "running_train_loss": running_loss,
    }
    row.update(dict.fromkeys(METRIC_COLUMNS, float("nan")))
    if c.evaluates_after(epoch):
        row.update(_evaluate(state))
        if not math.isfinite(row["sgd_train_loss"]):
            raise TrainingDiverged(epoch + 1, None, row["sgd_train_loss"], state.path)
    row["swa_n"] = state.swa.n_averaged if state.swa is not None else 0
    row["epoch_time_s"] = time.perf_counter() - t0
    state.rows.append(row)
    return row


def _check_finite(state: _Run, epoch: int, loss: EpochLoss) -> float:
    """The epoch's running loss (over every rank); :class:`TrainingDiverged` naming the first
    step whose loss is not finite (found once, at the epoch's end: no per-step sync)."""
    mean, bad = state.ranks.epoch_loss(loss)
    if bad is not None:
        value = float(loss.step_losses[bad]) if bad < len(loss.step_losses) else float("nan")
        raise TrainingDiverged(
            epoch + 1, bad + 1, value if not math.isfinite(value) else float("nan"), state.path
        )
    return mean


def _fold(state: _Run) -> None:
    """Fold the iterate into SWA (and SWAG); parameters outside the chosen subset follow it."""
    assert state.swa is not None
    state.swa.update(state.model)
    follow_iterate(state.swa.module, state.model, state.fixed)
    if state.swag is not None:
        state.swag.update(state.model)
        pin_swag(state.swag, state.model, state.swag_fixed)


def _step_averaging(state: _Run, epoch: int) -> Callable[[int], None] | None:
    """With ``swa_c_iters``: ``train_epoch``'s ``after_step``, folding at every k-th step."""
    c, ipe = state.config, state.iters_per_epoch
    if state.swa is None or c.swa_c_iters is None:
        return None

    def after_step(it: int) -> None:
        if c.averages_at_step(epoch, it, ipe):
            _fold(state)

    return after_step


def _average(state: _Run, epoch: int) -> None:
    """At an averaging point: fold the iterate into SWA (and SWAG), save it as a snapshot."""
    if state.swa is None or not state.config.averages_after(epoch):
        return
    _fold(state)
    if state.config.snapshots and state.ranks.is_writer:
        save_snapshot(state.path, epoch, state.model)


def _evaluate(state: _Run) -> dict[str, float]:
    """The SGD iterate's metrics and, once it exists, the SWA model's (BN recomputed first)."""
    ranks = state.ranks
    row = ranks.evaluate_splits(state.model, state.ds, "sgd")
    swa = state.swa
    if swa is not None and swa.n_averaged > 0:
        update_bn(swa.module, ranks.bn_batches(state.ds, state.config.batch_size))
        row.update(ranks.evaluate_splits(swa.module, state.ds, "swa"))
    return row


def _checkpoint(state: _Run, epoch: int) -> None:
    """Write ``checkpoint.pt`` and ``metrics.csv`` when the config asks for it after ``epoch``."""
    if not state.config.checkpoints_after(epoch) or not state.ranks.is_writer:
        return
    save_checkpoint(
        state.path / CHECKPOINT_FILE,
        key=state.config.key(),
        epoch=epoch,
        objects=state.objects(),
        generator=state.gen,
        rows=state.rows,
    )
    atomic_write_text(state.path / METRICS_FILE, pd.DataFrame(state.rows).to_csv(index=False))


def _finish(state: _Run) -> RunResult:
    """Save the final models (BN recomputed for the averages) and ``final.json``; drop the
    checkpoint."""
    config, path, ds, ranks = state.config, state.path, state.ds, state.ranks
    final: dict[str, Any] = {
        "key": config.key(),
        "num_classes": ds.num_classes,
        "epochs": config.epochs,
        "n_train": int(ds.x_train.shape[0]),
        "n_test": int(ds.x_test.shape[0]),
        "world_size": ranks.world,
    }
    last = state.rows[-1]
    final.update({k: last[k] for k in METRIC_COLUMNS if k.startswith("sgd_")})
    save = _save if ranks.is_writer else _skip
    save(path / "sgd.pt", state.model)
    if state.swa is not None:
        final.update({k: last[k] for k in METRIC_COLUMNS if k.startswith("swa_")})
        final["swa_n"] = state.swa.n_averaged
        save(path / "swa.pt", state.swa.module)
    if state.ema is not None:
        follow_iterate(state.ema.module, state.model, state.fixed)
        update_bn(state.ema.module, ranks.bn_batches(ds, config.batch_size))
        final.update(ranks.evaluate_splits(state.ema.module, ds, "ema"))
        save(path / "ema.pt", state.ema.module)
    if state.swag is not None:
        save(path / "swag.pt", state.swag)
    final["wall_time_s"] = time.perf_counter() - state.t_start
    if ranks.is_writer:  # strict JSON: a NaN is an error, never a cached "result"
        atomic_save_json(path / FINAL_FILE, final, allow_nan=False)
        (path / CHECKPOINT_FILE).unlink(missing_ok=True)
    ranks.barrier()  # every rank returns once the files exist
    return RunResult(config, pd.DataFrame(state.rows), final, path)


def _save(file: Path, obj: Any) -> None:
    atomic_torch_save(file, obj.state_dict())


def _skip(file: Path, obj: Any) -> None:
    """What a rank other than 0 saves: nothing."""
