r"""Fast Geometric Ensembling (FGE): snapshots of SGD on a short triangular cycle, ensembled.

Garipov et al. (2018, *Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs*) start
from a trained network and run SGD with a per-iteration triangular learning rate of a few epochs
per cycle; at the middle of every cycle, where the rate is lowest, the iterate is saved, and the
ensemble averages the snapshots' predicted probabilities. The SWA paper (Izmailov et al. 2018,
Section 3.5) argues that averaging the same snapshots' *weights* gives nearly the ensemble's
predictions at the cost of one model. This module provides both sides of that comparison:

* :func:`fge_lr` -- the schedule of ``timgaripov/dnn-mode-connectivity`` (``utils.py`` lines
  18-25, ``cyclic_learning_rate``; used by ``fge.py`` line 99).
* :class:`FGEConfig` + :func:`run_fge` -- the FGE phase of that ``fge.py`` (lines 79-117) from
  the saved weights of a finished :func:`swa_lib.training.run`, cached by configuration under
  ``runs_dir/fge-<dataset>-<model>-<key>/``, checkpointed every cycle and resumable; it saves
  every snapshot and, as a by-product, the SWA of the same snapshots with BatchNorm recomputed
  (``timgaripov/swa``, ``train.py`` lines 155-158: ``moving_average`` then ``bn_update``).
* :func:`predict_ensemble` -- the ensemble's probabilities ``(N, C)``, exact over the whole set.
* :func:`average_models` and :func:`compare_predictions` -- the SWA of given models and the
  mean KL divergence / top-1 agreement between two sets of predictions.

A run folder holds ``config.json``, ``metrics.csv`` (one row per FGE epoch: rates, running train
loss, and at snapshot epochs the test accuracy/NLL of the snapshot and of the ensemble so far),
``snapshots/epoch_NNNN.pt`` (1-based FGE epoch), ``checkpoint.pt`` while it runs, and at the end
``swa.pt``, ``last.pt`` (the final iterate) and ``final.json``.

Deviation from the reference: its ``fge.py`` (line 90) also restores the optimiser's momentum
buffers from the pretraining checkpoint; a finished run here keeps only its weights, so FGE
starts with zero momentum (the first few steps move less; nothing else changes).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..averaging import SWA, update_bn
from ..data import ArrayDataset, iterate_batches
from ..io import atomic_save_json, atomic_torch_save, atomic_write_text, stable_hash
from ..metrics import accuracy, nll, predict_proba
from ..modes import eval_mode
from .config import FieldCheck, TrainConfig, resolve_device
from .loop import build_optimizer, check_batch_size, evaluate_splits, run, train_epoch
from .runs import (
    CHECKPOINT_FILE,
    FINAL_FILE,
    METRICS_FILE,
    RunFolder,
    RunResult,
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
    "fge_lr",
    "FGEConfig",
    "FGEResult",
    "run_fge",
    "fge_dir_for",
    "predict_ensemble",
    "average_models",
    "compare_predictions",
    "FGE_RECIPES",
    "FGE_CACHE_VERSION",
]

#: Bump when a code change alters the numbers an FGE config produces.
FGE_CACHE_VERSION = 1

#: FGE phase of the CIFAR-100 commands in the README of ``timgaripov/dnn-mode-connectivity``
#: (lines 236, 240, 244): cycle of 2 epochs, 40 FGE epochs started from ``checkpoint-160`` of a
#: 200-epoch SGD run, i.e. the last fifth of one budget. ``fraction`` is that share.
FGE_RECIPES: dict[str, dict[str, float]] = {
    "vgg16": dict(lr_1=0.01, lr_2=0.01, cycle=2, fraction=0.2),
    "preresnet164": dict(lr_1=0.05, lr_2=0.01, cycle=2, fraction=0.2),
    "wrn28_10": dict(lr_1=0.05, lr_2=0.01, cycle=2, fraction=0.2),
}


# -- the schedule -------------------------------------------------------------------------------


def fge_lr(epoch: float, *, lr_1: float, lr_2: float, cycle: float) -> float:
    r"""The learning rate at (fractional) FGE epoch ``epoch``: a triangle from ``lr_1`` to ``lr_2``
    and back over every ``cycle`` epochs.

    With :math:`t = (\mathrm{epoch} \bmod c) / c`,

    .. math:: \alpha(t) = \begin{cases} (1 - 2t)\,\alpha_1 + 2t\,\alpha_2 & t < 1/2 \\
              (2t - 1)\,\alpha_1 + (2 - 2t)\,\alpha_2 & t \ge 1/2 \end{cases}

    as ``cyclic_learning_rate`` in ``timgaripov/dnn-mode-connectivity`` ``utils.py`` lines 18-25
    (its ``train`` calls the schedule with ``iter / num_iters``, line 51, so step ``i`` of ``n`` in
    epoch ``e`` is at ``epoch = e + i / n``). The rate is ``lr_2`` at the middle of each cycle,
    where FGE saves a snapshot, and ``lr_1`` at its ends.

    Args:
        epoch: epochs since the FGE phase began (>= 0), fractional inside an epoch.
        lr_1, lr_2: the rates at the cycle's ends and at its middle.
        cycle: the cycle length in epochs (> 0; FGE uses an even number).
    """
    if not cycle > 0:
        raise ValueError(f"cycle={cycle!r} is invalid: must be > 0 (epochs per cycle)")
    if not epoch >= 0:
        raise ValueError(f"epoch={epoch!r} is invalid: must be >= 0 (epochs since FGE began)")
    t = (epoch % cycle) / cycle
    if t < 0.5:
        return lr_1 * (1.0 - 2.0 * t) + lr_2 * 2.0 * t
    return lr_1 * (2.0 * t - 1.0) + lr_2 * (2.0 - 2.0 * t)


# -- the configuration --------------------------------------------------------------------------


@dataclass
class FGEConfig:
    """One FGE run. Validated on construction; ``ValueError`` names the bad field.

    Fields (units):
        pretrained: the :class:`TrainConfig` whose finished run FGE starts from (trained by
            :func:`run_fge` if it is not cached); its data, augmentation, model, AMP and
            channels-last settings are FGE's too. A dict is converted with ``from_dict``.
        which: ``"sgd"`` (the run's final iterate) or ``"swa"`` (its SWA model; needs
            ``pretrained.swa``).
        epochs: FGE epochs after the pretraining (>= ``cycle // 2``: at least one snapshot).
            FGE's budget is ``pretrained.epochs + epochs`` (:meth:`budget_epochs`).
        cycle: cycle length in epochs, even and >= 2; a snapshot is saved after 0-based FGE
            epoch ``e`` when ``e % cycle + 1 == cycle // 2`` (``fge.py`` line 105).
        lr_1, lr_2: rates of :func:`fge_lr` (> 0).
        momentum, weight_decay, batch_size, seed, device: ``None`` takes the pretrained run's.
        checkpoint_every: write a checkpoint every this many cycles (and at the end); not part
            of the key.
    """

    pretrained: TrainConfig
    which: str = "sgd"
    epochs: int = 12
    cycle: int = 2
    lr_1: float = 0.05
    lr_2: float = 0.01
    momentum: float | None = None
    weight_decay: float | None = None
    batch_size: int | None = None
    seed: int | None = None
    device: str | None = None
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        check = FieldCheck(self)
        if isinstance(self.pretrained, dict):
            self.pretrained = TrainConfig.from_dict(self.pretrained)
        if not isinstance(self.pretrained, TrainConfig):
            raise check.error("pretrained", "must be a TrainConfig (or its dict)")
        p = self.pretrained
        check.one_of("which", ("sgd", "swa"))
        if self.which == "swa" and not p.swa:
            raise check.error("which", "'swa' needs a pretrained run with swa=True")
        for name, default in (
            ("momentum", p.momentum),
            ("weight_decay", p.weight_decay),
            ("batch_size", p.batch_size),
            ("seed", p.seed),
            ("device", p.device),
        ):
            if getattr(self, name) is None:
                setattr(self, name, default)
        check.integers("cycle", "epochs", "batch_size", "checkpoint_every")
        check.integers("seed", minimum=None)
        if self.cycle < 2 or self.cycle % 2:
            raise check.error(
                "cycle",
                "must be an even number of epochs >= 2 (the snapshot is "
                "at the middle of the cycle, at the end of an epoch)",
            )
        if self.epochs < self.cycle // 2:
            raise check.error("epochs", f"must be >= cycle // 2 = {self.cycle // 2} (one snapshot)")
        check.positive("lr_1", "lr_2")
        check.unit_interval("momentum")
        check.non_negative("weight_decay")
        check.device()

    # -- the pretrained run's data and model (what RunFolder and dataset_of read) ------------
    @property
    def model(self) -> str:
        return self.pretrained.model

    @property
    def model_kw(self) -> dict[str, Any]:
        return self.pretrained.model_kw

    @property
    def dataset(self) -> str:
        return self.pretrained.dataset

    @property
    def data_root(self) -> str:
        return self.pretrained.data_root

    @property
    def num_samples(self) -> int | None:
        return self.pretrained.num_samples

    @property
    def data_seed(self) -> int:
        return self.pretrained.data_seed

    @property
    def dataset_kw(self) -> dict[str, Any]:
        return self.pretrained.dataset_kw

    @property
    def augment(self) -> bool:
        return self.pretrained.augment

    # -- identity ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["pretrained"] = self.pretrained.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FGEConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown FGEConfig fields {unknown}; allowed: {sorted(known)}")
        return cls(**d)

    def key(self) -> str:
        """Stable hash of what defines the run's numbers: the pretrained run's key, the FGE
        fields with the device resolved (less ``checkpoint_every``) and the cache version."""
        d = self.to_dict()
        d.pop("checkpoint_every")
        d["pretrained"] = self.pretrained.key()
        d["device"] = resolve_device(self.device)
        d["_fge_cache_version"] = FGE_CACHE_VERSION
        return stable_hash(d)

    def replace(self, **changes: Any) -> FGEConfig:
        return dataclasses.replace(self, **changes)

    # -- schedule and snapshots ---------------------------------------------------------------
    def learning_rate(self, epoch: int, iteration: int = 0, iters_per_epoch: int = 1) -> float:
        """Rate of step ``iteration`` (0-based) of FGE epoch ``epoch`` (0-based)."""
        return fge_lr(
            epoch + iteration / iters_per_epoch, lr_1=self.lr_1, lr_2=self.lr_2, cycle=self.cycle
        )

    def snapshot_after(self, epoch: int) -> bool:
        """Whether a snapshot is saved after FGE epoch ``epoch`` (0-based): the middle of a
        cycle (``fge.py`` line 105, ``epoch % cycle + 1 == cycle // 2``)."""
        return epoch % self.cycle + 1 == self.cycle // 2

    def snapshot_epochs(self) -> list[int]:
        """The 1-based FGE epochs after which snapshots are saved."""
        return [e + 1 for e in range(self.epochs) if self.snapshot_after(e)]

    def budget_epochs(self) -> int:
        """Epochs of the whole procedure, the paper's budget: pretraining plus FGE."""
        return int(self.pretrained.epochs) + self.epochs


def fge_dir_for(config: FGEConfig, runs_dir: str | Path) -> Path:
    """``runs_dir/fge-<dataset>-<model>-<key>``."""
    p = config.pretrained
    return Path(runs_dir) / f"fge-{p.dataset}-{p.model}-{config.key()}"


# -- the result ---------------------------------------------------------------------------------


@dataclass
class FGEResult(RunFolder):
    """What :func:`run_fge` returns: per-epoch ``metrics``, ``final`` metrics, the folder.

    ``load_model("swa")`` is the SWA of all snapshots (BN recomputed), ``load_model("last")``
    the final iterate; ``snapshot_paths()`` / :meth:`load_snapshots` the snapshots;
    ``dataset()`` the pretrained run's data, unaugmented.
    """

    config: FGEConfig
    metrics: pd.DataFrame
    final: dict[str, Any]
    path: Path
    runs_dir: Path
    cached: bool = False

    def load_snapshots(self, device: str | torch.device = "cpu") -> list[nn.Module]:
        """The snapshots as models (in epoch order), each with its own BN statistics as trained."""
        models = []
        for file in self.snapshot_paths():
            model = self._new_model("cpu")
            model.load_state_dict(load_weights(file, what="snapshot"))
            models.append(model.to(device))
        return models

    def pretrained_run(self, *, progress: bool | None = False) -> RunResult:
        """The :class:`RunResult` FGE started from (from the cache)."""
        return run(self.config.pretrained, self.runs_dir, progress=progress)


# -- the run ------------------------------------------------------------------------------------

SNAPSHOT_COLUMNS = ["snap_test_accuracy", "snap_test_nll", "ens_test_accuracy", "ens_test_nll"]

#: Offset of FGE's seed stream from ``FGEConfig.seed``, so its data order is not a replay of
#: the pretraining's first epochs (the course project's phase 2 does the same).
_SEED_OFFSET = 7919


def run_fge(
    config: FGEConfig,
    runs_dir: str | Path = "runs",
    *,
    progress: bool | None = None,
    callback: Callable[[int, dict[str, Any]], None] | None = None,
) -> FGEResult:
    """Run FGE for ``config`` (or return its cached result) under ``runs_dir``.

    The pretrained run is ``swa_lib.training.run(config.pretrained, runs_dir)`` (from the cache
    or trained now). From its saved ``which`` weights: SGD with momentum at :func:`fge_lr` per
    step (:func:`swa_lib.training.train_epoch`), a snapshot after every mid-cycle epoch (saved,
    folded into the SWA average, and its test probabilities added to the ensemble's running
    sum as ``fge.py`` lines 103-108 do), a checkpoint after every ``checkpoint_every`` cycles and
    at the end. A killed run resumes from its checkpoint and ends with the same snapshots and
    numbers as an uninterrupted one (on the CPU).

    Args:
        config: a validated :class:`FGEConfig`.
        runs_dir: the cache folder (the pretrained run lives there too).
        progress: show a tqdm bar (default: on unless ``SWA_LIB_PROGRESS=0``).
        callback: ``callback(epoch, row)`` after each epoch (0-based) and its checkpoint, if
            one was due; raising from it stops the run as a kill would.
    """
    if progress is None:
        progress = os.environ.get("SWA_LIB_PROGRESS", "1") != "0"
    runs_dir = Path(runs_dir)
    with locked(fge_dir_for(config, runs_dir)) as path:
        final = read_final(path)
        if final is not None:
            if final.get("key") != config.key():
                raise ValueError(
                    f"{path / FINAL_FILE} belongs to another config (key "
                    f"{final.get('key')}, expected {config.key()}); delete it"
                )
            return FGEResult(
                config, pd.read_csv(path / METRICS_FILE), final, path, runs_dir, cached=True
            )
        pre = run(config.pretrained, runs_dir, progress=progress)
        return _train(config, path, runs_dir, pre, progress, callback)


class _State:
    """Everything an FGE run changes: model, optimiser, SWA, ensemble sum, RNG, logged rows."""

    def __init__(self, config: FGEConfig, pre: RunResult, ds: ArrayDataset, device: str) -> None:
        seed_everything(config.seed + _SEED_OFFSET)
        self.gen = make_generator(device, config.seed + _SEED_OFFSET)
        self.model = pre.load_model(config.which, device)
        if config.pretrained.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = build_optimizer(
            "sgd",
            self.model.parameters(),
            lr=config.lr_1,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        self.swa = SWA(self.model)
        self.probs_sum = torch.zeros(
            ds.x_test.shape[0], ds.num_classes, dtype=torch.float64, device=device
        )
        self.rows: list[dict[str, Any]] = []
        self.start_epoch = 0

    def objects(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.optimizer, "swa": self.swa}

    def save(self, file: Path, key: str, epoch: int) -> None:
        save_checkpoint(
            file,
            key=key,
            epoch=epoch,
            objects=self.objects(),
            generator=self.gen,
            probs_sum=self.probs_sum.cpu(),
            rows=self.rows,
        )

    def restore(self, file: Path, key: str) -> None:
        ckpt = load_checkpoint(file, key)
        if ckpt is None:
            return
        self.start_epoch = restore_checkpoint(ckpt, self.objects(), self.gen)
        self.probs_sum.copy_(ckpt["probs_sum"])
        self.rows = list(ckpt["rows"])


def _snapshot(state: _State, ds: ArrayDataset, path: Path, epoch: int) -> dict[str, float]:
    """Save the snapshot, fold it into the SWA and the ensemble sum; its test metrics."""
    save_snapshot(path, epoch, state.model)
    state.swa.update(state.model)
    probs = predict_proba(state.model, ds.x_test).double()
    state.probs_sum += probs
    ens = state.probs_sum / state.swa.n_averaged
    y = ds.y_test
    return {
        "snap_test_accuracy": accuracy(probs, y),
        "snap_test_nll": nll(probs, y),
        "ens_test_accuracy": accuracy(ens, y),
        "ens_test_nll": nll(ens, y),
    }


def _epoch(
    config: FGEConfig, state: _State, ds: ArrayDataset, path: Path, epoch: int, iters: int
) -> dict[str, Any]:
    """Train FGE epoch ``epoch`` (0-based), take its snapshot if due; the metrics row."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {
        "epoch": epoch + 1,
        "lr": config.learning_rate(epoch, 0, iters),
        "lr_last": config.learning_rate(epoch, iters - 1, iters),
    }
    p = config.pretrained
    loss = train_epoch(
        state.model,
        state.optimizer,
        iterate_batches(
            ds.x_train, ds.y_train, config.batch_size, shuffle=True, generator=state.gen
        ),
        lr_at=lambda it: config.learning_rate(epoch, it, iters),
        augment=lambda x: ds.augment(x, state.gen),
        amp=p.amp,
        channels_last=p.channels_last,
    )
    row["running_train_loss"] = loss.mean
    row.update(dict.fromkeys(SNAPSHOT_COLUMNS, float("nan")))
    row["snapshot"] = config.snapshot_after(epoch)
    if row["snapshot"]:
        row.update(_snapshot(state, ds, path, epoch))
    row["n_snapshots"] = state.swa.n_averaged
    row["epoch_time_s"] = time.perf_counter() - t0
    return row


def _train(
    config: FGEConfig,
    path: Path,
    runs_dir: Path,
    pre: RunResult,
    progress: bool,
    callback: Callable[[int, dict[str, Any]], None] | None,
) -> FGEResult:
    atomic_save_json(path / "config.json", config.to_dict())
    device = resolve_device(config.device)
    t_start = time.perf_counter()
    ds = dataset_of(config, device=device)  # the training view (augmented if the run was)
    iters = check_batch_size(config, ds)
    state = _State(config, pre, ds, device)
    key, ckpt_file = config.key(), path / CHECKPOINT_FILE
    state.restore(ckpt_file, key)

    from tqdm.auto import tqdm

    bar = tqdm(
        total=config.epochs,
        initial=state.start_epoch,
        disable=not progress,
        desc=f"FGE {config.model} seed {config.seed}",
        leave=False,
    )
    for epoch in range(state.start_epoch, config.epochs):
        row = _epoch(config, state, ds, path, epoch, iters)
        state.rows.append(row)
        if (
            epoch + 1 == config.epochs
            or (epoch + 1) % (config.cycle * config.checkpoint_every) == 0
        ):
            state.save(ckpt_file, key, epoch)
            atomic_write_text(path / METRICS_FILE, pd.DataFrame(state.rows).to_csv(index=False))
        bar.update(1)
        if callback is not None:
            callback(epoch, row)
    bar.close()
    final = _finish(config, path, ds, state)
    final["wall_time_s"] = time.perf_counter() - t_start
    atomic_save_json(path / FINAL_FILE, final)
    ckpt_file.unlink(missing_ok=True)
    return FGEResult(config, pd.DataFrame(state.rows), final, path, runs_dir)


def _finish(config: FGEConfig, path: Path, ds: ArrayDataset, state: _State) -> dict[str, Any]:
    """Save the SWA of the snapshots (BN recomputed on the unaugmented training set) and the
    final iterate; collect the final metrics."""
    bn_batches = iterate_batches(ds.x_train, ds.y_train, config.batch_size, shuffle=False)
    update_bn(state.swa.module, bn_batches)
    atomic_torch_save(path / "swa.pt", state.swa.module.state_dict())
    atomic_torch_save(path / "last.pt", state.model.state_dict())
    ens = state.probs_sum / state.swa.n_averaged
    snaps = [r for r in state.rows if r["snapshot"]]
    final: dict[str, Any] = {
        "key": config.key(),
        "pretrained_key": config.pretrained.key(),
        "num_classes": ds.num_classes,
        "n_train": int(ds.x_train.shape[0]),
        "n_test": int(ds.x_test.shape[0]),
        "epochs": config.epochs,
        "budget_epochs": config.budget_epochs(),
        "n_snapshots": state.swa.n_averaged,
        "snapshot_epochs": config.snapshot_epochs(),
        "fge_test_accuracy": accuracy(ens, ds.y_test),
        "fge_test_nll": nll(ens, ds.y_test),
        "last_snapshot_test_accuracy": snaps[-1]["snap_test_accuracy"],
        "last_snapshot_test_nll": snaps[-1]["snap_test_nll"],
    }
    final.update(evaluate_splits(state.swa.module, ds, "swa"))  # unaugmented, exact
    return final


# -- ensembles and averages ---------------------------------------------------------------------


def _inputs(batch: Any) -> Tensor:
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise TypeError(
        f"a batch must be a tensor or an (inputs, targets, ...) tuple, got {type(batch).__name__}"
    )


@torch.inference_mode()
def predict_ensemble(
    models: Sequence[nn.Module], batches: Iterable[Any], *, device: str | torch.device | None = None
) -> Tensor:
    r"""The ensemble's predictive probabilities: the mean of the models' softmax outputs.

    .. math:: p(y \mid x) = \frac{1}{K} \sum_{k=1}^{K} \mathrm{softmax}(f_{w_k}(x))_y

    (``fge.py`` lines 103-108 of ``dnn-mode-connectivity`` sum the same probabilities). Each
    model is evaluated in eval mode with its *own* BatchNorm statistics as it holds them (modes
    restored afterwards); the mean is taken per example in float64, over every example of
    ``batches`` (nothing is averaged per batch), so the result is exact over the whole set. One
    pass over ``batches`` serves all models, so a generator works.

    Args:
        models: ``K >= 1`` models with the same output size ``C``.
        batches: tensors ``(B, ...)`` or ``(inputs, targets, ...)`` tuples, in a fixed order.
        device: where to run (default: the first model's parameters' device).

    Returns:
        float32 probabilities ``(N, C)``, rows in the order of ``batches``; rows sum to 1.
    """
    models = list(models)
    if not models:
        raise ValueError("models must hold at least one model")
    if device is None:
        device = next(iter(models[0].parameters())).device
    out = []
    with ExitStack() as stack:
        for m in models:
            stack.enter_context(eval_mode(m))
        for batch in batches:
            x = _inputs(batch).to(device)
            p = torch.zeros((), dtype=torch.float64, device=device)
            for m in models:
                p = p + F.softmax(m(x).double(), dim=1)
            out.append((p / len(models)).float())
    if not out:
        raise ValueError("batches is empty: nothing to predict")
    return torch.cat(out)


def average_models(
    models: Sequence[nn.Module], bn_batches: Iterable[Any] | None = None
) -> nn.Module:
    """The SWA of ``models`` (equal weights, :class:`swa_lib.averaging.SWA`), BN statistics
    recomputed from ``bn_batches`` with :func:`swa_lib.averaging.update_bn` when given (the
    average's statistics are not the average of the models' statistics). A new model."""
    models = list(models)
    if not models:
        raise ValueError("models must hold at least one model")
    swa = SWA(models[0])
    for m in models:
        swa.update(m)
    if bn_batches is not None:
        update_bn(swa.module, bn_batches)
    return swa.module


def compare_predictions(reference: Tensor, other: Tensor) -> dict[str, float]:
    r"""How close ``other``'s predictions are to ``reference``'s, both ``(N, C)`` probabilities.

    Returns ``{"kl": mean_i KL(reference_i || other_i)`` in nats,
    :math:`\mathrm{KL}(p\|q) = \sum_c p_c (\log p_c - \log q_c)` with probabilities clamped at
    1e-12 inside the logs (a class with :math:`p_c = 0` adds nothing), and ``"agreement"``: the
    fraction of examples whose arg-max classes are equal ``}``.
    """
    if reference.dim() != 2 or reference.shape != other.shape:
        raise ValueError(
            f"reference and other must both be (N, C) probabilities, got "
            f"{tuple(reference.shape)} and {tuple(other.shape)}"
        )
    p, q = reference.double(), other.double().to(reference.device)
    kl = (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(1)
    agree = (p.argmax(1) == q.argmax(1)).double()
    return {"kl": kl.mean().item(), "agreement": agree.mean().item()}
