"""Run folders: the cached result, its path, seeding and the RNG state a checkpoint keeps."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data import ArrayDataset, load_dataset
from ..io import load_torch
from ..models import build_model
from .config import TrainConfig


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

    def dataset(self, *, augment: bool = False, device: str = "cpu") -> ArrayDataset:
        """The run's dataset (same draw, split and size), by default *without* augmentation:
        what landscapes, Hessians and BN recomputation evaluate on."""
        c = self.config
        return load_dataset(c.dataset, c.data_root, device=device, num_samples=c.num_samples,
                            seed=c.data_seed, augment=augment, **c.dataset_kw)

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


