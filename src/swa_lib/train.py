"""Training runs: SGD with the paper's schedules, SWA (and optionally EMA / SWAG) on the side.

``run(TrainConfig(...), runs_dir)`` trains one configuration and returns a :class:`RunResult`.
A run folder ``runs_dir/<dataset>-<model>-<hash>/`` holds

* ``config.json``  -- the validated config (the hash is over it);
* ``metrics.csv``  -- one row per epoch: ``lr``, train/test ``loss``, ``accuracy`` and ``nll``
  of the SGD iterate (``sgd_*``) and, once it exists, of the SWA model (``swa_*``, BN recomputed
  before each evaluation), ``swa_n`` (models averaged so far) and ``epoch_time_s``;
* ``checkpoint.pt`` -- written atomically after every ``checkpoint_every`` epochs (model,
  optimiser, averagers with their counts, RNG states, metric rows); removed when the run ends;
* ``final.json`` + ``sgd.pt`` / ``swa.pt`` / ``ema.pt`` / ``swag.pt`` -- when the run has ended.

If ``final.json`` exists the run is cached and returned without training; if only a checkpoint
exists the run resumes from it and ends with exactly the weights and metrics of an uninterrupted
run (on the CPU). Train metrics are exact whole-set evaluations of the *unaugmented* training set
in eval mode; ``running_train_loss`` is the usual running mean over the epoch's (augmented)
mini-batches. The SWA model's BN statistics are recomputed from unaugmented training batches, so
evaluation consumes no randomness and the evaluation frequency never changes the training path.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .averaging import EMA, SWA, update_bn
from .data import DATASET_NAMES, ArrayDataset, iterate_batches, load_dataset
from .io import atomic_save_json, atomic_torch_save, atomic_write_text, load_torch, stable_hash
from .metrics import evaluate
from .models import MODEL_NAMES, build_model
from .schedules import cyclic_lr, sgd_schedule, swa_schedule

__all__ = ["TrainConfig", "RunResult", "run", "run_dir_for", "resolve_device"]

# Bump when a code change alters the numbers a config produces, so old caches are not reused.
CACHE_VERSION = 1

SWA_LR_SCHEDULES = ("constant", "cyclic")


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available else ``"cpu"``; checks that CUDA exists if asked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available; use 'cpu' or 'auto'")
    return device


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
        eval_every: evaluate every this many epochs (and always at the last); other rows hold NaN.
        checkpoint_every: write a checkpoint every this many epochs.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        amp: bf16 autocast on CUDA; channels_last: NHWC for 4-D inputs; compile: ``torch.compile``.
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
    eval_every: int = 1
    checkpoint_every: int = 1
    device: str = "cpu"
    amp: bool = False
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        def bad(name: str, allowed: str) -> ValueError:
            return ValueError(f"TrainConfig.{name}={getattr(self, name)!r} is invalid: {allowed}")

        if self.dataset not in DATASET_NAMES:
            raise bad("dataset", f"allowed values are {', '.join(DATASET_NAMES)}")
        if self.model not in MODEL_NAMES:
            raise bad("model", f"allowed values are {', '.join(MODEL_NAMES)}")
        for name in ("epochs", "batch_size", "swa_c_epochs", "eval_every", "checkpoint_every",
                     "swag_rank"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "must be an integer >= 1")
        for name in ("lr_init", "swa_lr"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise bad(name, "must be a positive finite number")
        if not 0.0 <= self.momentum < 1.0:
            raise bad("momentum", "must be in [0, 1)")
        if not self.weight_decay >= 0.0:
            raise bad("weight_decay", "must be >= 0")
        if self.swa_start is None:
            self.swa_start = max(1, round(0.75 * self.epochs))
        if isinstance(self.swa_start, bool) or not isinstance(self.swa_start, int):
            raise bad("swa_start", "must be an integer")
        if self.swa and not 1 <= self.swa_start < self.epochs:
            raise bad("swa_start", f"must satisfy 1 <= swa_start < epochs (= {self.epochs})")
        if self.swa_lr_schedule not in SWA_LR_SCHEDULES:
            raise bad("swa_lr_schedule", f"allowed values are {', '.join(SWA_LR_SCHEDULES)}")
        if self.swa_lr_schedule == "cyclic":
            if self.swa_lr_max is None:
                self.swa_lr_max = self.lr_init
            if not self.swa_lr_max > self.swa_lr:
                raise bad("swa_lr_max", "must be > swa_lr for a cyclic schedule")
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise bad("ema_decay", "must be None or in [0, 1)")
        if self.num_samples is not None and (not isinstance(self.num_samples, int)
                                             or self.num_samples < 20):
            raise bad("num_samples", "must be None or an integer >= 20")
        if self.collect_swag and not self.swa:
            raise bad("collect_swag", "SWAG is collected during the SWA phase: needs swa=True")
        if not isinstance(self.device, str) or not (
            self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")
        ):
            raise bad("device", "allowed values are 'cpu', 'cuda', 'cuda:N', 'auto'")

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
        """Stable hash of what defines the run's numbers: the config with the device resolved,
        less how often checkpoints are written (and, for generated MNIST-1D, where its cache
        lives), plus the cache version."""
        d = self.to_dict()
        d.pop("checkpoint_every")
        if self.dataset == "mnist1d":  # generated from (num_samples, data_seed, dataset_kw)
            d.pop("data_root")
        else:  # files on disk: a fake copy and the real one must not share runs
            d["data_root"] = str(Path(self.data_root).resolve())
        d["device"] = resolve_device(self.device)
        d["_cache_version"] = CACHE_VERSION
        return stable_hash(d)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def learning_rate(self, epoch: int, iteration_in_epoch: int = 0,
                      iters_per_epoch: int = 1) -> float:
        """Learning rate of step ``iteration_in_epoch`` (0-based) of epoch ``epoch`` (0-based)."""
        if not self.swa:
            return sgd_schedule(epoch, lr_init=self.lr_init, epochs=self.epochs)
        assert self.swa_start is not None
        if self.swa_lr_schedule == "cyclic" and epoch >= self.swa_start - 1:
            # The cycle of c = swa_c_epochs epochs ends where a model is averaged.
            cycle = self.swa_c_epochs * iters_per_epoch
            i = (epoch - (self.swa_start - 1)) * iters_per_epoch + iteration_in_epoch + 1
            # Phase-align: the first averaged epoch ends a cycle.
            i += cycle - iters_per_epoch
            assert self.swa_lr_max is not None
            return cyclic_lr(i, lr_max=self.swa_lr_max, lr_min=self.swa_lr, cycle=cycle)
        return swa_schedule(epoch, lr_init=self.lr_init, swa_lr=self.swa_lr,
                            swa_start=self.swa_start)

    def averages_after(self, epoch: int) -> bool:
        """Whether the SGD iterate is averaged after epoch ``epoch`` (0-based)."""
        assert self.swa_start is not None
        return self.swa and epoch + 1 >= self.swa_start and \
            (epoch + 1 - self.swa_start) % self.swa_c_epochs == 0


@dataclass
class RunResult:
    """What :func:`run` returns: per-epoch ``metrics``, ``final`` metrics, the run folder."""

    config: TrainConfig
    metrics: pd.DataFrame
    final: dict[str, Any]
    path: Path
    cached: bool = False

    def load_model(self, which: str = "swa", device: str = "cpu") -> nn.Module:
        """A fresh model with the saved weights of ``which`` in ``{"sgd", "swa", "ema"}``."""
        file = self.path / f"{which}.pt"
        if not file.exists():
            raise FileNotFoundError(f"{file} does not exist (which={which!r}; this run saved "
                                    f"{sorted(p.stem for p in self.path.glob('*.pt'))})")
        num_classes = int(self.final["num_classes"])
        model = build_model(self.config.model, num_classes, **self.config.model_kw)
        model.load_state_dict(load_torch(file, what="model file"))
        return model.to(device)

    def snapshot_paths(self) -> list[Path]:
        return sorted((self.path / "snapshots").glob("epoch_*.pt"))


def run_dir_for(config: TrainConfig, runs_dir: str | Path) -> Path:
    return Path(runs_dir) / f"{config.dataset}-{config.model}-{config.key()}"


# -- helpers ----------------------------------------------------------------------------------

def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state(gen: torch.Generator) -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state(), "data": gen.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], gen: torch.Generator) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    gen.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _evaluate_both(model: nn.Module, ds: ArrayDataset, prefix: str) -> dict[str, float]:
    row: dict[str, float] = {}
    for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
        m = evaluate(model, x, y)
        row.update({f"{prefix}_{split}_{k}": m[k] for k in ("loss", "accuracy", "nll")})
    return row


def _bn_batches(ds: ArrayDataset, batch_size: int):
    return iterate_batches(ds.x_train, ds.y_train, batch_size, shuffle=False)


METRIC_COLUMNS = [f"{who}_{split}_{k}" for who in ("sgd", "swa") for split in ("train", "test")
                  for k in ("loss", "accuracy", "nll")]


def _progress(total: int, initial: int, desc: str, enabled: bool):
    if enabled:  # tqdm.auto picks the notebook widget; it warns when ipywidgets is missing
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, leave=False)


# -- the run ----------------------------------------------------------------------------------

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
    path = run_dir_for(config, runs_dir)
    path.mkdir(parents=True, exist_ok=True)
    # One process trains a given config at a time; a second one waits, then finds it cached.
    with open(path / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _run_locked(config, path, progress, callback)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_locked(config: TrainConfig, path: Path, progress: bool,
                callback: Callable[[int, dict[str, Any]], None] | None) -> RunResult:
    final_file, metrics_file = path / "final.json", path / "metrics.csv"
    if final_file.exists():
        try:
            final = json.loads(final_file.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{final_file} is corrupt ({exc}); delete it to rerun") from exc
        return RunResult(config, pd.read_csv(metrics_file), final, path, cached=True)

    atomic_save_json(path / "config.json", config.to_dict())
    device = resolve_device(config.device)
    t_start = time.perf_counter()

    ds = load_dataset(config.dataset, config.data_root, device=device,
                      num_samples=config.num_samples, seed=config.data_seed,
                      augment=config.augment, **config.dataset_kw)
    n_train = int(ds.x_train.shape[0])
    if config.batch_size > n_train:
        raise ValueError(f"TrainConfig.batch_size={config.batch_size} is larger than the "
                         f"training set ({n_train} samples); allowed: 1..{n_train}")
    iters_per_epoch = math.ceil(n_train / config.batch_size)

    _seed_everything(config.seed)
    gen = torch.Generator(device=device)
    gen.manual_seed(config.seed)
    model = build_model(config.model, ds.num_classes, **config.model_kw).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr_init, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    swa = SWA(model) if config.swa else None
    ema = EMA(model, config.ema_decay) if config.ema_decay is not None else None
    swag = None
    if config.collect_swag:
        from .swag import SWAG

        swag = SWAG(model, max_rank=config.swag_rank)
    step_model = torch.compile(model) if config.compile else model
    use_amp = config.amp and device.startswith("cuda")

    rows: list[dict[str, Any]] = []
    start_epoch = 0
    ckpt_file = path / "checkpoint.pt"
    if ckpt_file.exists():
        ckpt = load_torch(ckpt_file, what="checkpoint")
        if not isinstance(ckpt, dict) or ckpt.get("key") != config.key():
            raise ValueError(f"checkpoint {ckpt_file} does not belong to this config "
                             f"(key {config.key()}); delete it to restart this run")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        for name, obj in (("swa", swa), ("ema", ema), ("swag", swag)):
            if obj is not None:
                obj.load_state_dict(ckpt[name])
        _set_rng_state(ckpt["rng"], gen)
        rows = ckpt["rows"]
        start_epoch = ckpt["epoch"] + 1

    bar = _progress(config.epochs, start_epoch, f"{config.model} seed {config.seed}", progress)
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)  # no per-step GPU sync
        seen = 0
        lr = config.learning_rate(epoch, 0, iters_per_epoch)
        for it, (xb, yb) in enumerate(iterate_batches(ds.x_train, ds.y_train, config.batch_size,
                                                      shuffle=True, generator=gen)):
            lr_it = config.learning_rate(epoch, it, iters_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr_it
            if config.augment:
                xb = ds.augment(xb, gen)
            if config.channels_last and xb.dim() == 4:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                loss = F.cross_entropy(step_model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update(model)
            loss_sum += loss.detach().double() * xb.shape[0]
            seen += xb.shape[0]

        if swa is not None and config.averages_after(epoch):
            swa.update(model)
            if swag is not None:
                swag.collect(model)
            if config.snapshots:
                atomic_torch_save(path / "snapshots" / f"epoch_{epoch + 1:04d}.pt",
                                  model.state_dict())

        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr,
                               "running_train_loss": loss_sum.item() / seen}
        row.update(dict.fromkeys(METRIC_COLUMNS, float("nan")))
        last = epoch + 1 == config.epochs
        if last or (epoch + 1) % config.eval_every == 0:
            row.update(_evaluate_both(model, ds, "sgd"))
            if swa is not None and swa.n_averaged > 0:
                update_bn(swa.module, _bn_batches(ds, config.batch_size))
                row.update(_evaluate_both(swa.module, ds, "swa"))
        row["swa_n"] = swa.n_averaged if swa is not None else 0
        row["epoch_time_s"] = time.perf_counter() - t0
        rows.append(row)

        if last or (epoch + 1) % config.checkpoint_every == 0:
            ckpt = {"key": config.key(), "epoch": epoch, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "rng": _rng_state(gen), "rows": rows}
            for name, obj in (("swa", swa), ("ema", ema), ("swag", swag)):
                if obj is not None:
                    ckpt[name] = obj.state_dict()
            atomic_torch_save(ckpt_file, ckpt)
            atomic_write_text(metrics_file, pd.DataFrame(rows).to_csv(index=False))
        bar.update(1)
        bar.set_postfix(sgd=f"{row['sgd_test_accuracy']:.3f}",
                        swa=f"{row['swa_test_accuracy']:.3f}")
        if callback is not None:
            callback(epoch, row)
    bar.close()

    final = _finish(config, path, ds, model, swa, ema, swag, rows)
    final["wall_time_s"] = time.perf_counter() - t_start
    atomic_save_json(final_file, final)
    if ckpt_file.exists():
        ckpt_file.unlink()
    return RunResult(config, pd.DataFrame(rows), final, path)


def _finish(config: TrainConfig, path: Path, ds: ArrayDataset, model: nn.Module,
            swa: SWA | None, ema: EMA | None, swag: Any, rows: list[dict[str, Any]]
            ) -> dict[str, Any]:
    """Save the final models (BN recomputed for the averages) and collect the final metrics."""
    final: dict[str, Any] = {"key": config.key(), "num_classes": ds.num_classes,
                             "epochs": config.epochs, "n_train": int(ds.x_train.shape[0]),
                             "n_test": int(ds.x_test.shape[0])}
    last = rows[-1]
    final.update({k: last[k] for k in METRIC_COLUMNS if k.startswith("sgd_")})
    atomic_torch_save(path / "sgd.pt", model.state_dict())
    if swa is not None:
        final.update({k: last[k] for k in METRIC_COLUMNS if k.startswith("swa_")})
        final["swa_n"] = swa.n_averaged
        atomic_torch_save(path / "swa.pt", swa.module.state_dict())
    if ema is not None:
        update_bn(ema.module, _bn_batches(ds, config.batch_size))
        final.update(_evaluate_both(ema.module, ds, "ema"))
        atomic_torch_save(path / "ema.pt", ema.module.state_dict())
    if swag is not None:
        atomic_torch_save(path / "swag.pt", swag.state_dict())
    return final
