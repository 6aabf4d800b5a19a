"""Run folders: the lock, the cached result, checkpoints, seeding and RNG state, result objects.

Every protocol (:func:`swa_lib.training.run`, :func:`swa_lib.training.course_project_run`) keeps
one folder per configuration and uses these helpers for it, so caching, resuming and loading
behave the same everywhere:

* :func:`locked` -- one process trains a folder at a time (``fcntl.flock`` on ``.lock``); a
  second one waits and then finds the result cached.
* :func:`read_final` -- ``final.json`` is written last and atomically: its presence means
  "finished"; a corrupt one is an error naming the file, never silently retrained over.
* :func:`cached_result` / :func:`plan_run` / :func:`checkpoint_covers` -- a key holds only what
  changes the numbers (:meth:`TrainConfig.key_fields`), so one folder serves requests that
  record different things (evaluation epochs, snapshots). ``config.json`` says what the run
  that last started in the folder records; a finished run is returned when it covers the
  request, and is otherwise **retrained with the union** of both (same weights: evaluation
  consumes no randomness), so the folder only ever grows what it holds.
* :func:`save_checkpoint` / :func:`load_checkpoint` / :func:`restore_checkpoint` -- the state
  after an epoch (weights, optimiser, averagers, RNG states, logged rows), written atomically.
  Checkpoints hold only tensors and plain Python values (the NumPy and Python RNG states are
  stored as lists and numbers), so :func:`load_weights` reads them with
  ``torch.load(weights_only=True)``: a file that holds any other pickled object is refused
  instead of executed.
* :func:`seed_everything`, :func:`make_generator`, :func:`rng_state`, :func:`set_rng_state`.
* :class:`RunFolder` -- ``load_model``, ``snapshot_paths``, ``dataset`` for any result whose
  ``config`` has the dataset/model fields of :class:`TrainConfig`; :class:`RunResult` adds
  ``metrics`` and ``load_swag``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data import ArrayDataset, load_dataset
from ..io import atomic_torch_save, load_torch
from ..models import build_model
from .config import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    from ..swag import SWAG

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "FINAL_FILE",
    "METRICS_FILE",
    "RunFolder",
    "RunResult",
    "run_dir_for",
    "dataset_of",
    "recorded_config",
    "cached_result",
    "plan_run",
    "checkpoint_covers",
    "locked",
    "read_final",
    "load_weights",
    "save_checkpoint",
    "load_checkpoint",
    "restore_checkpoint",
    "save_snapshot",
    "seed_everything",
    "make_generator",
    "rng_state",
    "set_rng_state",
]

CHECKPOINT_FILE = "checkpoint.pt"
CONFIG_FILE = "config.json"
FINAL_FILE = "final.json"
METRICS_FILE = "metrics.csv"

log = logging.getLogger("swa_lib.training")


# -- the folder -------------------------------------------------------------------------------


@contextmanager
def locked(path: str | Path) -> Iterator[Path]:
    """Create ``path`` and hold an exclusive ``flock`` on ``path/.lock`` for the block.

    The lock is released (and its file closed) however the block ends, a kill included: the
    kernel drops ``flock`` locks with the process.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_final(path: str | Path) -> dict[str, Any] | None:
    """The run's ``final.json`` (``None`` when the run has not finished).

    Raises ``ValueError`` naming the file when it is not valid JSON.
    """
    final_file = Path(path) / FINAL_FILE
    if not final_file.exists():
        return None
    try:
        return json.loads(final_file.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{final_file} is corrupt ({exc}); delete it to rerun") from exc


def recorded_config(path: str | Path) -> TrainConfig | None:
    """The config that the run which last started in ``path`` wrote to ``config.json``: what
    the folder records (``None`` when there is none, or it no longer reads as a
    :class:`TrainConfig`)."""
    file = Path(path) / CONFIG_FILE
    if not file.exists():
        return None
    try:
        return TrainConfig.from_dict(json.loads(file.read_text()))
    except (ValueError, TypeError):
        return None


def cached_result(config: TrainConfig, path: str | Path) -> RunResult | None:
    """The finished run in ``path`` when it holds everything ``config`` asks for
    (:meth:`TrainConfig.covers`), else ``None``.

    The result's ``config`` is ``config`` itself (the caller's request); its ``metrics`` are
    the folder's, so they may hold evaluations at more epochs than ``config`` asks for.
    """
    path = Path(path)
    final = read_final(path)
    if final is None:
        return None
    recorded = recorded_config(path)
    if recorded is None or not recorded.covers(config):
        return None
    return RunResult(config, pd.read_csv(path / METRICS_FILE), final, path, cached=True)


def plan_run(config: TrainConfig, path: str | Path) -> TrainConfig:
    """The config to train in ``path`` for ``config``, when :func:`cached_result` has none.

    ``config`` merged (:meth:`TrainConfig.merged`) with what the run that last started there
    records: a killed run resumes keeping its own evaluation epochs, and a finished run that
    lacks an epoch (or snapshots) ``config`` asks for is **retrained with the union** -- its
    ``final.json`` is removed first, so a kill meanwhile leaves an unfinished run, never a
    stale result. The training path does not depend on what is recorded, so the retrained
    run has the old one's weights and metrics, plus the new rows.
    """
    path = Path(path)
    recorded = recorded_config(path)
    plan = config
    if recorded is not None and recorded.key() == config.key():
        plan = config.merged(recorded)
    if (path / FINAL_FILE).exists():
        log.info(
            "%s: retraining to record epochs %s (it recorded %s)",
            path.name,
            plan.evaluated_epochs(),
            recorded.evaluated_epochs() if recorded else "?",
        )
        (path / FINAL_FILE).unlink()
    return plan


def checkpoint_covers(ckpt: Mapping[str, Any], config: TrainConfig, path: str | Path) -> bool:
    """Whether resuming from ``ckpt`` gives ``config`` everything it records: an evaluated
    row at each of its evaluated epochs up to the checkpoint's, and (``snapshots``) the saved
    iterate of each averaging point so far. ``False``: the run starts again from epoch 1."""
    done = int(ckpt["epoch"]) + 1
    rows = {int(r["epoch"]): r for r in ckpt.get("rows", [])}
    for e in config.evaluated_epochs():
        if e > done:
            break
        loss = rows.get(e, {}).get("sgd_test_loss", float("nan"))
        if not math.isfinite(float(loss)):
            return False
    if config.snapshots and config.swa:
        snaps = Path(path) / "snapshots"
        return all(
            (snaps / f"epoch_{e + 1:04d}.pt").exists()
            for e in range(done)
            if config.averages_after(e)
        )
    return True


def load_weights(path: str | Path, *, what: str = "file") -> Any:
    """A run folder's file, read weights-only (:func:`swa_lib.io.load_torch`): a file holding
    any pickled object other than tensors and plain values is refused unexecuted."""
    return load_torch(path, what=what)


def save_snapshot(path: str | Path, epoch: int, model: nn.Module) -> Path:
    """Save ``model``'s weights as ``path/snapshots/epoch_<epoch + 1>.pt`` (``epoch`` 0-based)."""
    return atomic_torch_save(
        Path(path) / "snapshots" / f"epoch_{epoch + 1:04d}.pt", model.state_dict()
    )


def dataset_of(
    config: Any, *, device: str | torch.device = "cpu", augment: bool | None = None
) -> ArrayDataset:
    """The dataset ``config`` trains on: ``load_dataset`` with its ``dataset``, ``data_root``,
    ``num_samples``, ``data_seed`` and ``dataset_kw``, on ``device``; ``augment=None`` takes
    ``config.augment`` (the training view), ``False`` the plain view evaluations use."""
    return load_dataset(
        config.dataset,
        config.data_root,
        device=device,
        num_samples=config.num_samples,
        seed=config.data_seed,
        augment=config.augment if augment is None else augment,
        **config.dataset_kw,
    )


def run_dir_for(config: TrainConfig, runs_dir: str | Path) -> Path:
    """``runs_dir/<dataset>-<model>-<config.key()>``: the folder of one training run."""
    return Path(runs_dir) / f"{config.dataset}-{config.model}-{config.key()}"


# -- checkpoints ------------------------------------------------------------------------------


def save_checkpoint(
    file: str | Path,
    *,
    key: str,
    epoch: int,
    objects: Mapping[str, Any],
    generator: torch.Generator,
    **extra: Any,
) -> Path:
    """Write the state after epoch ``epoch`` (0-based) atomically.

    Args:
        file: the checkpoint file.
        key: the config's key; :func:`load_checkpoint` refuses a checkpoint of another config.
        objects: ``name -> object with state_dict()`` (model, optimiser, averagers); ``None``
            values are skipped.
        generator: the data generator, saved with the global RNG states (:func:`rng_state`).
        extra: further entries (tensors and plain Python values only, e.g. the logged rows).
    """
    ckpt: dict[str, Any] = {"key": key, "epoch": int(epoch), "rng": rng_state(generator)}
    ckpt.update({name: obj.state_dict() for name, obj in objects.items() if obj is not None})
    ckpt.update(extra)
    return atomic_torch_save(file, ckpt)


def load_checkpoint(file: str | Path, key: str) -> dict[str, Any] | None:
    """The checkpoint in ``file`` (``None`` if there is none), read with ``weights_only=True``.

    Raises ``ValueError`` naming the file when it is corrupt, holds other objects than tensors
    and plain values, or belongs to another config (its ``key`` differs).
    """
    file = Path(file)
    if not file.exists():
        return None
    ckpt = load_weights(file, what="checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("key") != key:
        raise ValueError(
            f"checkpoint {file} does not belong to this config (key {key}); "
            f"delete it to restart this run"
        )
    return ckpt


def restore_checkpoint(
    ckpt: Mapping[str, Any], objects: Mapping[str, Any], generator: torch.Generator
) -> int:
    """Load every non-``None`` object of ``objects`` and the RNG states from ``ckpt``.

    Returns the first epoch still to train (``ckpt["epoch"] + 1``).
    """
    for name, obj in objects.items():
        if obj is not None:
            obj.load_state_dict(ckpt[name])
    set_rng_state(ckpt["rng"], generator)
    return int(ckpt["epoch"]) + 1


# -- seeding and RNG state --------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG (``seed mod 2**32``) and torch's."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_generator(device: str | torch.device, seed: int) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (shuffling and augmentation)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every RNG state a run consumes, as tensors and plain Python values.

    ``python``: ``random.getstate()`` as ``{"version", "state" (625 ints), "gauss_next"}``;
    ``numpy``: the legacy global ``MT19937`` state as ``{"name", "keys" (624 ints), "pos",
    "has_gauss", "cached_gaussian"}``; ``torch`` / ``data`` / ``cuda``: the byte tensors of the
    global CPU generator, ``generator`` and every CUDA device (when present). Plain values keep
    the checkpoint loadable with ``torch.load(weights_only=True)``.
    """
    version, internal, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {
            "version": int(version),
            "state": [int(v) for v in internal],
            "gauss_next": gauss_next,
        },
        "numpy": {
            "name": str(name),
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "data": generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any], generator: torch.Generator) -> None:
    """Restore what :func:`rng_state` saved (``generator`` gets the ``data`` state)."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
    npy = state["numpy"]
    np.random.set_state(
        (
            npy["name"],
            np.asarray(npy["keys"], dtype=np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    generator.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- results ----------------------------------------------------------------------------------


class RunFolder:
    """Loading from a finished run folder: the saved models, snapshots and the run's data.

    Needs ``self.config`` (with ``model``, ``model_kw`` and the dataset fields of
    :class:`TrainConfig`), ``self.final`` (with ``num_classes``) and ``self.path``.
    """

    config: Any
    final: dict[str, Any]
    path: Path

    def saved_models(self) -> list[str]:
        """The names ``load_model`` accepts here (the ``*.pt`` files of the folder)."""
        return sorted(p.stem for p in self.path.glob("*.pt") if p.name != CHECKPOINT_FILE)

    def _new_model(self, device: str | torch.device) -> nn.Module:
        model = build_model(
            self.config.model, int(self.final["num_classes"]), **self.config.model_kw
        )
        return model.to(device)

    def load_model(self, which: str = "swa", device: str = "cpu") -> nn.Module:
        """A fresh model with the saved weights of ``which`` (e.g. ``"sgd"``, ``"swa"``,
        ``"ema"``: see :meth:`saved_models`), read with ``weights_only=True``."""
        file = self.path / f"{which}.pt"
        if not file.exists():
            raise FileNotFoundError(
                f"{file} does not exist (which={which!r}; this run saved {self.saved_models()})"
            )
        model = self._new_model("cpu")
        model.load_state_dict(load_weights(file, what="model file"))
        return model.to(device)

    def snapshot_paths(self) -> list[Path]:
        """The saved iterates ``snapshots/epoch_NNNN.pt`` in epoch order."""
        return sorted((self.path / "snapshots").glob("epoch_*.pt"))

    def dataset(self, *, augment: bool = False, device: str = "cpu") -> ArrayDataset:
        """The run's dataset (same draw, split and size), by default *without* augmentation:
        what landscapes, Hessians and BN recomputation evaluate on."""
        return dataset_of(self.config, device=device, augment=augment)


@dataclass
class RunResult(RunFolder):
    """What :func:`swa_lib.training.run` returns: per-epoch ``metrics``, ``final`` metrics, the
    run folder, and whether it came from the cache."""

    config: TrainConfig
    metrics: pd.DataFrame
    final: dict[str, Any]
    path: Path
    cached: bool = False

    def load_swag(self, device: str = "cpu") -> SWAG:
        """The SWAG posterior the run collected (``collect_swag=True``), on ``device``."""
        from ..swag import SWAG

        file = self.path / "swag.pt"
        if not file.exists():
            raise FileNotFoundError(
                f"{file} does not exist: this run did not collect SWAG "
                f"(TrainConfig.collect_swag={self.config.collect_swag})"
            )
        swag = SWAG(self._new_model(device), max_rank=self.config.swag_rank)
        swag.load_state_dict(load_weights(file, what="SWAG file"))
        return swag
