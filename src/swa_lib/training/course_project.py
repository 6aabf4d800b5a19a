"""The original course project's SWA protocol as library code, next to the paper's protocol.

The course project (BayesianML-SWA, a Bayesian Machine Learning course project; its SWA phase is
``src/swa_benchmark/utils/training.py``, its report ``BayesianML_Report.pdf``) concluded that SWA
is "not practical". Its protocol differs from the paper's in five places, each of which this
module reproduces so that the book can switch them on one at a time:

1. **SWA-phase optimiser.** Plain SGD *without momentum* (``weight_decay=1e-4``, as in
   pre-training) on a cyclic rate ``1e-3 -> 1e-4`` (``scripts/cifar/cifar100_mobilenet.py``
   lines 69-82). That is a plain-SGD rate; the pre-training's ``1e-2 -> 1e-3`` are AdamW rates,
   whose steps are normalised per coordinate, so the two are not comparable numbers. The paper
   keeps SGD with momentum 0.9 at a rate high enough that the iterate keeps moving (``swa_lr``
   0.01-0.05 on CIFAR).
2. **Few samples.** A snapshot at the end of every 3-epoch cycle, 12 epochs: 4 models averaged;
   the paper averages once per epoch.
3. **BN "update" without reset** (:func:`update_bn_no_reset`): one train-mode pass that starts
   from the running statistics the average already holds and mixes each batch in with BN's own
   momentum (0.1), so the result is an exponential average dominated by the last batches and
   still holds ``0.9^B`` of the earlier statistics after ``B`` batches. In the course's runs
   ``B`` is large -- CIFAR: 50,000 images in batches of 256, ``B = 196`` and ``0.9^196`` about
   1e-9 (``utils/training.py`` lines 43-47 and 106-107) -- so "not reset" there is a reset in
   all but name; what remains is an exponential average over the last ~10 batches instead of
   the exact mean. Here, with 32 batches per epoch, ``0.9^32`` (about 3 %) of the stale
   statistics survive. The paper (:func:`swa_lib.averaging.update_bn`) resets the statistics
   and computes the exact mean over the training set.
4. **Per-batch-averaged accuracy** (:func:`per_batch_accuracy`): the mean over test batches of
   each batch's accuracy, which weights the samples of a smaller last batch more; the paper's
   metric is the exact fraction correct (:func:`swa_lib.metrics.evaluate`).
5. **Pre-training** with AdamW (``weight_decay=1e-4``) and a cosine rate ``1e-2 -> 1e-3``
   (not a difference to the SWA phase itself: here *both* protocols start from the same
   pre-trained model, so only the SWA phase and the evaluation differ).

The course trained with batch 256 and tested with batch 1,024 (``cifar100_mobilenet.py`` lines
16-33: CIFAR's 10,000 test images in 9 batches of 1,024 and one of 784). On MNIST-1D's 4,000
training and 1,000 test samples the defaults here are 128 for both: 32 steps per epoch instead
of 16, and a test set in 7 batches of 128 and one of 104, the same shape as the course's (a
short last batch at about 80 % of the others); batch 1,024 would be one batch, where
per-batch and exact accuracy coincide.

:func:`course_project_run` trains one :class:`CourseConfig` (the SWA-phase choices 1 and 2 are
config fields) and evaluates the result under *every* evaluation choice (3 and 4), since those
need no extra training: the pre-trained model, the last SGD iterate ("final" in the course's
table) and the SWA average with three BN treatments (``stale``: the last snapshot's statistics;
``no_reset``: the course's pass; ``exact``: :func:`update_bn`), each with the exact and the
per-batch-averaged test accuracy. :func:`course_protocol` and :func:`paper_protocol` give the two
protocols' config fields.

Run folders follow :func:`swa_lib.training.run` and use the same helpers
(:mod:`swa_lib.training.runs`: lock, cache read, checkpoints, seeding, weights-only loading): the
pre-trained model lives in ``runs_dir/course-pretrain-<dataset>-<model>-<hash>/`` (shared by every
config with the same pre-training fields), a run in ``runs_dir/course-<dataset>-<model>-<hash>/``
with ``config.json``, ``final.json`` (written atomically, last: its presence means "cached"),
``sgd.pt`` (last iterate) and ``swa.pt`` (the average with exact BN). Both phases write
``checkpoint.pt`` after every epoch, so a killed run resumes where it stopped and ends with the
numbers of an uninterrupted one; both train with :func:`swa_lib.training.train_epoch`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import parameters_to_vector

# update_bn's batch helpers: the forward convention and the device move are shared, not copied.
from ..averaging import SWA, _default_forward, _to_device, update_bn
from ..data import DATASET_NAMES, ArrayDataset, iterate_batches
from ..io import atomic_save_json, atomic_torch_save
from ..metrics import evaluate
from ..models import MODEL_NAMES, build_model
from ..modes import eval_mode, train_mode
from ..schedules import cyclic_lr
from .config import FieldCheck, config_key, resolve_device
from .loop import RunProgress, build_optimizer, check_batch_size, train_epoch
from .runs import (
    CHECKPOINT_FILE,
    FINAL_FILE,
    RunFolder,
    dataset_of,
    load_checkpoint,
    load_weights,
    locked,
    make_generator,
    read_final,
    restore_checkpoint,
    save_checkpoint,
    save_snapshot,
    seed_everything,
)

__all__ = [
    "CourseConfig",
    "CourseResult",
    "course_project_run",
    "course_protocol",
    "paper_protocol",
    "update_bn_no_reset",
    "per_batch_accuracy",
    "cosine_lr",
    "BN_MODES",
]

#: Bump when a code change alters the numbers a config produces.
CACHE_VERSION = 1

#: The BN treatments of the SWA model that every run evaluates.
BN_MODES = ("stale", "no_reset", "exact")

# Fields that define the pre-trained model (shared between protocols).
_PRETRAIN_FIELDS = (
    "dataset",
    "model",
    "model_kw",
    "num_samples",
    "data_seed",
    "augment",
    "data_root",
    "dataset_kw",
    "batch_size",
    "seed",
    "device",
    "pretrain_epochs",
    "pretrain_lr_max",
    "pretrain_lr_min",
    "pretrain_weight_decay",
)

#: ``callback(phase, epoch)`` after each epoch's checkpoint; ``phase`` is ``"pretrain"`` or
#: ``"swa"``, ``epoch`` 0-based within the phase.
Callback = Callable[[str, int], None]


def cosine_lr(step: int, total: int, *, lr_max: float, lr_min: float) -> float:
    r"""Cosine annealing ``lr_min + (lr_max - lr_min) (1 + cos(pi step / total)) / 2``.

    ``step`` is 0-based; ``total`` the number of steps (as ``torch.optim.lr_scheduler.
    CosineAnnealingLR(T_max=total, eta_min=lr_min)`` stepped once per iteration): the first step
    uses ``lr_max`` and the rate approaches ``lr_min`` at the end.
    """
    if total < 1 or not 0 <= step <= total:
        raise ValueError(f"need 0 <= step <= total and total >= 1, got step={step}, total={total}")
    return lr_min + (lr_max - lr_min) * (1.0 + math.cos(math.pi * step / total)) / 2.0


@torch.no_grad()
def update_bn_no_reset(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    forward: Callable[[nn.Module, Any], Any] | None = None,
    device: torch.device | str | None = None,
) -> nn.Module:
    r"""The course project's BN "update": one train-mode pass that does *not* reset the statistics.

    Every BatchNorm keeps its running mean/variance and its own momentum :math:`m` (PyTorch's
    default 0.1), so after batches :math:`1..B` with means :math:`\bar x_j`

    .. math:: \mu_{\mathrm{run}} = (1-m)^B \mu_{\mathrm{old}}
              + \sum_{j=1}^{B} m (1-m)^{B-j}\,\bar x_j ,

    an exponential average that still holds :math:`(1-m)^B` of the stale statistics and weights
    the last batches most -- unlike :func:`swa_lib.averaging.update_bn`, whose result is the
    exact training-set mean :math:`\frac1N\sum_j b_j \bar x_j`. How stale depends on :math:`B`:
    the course's CIFAR pass has :math:`B = 196` batches, :math:`0.9^{196} \approx 10^{-9}`, so
    there it amounts to a reset followed by an exponential average over the last ~10 batches. (A
    BN with ``momentum=None`` averages cumulatively with its *unreset* ``num_batches_tracked``,
    so it barely moves at all.) As in the course's code the whole model is in train mode for the
    pass (dropout too, where a model has it); every module's mode is restored afterwards
    (:func:`swa_lib.modes.train_mode`). Arguments and batch conventions as for
    :func:`~swa_lib.averaging.update_bn`, whose forward and device-move helpers this pass
    shares.
    """
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not bns:
        return model
    forward = forward or _default_forward
    with train_mode(model):
        for batch in batches:
            forward(model, _to_device(batch, device))
    return model


@torch.no_grad()
def per_batch_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int
) -> float:
    """The course project's metric: the *mean over batches* of each batch's accuracy (eval mode).

    With ``N = k * batch_size + r`` (``0 < r < batch_size``) the ``r`` samples of the last batch
    each weigh ``batch_size / r`` times as much as the others, so this differs from the exact
    fraction correct (``swa_lib.metrics.evaluate``) unless all batches are equal. In ``[0, 1]``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    with eval_mode(model):
        accs = [
            (model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size].to(x.device))
            .double()
            .mean()
            .item()
            for i in range(0, x.shape[0], batch_size)
        ]
    return float(np.mean(accs))


