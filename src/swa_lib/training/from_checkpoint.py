"""Continue a run's checkpoint under another schedule: the paper's protocols from one SGD state.

Two of the paper's experiments do not train SWA from scratch but start it from a saved SGD
state (Izmailov et al. 2018): Figure 6 (Section 4.3) runs several SWA schedules -- constant rates
and cyclic ``(alpha_1, alpha_2)`` schedules -- from *one* checkpoint of conventional SGD training
taken where averaging would begin, and Table 2 (Section 4.2) runs SWA for a few epochs from a
*pre-trained* ImageNet model (weights only: a fresh optimiser). This module does both for any
:class:`~swa_lib.training.TrainConfig`:

* :func:`start_state` -- the state of run ``base`` after ``epoch`` epochs (model, optimiser with
  its momentum buffers, every RNG stream), trained by the run's own set-up and epoch step
  (:mod:`swa_lib.training.loop`), so it *is* that run's state: continuing it with the run's own
  schedule reproduces the run. Cached per epoch under
  ``runs_dir/prefix-<dataset>-<model>-<base key>/epoch_NNNN.pt`` (written atomically,
  weights-only); a later epoch resumes from the latest cached earlier one.
* :class:`BranchConfig` -- what to do from there: ``epochs`` more epochs at a constant
  ``swa_lr`` or a cyclic rate from ``swa_lr_max`` down to ``swa_lr`` over each cycle of
  ``swa_c_epochs`` epochs (paper Eq. 2, :func:`swa_lib.schedules.cyclic_lr`), the iterate
  averaged at the end of every cycle (every ``swa_c_epochs`` epochs for a constant rate);
  ``keep_optimizer`` continues the checkpoint's optimiser state (Figure 6) or starts a fresh one
  from the weights alone (Table 2's pre-trained model).
* :func:`branch_run` -- trains one branch (or returns it from the cache) and evaluates the start
  and every ``eval_every``-th epoch: the SGD iterate and the SWA average (BN recomputed), whole
  train and test sets, unaugmented, as :func:`swa_lib.training.run` does. The folder
  ``runs_dir/branch-<dataset>-<model>-<key>/`` holds ``config.json``, ``metrics.csv`` (row 0 is
  the start), ``sgd.pt`` / ``swa.pt`` and ``final.json`` (written last: its presence means
  cached), and ``checkpoint.pt`` after every epoch while it runs, so a killed branch resumes
  and ends with the numbers of an uninterrupted one.
* :func:`branches` (one branch per seed and schedule) and :func:`branch_curves` (their metrics
  as one long frame) for the notebooks.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..averaging import SWA, update_bn
from ..data import ArrayDataset, iterate_batches
from ..io import atomic_save_json, atomic_torch_save, atomic_write_text
from ..models import build_model
from ..schedules import cyclic_lr
from .config import SWA_LR_SCHEDULES, FieldCheck, TrainConfig, config_key, resolve_device
from .divergence import TrainingDiverged
from .loop import (
    METRIC_COLUMNS,
    _epoch,
    _optimizer,
    _setup,
    check_batch_size,
    evaluate_splits,
    train_epoch,
)
from .runs import (
    CHECKPOINT_FILE,
    METRICS_FILE,
    RunFolder,
    dataset_of,
    load_checkpoint,
    locked,
    make_generator,
    read_final,
    restore_checkpoint,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)

__all__ = [
    "BranchConfig",
    "BranchResult",
    "start_state",
    "prefix_dir",
    "branch_run",
    "branch_dir",
    "branches",
    "branch_curves",
    "CACHE_VERSION",
]

#: Bump when a code change alters the numbers a branch config produces.
CACHE_VERSION = 1


# -- the state of a run after k epochs ---------------------------------------------------------


def prefix_dir(base: TrainConfig, runs_dir: str | Path) -> Path:
    """``runs_dir/prefix-<dataset>-<model>-<base.key()>``: the saved states of ``base``."""
    return Path(runs_dir) / f"prefix-{base.dataset}-{base.model}-{base.key()}"


def _state_file(folder: Path, epoch: int) -> Path:
    return folder / f"epoch_{epoch:04d}.pt"


def start_state(base: TrainConfig, epoch: int, runs_dir: str | Path = "runs") -> dict[str, Any]:
    """The state of run ``base`` after ``epoch`` epochs (1-based count, ``1..base.epochs``).

    Trained with the run's own :func:`~swa_lib.training.loop._setup` and epoch step (the seeds,
    data order, augmentation and schedule of ``swa_lib.training.run(base)``; evaluation consumes
    no randomness, so it is skipped), hence equal to the run's checkpoint after that epoch; after
    ``base.epochs`` epochs its ``"model"`` is the run's ``sgd.pt``. Resumes from the latest
    cached earlier epoch of the same run.

    Returns:
        The checkpoint dict of :func:`~swa_lib.training.runs.save_checkpoint`: ``"key"``
        (``base.key()``), ``"epoch"`` (0-based index of the last trained epoch, ``epoch - 1``),
        ``"model"`` and ``"optimizer"`` state dicts, ``"rng"`` (every RNG stream), and
        ``"swa"`` / ``"ema"`` / ``"swag"`` when ``base`` keeps them.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= base.epochs:
        raise ValueError(
            f"epoch={epoch!r} is invalid: must be an integer in 1..{base.epochs} (base.epochs)"
        )
    folder = prefix_dir(base, runs_dir)
    with locked(folder):
        file = _state_file(folder, epoch)
        ckpt = load_checkpoint(file, base.key())
        if ckpt is not None:
            return ckpt
        plan = base.replace(eval_every=None, eval_epochs=(), snapshots=False)
        state = _setup(plan, folder)  # writes folder/config.json: whose prefix this is
        earlier = [e for e in range(epoch - 1, 0, -1) if _state_file(folder, e).exists()]
        if earlier:
            done = load_checkpoint(_state_file(folder, earlier[0]), base.key())
            assert done is not None
            state.start_epoch = restore_checkpoint(done, state.objects(), state.gen)
        for e in range(state.start_epoch, epoch):
            _epoch(state, e)
        save_checkpoint(
            file, key=base.key(), epoch=epoch - 1, objects=state.objects(), generator=state.gen
        )
        ckpt = load_checkpoint(file, base.key())
        assert ckpt is not None
        return ckpt


