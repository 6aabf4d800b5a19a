"""training.distributed: ``run`` over 2 gloo ranks equals the single-process run (the reference),
a killed 2-rank run resumes to the same result, the cache serves either way, inconsistent
launches are clear errors, and the sharded evaluation / BN recomputation match one process.

The ranks are child processes that set the variables ``torchrun`` sets (``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``...), so ``run`` creates the process group itself, as under
``torchrun --nproc_per_node 2 -m swa_lib.cli train ...``. Three launches of two ranks, forked
(about 1 s each on a 2-core machine); the differences and wall times are printed (``-s``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from swa_lib.training import TrainConfig, run
from swa_lib.training.distributed import Ranks, _check_ddp_model, _local_gpu
from swa_lib.training.runs import run_dir_for

WORLD = 2


def config(root: str, **kw) -> TrainConfig:
    """A tiny MLP (no BatchNorm, no dropout): 320 training samples, 5 global batches of 64."""
    base = dict(
        dataset="mnist1d",
        model="mlp",
        epochs=3,
        swa_start=2,
        swa_lr=0.02,
        lr_init=0.05,
        batch_size=64,
        num_samples=400,
        data_root=root,
        model_kw={"hidden": [16, 16]},
        ema_decay=0.9,
        collect_swag=True,
        swag_rank=2,
    )
    base.update(kw)
    return TrainConfig(**base)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_torchrun(rank: int, port: int) -> None:
    """The environment ``torchrun --nproc_per_node 2`` gives rank ``rank``."""
    torch.set_num_threads(1)
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(WORLD),
            "LOCAL_WORLD_SIZE": str(WORLD),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )


def _finish() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


# -- the rank processes -------------------------------------------------------------------------


def _cli_worker(rank: int, port: int, root: str, runs: str) -> None:
    """An uninterrupted 2-rank run through the command line, as torchrun would start it."""
    _as_torchrun(rank, port)
    from swa_lib import cli

    try:
        argv = [
            "train",
            "--dataset",
            "mnist1d",
            "--model",
            "mlp",
            "--model-kw",
            '{"hidden": [16, 16]}',
            "--epochs",
            "3",
            "--swa-start",
            "2",
            "--swa-lr",
            "0.02",
            "--lr-init",
            "0.05",
            "--batch-size",
            "64",
            "--num-samples",
            "400",
            "--ema-decay",
            "0.9",
            "--collect-swag",
            "true",
            "--swag-rank",
            "2",
            "--data-root",
            root,
            "--runs-dir",
            runs,
            "--no-progress",
        ]
        assert cli.main(argv) == 0
    finally:
        _finish()


def _checks_then_killed_worker(rank: int, port: int, root: str, runs: str, out: str) -> None:
    """Inconsistent launches (each a ValueError on every rank), the sharded evaluation and BN
    pass, then a run killed (``os._exit``) right after its first checkpoint."""
    _as_torchrun(rank, port)
    import torch.distributed as dist

    from swa_lib.averaging import update_bn
    from swa_lib.models import build_model
    from swa_lib.training.distributed import ranks_for
    from swa_lib.training.runs import dataset_of

    errors = {}
    for name, cfg in (("batch", config(root, batch_size=63)), ("seeds", config(root, seed=rank))):
        try:
            ranks_for(cfg)
        except ValueError as exc:
            errors[name] = str(exc)
    real = torch.cuda.is_available
    torch.cuda.is_available = lambda: True  # a CUDA config on this CPU machine, with gloo
    try:
        ranks_for(config(root, device="cuda"))
    except ValueError as exc:
        errors["cuda_gloo"] = str(exc)
    finally:
        torch.cuda.is_available = real
    # sharded evaluation and the distributed BN pass of a BatchNorm model
    ranks = ranks_for(config(root))
    ds = dataset_of(config(root), augment=False)
    torch.manual_seed(3)
    model = build_model("cnn1d", ds.num_classes, width=4).eval()
    metrics = ranks.evaluate_splits(model, ds, "m")
    update_bn(model, ranks.bn_batches(ds, 64))
    bn = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    torch.save({"errors": errors, "metrics": metrics, "bn": bn}, Path(out) / f"checks{rank}.pt")

    def kill(epoch, row):
        if epoch == 0:
            dist.barrier()  # rank 0 has written the checkpoint: now "kill" both ranks
            os._exit(17)

    run(config(root), runs, callback=kill)


def _resume_worker(rank: int, port: int, root: str, runs: str, cached_runs: str, out: str) -> None:
    """Resume the killed run; then ask for a run a single process trained (a cache hit), and
    train one that diverges (every rank must stop, at the same step)."""
    _as_torchrun(rank, port)
    from swa_lib.training import TrainingDiverged

    try:
        trained = []
        res = run(config(root), runs, callback=lambda e, r: trained.append(e))
        hit = run(config(root), cached_runs)
        try:
            run(config(root, swa_lr=1e5), Path(out) / "diverged")
            diverged = None
        except TrainingDiverged as exc:
            diverged = [exc.epoch, exc.iteration]
        Path(out, f"resume{rank}.json").write_text(
            json.dumps(
                {
                    "trained": trained,
                    "path": str(res.path),
                    "world_size": res.final["world_size"],
                    "cached": hit.cached,
                    "wall_time_s": res.final["wall_time_s"],
                    "diverged": diverged,
                    "swa": {
                        k: v.tolist()
                        for k, v in torch.load(Path(res.path) / "swa.pt", weights_only=True).items()
                    },
                }
            )
        )
    finally:
        _finish()


# -- the runs, once per module --------------------------------------------------------------------


def _spawn(fn, *args) -> float:
    """Start ``WORLD`` ranks of ``fn`` and wait; the seconds it took. Forked (no imports to
    repeat: a launch takes about a second) unless this process has initialised CUDA, which a
    forked child cannot use."""
    method = "spawn" if torch.cuda.is_initialized() else "fork"
    t0 = time.perf_counter()
    mp.start_processes(fn, args=(_free_port(), *args), nprocs=WORLD, join=True, start_method=method)
    return time.perf_counter() - t0


@pytest.fixture(scope="module")
def ddp(tmp_path_factory, mnist1d_root):
    """The single-process reference, the uninterrupted 2-rank run, the killed and resumed one."""
    tmp = tmp_path_factory.mktemp("ddp")
    root = str(mnist1d_root)
    run(config(root, seed=1), tmp / "warm-up")  # first-call costs, which forked ranks inherit
    t0 = time.perf_counter()
    single = run(config(root), tmp / "single")
    single_s = time.perf_counter() - t0
    full_s = _spawn(_cli_worker, root, str(tmp / "full"))
    with pytest.raises(mp.ProcessExitedException, match="exit code 17"):
        _spawn(_checks_then_killed_worker, root, str(tmp / "killed"), str(tmp))
    killed_folder = run_dir_for(config(root), tmp / "killed")
    left = sorted(p.name for p in killed_folder.iterdir())
    resume_s = _spawn(_resume_worker, root, str(tmp / "killed"), str(tmp / "single"), str(tmp))
    return {
        "tmp": tmp,
        "root": root,
        "single": single,
        "single_s": single_s,
        "full_s": full_s,
        "resume_s": resume_s,
        "left_by_kill": left,
    }


def _weights(folder: Path, which: str) -> dict[str, torch.Tensor]:
    return torch.load(folder / f"{which}.pt", weights_only=True)


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_two_ranks_equal_the_single_process_run(ddp) -> None:
    single = ddp["single"]
    folder = run_dir_for(single.config, ddp["tmp"] / "full")
    assert folder.name == single.path.name  # the same key: the world size is not in it
    final = json.loads((folder / "final.json").read_text())
    assert final["world_size"] == 2 and single.final["world_size"] == 1
    diffs = {
        which: _max_diff(_weights(folder, which), _weights(single.path, which))
        for which in ("sgd", "swa", "ema")
    }
    swag_a = torch.load(folder / "swag.pt", weights_only=True)
    swag_b = torch.load(single.path / "swag.pt", weights_only=True)
    diffs["swag_mean"] = (swag_a["mean"] - swag_b["mean"]).abs().max().item()
    print(
        f"\n2 gloo ranks vs 1 process: max |diff| of the final weights {diffs}; wall time "
        f"1 process {ddp['single_s']:.1f} s (training {single.final['wall_time_s']:.1f} s), "
        f"2 ranks {ddp['full_s']:.1f} s with start-up (training {final['wall_time_s']:.1f} s)"
    )
    assert diffs["swa"] < 1e-6 and max(diffs.values()) < 1e-6
    assert final["swa_n"] == single.final["swa_n"] == 2
    for k in ("sgd_test_accuracy", "swa_test_accuracy", "ema_test_accuracy"):
        assert final[k] == single.final[k], k
    for k in ("sgd_train_loss", "swa_test_nll", "ema_test_loss"):
        assert final[k] == pytest.approx(single.final[k], rel=1e-6, abs=0), k
    # and the result is not trivially equal: training moved the weights
    assert _max_diff(_weights(folder, "swa"), _weights(folder, "sgd")) > 1e-3


def test_killed_two_rank_run_resumes_to_the_same_result(ddp) -> None:
    tmp, single = ddp["tmp"], ddp["single"]
    assert "checkpoint.pt" in ddp["left_by_kill"] and "final.json" not in ddp["left_by_kill"]
    reports = [json.loads((tmp / f"resume{r}.json").read_text()) for r in range(WORLD)]
    for rep in reports:
        assert rep["trained"] == [1, 2] and rep["world_size"] == 2  # resumed after epoch 1
    swa_ranks = [{k: torch.tensor(v) for k, v in rep["swa"].items()} for rep in reports]
    folder = Path(reports[0]["path"])
    full = run_dir_for(single.config, tmp / "full")
    resumed_vs_full = _max_diff(_weights(folder, "swa"), _weights(full, "swa"))
    resumed_vs_single = _max_diff(_weights(folder, "swa"), _weights(single.path, "swa"))
    print(
        f"\nkilled 2-rank run, resumed: max |diff| of the SWA weights vs the uninterrupted "
        f"2-rank run {resumed_vs_full:.2e}, vs 1 process {resumed_vs_single:.2e}; resume "
        f"launch {ddp['resume_s']:.1f} s (training {reports[0]['wall_time_s']:.1f} s)"
    )
    assert resumed_vs_full == 0.0 and resumed_vs_single < 1e-6
    assert _max_diff(swa_ranks[0], swa_ranks[1]) == 0.0  # every rank's average is identical
    assert not (folder / "checkpoint.pt").exists()


def test_the_cache_serves_a_run_whatever_its_number_of_ranks(ddp) -> None:
    tmp, root = ddp["tmp"], ddp["root"]
    assert all(json.loads((tmp / f"resume{r}.json").read_text())["cached"] for r in range(WORLD))
    again = run(config(root), tmp / "full")  # trained by 2 ranks, read by one process
    assert again.cached and again.final["world_size"] == 2


def test_a_diverging_two_rank_run_stops_every_rank_where_one_process_stops(ddp) -> None:
    from swa_lib.training import TrainingDiverged

    tmp, root = ddp["tmp"], ddp["root"]
    with pytest.raises(TrainingDiverged) as single:
        run(config(root, swa_lr=1e5), tmp / "diverged-single")
    where = [single.value.epoch, single.value.iteration]
    assert where == [3, 3]
    for r in range(WORLD):
        assert json.loads((tmp / f"resume{r}.json").read_text())["diverged"] == where
    folder = run_dir_for(config(root, swa_lr=1e5), tmp / "diverged")
    assert (folder / "checkpoint.pt").exists() and not (folder / "final.json").exists()


def test_inconsistent_launches_are_clear_errors_on_every_rank(ddp) -> None:
    checks = [torch.load(ddp["tmp"] / f"checks{r}.pt", weights_only=True) for r in range(WORLD)]
    for c in checks:
        errors = c["errors"]
        assert errors["batch"].startswith(
            "TrainConfig.batch_size=63 is invalid: the global batch is split over 2 ranks"
        )
        assert errors["seeds"].startswith("the ranks train different configs")
        assert errors["cuda_gloo"].startswith(
            "TrainConfig.device='cuda' is invalid with the gloo process group"
        )
    with pytest.raises(ValueError, match="pass 'cuda'"):
        _local_gpu("cuda:1")
    with pytest.raises(ValueError, match="dropout"):
        _check_ddp_model(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.1)), "cuda:0")
    _check_ddp_model(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.0)), "cpu")  # p = 0 is fine
    with pytest.raises(ValueError, match="SyncBatchNorm"):
        _check_ddp_model(nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2)), "cpu")


def test_sharded_evaluation_and_bn_pass_equal_one_process(ddp) -> None:
    from swa_lib.averaging import update_bn
    from swa_lib.models import build_model
    from swa_lib.training.runs import dataset_of

    root = ddp["root"]
    ds = dataset_of(config(root), augment=False)
    torch.manual_seed(3)
    model = build_model("cnn1d", ds.num_classes, width=4).eval()
    metrics = Ranks().evaluate_splits(model, ds, "m")
    update_bn(model, Ranks().bn_batches(ds, 64))
    bn = {k: v for k, v in model.state_dict().items() if "running" in k}
    for r in range(WORLD):
        c = torch.load(ddp["tmp"] / f"checks{r}.pt", weights_only=True)
        assert c["metrics"].keys() == metrics.keys()
        for k, v in metrics.items():
            assert c["metrics"][k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
        for k, v in bn.items():
            torch.testing.assert_close(c["bn"][k], v, rtol=1e-5, atol=1e-6)