@dataclass
class CourseConfig:
    """One run of the two-phase protocol: pre-training, then an SWA phase. Validated on creation.

    Defaults are the course project's protocol on the book's laptop setting (MNIST-1D, a BN 1-D
    CNN of width 16 so that BN matters); :func:`paper_protocol` changes only the SWA phase.

    Fields (units):
        dataset, model, model_kw, num_samples, data_seed, augment, data_root, dataset_kw: data
            and model as in :class:`swa_lib.training.TrainConfig`.
        batch_size: training batch size (both phases; also the BN-update batches). The course
            used 256; 128 here gives MNIST-1D's 4,000 samples 32 steps per epoch.
        eval_batch_size: test batch size of :func:`per_batch_accuracy`. The course used 1,024
            on 10,000 test images (a last batch of 784); 128 on MNIST-1D's 1,000 leaves a last
            batch of 104, the same shape.
        seed, device: as in ``TrainConfig`` (the SWA phase draws from its own generator seeded
            from ``seed``, so a cached pre-trained model gives the same run as a fresh one).
        pretrain_epochs, pretrain_lr_max, pretrain_lr_min, pretrain_weight_decay: AdamW with
            per-iteration cosine annealing from ``lr_max`` to ``lr_min`` (:func:`cosine_lr`);
            weight decay decoupled, 1e-4 as in the course (``cifar100_mobilenet.py`` line 46).
        swa_epochs: length of the SWA phase.
        swa_lr_schedule: ``"cyclic"`` (paper Eq. 2 from ``swa_lr_max`` down to ``swa_lr`` over
            each cycle of ``swa_c_epochs`` epochs, a snapshot at each cycle's end) or
            ``"constant"`` (``swa_lr`` throughout).
        swa_lr, swa_lr_max, swa_momentum, swa_weight_decay: the SWA phase's SGD (the course's
            weight decay 1e-4, ``cifar100_mobilenet.py`` line 75).
        swa_c_epochs: a snapshot (one more model averaged) every this many epochs.
        save_snapshots: also save each averaged snapshot under ``snapshots/`` in the run folder.
    """

    dataset: str = "mnist1d"
    model: str = "cnn1d"
    model_kw: dict[str, Any] = field(default_factory=lambda: {"width": 16})
    num_samples: int | None = 5000
    data_seed: int = 42
    augment: bool = True
    data_root: str = "data"
    dataset_kw: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 128
    eval_batch_size: int = 128
    seed: int = 0
    device: str = "cpu"
    pretrain_epochs: int = 20
    pretrain_lr_max: float = 1e-2
    pretrain_lr_min: float = 1e-3
    pretrain_weight_decay: float = 1e-4
    swa_epochs: int = 12
    swa_lr_schedule: str = "cyclic"
    swa_lr: float = 1e-4
    swa_lr_max: float = 1e-3
    swa_momentum: float = 0.0
    swa_weight_decay: float = 1e-4
    swa_c_epochs: int = 3
    save_snapshots: bool = False

    def __post_init__(self) -> None:
        check = FieldCheck(self)
        check.one_of("dataset", DATASET_NAMES)
        check.one_of("model", MODEL_NAMES)
        check.integers(
            "batch_size", "eval_batch_size", "pretrain_epochs", "swa_epochs", "swa_c_epochs"
        )
        check.positive("pretrain_lr_max", "pretrain_lr_min", "swa_lr", "swa_lr_max")
        check.non_negative("pretrain_weight_decay", "swa_weight_decay")
        check.unit_interval("swa_momentum")
        check.one_of("swa_lr_schedule", ("cyclic", "constant"))
        if self.swa_lr_schedule == "cyclic" and not self.swa_lr_max > self.swa_lr:
            raise check.error("swa_lr_max", "must be > swa_lr for a cyclic schedule")
        if self.swa_c_epochs > self.swa_epochs:
            raise check.error("swa_c_epochs", f"must be <= swa_epochs (= {self.swa_epochs})")
        check.device()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> CourseConfig:
        return dataclasses.replace(self, **changes)

    def _hash(self, fields: Iterable[str] | None = None) -> str:
        d = self.to_dict()
        if fields is not None:
            d = {k: d[k] for k in fields}
        d.pop("data_root")  # where the data live does not change the numbers (as run())
        return config_key(d, CACHE_VERSION)

    def key(self) -> str:
        """Stable hash of the config (device resolved, ``data_root`` left out) and the cache
        version."""
        return self._hash()

    def pretrain_key(self) -> str:
        """Hash of the fields that define the pre-trained model only."""
        return self._hash(_PRETRAIN_FIELDS)

    @property
    def n_epochs(self) -> int:
        """Epochs of both phases, ``pretrain_epochs + swa_epochs``."""
        return self.pretrain_epochs + self.swa_epochs

    @property
    def n_snapshots(self) -> int:
        """How many models the SWA phase averages: ``swa_epochs // swa_c_epochs``."""
        return self.swa_epochs // self.swa_c_epochs

    def swa_learning_rate(self, epoch: int, iteration_in_epoch: int, iters_per_epoch: int) -> float:
        """SWA-phase rate at step ``iteration_in_epoch`` (0-based) of SWA epoch ``epoch``."""
        if self.swa_lr_schedule == "constant":
            return float(self.swa_lr)
        i = epoch * iters_per_epoch + iteration_in_epoch + 1
        return cyclic_lr(
            i, lr_max=self.swa_lr_max, lr_min=self.swa_lr, cycle=self.swa_c_epochs * iters_per_epoch
        )

    def pretrain_learning_rate(
        self, epoch: int, iteration_in_epoch: int, iters_per_epoch: int
    ) -> float:
        """Pre-training rate (cosine over all pre-training iterations)."""
        return cosine_lr(
            epoch * iters_per_epoch + iteration_in_epoch,
            self.pretrain_epochs * iters_per_epoch,
            lr_max=self.pretrain_lr_max,
            lr_min=self.pretrain_lr_min,
        )

    def snapshot_after(self, epoch: int) -> bool:
        """Whether the iterate is averaged after SWA epoch ``epoch`` (0-based)."""
        return (epoch + 1) % self.swa_c_epochs == 0


