"""The training loop: one epoch of SGD steps, evaluation, averaging and checkpoints."""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..averaging import EMA, SWA, update_bn
from ..data import ArrayDataset, iterate_batches, load_dataset
from ..io import atomic_save_json, atomic_torch_save, atomic_write_text, load_torch
from ..metrics import evaluate
from ..models import build_model
from .config import TrainConfig, resolve_device
from .runs import RunResult, _rng_state, _seed_everything, _set_rng_state, run_dir_for


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
        from ..swag import SWAG

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
