"""swa_lib.landscape.distributed: two gloo ranks return what a single process returns, each cell
evaluated once."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.multiprocessing as mp
from landscape_fixtures import tiny_bn_cnn, tiny_data, tiny_plane

from swa_lib import landscape as L


def _shard_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        model = tiny_bn_cnn()
        w0, d1, d2 = tiny_plane(model)
        s = L.evaluate_plane(
            model,
            w0,
            d1,
            d2,
            np.linspace(-1, 1, 3),
            np.linspace(-1, 1, 3),
            data=tiny_data(),
            bn_recompute=True,
            bn_batch_size=32,
            points_per_pass=2,
            checkpoint_every=4,
            cache=os.path.join(out_dir, "cache"),
            progress=False,
        )
        np.savez(
            os.path.join(out_dir, f"rank{rank}.npz"),
            train_loss=s["train_loss"],
            test_err=s["test_err"],
            evaluated=s.evaluated,
        )
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_equal_single_process(tmp_path):
    mp.spawn(_shard_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    model = tiny_bn_cnn()
    w0, d1, d2 = tiny_plane(model)
    single = L.evaluate_plane(
        model,
        w0,
        d1,
        d2,
        np.linspace(-1, 1, 3),
        np.linspace(-1, 1, 3),
        data=tiny_data(),
        bn_recompute=True,
        bn_batch_size=32,
        points_per_pass=2,
        progress=False,
        distributed=False,
    )
    evaluated = 0
    for rank in range(2):
        with np.load(tmp_path / f"rank{rank}.npz") as z:
            np.testing.assert_allclose(z["train_loss"], single["train_loss"], atol=1e-6, rtol=0)
            np.testing.assert_array_equal(z["test_err"], single["test_err"])
            evaluated += int(z["evaluated"])
    assert evaluated == 9  # each cell once, over both ranks
    # rank 0 wrote the complete cache; a single process reuses it without evaluating
    cached = L.evaluate_plane(
        model,
        w0,
        d1,
        d2,
        np.linspace(-1, 1, 3),
        np.linspace(-1, 1, 3),
        data=tiny_data(),
        bn_recompute=True,
        bn_batch_size=32,
        cache=tmp_path / "cache",
        progress=False,
        distributed=False,
    )
    assert cached.evaluated == 0
