"""The configuration of one training run, validated on construction."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data import DATASET_NAMES
from ..io import stable_hash
from ..models import MODEL_NAMES
from ..schedules import cyclic_lr, sgd_schedule, swa_schedule

# Bump when a code change alters the numbers a config produces or the keys of configs, so old
# caches are not reused. 2: canonical keys (issue 16): SWA-only fields left out of an SGD
# baseline's key, evaluation epochs and snapshots recorded instead of keyed.
CACHE_VERSION = 2

SWA_LR_SCHEDULES = ("constant", "cyclic")

#: Optimisers a run can train with (``TrainConfig.optimizer``; built by ``loop.build_optimizer``).
OPTIMIZERS = ("sgd", "adam", "adamw")

#: Fields added after the first cache keys were fixed, with their defaults: a field at its default
#: is left out of :meth:`TrainConfig.key`, so every run that does not use it keeps its cached
#: folder (and its numbers: the defaults train exactly as before the field existed).
KEY_OMITTED_AT_DEFAULT: dict[str, Any] = {
    "optimizer": "sgd",
    "swa_c_iters": None,
    "average_only": None,
    "average_exclude": None,
}

#: Fields that choose what a run *records*, never what it computes: which epochs are evaluated
#: (evaluation consumes no randomness and changes no weights), whether averaged iterates are
#: saved, how often a checkpoint is written. They are left out of :meth:`TrainConfig.key`; the
#: run folder's ``config.json`` says what a finished run recorded, and a request for more
#: retrains the run with the union (:meth:`TrainConfig.covers`, :meth:`TrainConfig.merged`).
RECORD_FIELDS = ("eval_every", "eval_epochs", "snapshots", "checkpoint_every")

#: Fields an SGD baseline (``swa=False``) never reads: its schedule is :func:`sgd_schedule`
#: (``lr_init`` and ``epochs`` only) and nothing is averaged, so ``swa_start``, ``swa_lr``,
#: ``swa_c_epochs``, the cyclic schedule's ``swa_lr_schedule`` / ``swa_lr_max`` and SWAG's
#: ``collect_swag`` (refused without SWA) / ``swag_rank`` are left out of its key. ``ema_decay``
#: is not among them: a baseline keeps an EMA too.
SWA_ONLY_FIELDS = (
    "swa_start",
    "swa_lr",
    "swa_c_epochs",
    "swa_lr_schedule",
    "swa_lr_max",
    "collect_swag",
    "swag_rank",
)


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available else ``"cpu"``; checks that CUDA exists if asked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available; use 'cpu' or 'auto'")
    return device


class FieldCheck:
    """Validation of a config dataclass's fields, one error format for every config.

    Each check raises ``ValueError("<Class>.<field>=<value!r> is invalid: <what is allowed>")``,
    so the message names the class, the field and the allowed values (``TrainConfig`` and
    ``CourseConfig`` both validate with it).
    """

    def __init__(self, config: Any) -> None:
        self.config = config

    def error(self, name: str, allowed: str) -> ValueError:
        """The ``ValueError`` for field ``name`` (to ``raise``)."""
        value = getattr(self.config, name)
        return ValueError(f"{type(self.config).__name__}.{name}={value!r} is invalid: {allowed}")

    def one_of(self, name: str, allowed: Sequence[str]) -> None:
        """The field is one of ``allowed``."""
        if getattr(self.config, name) not in allowed:
            raise self.error(name, f"allowed values are {', '.join(allowed)}")

    def integers(self, *names: str, minimum: int | None = 1) -> None:
        """Each field is an ``int`` (not a ``bool``), ``>= minimum`` unless that is ``None``."""
        for name in names:
            value = getattr(self.config, name)
            if isinstance(value, bool) or not isinstance(value, int):
                ok = False
            else:
                ok = minimum is None or value >= minimum
            if not ok:
                raise self.error(
                    name,
                    "must be an integer" if minimum is None else f"must be an integer >= {minimum}",
                )

    def positive(self, *names: str) -> None:
        """Each field is a finite number ``> 0``."""
        for name in names:
            value = getattr(self.config, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise self.error(name, "must be a positive finite number")

    def non_negative(self, *names: str) -> None:
        """Each field is ``>= 0`` (NaN fails)."""
        for name in names:
            value = getattr(self.config, name)
            if not isinstance(value, (int, float)) or not value >= 0.0:
                raise self.error(name, "must be >= 0")

    def unit_interval(self, name: str, allowed: str = "must be in [0, 1)") -> None:
        """The field is a number in ``[0, 1)`` (a momentum, a decay)."""
        value = getattr(self.config, name)
        if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise self.error(name, allowed)

    def device(self, name: str = "device") -> None:
        """The field is ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``."""
        value = getattr(self.config, name)
        if not isinstance(value, str) or not (
            value in ("cpu", "cuda", "auto") or value.startswith("cuda:")
        ):
            raise self.error(name, "allowed values are 'cpu', 'cuda', 'cuda:N', 'auto'")


def config_key(fields: dict[str, Any], cache_version: int) -> str:
    """Stable hash of a config's defining ``fields`` with ``device`` resolved (``"auto"`` and
    ``"cuda"`` on a CUDA machine are the same run) and the ``cache_version`` of its protocol."""
    d = dict(fields)
    d["device"] = resolve_device(d["device"])
    d["_cache_version"] = cache_version
    return stable_hash(d)


@dataclass
class TrainConfig:
    """One training run. Validated on construction; ``ValueError`` names the bad field.

    Epochs are counted from 0 in the schedule (``t = epoch / swa_start``) and averaging follows
    the authors' code: after epoch ``e`` (0-based) the SGD iterate is averaged when
    ``e + 1 >= swa_start`` and ``(e + 1 - swa_start) % swa_c_epochs == 0``.

    Fields (units):
        dataset, model: names from ``swa_lib.data.DATASET_NAMES`` / ``swa_lib.models.MODEL_NAMES``.
        epochs: total epochs of this run (the budget).
        lr_init, momentum, weight_decay, batch_size: SGD settings (wd as the optimiser's L2).
        swa: ``True`` -- SWA run with :func:`swa_schedule` and averaging; ``False`` -- SGD baseline
            with :func:`sgd_schedule` (decay to 0.01 lr_init), no averaging.
        swa_start: first averaged epoch (1-based count, ``1 <= swa_start < epochs``); default
            ``round(0.75 * epochs)``.
        swa_lr: rate of the SWA phase (the cyclic minimum for ``swa_lr_schedule="cyclic"``).
        swa_c_epochs: average every this many epochs (the cycle length when cyclic).
        swa_lr_schedule: ``"constant"`` (paper default) or ``"cyclic"`` (per-iteration, paper Eq. 2,
            from ``swa_lr_max`` down to ``swa_lr`` over each cycle).
        ema_decay: also keep an EMA of the weights (updated every step) when not ``None``.
        collect_swag, swag_rank: also collect a SWAG posterior (``swa_lib.swag``).
        snapshots: save the SGD iterate at every averaging point (for trajectory planes).
        num_samples, data_seed, augment, data_root, dataset_kw: dataset options (MNIST-1D size and
            generation seed, on-device augmentation, root folder, extra generation options).
        model_kw: extra keyword arguments of ``build_model``.
        eval_every, eval_epochs: which epochs are evaluated (whole train and test sets, SGD
            iterate and SWA model): every ``eval_every``-th epoch (``None``: none of them), the
            1-based epochs listed in ``eval_epochs``, and always the last (the final metrics);
            other rows of ``metrics.csv`` hold NaN in the metric columns. The default, every
            epoch, keeps the per-epoch curves a direct user expects; the book's notebooks ask for
            the epochs they read (:meth:`evaluated_epochs`). Not part of the key: see
            :data:`RECORD_FIELDS`.
        checkpoint_every: write a checkpoint every this many epochs.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        amp: bf16 autocast on CUDA; channels_last: NHWC for 4-D inputs; compile: ``torch.compile``.
        optimizer: ``"sgd"`` (the paper's), ``"adam"`` or ``"adamw"``, with the same schedule
            and SWA phase. For Adam/AdamW ``momentum`` is ``beta1`` (its default 0.9 is Adam's)
            and ``beta2 = 0.999``; ``weight_decay`` is Adam's L2 term in the gradient, AdamW's
            decoupled decay ``w -= lr * wd * w``.
        swa_c_iters: average every this many optimiser steps instead of every ``swa_c_epochs``
            epochs (``None``). Steps are counted from the start of epoch ``swa_start`` (1-based),
            the epoch whose end is the first averaging point of the epoch mode, so
            ``swa_c_iters = steps per epoch`` averages exactly the iterates of ``swa_c_epochs=1``.
            With ``swa_lr_schedule="cyclic"`` one cycle is ``swa_c_iters`` steps, ending where a
            model is averaged (the paper's cycle length ``c`` in iterations).
        average_only, average_exclude: ``fnmatch`` patterns over ``model.named_parameters()``
            names choosing which parameters SWA, EMA and SWAG average (e.g. ``["fc2.*"]``: the
            last layer; ``average_exclude=["*.bias"]``). ``None``: all / none. The other
            parameters of an average follow the SGD iterate at its last update, as its buffers
            do; SWAG's posterior over them is a point mass there.
    """

    dataset: str
    model: str
    epochs: int = 40
    lr_init: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    swa: bool = True
    swa_start: int | None = None
    swa_lr: float = 0.01
    swa_c_epochs: int = 1
    swa_lr_schedule: str = "constant"
    swa_lr_max: float | None = None
    ema_decay: float | None = None
    collect_swag: bool = False
    swag_rank: int = 20
    snapshots: bool = False
    seed: int = 0
    num_samples: int | None = None
    data_seed: int = 42
    augment: bool = True
    data_root: str = "data"
    dataset_kw: dict[str, Any] = field(default_factory=dict)
    model_kw: dict[str, Any] = field(default_factory=dict)
    eval_every: int | None = 1
    eval_epochs: tuple[int, ...] = ()
    checkpoint_every: int = 1
    device: str = "cpu"
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    optimizer: str = "sgd"
    swa_c_iters: int | None = None
    average_only: list[str] | None = None
    average_exclude: list[str] | None = None

    def __post_init__(self) -> None:
        check = FieldCheck(self)
        check.one_of("dataset", DATASET_NAMES)
        check.one_of("model", MODEL_NAMES)
        check.integers("epochs", "batch_size", "swa_c_epochs", "checkpoint_every", "swag_rank")
        check.positive("lr_init", "swa_lr")
        check.unit_interval("momentum")
        check.non_negative("weight_decay")
        if self.swa_start is None:
            self.swa_start = max(1, round(0.75 * self.epochs))
        check.integers("swa_start", minimum=None)
        if self.swa and not 1 <= self.swa_start < self.epochs:
            raise check.error(
                "swa_start", f"must satisfy 1 <= swa_start < epochs (= {self.epochs})"
            )
        check.one_of("swa_lr_schedule", SWA_LR_SCHEDULES)
        if self.swa_lr_schedule == "cyclic":
            if self.swa_lr_max is None:
                self.swa_lr_max = self.lr_init
            if not self.swa_lr_max > self.swa_lr:
                raise check.error("swa_lr_max", "must be > swa_lr for a cyclic schedule")
        if self.ema_decay is not None:
            check.unit_interval("ema_decay", "must be None or in [0, 1)")
        if self.num_samples is not None and (
            not isinstance(self.num_samples, int) or self.num_samples < 20
        ):
            raise check.error("num_samples", "must be None or an integer >= 20")
        if self.collect_swag and not self.swa:
            raise check.error(
                "collect_swag", "SWAG is collected during the SWA phase: needs swa=True"
            )
        check.device()
        self._check_training_options(check)
        self._check_evaluation(check)

    def _check_training_options(self, check: FieldCheck) -> None:
        """The optimiser, iteration averaging and parameter-subset fields."""
        check.one_of("optimizer", OPTIMIZERS)
        if self.swa_c_iters is not None:
            check.integers("swa_c_iters")
            if not self.swa:
                raise check.error("swa_c_iters", "averaging every k steps needs swa=True")
            if self.swa_c_epochs != 1:
                raise check.error(
                    "swa_c_epochs", "must be 1 when swa_c_iters sets the averaging period"
                )
            if self.snapshots:
                raise check.error(
                    "snapshots", "snapshots are saved per epoch: not with swa_c_iters"
                )
        for name in ("average_only", "average_exclude"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) and v for v in value)
            ):
                raise check.error(
                    name,
                    "must be None or a non-empty list of fnmatch patterns "
                    "over parameter names, e.g. ['fc2.*']",
                )

    def _check_evaluation(self, check: FieldCheck) -> None:
        """``eval_every`` (``None`` or an integer >= 1) and ``eval_epochs`` (1-based epochs,
        stored as a sorted tuple without repeats, so a JSON list reads back equal)."""
        if self.eval_every is not None:
            check.integers("eval_every")
        epochs = self.eval_epochs
        if not isinstance(epochs, (list, tuple)) or not all(
            isinstance(e, int) and not isinstance(e, bool) and 1 <= e <= self.epochs for e in epochs
        ):
            raise check.error(
                "eval_epochs",
                f"must be a tuple of 1-based epochs in "
                f"1..{self.epochs} (the final one is always "
                f"evaluated)",
            )
        self.eval_epochs = tuple(sorted(set(epochs)))

    # -- identity -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; allowed: {sorted(known)}")
        return cls(**d)

    def key(self) -> str:
        """Stable hash of :meth:`key_fields` (device resolved) and :data:`CACHE_VERSION`: two
        configs share a run folder exactly when they compute the same run."""
        return config_key(self.key_fields(), CACHE_VERSION)

    def key_fields(self) -> dict[str, Any]:
        """The fields that change what the run computes, and nothing else (canonical keys).

        Left out: the :data:`RECORD_FIELDS` (evaluation epochs, snapshots, checkpoint period);
        for an SGD baseline (``swa=False``) the :data:`SWA_ONLY_FIELDS`, so baselines that differ
        only in them are one run; ``swa_lr_max`` unless the schedule is cyclic (a constant
        schedule never reads it) and ``swag_rank`` unless SWAG is collected; the parameter
        subsets ``average_only`` / ``average_exclude`` when nothing is averaged (a baseline
        without EMA); the fields of :data:`KEY_OMITTED_AT_DEFAULT` at their defaults; and, for
        generated MNIST-1D, ``data_root`` (where its cache lives: the data are a function of
        ``num_samples``, ``data_seed`` and ``dataset_kw``). Files on disk (CIFAR) keep their
        resolved root, so a fake copy and the real one never share runs. Every other field --
        a new one included -- is in the key.
        """
        d = self.to_dict()
        for name in RECORD_FIELDS:
            d.pop(name)
        if not self.swa:
            for name in SWA_ONLY_FIELDS:
                d.pop(name)
            if self.ema_decay is None:  # nothing is averaged: the subsets choose nothing
                d["average_only"] = d["average_exclude"] = None
        else:
            if self.swa_lr_schedule != "cyclic":
                d.pop("swa_lr_max")
            if not self.collect_swag:
                d.pop("swag_rank")
        for name, default in KEY_OMITTED_AT_DEFAULT.items():
            if d.get(name, default) == default:
                d.pop(name, None)
        if self.dataset == "mnist1d":  # generated from (num_samples, data_seed, dataset_kw)
            d.pop("data_root")
        else:  # files on disk: a fake copy and the real one must not share runs
            d["data_root"] = str(Path(self.data_root).resolve())
        return d

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def learning_rate(
        self, epoch: int, iteration_in_epoch: int = 0, iters_per_epoch: int = 1
    ) -> float:
        """Learning rate of step ``iteration_in_epoch`` (0-based) of epoch ``epoch`` (0-based)."""
        if not self.swa:
            return sgd_schedule(epoch, lr_init=self.lr_init, epochs=self.epochs)
        assert self.swa_start is not None
        if self.swa_lr_schedule == "cyclic" and epoch >= self.swa_start - 1:
            # The cycle of c = swa_c_epochs epochs ends where a model is averaged.
            cycle = self.swa_c_epochs * iters_per_epoch
            i = (epoch - (self.swa_start - 1)) * iters_per_epoch + iteration_in_epoch + 1
            if self.swa_c_iters is not None:  # cycles of swa_c_iters steps from the phase start
                cycle = self.swa_c_iters
            else:  # phase-align: the first averaged epoch ends a cycle
                i += cycle - iters_per_epoch
            assert self.swa_lr_max is not None
            return cyclic_lr(i, lr_max=self.swa_lr_max, lr_min=self.swa_lr, cycle=cycle)
        return swa_schedule(
            epoch, lr_init=self.lr_init, swa_lr=self.swa_lr, swa_start=self.swa_start
        )

    def averages_after(self, epoch: int) -> bool:
        """Whether the SGD iterate is averaged after epoch ``epoch`` (0-based); never with
        ``swa_c_iters`` (see :meth:`averages_at_step`)."""
        assert self.swa_start is not None
        return (
            self.swa
            and self.swa_c_iters is None
            and epoch + 1 >= self.swa_start
            and (epoch + 1 - self.swa_start) % self.swa_c_epochs == 0
        )

    def averages_at_step(self, epoch: int, iteration_in_epoch: int, iters_per_epoch: int) -> bool:
        """With ``swa_c_iters = k``: whether the iterate after step ``iteration_in_epoch``
        (0-based) of epoch ``epoch`` (0-based) is averaged, i.e. whether ``j = (epoch -
        (swa_start - 1)) * iters_per_epoch + iteration_in_epoch + 1``, the step's 1-based count
        from the start of epoch ``swa_start``, is a positive multiple of ``k``."""
        assert self.swa_start is not None
        if not self.swa or self.swa_c_iters is None or epoch < self.swa_start - 1:
            return False
        j = (epoch - (self.swa_start - 1)) * iters_per_epoch + iteration_in_epoch + 1
        return j % self.swa_c_iters == 0

    def evaluates_after(self, epoch: int) -> bool:
        """Whether the models are evaluated after epoch ``epoch`` (0-based): every
        ``eval_every`` epochs, at each of ``eval_epochs`` (1-based) and always after the last
        (the final metrics come from it)."""
        done = epoch + 1
        return (
            done == self.epochs
            or done in self.eval_epochs
            or (self.eval_every is not None and done % self.eval_every == 0)
        )

    def evaluated_epochs(self) -> tuple[int, ...]:
        """The 1-based epochs :meth:`evaluates_after` selects, in order."""
        return tuple(e for e in range(1, self.epochs + 1) if self.evaluates_after(e - 1))

    def covers(self, request: TrainConfig) -> bool:
        """Whether a finished run of this config holds everything ``request`` reads: the same
        key, every epoch ``request`` evaluates, and its snapshots if it asks for them (an SGD
        baseline saves none either way)."""
        if self.key() != request.key():
            return False
        if not set(request.evaluated_epochs()) <= set(self.evaluated_epochs()):
            return False
        return self.snapshots or not (request.snapshots and request.swa)

    def merged(self, other: TrainConfig) -> TrainConfig:
        """This config recording what either records: the union of the evaluated epochs (as
        ``eval_every`` when both share it, else listed in ``eval_epochs``) and snapshots if
        either saves them. Same key as both (``ValueError`` otherwise)."""
        if self.key() != other.key():
            raise ValueError(
                f"cannot merge configs of different runs ({self.key()} and {other.key()})"
            )
        union = set(self.evaluated_epochs()) | set(other.evaluated_epochs())
        if union == set(range(1, self.epochs + 1)):
            every, listed = 1, ()
        else:
            every = self.eval_every if self.eval_every == other.eval_every else None
            listed = tuple(e for e in sorted(union) if every is None or e % every)
        return self.replace(
            eval_every=every, eval_epochs=listed, snapshots=self.snapshots or other.snapshots
        )

    def checkpoints_after(self, epoch: int) -> bool:
        """Whether a checkpoint is written after epoch ``epoch`` (0-based): every
        ``checkpoint_every`` epochs and always after the last."""
        return epoch + 1 == self.epochs or (epoch + 1) % self.checkpoint_every == 0