# -- what to do from there ---------------------------------------------------------------------


@dataclass
class BranchConfig:
    """A branch: ``epochs`` epochs from run ``base``'s state after ``start_epoch`` epochs.

    Fields (units):
        base: the run whose state is continued (its model, data, optimiser kind, batch size and
            device are the branch's).
        start_epoch: epochs of ``base`` trained before the branch, ``1..base.epochs``
            (``base.epochs``: its finished model, the "pre-trained" start of Table 2).
        epochs: epochs of the branch (the SWA phase), ``>= 1``.
        swa_lr: the constant rate, or the cyclic schedule's minimum ``alpha_2``.
        swa_lr_schedule: ``"constant"`` or ``"cyclic"``: per iteration ``i = 1, 2, ...`` of the
            branch, ``cyclic_lr(i, lr_max=swa_lr_max, lr_min=swa_lr, cycle=c * steps per
            epoch)``, falling from just below ``alpha_1`` to exactly ``alpha_2`` at each cycle's
            end (paper Eq. 2).
        swa_lr_max: ``alpha_1`` of the cyclic schedule (``> swa_lr``; ignored when constant).
        swa_c_epochs: ``c``: the iterate is averaged after branch epochs ``c, 2c, ...`` (the
            cycle length when cyclic).
        keep_optimizer: continue the checkpoint's optimiser state (momentum buffers: a run's
            checkpoint, Figure 6) or build a fresh optimiser on the weights alone (a pre-trained
            model, Table 2).
        momentum, weight_decay: the branch's SGD settings (``None``: ``base``'s).
        seed: ``None`` continues the checkpoint's RNG streams (data order, augmentation): the
            branch is then the run's own continuation; an integer reseeds every stream with it.
        eval_every: evaluate after every this many branch epochs, and always after the last
            (the start is always evaluated). Part of the key, as every field.

    The branch keeps one SWA average of its own, started empty; an average ``base`` kept
    before ``start_epoch`` (SWA, EMA, SWAG) is not continued.
    """

    base: TrainConfig
    start_epoch: int
    epochs: int
    swa_lr: float
    swa_lr_schedule: str = "constant"
    swa_lr_max: float | None = None
    swa_c_epochs: int = 1
    keep_optimizer: bool = True
    momentum: float | None = None
    weight_decay: float | None = None
    seed: int | None = None
    eval_every: int = 1

    def __post_init__(self) -> None:
        check = FieldCheck(self)
        if not isinstance(self.base, TrainConfig):
            raise check.error("base", "must be a TrainConfig")
        check.integers("start_epoch", "epochs", "swa_c_epochs", "eval_every")
        if self.start_epoch > self.base.epochs:
            raise check.error("start_epoch", f"must be in 1..{self.base.epochs} (base.epochs)")
        if self.swa_c_epochs > self.epochs:
            raise check.error("swa_c_epochs", f"must be <= epochs (= {self.epochs})")
        check.positive("swa_lr")
        check.one_of("swa_lr_schedule", SWA_LR_SCHEDULES)
        if self.swa_lr_schedule == "cyclic":
            if self.swa_lr_max is None or not self.swa_lr_max > self.swa_lr:
                raise check.error("swa_lr_max", "must be a number > swa_lr for a cyclic schedule")
        if self.momentum is not None:
            check.unit_interval("momentum")
        if self.weight_decay is not None:
            check.non_negative("weight_decay")
        if self.seed is not None:
            check.integers("seed", minimum=0)

    # -- identity -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values (``base`` as its own dict)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["base"] = self.base.to_dict()
        return d

    def key(self) -> str:
        """Stable hash of the branch fields, ``base.key()`` for the base (its record fields do
        not change the state) and the resolved device."""
        d = self.to_dict()
        d["base"] = self.base.key()
        if self.swa_lr_schedule != "cyclic":
            d.pop("swa_lr_max")
        d["momentum"], d["weight_decay"] = self.sgd_settings()
        d["device"] = self.base.device
        return config_key(d, CACHE_VERSION)

    def replace(self, **changes: Any) -> BranchConfig:
        return dataclasses.replace(self, **changes)

    # -- the schedule ---------------------------------------------------------------------------
    def sgd_settings(self) -> tuple[float, float]:
        """``(momentum, weight_decay)`` of the branch's optimiser (``None`` fields: base's)."""
        return (
            self.base.momentum if self.momentum is None else self.momentum,
            self.base.weight_decay if self.weight_decay is None else self.weight_decay,
        )

    def learning_rate(self, epoch: int, iteration_in_epoch: int, iters_per_epoch: int) -> float:
        """Rate of step ``iteration_in_epoch`` (0-based) of branch epoch ``epoch`` (0-based):
        ``swa_lr``, or ``cyclic_lr(epoch * iters_per_epoch + iteration_in_epoch + 1, ...)`` with
        a cycle of ``swa_c_epochs * iters_per_epoch`` steps."""
        if self.swa_lr_schedule == "constant":
            return float(self.swa_lr)
        assert self.swa_lr_max is not None
        return cyclic_lr(
            epoch * iters_per_epoch + iteration_in_epoch + 1,
            lr_max=self.swa_lr_max,
            lr_min=self.swa_lr,
            cycle=self.swa_c_epochs * iters_per_epoch,
        )

    def averages_after(self, epoch: int) -> bool:
        """Whether the iterate is averaged after branch epoch ``epoch`` (0-based)."""
        return (epoch + 1) % self.swa_c_epochs == 0

    def evaluates_after(self, epoch: int) -> bool:
        """Whether the models are evaluated after branch epoch ``epoch`` (0-based)."""
        return epoch + 1 == self.epochs or (epoch + 1) % self.eval_every == 0