def course_protocol(**overrides: Any) -> dict[str, Any]:
    """The course project's SWA phase: SGD without momentum, cyclic ``1e-3 -> 1e-4``, a snapshot
    every 3 epochs for 12 epochs (4 models). ``CourseConfig(**course_protocol(seed=1))``."""
    base: dict[str, Any] = dict(
        swa_lr_schedule="cyclic",
        swa_lr_max=1e-3,
        swa_lr=1e-4,
        swa_momentum=0.0,
        swa_c_epochs=3,
        swa_epochs=12,
    )
    base.update(overrides)
    return base


def paper_protocol(**overrides: Any) -> dict[str, Any]:
    """The paper's SWA phase from the same pre-trained model: SGD with momentum 0.9 at a constant
    ``swa_lr = 0.05`` (the book's laptop ``swa_lr``, high enough that the iterate keeps moving),
    a model averaged every epoch (12 models)."""
    base: dict[str, Any] = dict(
        swa_lr_schedule="constant", swa_lr=0.05, swa_momentum=0.9, swa_c_epochs=1, swa_epochs=12
    )
    base.update(overrides)
    return base


@dataclass
class CourseResult(RunFolder):
    """What :func:`course_project_run` returns: the ``final`` dict and the run folder.

    ``final`` holds, for ``"pretrained"``, ``"last"`` (the last SGD iterate) and ``"swa_<bn>"``
    for ``bn`` in :data:`BN_MODES`, a dict with ``test_accuracy`` (exact),
    ``test_accuracy_per_batch`` and ``test_nll``, plus
    ``swa_n``, ``snapshot_epochs``, ``snapshot_test_accuracy``, the distances (parameter L2)
    ``dist_pretrained_to_last``, ``dist_swa_to_last``, ``snapshot_spread`` (RMS distance of the
    snapshots from their mean), ``pretrain_wall_time_s`` and ``wall_time_s``.
    ``load_model("swa")`` (exact BN) / ``load_model("sgd")`` (the last iterate),
    ``snapshot_paths()`` and ``dataset()`` come from :class:`~swa_lib.training.runs.RunFolder`.
    """

    config: CourseConfig
    final: dict[str, Any]
    path: Path
    cached: bool = False

    def table(self) -> pd.DataFrame:
        """One row per evaluated model, columns the metrics."""
        names = ["pretrained", "last"] + [f"swa_{m}" for m in BN_MODES]
        return pd.DataFrame([{"model": n, **self.final[n]} for n in names]).set_index("model")


