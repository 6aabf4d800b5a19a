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
from .config import TrainConfig, resolve_device
from .runs import (
    CHECKPOINT_FILE,
    FINAL_FILE,
    METRICS_FILE,
    RunResult,
    dataset_of,
    load_checkpoint,
    locked,
    make_generator,
    read_final,
    restore_checkpoint,
    run_dir_for,
    save_checkpoint,
    save_snapshot,
    seed_everything,
)

__all__ = ["EpochLoss", "train_epoch", "build_optimizer", "OPTIMIZERS", "evaluate_splits",
           "check_batch_size", "run", "RunProgress", "METRIC_COLUMNS"]

METRIC_COLUMNS = [f"{who}_{split}_{k}" for who in ("sgd", "swa") for split in ("train", "test")
                  for k in ("loss", "accuracy", "nll")]

#: Optimisers :func:`build_optimizer` knows.
OPTIMIZERS = ("sgd", "adamw")


# -- one epoch --------------------------------------------------------------------------------

@dataclass
class EpochLoss:
    """The training loss of one epoch, accumulated on the device (no per-step host sync).

    ``loss_sum`` is a float64 0-dim tensor on the model's device: the sum over mini-batches of
    the batch-mean cross-entropy times the batch size, so :attr:`mean` is the running mean
    over the epoch's *augmented* samples. ``n_samples`` / ``n_steps`` count samples and steps.
    """

    loss_sum: Tensor
    n_samples: int
    n_steps: int

    @property
    def mean(self) -> float:
        """``loss_sum / n_samples`` (nats per sample; one device sync; NaN for no samples)."""
        return self.loss_sum.item() / self.n_samples if self.n_samples else float("nan")


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
            which shares its parameters).

    Returns:
        :class:`EpochLoss` -- the summed loss stays on the device until it is read.
    """
    model.train()
    net = forward_model if forward_model is not None else model
    first = next(iter(model.parameters()), None)
    loss_sum = torch.zeros((), dtype=torch.float64,
                           device=first.device if first is not None else "cpu")
    seen = steps = 0
    for it, (xb, yb) in enumerate(batches):
        if lr_at is not None:
            lr = lr_at(it)
            for group in optimizer.param_groups:
                group["lr"] = lr
        if augment is not None:
            xb = augment(xb)
        if channels_last and xb.dim() == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16,
                            enabled=amp and xb.device.type == "cuda"):
            loss = F.cross_entropy(net(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if ema is not None:
            ema.update(model)
        loss_sum += loss.detach().double() * xb.shape[0]
        seen += xb.shape[0]
        steps += 1
    return EpochLoss(loss_sum, seen, steps)


def build_optimizer(name: str, params: Iterable[Tensor], *, lr: float, momentum: float = 0.0,
                    weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """The optimiser ``name`` of :data:`OPTIMIZERS` over ``params``.

    ``"sgd"``: ``torch.optim.SGD(lr, momentum, weight_decay)`` (weight decay as L2 in the
    gradient, as the paper's code); ``"adamw"``: ``torch.optim.AdamW(lr, weight_decay)``
    (decoupled decay; ``momentum`` must be 0, AdamW's betas stay at their defaults).
    """
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adamw":
        if momentum:
            raise ValueError(f"momentum={momentum!r}: AdamW takes no momentum (use 0)")
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
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
        raise ValueError(f"{type(config).__name__}.batch_size={config.batch_size} is larger "
                         f"than the training set ({n_train} samples); allowed: 1..{n_train}")
    return math.ceil(n_train / config.batch_size)


def _bn_batches(ds: ArrayDataset, batch_size: int) -> Iterable[tuple[Tensor, Tensor]]:
    """Unaugmented training batches in order: BN recomputation consumes no randomness."""
    return iterate_batches(ds.x_train, ds.y_train, batch_size, shuffle=False)


class RunProgress:
    """A run's progress: a tqdm bar in this process and :mod:`swa_lib.progress` events
    (``run_start``, ``epoch``, ``run_end``) for a supervisor outside it (the book's executor).

    Args:
        name: what the run is called on screen, e.g. ``"mlp seed 0"``.
        epochs: the run's length; start_epoch: epochs already done (a resumed run).
        enabled: show the bar (events are written whenever ``SWA_BOOK_STATUS`` is set).
        cached: the run came from the cache (two events, no bar).
    """

    def __init__(self, name: str, epochs: int, start_epoch: int = 0, *, enabled: bool = True,
                 cached: bool = False) -> None:
        self.name, self.epochs, self.cached = name, epochs, cached
        emit("run_start", name=name, epochs=epochs, start_epoch=start_epoch, cached=cached)
        self.bar = None
        if not cached:
            if enabled:  # tqdm.auto picks the notebook widget; it warns without ipywidgets
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm
            self.bar = tqdm(total=epochs, initial=start_epoch, desc=name, disable=not enabled,
                            leave=False)

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

    def objects(self) -> dict[str, Any]:
        """What a checkpoint saves by name (``None``: not used by this run)."""
        return {"model": self.model, "optimizer": self.optimizer, "swa": self.swa,
                "ema": self.ema, "swag": self.swag}


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
    """
    if progress is None:
        progress = os.environ.get("SWA_LIB_PROGRESS", "1") != "0"
    # One process trains a given config at a time; a second one waits, then finds it cached.
    name = f"{config.model} seed {config.seed}"
    with locked(run_dir_for(config, runs_dir)) as path:
        final = read_final(path)
        if final is not None:
            RunProgress(name, config.epochs, config.epochs, cached=True).close()
            return RunResult(config, pd.read_csv(path / METRICS_FILE), final, path, cached=True)
        state = _setup(config, path)
        _resume(state)
        bar = RunProgress(name, config.epochs, state.start_epoch, enabled=progress)
        for epoch in range(state.start_epoch, config.epochs):
            row = _epoch(state, epoch)
            _checkpoint(state, epoch)
            bar.epoch(epoch + 1, sgd=f"{row['sgd_test_accuracy']:.3f}",
                      swa=f"{row['swa_test_accuracy']:.3f}")
            if callback is not None:
                callback(epoch, row)
        result = _finish(state)
        bar.close()
        return result


def _setup(config: TrainConfig, path: Path) -> _Run:
    """Data, seeds, model, optimiser and averagers, in the order that fixes the RNG streams:
    the global seeds, then the data generator, then the model's initialisation."""
    atomic_save_json(path / "config.json", config.to_dict())
    device = resolve_device(config.device)
    t_start = time.perf_counter()
    ds = dataset_of(config, device=device)
    iters_per_epoch = check_batch_size(config, ds)

    seed_everything(config.seed)
    gen = make_generator(device, config.seed)
    model = build_model(config.model, ds.num_classes, **config.model_kw).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer("sgd", model.parameters(), lr=config.lr_init,
                                momentum=config.momentum, weight_decay=config.weight_decay)
    swa = SWA(model) if config.swa else None
    ema = EMA(model, config.ema_decay) if config.ema_decay is not None else None
    swag = None
    if config.collect_swag:
        from ..swag import SWAG

        swag = SWAG(model, max_rank=config.swag_rank)
    step_model = torch.compile(model) if config.compile else model
    return _Run(config, path, ds, iters_per_epoch, gen, model, optimizer, swa, ema, swag,
                step_model, t_start)


def _resume(state: _Run) -> None:
    """Continue from ``checkpoint.pt`` when a killed run left one (weights, optimiser,
    averagers, RNG states and the logged rows)."""
    ckpt = load_checkpoint(state.path / CHECKPOINT_FILE, state.config.key())
    if ckpt is None:
        return
    state.start_epoch = restore_checkpoint(ckpt, state.objects(), state.gen)
    state.rows = ckpt["rows"]


def _epoch(state: _Run, epoch: int) -> dict[str, Any]:
    """Train epoch ``epoch`` (0-based), average, evaluate; append and return its metrics row."""
    c, ds, t0 = state.config, state.ds, time.perf_counter()
    batches = iterate_batches(ds.x_train, ds.y_train, c.batch_size, shuffle=True,
                              generator=state.gen)
    loss = train_epoch(
        state.model, state.optimizer, batches,
        lr_at=lambda it: c.learning_rate(epoch, it, state.iters_per_epoch),
        augment=(lambda xb: ds.augment(xb, state.gen)) if c.augment else None,
        ema=state.ema, amp=c.amp, channels_last=c.channels_last,
        forward_model=state.step_model)
    _average(state, epoch)
    row: dict[str, Any] = {"epoch": epoch + 1,
                           "lr": c.learning_rate(epoch, 0, state.iters_per_epoch),
                           "running_train_loss": loss.mean}
    row.update(dict.fromkeys(METRIC_COLUMNS, float("nan")))
    if c.evaluates_after(epoch):
        row.update(_evaluate(state))
    row["swa_n"] = state.swa.n_averaged if state.swa is not None else 0
    row["epoch_time_s"] = time.perf_counter() - t0
    state.rows.append(row)
    return row


def _average(state: _Run, epoch: int) -> None:
    """At an averaging point: fold the iterate into SWA (and SWAG), save it as a snapshot."""
    if state.swa is None or not state.config.averages_after(epoch):
        return
    state.swa.update(state.model)
    if state.swag is not None:
        state.swag.update(state.model)
    if state.config.snapshots:
        save_snapshot(state.path, epoch, state.model)


def _evaluate(state: _Run) -> dict[str, float]:
    """The SGD iterate's metrics and, once it exists, the SWA model's (BN recomputed first)."""
    row = evaluate_splits(state.model, state.ds, "sgd")
    swa = state.swa
    if swa is not None and swa.n_averaged > 0:
        update_bn(swa.module, _bn_batches(state.ds, state.config.batch_size))
        row.update(evaluate_splits(swa.module, state.ds, "swa"))
    return row


def _checkpoint(state: _Run, epoch: int) -> None:
    """Write ``checkpoint.pt`` and ``metrics.csv`` when the config asks for it after ``epoch``."""
    if not state.config.checkpoints_after(epoch):
        return
    save_checkpoint(state.path / CHECKPOINT_FILE, key=state.config.key(), epoch=epoch,
                    objects=state.objects(), generator=state.gen, rows=state.rows)
    atomic_write_text(state.path / METRICS_FILE, pd.DataFrame(state.rows).to_csv(index=False))


def _finish(state: _Run) -> RunResult:
    """Save the final models (BN recomputed for the averages) and ``final.json``; drop the
    checkpoint."""
    config, path, ds = state.config, state.path, state.ds
    final: dict[str, Any] = {"key": config.key(), "num_classes": ds.num_classes,
                             "epochs": config.epochs, "n_train": int(ds.x_train.shape[0]),
                             "n_test": int(ds.x_test.shape[0])}
    last = state.rows[-1]
    final.update({k: last[k] for k in METRIC_COLUMNS if k.startswith("sgd_")})
    _save(path / "sgd.pt", state.model)
    if state.swa is not None:
        final.update({k: last[k] for k in METRIC_COLUMNS if k.startswith("swa_")})
        final["swa_n"] = state.swa.n_averaged
        _save(path / "swa.pt", state.swa.module)
    if state.ema is not None:
        update_bn(state.ema.module, _bn_batches(ds, config.batch_size))
        final.update(evaluate_splits(state.ema.module, ds, "ema"))
        _save(path / "ema.pt", state.ema.module)
    if state.swag is not None:
        _save(path / "swag.pt", state.swag)
    final["wall_time_s"] = time.perf_counter() - state.t_start
    atomic_save_json(path / FINAL_FILE, final)
    (path / CHECKPOINT_FILE).unlink(missing_ok=True)
    return RunResult(config, pd.DataFrame(state.rows), final, path)


def _save(file: Path, obj: Any) -> None:
    atomic_torch_save(file, obj.state_dict())
