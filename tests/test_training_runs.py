"""training.runs: the run folder -- lock, cache read, weights-only checkpoints, RNG, results."""

from __future__ import annotations

import fcntl
import random

import numpy as np
import pandas as pd
import pytest
import torch

from swa_lib.training import TrainConfig, run
from swa_lib.training import loop as loop_mod
from swa_lib.training import runs as runs_mod
from swa_lib.training.runs import (
    load_weights,
    locked,
    make_generator,
    read_final,
    rng_state,
    run_dir_for,
    seed_everything,
    set_rng_state,
)


def tiny(root, **kw) -> TrainConfig:
    base = dict(dataset="mnist1d", model="cnn1d", epochs=3, swa_start=2, swa_lr=0.02,
                lr_init=0.05, batch_size=64, num_samples=400, data_root=str(root),
                model_kw={"width": 8})
    base.update(kw)
    return TrainConfig(**base)


class Killed(RuntimeError):
    pass


def _kill(epoch, row):
    raise Killed


def _draws(gen: torch.Generator) -> tuple:
    return (random.random(), random.gauss(0, 1), np.random.rand(3).tolist(),
            np.random.randn(), torch.rand(3).tolist(), torch.rand(2, generator=gen).tolist())


# -- lock and cache read ------------------------------------------------------------------------