def _evaluate(model: nn.Module, ds: ArrayDataset, eval_batch_size: int) -> dict[str, float]:
    test = evaluate(model, ds.x_test, ds.y_test)
    return {
        "test_accuracy": test["accuracy"],
        "test_accuracy_per_batch": per_batch_accuracy(model, ds.x_test, ds.y_test, eval_batch_size),
        "test_nll": test["nll"],
    }


def _phase(
    config: CourseConfig,
    path: Path,
    ds: ArrayDataset,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    gen: torch.Generator,
    *,
    phase: str,
    epochs: int,
    lr_of: Callable[[int, int], float],
    after_epoch: Callable[[int], None] | None,
    objects: dict[str, Any],
    state: dict[str, Any],
    key: str,
    callback: Callback | None,
) -> None:
    """Train ``epochs`` epochs with :func:`train_epoch`, resuming from ``path/checkpoint.pt``.

    ``lr_of(epoch, iteration)`` is the rate; ``after_epoch(epoch)`` runs after each epoch's
    steps (the snapshots); ``objects`` (by name) and the plain values in ``state`` are what the
    checkpoint keeps besides the RNG states (``state`` is updated in place on resume).
    """
    start = 0
    ckpt = load_checkpoint(path / CHECKPOINT_FILE, key)
    if ckpt is not None:
        start = restore_checkpoint(ckpt, objects, gen)
        state.update(ckpt["state"])
    for epoch in range(start, epochs):
        batches = iterate_batches(
            ds.x_train, ds.y_train, config.batch_size, shuffle=True, generator=gen
        )
        train_epoch(
            model,
            optimizer,
            batches,
            lr_at=lambda it, e=epoch: lr_of(e, it),
            augment=lambda xb: ds.augment(xb, gen),
        )
        if after_epoch is not None:
            after_epoch(epoch)
        save_checkpoint(
            path / CHECKPOINT_FILE,
            key=key,
            epoch=epoch,
            objects=objects,
            generator=gen,
            state=state,
        )
        if callback is not None:
            callback(phase, epoch)


