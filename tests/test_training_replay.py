"""swa_lib.training.replay: the replayed iterates are the run's own, evaluated inside epochs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from training_fixtures import tiny

from swa_lib.schedules import cyclic_lr
from swa_lib.training import run
from swa_lib.training.replay import replay_path, replay_steps


def _cyclic(root):
    # cycles of 1 epoch from swa_start = 2: the rate falls from 0.05 to 0.01 inside each epoch
    return tiny(
        root,
        epochs=4,
        swa_start=2,
        swa_lr=0.01,
        swa_lr_schedule="cyclic",
        swa_lr_max=0.05,
        eval_every=1,
    )


def test_replay_reproduces_the_run_and_its_cyclic_rate(mnist1d_root, tmp_path) -> None:
    cfg = _cyclic(mnist1d_root)
    res = run(cfg, tmp_path)
    frame = replay_steps(cfg, 2, 2, every=3, runs_dir=tmp_path)
    k = math.ceil(int(res.final["n_train"]) / cfg.batch_size)  # steps per epoch
    # the start row and one row every 3 steps of the 2 epochs
    assert list(frame["step"]) == [0] + list(range(3, 2 * k + 1, 3))
    np.testing.assert_array_equal(frame["iteration"], 2 * k + frame["step"])
    # the rate of each step: brute force from the paper's Eq. 2 (phase-aligned cycles of k steps)
    for step, lr in zip(frame["step"][1:], frame["lr"][1:]):
        epoch, i = 2 + (step - 1) // k, (step - 1) % k
        global_i = (epoch - (cfg.swa_start - 1)) * k + i + 1
        expected = cyclic_lr(global_i, lr_max=0.05, lr_min=0.01, cycle=k)
        assert lr == pytest.approx(expected, rel=1e-12)
    # evaluation inside the epochs does not change training: the epoch ends match the run
    metrics = res.metrics.set_index("epoch")
    ends = replay_steps(cfg, 2, 2, every=k, runs_dir=tmp_path)
    assert list(ends["step"]) == [0, k, 2 * k]
    for epoch, loss in zip((2, 3, 4), ends["sgd_test_loss"]):
        assert float(loss) == pytest.approx(metrics.loc[epoch, "sgd_test_loss"], rel=1e-5)
    row0 = frame.iloc[0]
    assert float(row0["sgd_test_loss"]) == pytest.approx(metrics.loc[2, "sgd_test_loss"], rel=1e-5)
    # cached: the second call reads the file
    assert replay_path(cfg, 2, 2, 3, tmp_path).exists()
    again = replay_steps(cfg, 2, 2, every=3, runs_dir=tmp_path)
    pd.testing.assert_frame_equal(again, frame, check_dtype=False)


def test_replay_every_step_ends_on_the_runs_final_iterate(mnist1d_root, tmp_path) -> None:
    cfg = _cyclic(mnist1d_root)
    res = run(cfg, tmp_path)
    frame = replay_steps(cfg, 3, 1, every=1, runs_dir=tmp_path)
    last = frame.iloc[-1]
    assert float(last["sgd_test_loss"]) == pytest.approx(res.final["sgd_test_loss"], rel=1e-5)
    assert float(last["lr"]) == pytest.approx(0.01)  # the cycle ends at the minimum rate


def test_replay_checks_its_arguments(mnist1d_root, tmp_path) -> None:
    cfg = _cyclic(mnist1d_root)
    with pytest.raises(ValueError, match="start_epoch"):
        replay_steps(cfg, 0, 1, runs_dir=tmp_path)
    with pytest.raises(ValueError, match="config.epochs"):
        replay_steps(cfg, 3, 2, runs_dir=tmp_path)
    with pytest.raises(ValueError, match="every"):
        replay_steps(cfg, 1, 1, every=0, runs_dir=tmp_path)