def branch_dir(config: BranchConfig, runs_dir: str | Path) -> Path:
    """``runs_dir/branch-<dataset>-<model>-<config.key()>``: the folder of one branch."""
    b = config.base
    return Path(runs_dir) / f"branch-{b.dataset}-{b.model}-{config.key()}"


@dataclass
class BranchResult(RunFolder):
    """What :func:`branch_run` returns. ``config`` is the base :class:`TrainConfig` (the model
    and data :class:`~swa_lib.training.runs.RunFolder` loads with), ``branch`` the branch.

    ``metrics``: one row per evaluated epoch, row 0 the start: ``epoch`` (of the whole run,
    ``start_epoch + branch_epoch``), ``branch_epoch``, ``lr`` (the epoch's first step),
    ``running_train_loss``, the ``sgd_*`` / ``swa_*`` columns of
    :data:`~swa_lib.training.loop.METRIC_COLUMNS` (accuracy a fraction) and ``swa_n``.
    ``final``: ``start_*`` (the start's test/train metrics), the last row's ``sgd_*`` /
    ``swa_*``, ``swa_n``, ``num_classes``, ``n_train``, ``n_test``, ``wall_time_s``.
    ``load_model("swa")`` / ``load_model("sgd")`` load the saved average / last iterate.
    """

    config: TrainConfig
    branch: BranchConfig
    metrics: pd.DataFrame
    final: dict[str, Any]
    path: Path
    cached: bool = False


# -- training a branch ---------------------------------------------------------------------------


