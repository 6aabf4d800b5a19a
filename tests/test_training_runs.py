"""training.runs: the run folder -- lock, cache read, weights-only checkpoints, RNG, results."""

from __future__ import annotations

import fcntl
import json
import random

import numpy as np
import pandas as pd
import pytest
import torch
from training_fixtures import tiny as tiny_config

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
    """The shared tiny config, 3 epochs."""
    return tiny_config(root, **{"epochs": 3, **kw})


class Killed(RuntimeError):
    pass


def _kill(epoch, row):
    raise Killed


def _draws(gen: torch.Generator) -> tuple:
    return (
        random.random(),
        random.gauss(0, 1),
        np.random.rand(3).tolist(),
        np.random.randn(),
        torch.rand(3).tolist(),
        torch.rand(2, generator=gen).tolist(),
    )


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


def test_cached_run_returns_without_loading_data_or_training(
    tmp_path, mnist1d_root, monkeypatch
) -> None:
    cfg = tiny(mnist1d_root)
    first = run(cfg, tmp_path)

    def boom(*a, **k):
        raise AssertionError("a cached run must not load data or train")

    monkeypatch.setattr(runs_mod, "load_dataset", boom)
    monkeypatch.setattr(loop_mod, "train_epoch", boom)
    again = run(cfg, tmp_path)
    assert again.cached and again.final == first.final
    pd.testing.assert_frame_equal(
        again.metrics.drop(columns="epoch_time_s"),
        first.metrics.drop(columns="epoch_time_s"),
        check_exact=True,
    )


# -- what a folder records: served when it covers a request, retrained with the union if not ---


def _weights_equal(a, b) -> None:
    sa, sb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _evaluated(result) -> list[int]:
    m = result.metrics
    return [int(e) for e in m.loc[m["sgd_test_loss"].notna(), "epoch"]]


def test_sgd_baselines_differing_in_swa_only_fields_share_one_folder(
    tmp_path, mnist1d_root
) -> None:
    first = run(tiny(mnist1d_root, swa=False), tmp_path)
    other = run(
        tiny(
            mnist1d_root,
            swa=False,
            swa_lr=0.3,
            swa_start=1,
            swa_c_epochs=2,
            swa_lr_schedule="cyclic",
            swa_lr_max=0.5,
        ),
        tmp_path,
    )
    assert other.cached and other.path == first.path
    assert other.config.swa_lr == 0.3  # the caller's config, the folder's numbers
    assert len(list(tmp_path.iterdir())) == 1
    assert not run(tiny(mnist1d_root, swa=False, lr_init=0.04), tmp_path).cached


def test_run_recording_more_serves_a_request_for_less(tmp_path, mnist1d_root) -> None:
    every = run(tiny(mnist1d_root), tmp_path)
    final_only = run(tiny(mnist1d_root, eval_every=None), tmp_path)
    assert final_only.cached and final_only.path == every.path
    assert _evaluated(final_only) == [1, 2, 3]  # the folder holds more than was asked


def test_run_lacking_an_epoch_is_retrained_with_the_union(tmp_path, mnist1d_root) -> None:
    sparse = run(tiny(mnist1d_root, eval_every=None), tmp_path)
    assert _evaluated(sparse) == [3]
    more = run(tiny(mnist1d_root, eval_every=None, eval_epochs=(1,)), tmp_path)
    assert not more.cached and more.path == sparse.path
    assert _evaluated(more) == [1, 3]
    assert TrainConfig.from_dict(
        json.loads((more.path / "config.json").read_text())
    ).evaluated_epochs() == (1, 3)
    _weights_equal(sparse.path / "swa.pt", more.path / "swa.pt")  # same training path
    # the union serves both requests now, and a fresh every-epoch run agrees with it
    assert run(tiny(mnist1d_root, eval_every=None), tmp_path).cached
    ref = run(tiny(mnist1d_root), tmp_path / "ref")
    cols = ["running_train_loss", "sgd_test_loss", "swa_test_nll"]
    m, r = more.metrics.set_index("epoch"), ref.metrics.set_index("epoch")
    pd.testing.assert_frame_equal(m.loc[[1, 3], cols], r.loc[[1, 3], cols], check_exact=True)


def test_snapshots_asked_of_a_run_without_them_retrain_it(tmp_path, mnist1d_root) -> None:
    plain = run(tiny(mnist1d_root), tmp_path)
    assert plain.snapshot_paths() == []
    snaps = run(tiny(mnist1d_root, snapshots=True), tmp_path)
    assert not snaps.cached and snaps.path == plain.path and len(snaps.snapshot_paths()) == 2
    assert run(tiny(mnist1d_root), tmp_path).cached


def test_checkpoint_lacking_an_asked_epoch_restarts_else_resumes(tmp_path, mnist1d_root) -> None:
    ref = run(tiny(mnist1d_root), tmp_path / "ref")
    with pytest.raises(Killed):  # killed after epoch 1 of a final-only run
        run(tiny(mnist1d_root, eval_every=None), tmp_path / "a", callback=_kill)
    trained = []
    # the request now wants every epoch: epoch 1 was not evaluated, so it starts again
    again = run(tiny(mnist1d_root), tmp_path / "a", callback=lambda e, r: trained.append(e))
    assert trained == [0, 1, 2] and _evaluated(again) == [1, 2, 3]
    pd.testing.assert_frame_equal(
        again.metrics.drop(columns="epoch_time_s"),
        ref.metrics.drop(columns="epoch_time_s"),
        check_exact=True,
    )
    with pytest.raises(Killed):  # killed after epoch 1 of an every-epoch run
        run(tiny(mnist1d_root), tmp_path / "b", callback=_kill)
    trained.clear()
    # a final-only request resumes it, keeping the killed run's evaluations (config.json)
    resumed = run(
        tiny(mnist1d_root, eval_every=None), tmp_path / "b", callback=lambda e, r: trained.append(e)
    )
    assert trained == [1, 2] and _evaluated(resumed) == [1, 2, 3]
    _weights_equal(resumed.path / "swa.pt", ref.path / "swa.pt")


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
    with pytest.raises(
        ValueError,
        match=r"checkpoint .*checkpoint\.pt is corrupt or not a "
        r"weights-only file",
    ):
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