def _pretrained(
    config: CourseConfig,
    runs_dir: Path,
    ds: ArrayDataset,
    device: str,
    callback: Callback | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pre-trained state dict and its summary, trained once per pre-training key."""
    path = runs_dir / f"course-pretrain-{config.dataset}-{config.model}-{config.pretrain_key()}"
    with locked(path):
        info = read_final(path)
        if info is not None:
            return load_weights(path / "model.pt", what="pre-trained model"), info
        atomic_save_json(path / "config.json", {k: config.to_dict()[k] for k in _PRETRAIN_FIELDS})
        t0 = time.perf_counter()
        seed_everything(config.seed)
        gen = make_generator(device, config.seed)
        model = build_model(config.model, ds.num_classes, **config.model_kw).to(device)
        opt = build_optimizer(
            "adamw",
            model.parameters(),
            lr=config.pretrain_lr_max,
            weight_decay=config.pretrain_weight_decay,
        )
        ipe = check_batch_size(config, ds)
        _phase(
            config,
            path,
            ds,
            model,
            opt,
            gen,
            phase="pretrain",
            epochs=config.pretrain_epochs,
            lr_of=lambda e, it: config.pretrain_learning_rate(e, it, ipe),
            after_epoch=None,
            objects={"model": model, "optimizer": opt},
            state={},
            key=config.pretrain_key(),
            callback=callback,
        )
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        atomic_torch_save(path / "model.pt", state)
        info = {"pretrain_key": config.pretrain_key(), "wall_time_s": time.perf_counter() - t0}
        atomic_save_json(path / FINAL_FILE, info)
        (path / CHECKPOINT_FILE).unlink(missing_ok=True)
        return state, info


def course_project_run(
    config: CourseConfig, runs_dir: str | Path = "runs", *, callback: Callback | None = None
) -> CourseResult:
    """Run (or load from the cache) one two-phase protocol and evaluate it every way.

    Phase 1 (cached separately, shared by configs with the same pre-training fields): AdamW with
    cosine annealing. Phase 2: SGD at :meth:`CourseConfig.swa_learning_rate`; after every
    ``swa_c_epochs`` epochs the iterate is folded into :class:`swa_lib.averaging.SWA`. Then the
    pre-trained model, the last iterate and the average under each BN treatment of
    :data:`BN_MODES` are evaluated with exact and per-batch-averaged test accuracy.

    Args:
        config: a :class:`CourseConfig` (use :func:`course_protocol` / :func:`paper_protocol`).
        runs_dir: the cache folder.
        callback: ``callback(phase, epoch)`` after each epoch's checkpoint (``phase``
            ``"pretrain"`` or ``"swa"``, 0-based epoch); raising from it stops the run as a kill
            would, and the next call resumes.
    """
    runs_dir = Path(runs_dir)
    name, epochs = f"course {config.model} seed {config.seed}", config.n_epochs
    with locked(runs_dir / f"course-{config.dataset}-{config.model}-{config.key()}") as path:
        final = read_final(path)
        if final is not None:
            RunProgress(name, epochs, epochs, cached=True).close()
            return CourseResult(config, final, path, cached=True)
        atomic_save_json(path / "config.json", config.to_dict())
        report = RunProgress(name, epochs, enabled=False)

        def on_epoch(phase: str, epoch: int) -> None:
            report.epoch(epoch + 1 + (config.pretrain_epochs if phase == "swa" else 0))
            if callback is not None:
                callback(phase, epoch)

        result = _run(config, runs_dir, path, on_epoch)
        report.close()
        return result


def _run(
    config: CourseConfig, runs_dir: Path, path: Path, callback: Callback | None
) -> CourseResult:
    t0 = time.perf_counter()
    device = resolve_device(config.device)
    ds = dataset_of(config, device=device, augment=config.augment)
    check_batch_size(config, ds)
    state, pre_info = _pretrained(config, runs_dir, ds, device, callback)

    model = build_model(config.model, ds.num_classes, **config.model_kw).to(device)
    model.load_state_dict(state)
    final: dict[str, Any] = {
        "key": config.key(),
        "num_classes": ds.num_classes,
        "n_train": int(ds.x_train.shape[0]),
        "n_test": int(ds.x_test.shape[0]),
        "pretrain_wall_time_s": pre_info["wall_time_s"],
    }
    final["pretrained"] = _evaluate(model, ds, config.eval_batch_size)
    w_pre = parameters_to_vector(model.parameters()).detach().clone()
    swa, snaps = _swa_phase(config, path, ds, model, device, callback)

    final["last"] = _evaluate(model, ds, config.eval_batch_size)
    atomic_torch_save(path / "sgd.pt", model.state_dict())
    final.update(_bn_treatments(config, path, ds, swa))
    w_last = parameters_to_vector(model.parameters()).detach()
    w_swa = parameters_to_vector(swa.module.parameters()).detach()
    vecs = torch.stack([v.to(w_last.device) for v in snaps["vectors"]])
    final.update(
        {
            "swa_n": swa.n_averaged,
            "snapshot_epochs": snaps["epochs"],
            "snapshot_test_accuracy": snaps["test_accuracy"],
            "dist_pretrained_to_last": float((w_last - w_pre).norm()),
            "dist_swa_to_last": float((w_swa - w_last).norm()),
            "snapshot_spread": float((vecs - vecs.mean(0)).pow(2).sum(1).mean().sqrt()),
            "wall_time_s": time.perf_counter() - t0,
        }
    )
    atomic_save_json(path / FINAL_FILE, final)
    (path / CHECKPOINT_FILE).unlink(missing_ok=True)
    return CourseResult(config, final, path)


def _swa_phase(
    config: CourseConfig,
    path: Path,
    ds: ArrayDataset,
    model: nn.Module,
    device: str,
    callback: Callback | None,
) -> tuple[SWA, dict[str, list[Any]]]:
    """Phase 2 from the pre-trained ``model`` (trained in place): the SWA average and the
    snapshots' epochs, test accuracies and weight vectors."""
    ipe = check_batch_size(config, ds)
    # Its own seed stream, so a cached pre-trained model gives the same run.
    phase_seed = config.seed + 7919
    seed_everything(phase_seed)
    gen = make_generator(device, phase_seed)
    opt = build_optimizer(
        "sgd",
        model.parameters(),
        lr=config.swa_lr,
        momentum=config.swa_momentum,
        weight_decay=config.swa_weight_decay,
    )
    swa = SWA(model)
    snaps: dict[str, list[Any]] = {"epochs": [], "test_accuracy": [], "vectors": []}

    def snapshot(epoch: int) -> None:
        if not config.snapshot_after(epoch):
            return
        swa.update(model)
        snaps["epochs"].append(epoch + 1)
        snaps["test_accuracy"].append(evaluate(model, ds.x_test, ds.y_test)["accuracy"])
        snaps["vectors"].append(parameters_to_vector(model.parameters()).detach().clone())
        if config.save_snapshots:
            save_snapshot(path, epoch, model)

    _phase(
        config,
        path,
        ds,
        model,
        opt,
        gen,
        phase="swa",
        epochs=config.swa_epochs,
        lr_of=lambda e, it: config.swa_learning_rate(e, it, ipe),
        after_epoch=snapshot,
        objects={"model": model, "optimizer": opt, "swa": swa},
        state=snaps,
        key=config.key(),
        callback=callback,
    )
    return swa, snaps


def _bn_treatments(
    config: CourseConfig, path: Path, ds: ArrayDataset, swa: SWA
) -> dict[str, dict[str, float]]:
    """``swa_<mode>`` metrics for each BN treatment of :data:`BN_MODES`; saves ``swa.pt``
    (exact BN)."""

    def bn_batches() -> Iterable[Any]:
        return iterate_batches(ds.x_train, ds.y_train, config.batch_size, shuffle=False)

    out = {}
    for mode in BN_MODES:
        m = copy.deepcopy(swa.module)
        if mode == "no_reset":
            update_bn_no_reset(m, bn_batches())
        elif mode == "exact":
            update_bn(m, bn_batches())
            atomic_torch_save(path / "swa.pt", m.state_dict())
        out[f"swa_{mode}"] = _evaluate(m, ds, config.eval_batch_size)
    return out