@dataclass
class _Branch:
    """What a branch carries from epoch to epoch."""

    config: BranchConfig
    path: Path
    ds: ArrayDataset
    iters_per_epoch: int
    gen: torch.Generator
    model: nn.Module
    optimizer: torch.optim.Optimizer
    swa: SWA
    rows: list[dict[str, Any]]

    def objects(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.optimizer, "swa": self.swa}


def _setup_branch(config: BranchConfig, path: Path, start: Mapping[str, Any]) -> _Branch:
    """Data, model and optimiser from ``start`` (the base's state), the RNG streams continued
    or reseeded, and an empty SWA average of the start model."""
    base = config.base
    device = resolve_device(base.device)
    ds = dataset_of(base, device=device)
    ipe = check_batch_size(base, ds)
    model = build_model(base.model, ds.num_classes, **base.model_kw).to(device)
    model.load_state_dict(start["model"])
    momentum, weight_decay = config.sgd_settings()
    optimizer = _optimizer(base.replace(momentum=momentum, weight_decay=weight_decay), model)
    if config.keep_optimizer:
        optimizer.load_state_dict(start["optimizer"])
        for group in optimizer.param_groups:  # load_state_dict restores the saved settings
            group["weight_decay"] = weight_decay
            if "momentum" in group:
                group["momentum"] = momentum
            else:  # Adam's beta1 is the base config's momentum
                group["betas"] = (momentum, group["betas"][1])
    gen = make_generator(device, base.seed)
    if config.seed is None:
        set_rng_state(start["rng"], gen)
    else:
        seed_everything(config.seed)
        gen.manual_seed(config.seed)
    return _Branch(config, path, ds, ipe, gen, model, optimizer, SWA(model), [])


def _row(state: _Branch, branch_epoch: int, lr: float, running_loss: float) -> dict[str, Any]:
    """The metrics row after ``branch_epoch`` branch epochs (0: the start): the SGD iterate
    and, once it exists, the SWA average with its BN statistics recomputed."""
    row: dict[str, Any] = {
        "epoch": state.config.start_epoch + branch_epoch,
        "branch_epoch": branch_epoch,
        "lr": lr,
        "running_train_loss": running_loss,
    }
    row.update(dict.fromkeys(METRIC_COLUMNS, float("nan")))
    row.update(evaluate_splits(state.model, state.ds, "sgd"))
    if state.swa.n_averaged > 0:
        batches = iterate_batches(
            state.ds.x_train, state.ds.y_train, state.config.base.batch_size, shuffle=False
        )
        update_bn(state.swa.module, batches)
        row.update(evaluate_splits(state.swa.module, state.ds, "swa"))
    row["swa_n"] = state.swa.n_averaged
    return row


def _branch_epoch(state: _Branch, epoch: int) -> None:
    """Train branch epoch ``epoch`` (0-based), average, evaluate, checkpoint."""
    c, ds, gen = state.config, state.ds, state.gen
    batches = iterate_batches(
        ds.x_train, ds.y_train, c.base.batch_size, shuffle=True, generator=gen
    )
    loss = train_epoch(
        state.model,
        state.optimizer,
        batches,
        lr_at=lambda it: c.learning_rate(epoch, it, state.iters_per_epoch),
        augment=(lambda xb: ds.augment(xb, gen)) if c.base.augment else None,
        amp=c.base.amp,
        channels_last=c.base.channels_last,
    )
    bad = loss.first_nonfinite_step()
    if bad is not None:
        raise TrainingDiverged(
            c.start_epoch + epoch + 1, bad + 1, float(loss.step_losses[bad]), state.path
        )
    if c.averages_after(epoch):
        state.swa.update(state.model)
    if c.evaluates_after(epoch):
        lr = c.learning_rate(epoch, 0, state.iters_per_epoch)
        state.rows.append(_row(state, epoch + 1, lr, loss.mean))
    save_checkpoint(
        state.path / CHECKPOINT_FILE,
        key=c.key(),
        epoch=epoch,
        objects=state.objects(),
        generator=gen,
        rows=state.rows,
    )


