r"""Sharding a grid over the ranks of a ``torch.distributed`` process group.

Inside an initialised process group (gloo on CPU, nccl on GPU), or in a process started by
``torchrun`` (then the group is created on first use), the evaluators split the missing cells of
each round round-robin over the ranks -- rank ``r`` of ``W`` takes positions ``r, r + W, ...`` --
and combine the round with one ``all_reduce`` (a sum of per-rank arrays that are zero outside each
rank's rows), so every rank returns the array a single process would. Rank 0 loads the cache and
broadcasts it first; it alone writes the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Sharding", "sharding"]


@dataclass(frozen=True)
class Sharding:
    """This process's place in the group: ``rank`` of ``world`` ranks; ``comm`` is the device
    collectives run on (``None`` when not distributed)."""

    rank: int = 0
    world: int = 1
    comm: torch.device | None = None

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def positions(self, n: int) -> np.ndarray:
        """This rank's positions among ``n`` items: ``rank, rank + world, ...`` (round-robin)."""
        return np.arange(self.rank, n, self.world)

    def all_reduce(self, local: np.ndarray) -> np.ndarray:
        """The element-wise sum of every rank's ``local`` (float64), on every rank."""
        import torch.distributed as dist

        buf = torch.from_numpy(local).to(self.comm)
        dist.all_reduce(buf)
        return buf.cpu().numpy()

    def broadcast_cache(
        self, status: int, done: np.ndarray, values: np.ndarray
    ) -> tuple[int, np.ndarray, np.ndarray]:
        """Rank 0's cache state on every rank: its ``status`` (0 = loaded or absent, else its
        load failed) and, when 0, its ``done`` ``(N,)`` and ``values`` ``(N, M)``."""
        import torch.distributed as dist

        st = torch.tensor([status], dtype=torch.long, device=self.comm)
        dist.broadcast(st, 0)
        status = int(st.item())
        if status == 0:
            buf_done = torch.from_numpy(done.astype(np.uint8)).to(self.comm)
            buf_vals = torch.from_numpy(values).to(self.comm)
            dist.broadcast(buf_done, 0)
            dist.broadcast(buf_vals, 0)
            done = buf_done.cpu().numpy().astype(bool)
            values = buf_vals.cpu().numpy().copy()
        return status, done, values

    def local_device(self, device: torch.device) -> torch.device:
        """An index-less ``cuda`` device becomes ``cuda:LOCAL_RANK`` when distributed."""
        if self.world > 1 and device.type == "cuda" and device.index is None:
            local = int(os.environ.get("LOCAL_RANK", self.rank % max(torch.cuda.device_count(), 1)))
            return torch.device("cuda", local)
        return device


def sharding(distributed: bool | None, device: torch.device) -> Sharding:
    """The :class:`Sharding` to use.

    Args:
        distributed: ``None``: shard if a process group is initialised or the process was
            started by ``torchrun`` (``WORLD_SIZE > 1`` and ``MASTER_ADDR`` set; the group is then
            created, nccl for a CUDA ``device``, gloo otherwise); ``False``: never; ``True``:
            require it (``RuntimeError`` if there is no group).
        device: where the evaluation runs (chooses the backend of a group created here).
    """
    if distributed is False:
        return Sharding()
    import torch.distributed as dist

    if not dist.is_available():
        if distributed:
            raise RuntimeError("torch.distributed is not available in this build")
        return Sharding()
    if not dist.is_initialized():
        launched = int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ
        if not launched:
            if distributed:
                raise RuntimeError(
                    "distributed=True but no process group is initialised and "
                    "no torchrun environment (WORLD_SIZE, MASTER_ADDR) is set"
                )
            return Sharding()
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    world, rank = dist.get_world_size(), dist.get_rank()
    if world == 1:
        return Sharding()
    backend = str(dist.get_backend()).lower()
    comm = (
        torch.device("cuda", torch.cuda.current_device())
        if "nccl" in backend
        else torch.device("cpu")
    )
    return Sharding(rank, world, comm)
