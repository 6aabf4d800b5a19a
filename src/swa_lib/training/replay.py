"""Replay part of a run step by step and evaluate its SGD iterate *inside* the epochs.

A run's ``metrics.csv`` has one row per epoch: under a cyclic schedule with cycles of one or two
epochs that is one or two points per cycle, so the oscillation of the iterate's test error
within a cycle (the paper's Figure 2, right: the error is lowest where the rate is lowest, at
the end of each cycle; Izmailov et al. 2018) cannot be seen. :func:`replay_steps` recomputes
the iterates of epochs ``start_epoch + 1 .. start_epoch + epochs`` of a run from its state after
``start_epoch`` epochs (:func:`~swa_lib.training.from_checkpoint.start_state`: the run's own
model, optimiser and random streams) with the run's own per-step schedule
(:meth:`TrainConfig.learning_rate`) and evaluates the iterate every ``every`` steps. Evaluation
consumes no randomness (eval mode, whole unaugmented splits), so the replayed iterates are the
run's own iterates: after the last replayed epoch the model equals the run's checkpoint there.

The table is cached as ``runs_dir/replay-<dataset>-<model>-<key>.csv`` (written atomically),
keyed by the run's key and ``(start_epoch, epochs, every)``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data import iterate_batches
from ..io import atomic_write_text
from .config import CACHE_VERSION, FieldCheck, TrainConfig, config_key
from .from_checkpoint import BranchConfig, _setup_branch, start_state
from .loop import evaluate_splits, train_epoch
from .runs import locked

__all__ = ["replay_steps", "replay_path"]


def _check(config: TrainConfig, start_epoch: int, epochs: int, every: int) -> None:
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    for name, value, low in (("start_epoch", start_epoch, 1), ("epochs", epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}={value!r} is invalid: must be an integer >= {low}")
    if start_epoch + epochs > config.epochs:
        raise ValueError(
            f"start_epoch + epochs = {start_epoch + epochs} is invalid: must be <= "
            f"config.epochs (= {config.epochs})"
        )
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every={every!r} is invalid: must be an integer >= 1 (steps)")
    FieldCheck(config)  # the config validated itself when it was built


def replay_path(
    config: TrainConfig, start_epoch: int, epochs: int, every: int, runs_dir: str | Path
) -> Path:
    """Where :func:`replay_steps` caches its table for these arguments."""
    key = config_key(
        {
            "run": config.key(),
            "start_epoch": start_epoch,
            "epochs": epochs,
            "every": every,
            "device": config.device,
        },
        CACHE_VERSION,
    )
    return Path(runs_dir) / f"replay-{config.dataset}-{config.model}-{key}.csv"


def replay_steps(
    config: TrainConfig,
    start_epoch: int,
    epochs: int,
    *,
    every: int = 1,
    runs_dir: str | Path = "runs",
) -> pd.DataFrame:
    r"""The run's SGD iterate evaluated every ``every`` steps of ``epochs`` epochs.

    Args:
        config: the run (any :class:`TrainConfig`; e.g. a cyclic SWA run).
        start_epoch: epochs trained before the replay (1-based count; the state comes from
            :func:`~swa_lib.training.from_checkpoint.start_state`, cached under ``runs_dir``).
        epochs: epochs to replay, ``start_epoch + epochs <= config.epochs``.
        every: evaluate after every this many steps (and after step 0, the start).

    Returns:
        One row per evaluation: ``step`` (steps since the start, 0 = the start),
        ``iteration`` (the run's global step count, ``start_epoch * K + step`` for ``K`` steps
        per epoch), ``epoch`` (fractional, ``iteration / K``), ``lr`` (the rate of the step
        just taken: :meth:`TrainConfig.learning_rate`; NaN at the start), and the
        ``sgd_{train,test}_{loss,accuracy,nll}`` columns of
        :func:`~swa_lib.training.loop.evaluate_splits` (accuracy a fraction).
    """
    _check(config, start_epoch, epochs, every)
    path = replay_path(config, start_epoch, epochs, every, runs_dir)
    with locked(path.with_suffix("")):
        if path.exists():
            return pd.read_csv(path)
        start = start_state(config, start_epoch, runs_dir)
        # a BranchConfig only to rebuild the state: model, optimiser, continued RNG streams
        shell = BranchConfig(config, start_epoch, epochs, swa_lr=config.lr_init)
        state = _setup_branch(shell, path.with_suffix(""), start)
        model, ds, gen, k = state.model, state.ds, state.gen, state.iters_per_epoch
        rows = [{"step": 0, "lr": float("nan"), **evaluate_splits(model, ds, "sgd")}]
        for e in range(start_epoch, start_epoch + epochs):

            def after(i: int, e: int = e) -> None:
                step = (e - start_epoch) * k + i + 1
                if step % every == 0:
                    row = evaluate_splits(model, ds, "sgd")
                    rows.append({"step": step, "lr": config.learning_rate(e, i, k), **row})
                    model.train()  # evaluation left it in eval mode; the epoch goes on

            batches = iterate_batches(
                ds.x_train, ds.y_train, config.batch_size, shuffle=True, generator=gen
            )
            train_epoch(
                model,
                state.optimizer,
                batches,
                lr_at=lambda i, e=e: config.learning_rate(e, i, k),
                augment=(lambda xb: ds.augment(xb, gen)) if config.augment else None,
                amp=config.amp,
                channels_last=config.channels_last,
                after_step=after,
            )
        frame = pd.DataFrame(rows)
        frame.insert(1, "iteration", start_epoch * k + frame["step"])
        frame.insert(2, "epoch", frame["iteration"] / k)
        atomic_write_text(path, frame.to_csv(index=False))
        return frame