def test_lock_is_exclusive_and_released(tmp_path) -> None:
    def try_lock() -> bool:
        with open(tmp_path / "run" / ".lock", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(f, fcntl.LOCK_UN)
            return True

    with locked(tmp_path / "run") as path:
        assert path.is_dir() and not try_lock()
    assert try_lock()
    with pytest.raises(Killed), locked(tmp_path / "run"):
        raise Killed
    assert try_lock()  # released when the block raises


def test_read_final_absent_valid_and_corrupt(tmp_path) -> None:
    assert read_final(tmp_path) is None
    (tmp_path / "final.json").write_text('{"a": 1}')
    assert read_final(tmp_path) == {"a": 1}
    (tmp_path / "final.json").write_text('{"a": ')
    with pytest.raises(ValueError, match=r"final\.json is corrupt"):
        read_final(tmp_path)


def test_cached_run_returns_without_loading_data_or_training(tmp_path, mnist1d_root,
                                                             monkeypatch) -> None:
    cfg = tiny(mnist1d_root)
    first = run(cfg, tmp_path)

    def boom(*a, **k):
        raise AssertionError("a cached run must not load data or train")

    monkeypatch.setattr(runs_mod, "load_dataset", boom)
    monkeypatch.setattr(loop_mod, "train_epoch", boom)
    again = run(cfg, tmp_path)
    assert again.cached and again.final == first.final
    pd.testing.assert_frame_equal(again.metrics.drop(columns="epoch_time_s"),
                                  first.metrics.drop(columns="epoch_time_s"), check_exact=True)


# -- RNG state ----------------------------------------------------------------------------------

def test_rng_state_roundtrips_through_a_weights_only_file(tmp_path) -> None:
    seed_everything(3)
    gen = make_generator("cpu", 3)
    _draws(gen)
    random.gauss(0, 1)  # leave a cached Gaussian in Python's and NumPy's state
    np.random.randn()
    torch.save(rng_state(gen), tmp_path / "rng.pt")
    expected = _draws(gen)
    seed_everything(99)  # move everything elsewhere
    gen = make_generator("cpu", 99)
    set_rng_state(load_weights(tmp_path / "rng.pt"), gen)
    assert _draws(gen) == expected


# -- checkpoints --------------------------------------------------------------------------------

def test_checkpoint_is_plain_data_and_loads_weights_only(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root, ema_decay=0.9)
    with pytest.raises(Killed):
        run(cfg, tmp_path, callback=_kill)
    ckpt_file = run_dir_for(cfg, tmp_path) / "checkpoint.pt"
    ckpt = torch.load(ckpt_file, weights_only=True)  # raises if anything else was pickled
    assert ckpt["key"] == cfg.key() and ckpt["epoch"] == 0 and len(ckpt["rows"]) == 1
    assert {"model", "optimizer", "swa", "ema", "rng"} <= set(ckpt)
    assert len(ckpt["rng"]["numpy"]["keys"]) == 624 and len(ckpt["rng"]["python"]["state"]) == 625


class _Payload:
    """Unpickling it (with weights_only=False) creates a file: stands for arbitrary code."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoint_with_a_pickled_object_is_refused_unexecuted(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root)
    with pytest.raises(Killed):
        run(cfg, tmp_path, callback=_kill)
    ckpt_file = run_dir_for(cfg, tmp_path) / "checkpoint.pt"
    marker = tmp_path / "executed"
    ckpt = torch.load(ckpt_file, weights_only=True)
    ckpt["rows"] = [_Payload(marker)]
    torch.save(ckpt, ckpt_file)
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoint\.pt is corrupt or not a "
                                         r"weights-only file"):
        run(cfg, tmp_path)
    assert not marker.exists()
    torch.load(ckpt_file, weights_only=False)  # the payload is live: the refusal mattered
    assert marker.exists()


def test_corrupt_checkpoint_names_the_file_and_loses_nothing(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root)
    with pytest.raises(Killed):
        run(cfg, tmp_path, callback=_kill)
    ckpt = run_dir_for(cfg, tmp_path) / "checkpoint.pt"
    ckpt.write_bytes(b"not a checkpoint")
    metrics_before = (ckpt.parent / "metrics.csv").read_text()
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoint\.pt is corrupt"):
        run(cfg, tmp_path)
    assert (ckpt.parent / "metrics.csv").read_text() == metrics_before  # nothing lost


def test_checkpoint_of_another_config_is_refused(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root)
    with pytest.raises(Killed):
        run(cfg, tmp_path, callback=_kill)
    ckpt_file = run_dir_for(cfg, tmp_path) / "checkpoint.pt"
    ckpt = torch.load(ckpt_file, weights_only=True)
    ckpt["key"] = "0123456789ab"
    torch.save(ckpt, ckpt_file)
    with pytest.raises(ValueError, match="does not belong to this config"):
        run(cfg, tmp_path)


# -- results ------------------------------------------------------------------------------------

def test_run_result_loads_models_swag_and_dataset(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root, epochs=4, collect_swag=True, swag_rank=2, ema_decay=0.9)
    res = run(cfg, tmp_path)
    assert res.saved_models() == ["ema", "sgd", "swa", "swag"]
    for which in ("sgd", "swa", "ema"):
        saved = torch.load(res.path / f"{which}.pt", weights_only=True)
        loaded = res.load_model(which).state_dict()
        assert all(torch.equal(saved[k], loaded[k]) for k in saved)
    with pytest.raises(FileNotFoundError, match=r"this run saved \['ema', 'sgd', 'swa', 'swag'\]"):
        res.load_model("fge")
    swag = res.load_swag()
    state = torch.load(res.path / "swag.pt", weights_only=True)
    assert swag.rank == 2 and torch.equal(swag.mean.to(state["mean"].dtype), state["mean"])
    # SWAG's mean is the running mean of the same iterates SWA averaged (3 of them)
    swa = res.load_model("swa")
    flat = torch.cat([p.detach().flatten() for p in swa.parameters()]).double()
    torch.testing.assert_close(swag.mean.double(), flat, rtol=1e-5, atol=1e-6)
    ds = res.dataset()
    assert ds.augmentation is None and ds.x_train.shape[0] + ds.x_test.shape[0] == 400
    with pytest.raises(FileNotFoundError, match="did not collect SWAG"):
        run(tiny(mnist1d_root, epochs=2, swa_start=1), tmp_path).load_swag()
