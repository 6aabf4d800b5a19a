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
import fcntl
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..averaging import SWA, update_bn
from ..data import ArrayDataset, iterate_batches
from ..io import atomic_save_json, atomic_torch_save, atomic_write_text, load_torch, stable_hash
from ..metrics import accuracy, evaluate, nll, predict_proba
from ..models import build_model
from ..modes import eval_mode
from .config import TrainConfig, resolve_device
from .loop import run
from .runs import RunResult

__all__ = ["fge_lr", "FGEConfig", "FGEResult", "run_fge", "fge_dir_for", "predict_ensemble",
           "average_models", "compare_predictions", "FGE_RECIPES", "FGE_CACHE_VERSION"]

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
        def bad(name: str, allowed: str) -> ValueError:
            return ValueError(f"FGEConfig.{name}={getattr(self, name)!r} is invalid: {allowed}")

        if isinstance(self.pretrained, dict):
            self.pretrained = TrainConfig.from_dict(self.pretrained)
        if not isinstance(self.pretrained, TrainConfig):
            raise bad("pretrained", "must be a TrainConfig (or its dict)")
        p = self.pretrained
        if self.which not in ("sgd", "swa"):
            raise bad("which", "allowed values are 'sgd', 'swa'")
        if self.which == "swa" and not p.swa:
            raise bad("which", "'swa' needs a pretrained run with swa=True")
        for name, default in (("momentum", p.momentum), ("weight_decay", p.weight_decay),
                              ("batch_size", p.batch_size), ("seed", p.seed),
                              ("device", p.device)):
            if getattr(self, name) is None:
                setattr(self, name, default)
        for name in ("cycle", "epochs", "batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "must be an integer >= 1")
        if self.cycle < 2 or self.cycle % 2:
            raise bad("cycle", "must be an even number of epochs >= 2 (the snapshot is at the "
                               "middle of the cycle, at the end of an epoch)")
        if self.epochs < self.cycle // 2:
            raise bad("epochs", f"must be >= cycle // 2 = {self.cycle // 2} (one snapshot)")
        for name in ("lr_1", "lr_2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not math.isfinite(value) or value <= 0:
                raise bad(name, "must be a positive finite number")
        if not isinstance(self.momentum, (int, float)) or not 0.0 <= self.momentum < 1.0:
            raise bad("momentum", "must be in [0, 1)")
        if not isinstance(self.weight_decay, (int, float)) or not self.weight_decay >= 0.0:
            raise bad("weight_decay", "must be >= 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad("seed", "must be an integer")
        if not isinstance(self.device, str) or not (
                self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")):
            raise bad("device", "allowed values are 'cpu', 'cuda', 'cuda:N', 'auto'")

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
        return fge_lr(epoch + iteration / iters_per_epoch, lr_1=self.lr_1, lr_2=self.lr_2,
                      cycle=self.cycle)

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
class FGEResult:
    """What :func:`run_fge` returns: per-epoch ``metrics``, ``final`` metrics, the folder."""

    config: FGEConfig
    metrics: pd.DataFrame
    final: dict[str, Any]
    path: Path
    runs_dir: Path
    cached: bool = False

    def snapshot_paths(self) -> list[Path]:
        """The snapshot files ``snapshots/epoch_NNNN.pt`` in epoch order."""
        return sorted((self.path / "snapshots").glob("epoch_*.pt"))

    def _model(self, file: Path, device: str | torch.device) -> nn.Module:
        p = self.config.pretrained
        model = build_model(p.model, int(self.final["num_classes"]), **p.model_kw)
        model.load_state_dict(load_torch(file, what="model file"))
        return model.to(device)

    def load_snapshots(self, device: str | torch.device = "cpu") -> list[nn.Module]:
        """The snapshots as models, each with its own BN statistics as trained."""
        return [self._model(f, device) for f in self.snapshot_paths()]

    def load_model(self, which: str = "swa", device: str | torch.device = "cpu") -> nn.Module:
        """``"swa"`` (the SWA of all snapshots, BN recomputed) or ``"last"`` (final iterate)."""
        if which not in ("swa", "last"):
            raise ValueError(f"which={which!r}: allowed values are 'swa', 'last'")
        return self._model(self.path / f"{which}.pt", device)

    def pretrained_run(self, *, progress: bool | None = False) -> RunResult:
        """The :class:`RunResult` FGE started from (from the cache)."""
        return run(self.config.pretrained, self.runs_dir, progress=progress)


# -- the run ------------------------------------------------------------------------------------

@contextmanager
def _locked(path: Path) -> Iterator[Path]:
    """Exclusive ``flock`` on ``path/.lock``: one process trains a folder at a time."""
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _rng_state(gen: torch.Generator) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "data": gen.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    gen.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def run_fge(config: FGEConfig, runs_dir: str | Path = "runs", *, progress: bool | None = None,
            callback: Callable[[int, dict[str, Any]], None] | None = None) -> FGEResult:
    """Run FGE for ``config`` (or return its cached result) under ``runs_dir``.

    The pretrained run is ``swa_lib.training.run(config.pretrained, runs_dir)`` (from the cache
    or trained now). From its saved ``which`` weights: SGD with momentum at :func:`fge_lr` per
    step, a snapshot after every mid-cycle epoch (saved, folded into the SWA average, and its
    test probabilities added to the ensemble's running sum as ``fge.py`` lines 103-108 do), a
    checkpoint after every ``checkpoint_every`` cycles. A killed run resumes from its checkpoint
    and ends with the same snapshots and numbers as an uninterrupted one (on the CPU).

    Args:
        callback: ``callback(epoch, row)`` after each epoch (0-based) and its checkpoint, if
            one was due; raising from it stops the run as a kill would.
    """
    if progress is None:
        progress = os.environ.get("SWA_LIB_PROGRESS", "1") != "0"
    path = fge_dir_for(config, runs_dir)
    with _locked(path):
        final_file = path / "final.json"
        if final_file.exists():
            return _cached(config, path, Path(runs_dir))
        pre = run(config.pretrained, runs_dir, progress=progress)
        return _train(config, path, Path(runs_dir), pre, progress, callback)


def _cached(config: FGEConfig, path: Path, runs_dir: Path) -> FGEResult:
    try:
        final = json.loads((path / "final.json").read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path / 'final.json'} is corrupt ({exc}); delete it to rerun") from exc
    if final.get("key") != config.key():
        raise ValueError(f"{path / 'final.json'} belongs to another config (key "
                         f"{final.get('key')}, expected {config.key()}); delete the folder")
    return FGEResult(config, pd.read_csv(path / "metrics.csv"), final, path, runs_dir, True)


class _State:
    """Everything an FGE run changes: model, optimiser, SWA, ensemble sum, RNG, logged rows."""

    def __init__(self, config: FGEConfig, pre: RunResult, ds: ArrayDataset, device: str) -> None:
        p = config.pretrained
        self.model = pre.load_model(config.which, device)
        if p.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr_1,
                                         momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        self.swa = SWA(self.model)
        self.probs_sum = torch.zeros(ds.x_test.shape[0], ds.num_classes, dtype=torch.float64,
                                     device=device)
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(config.seed)
        torch.manual_seed(config.seed)
        self.rows: list[dict[str, Any]] = []
        self.start_epoch = 0

    def save(self, file: Path, key: str, epoch: int) -> None:
        atomic_torch_save(file, {
            "key": key, "epoch": epoch, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "swa": self.swa.state_dict(),
            "probs_sum": self.probs_sum.cpu(), "rng": _rng_state(self.gen), "rows": self.rows})

    def restore(self, file: Path, key: str) -> None:
        if not file.exists():
            return
        ckpt = load_torch(file, what="checkpoint")
        if not isinstance(ckpt, dict) or ckpt.get("key") != key:
            raise ValueError(f"checkpoint {file} does not belong to this FGE config (key {key}); "
                             f"delete it to restart this run")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.swa.load_state_dict(ckpt["swa"])
        self.probs_sum.copy_(ckpt["probs_sum"])
        _set_rng_state(ckpt["rng"], self.gen)
        self.rows = ckpt["rows"]
        self.start_epoch = ckpt["epoch"] + 1


def _train_epoch(config: FGEConfig, state: _State, ds: ArrayDataset, epoch: int,
                 use_amp: bool) -> float:
    """One FGE epoch of SGD at :func:`fge_lr` per step; returns the running train loss (the
    size-weighted mean over the epoch's augmented mini-batches)."""
    p, model, opt = config.pretrained, state.model, state.optimizer
    n_train = int(ds.x_train.shape[0])
    iters = math.ceil(n_train / config.batch_size)
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=ds.device)
    batches = iterate_batches(ds.x_train, ds.y_train, config.batch_size, shuffle=True,
                              generator=state.gen)
    for it, (xb, yb) in enumerate(batches):
        for group in opt.param_groups:
            group["lr"] = config.learning_rate(epoch, it, iters)
        xb = ds.augment(xb, state.gen)
        if p.channels_last and xb.dim() == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach().double() * xb.shape[0]
    return loss_sum.item() / n_train


def _snapshot(state: _State, ds: ArrayDataset, path: Path, epoch: int) -> dict[str, float]:
    """Save the snapshot, fold it into the SWA and the ensemble sum; its test metrics."""
    atomic_torch_save(path / "snapshots" / f"epoch_{epoch + 1:04d}.pt", state.model.state_dict())
    state.swa.update(state.model)
    probs = predict_proba(state.model, ds.x_test).double()
    state.probs_sum += probs
    ens = state.probs_sum / state.swa.n_averaged
    y = ds.y_test
    return {"snap_test_accuracy": accuracy(probs, y), "snap_test_nll": nll(probs, y),
            "ens_test_accuracy": accuracy(ens, y), "ens_test_nll": nll(ens, y)}


SNAPSHOT_COLUMNS = ["snap_test_accuracy", "snap_test_nll", "ens_test_accuracy", "ens_test_nll"]


def _train(config: FGEConfig, path: Path, runs_dir: Path, pre: RunResult, progress: bool,
           callback: Callable[[int, dict[str, Any]], None] | None) -> FGEResult:
    atomic_save_json(path / "config.json", config.to_dict())
    device = resolve_device(config.device)
    t_start = time.perf_counter()
    ds = pre.dataset(augment=config.pretrained.augment, device=device)
    if config.batch_size > ds.x_train.shape[0]:
        raise ValueError(f"FGEConfig.batch_size={config.batch_size} is larger than the training "
                         f"set ({ds.x_train.shape[0]} samples)")
    state = _State(config, pre, ds, device)
    key, ckpt_file = config.key(), path / "checkpoint.pt"
    state.restore(ckpt_file, key)
    use_amp = config.pretrained.amp and device.startswith("cuda")
    iters = math.ceil(ds.x_train.shape[0] / config.batch_size)

    from tqdm.auto import tqdm

    bar = tqdm(total=config.epochs, initial=state.start_epoch, disable=not progress,
               desc=f"FGE {config.pretrained.model} seed {config.seed}", leave=False)
    for epoch in range(state.start_epoch, config.epochs):
        t0 = time.perf_counter()
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": config.learning_rate(epoch, 0, iters),
                               "lr_last": config.learning_rate(epoch, iters - 1, iters)}
        row["running_train_loss"] = _train_epoch(config, state, ds, epoch, use_amp)
        row.update(dict.fromkeys(SNAPSHOT_COLUMNS, float("nan")))
        row["snapshot"] = config.snapshot_after(epoch)
        if row["snapshot"]:
            row.update(_snapshot(state, ds, path, epoch))
        row["n_snapshots"] = state.swa.n_averaged
        row["epoch_time_s"] = time.perf_counter() - t0
        state.rows.append(row)
        last = epoch + 1 == config.epochs
        if last or (epoch + 1) % (config.cycle * config.checkpoint_every) == 0:
            state.save(ckpt_file, key, epoch)
            atomic_write_text(path / "metrics.csv", pd.DataFrame(state.rows).to_csv(index=False))
        bar.update(1)
        if callback is not None:
            callback(epoch, row)
    bar.close()
    final = _finish(config, path, ds, state)
    final["wall_time_s"] = time.perf_counter() - t_start
    atomic_save_json(path / "final.json", final)
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
    final: dict[str, Any] = {
        "key": config.key(), "pretrained_key": config.pretrained.key(),
        "num_classes": ds.num_classes, "n_train": int(ds.x_train.shape[0]),
        "n_test": int(ds.x_test.shape[0]), "epochs": config.epochs,
        "budget_epochs": config.budget_epochs(), "n_snapshots": state.swa.n_averaged,
        "snapshot_epochs": config.snapshot_epochs(),
        "fge_test_accuracy": accuracy(ens, ds.y_test), "fge_test_nll": nll(ens, ds.y_test),
    }
    for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
        m = evaluate(state.swa.module, x, y)
        final.update({f"swa_{split}_{k}": m[k] for k in ("loss", "accuracy", "nll")})
    last = state.rows[-1] if state.rows else {}
    snaps = [r for r in state.rows if r.get("snapshot")]
    if snaps:
        final["last_snapshot_test_accuracy"] = snaps[-1]["snap_test_accuracy"]
        final["last_snapshot_test_nll"] = snaps[-1]["snap_test_nll"]
    final["last_running_train_loss"] = last.get("running_train_loss", float("nan"))
    return final


# -- ensembles and averages ---------------------------------------------------------------------

def _inputs(batch: Any) -> Tensor:
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise TypeError(f"a batch must be a tensor or an (inputs, targets, ...) tuple, got "
                    f"{type(batch).__name__}")


@torch.inference_mode()
def predict_ensemble(models: Sequence[nn.Module], batches: Iterable[Any], *,
                     device: str | torch.device | None = None) -> Tensor:
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


def average_models(models: Sequence[nn.Module], bn_batches: Iterable[Any] | None = None
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
        raise ValueError(f"reference and other must both be (N, C) probabilities, got "
                         f"{tuple(reference.shape)} and {tuple(other.shape)}")
    p, q = reference.double(), other.double().to(reference.device)
    kl = (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(1)
    agree = (p.argmax(1) == q.argmax(1)).double()
    return {"kl": kl.mean().item(), "agreement": agree.mean().item()}