def _finish(state: _Branch, t_start: float) -> BranchResult:
    """Save the models, ``metrics.csv`` and (last) ``final.json``; drop the checkpoint."""
    c, path, ds = state.config, state.path, state.ds
    first, last = state.rows[0], state.rows[-1]
    final: dict[str, Any] = {
        "key": c.key(),
        "num_classes": ds.num_classes,
        "n_train": int(ds.x_train.shape[0]),
        "n_test": int(ds.x_test.shape[0]),
        "start_epoch": c.start_epoch,
        "epochs": c.epochs,
    }
    final.update({f"start_{k[4:]}": first[k] for k in METRIC_COLUMNS if k.startswith("sgd_")})
    final.update({k: last[k] for k in METRIC_COLUMNS})
    final["swa_n"] = state.swa.n_averaged
    final["wall_time_s"] = time.perf_counter() - t_start
    atomic_torch_save(path / "sgd.pt", state.model.state_dict())
    atomic_torch_save(path / "swa.pt", state.swa.module.state_dict())
    metrics = pd.DataFrame(state.rows)
    atomic_write_text(path / METRICS_FILE, metrics.to_csv(index=False))
    atomic_save_json(path / "final.json", final, allow_nan=False)
    (path / CHECKPOINT_FILE).unlink(missing_ok=True)
    return BranchResult(c.base, c, metrics, final, path)


def _cached(config: BranchConfig, path: Path) -> BranchResult | None:
    """The finished branch in ``path`` (``None`` if there is none); a ``final.json`` of another
    key is an error, never reused."""
    final = read_final(path)
    if final is None:
        return None
    if final.get("key") != config.key():
        raise ValueError(
            f"{path / 'final.json'} belongs to another branch (key {final.get('key')}, "
            f"expected {config.key()}); delete the folder to rerun"
        )
    metrics = pd.read_csv(path / METRICS_FILE)
    return BranchResult(config.base, config, metrics, final, path, cached=True)


def branch_run(config: BranchConfig, runs_dir: str | Path = "runs") -> BranchResult:
    """Train one branch (or return it from the cache) under ``runs_dir``.

    The start is :func:`start_state` of ``(config.base, config.start_epoch)`` (cached itself);
    the branch trains with :func:`~swa_lib.training.train_epoch` at
    :meth:`BranchConfig.learning_rate`, folds the iterate into a
    :class:`~swa_lib.averaging.SWA` average after every ``swa_c_epochs`` epochs and evaluates
    the start and the epochs of :meth:`BranchConfig.evaluates_after`.

    Raises:
        TrainingDiverged: a training loss became NaN or infinite (the epoch of the whole run
            and the step are named; the last checkpoint is kept).
    """
    path = branch_dir(config, runs_dir)
    with locked(path):
        cached = _cached(config, path)
        if cached is not None:
            return cached
        t_start = time.perf_counter()
        start = start_state(config.base, config.start_epoch, runs_dir)
        atomic_save_json(path / "config.json", config.to_dict())
        state = _setup_branch(config, path, start)
        first = 0
        ckpt = load_checkpoint(path / CHECKPOINT_FILE, config.key())
        if ckpt is not None:
            first = restore_checkpoint(ckpt, state.objects(), state.gen)
            state.rows = list(ckpt["rows"])
        else:
            lr0 = config.learning_rate(0, 0, state.iters_per_epoch)
            state.rows.append(_row(state, 0, lr0, math.nan))
        for epoch in range(first, config.epochs):
            _branch_epoch(state, epoch)
        return _finish(state, t_start)


# -- many branches ---------------------------------------------------------------------------


def branches(
    base: TrainConfig,
    seeds: Sequence[int],
    start_epoch: int,
    epochs: int,
    schedules: Mapping[str, Mapping[str, Any]],
    runs_dir: str | Path = "runs",
) -> dict[str, list[BranchResult]]:
    """``name -> [branch of seed s for s in seeds]``: for each seed the base run
    ``base.replace(seed=s)`` is continued from ``start_epoch`` for ``epochs`` epochs under each
    schedule ``schedules[name]`` (:class:`BranchConfig` fields, e.g. ``{"swa_lr": 0.05}``)."""
    if not schedules:
        raise ValueError("schedules is empty: give at least one name -> BranchConfig fields")
    out: dict[str, list[BranchResult]] = {}
    for name, fields in schedules.items():
        out[name] = [
            branch_run(
                BranchConfig(base.replace(seed=s), start_epoch, epochs, **dict(fields)), runs_dir
            )
            for s in seeds
        ]
    return out


def branch_curves(results: Mapping[str, Sequence[BranchResult]]) -> pd.DataFrame:
    """The metrics rows of every branch as one long frame, with columns ``schedule`` (the
    mapping's key) and ``seed`` (the base run's) in front of :class:`BranchResult`'s."""
    frames = []
    for name, runs in results.items():
        for r in runs:
            frames.append(r.metrics.assign(schedule=name, seed=r.config.seed))
    if not frames:
        raise ValueError("results holds no branches")
    df = pd.concat(frames, ignore_index=True)
    front = ["schedule", "seed"]
    return df[front + [c for c in df.columns if c not in front]]
