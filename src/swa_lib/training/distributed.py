r"""A training run over the ranks of a ``torch.distributed`` group (DDP), equal to one process.

``swa_lib.training.run`` started by ``torchrun --nproc_per_node N`` (or inside an initialised
process group of ``N > 1`` ranks: gloo on the CPU, nccl on GPUs) trains with
``DistributedDataParallel``. :class:`Ranks` is this process's place in the group and every
step that differs from the single-process run; with one rank each of them is the
single-process code path, so a plain run is unchanged.

**The same numbers as one process** (to float rounding). ``batch_size`` stays the *global*
batch. Every rank holds the run's data generator with the same seed and draws each global
batch's permutation and augmentation from it, for the whole global batch; rank ``r`` then keeps
its slice :math:`B_r` (``tensor_split``: sizes differ by at most one in a smaller last batch)
and back-propagates :math:`\frac{W}{|B|}\sum_{i\in B_r}\ell_i`. DDP averages the gradients
over the ``W`` ranks, so every rank steps with

.. math:: \frac1W\sum_r \frac{W}{|B|}\sum_{i\in B_r}\nabla\ell_i = \frac1{|B|}\sum_{i\in B}
          \nabla\ell_i,

the single-process gradient of the global batch, whatever the split. A model with BatchNorm
is converted to ``SyncBatchNorm`` for training (statistics of the global batch; CUDA only in
PyTorch), a model with active dropout is refused (its masks would be per-rank draws, not the
single process's); the averages keep plain BatchNorm and recompute it with the distributed
:func:`~swa_lib.averaging.update_bn`.

**Averages.** SWA, EMA and SWAG are updated on every rank from that rank's model: DDP keeps
the parameters identical on all ranks (one broadcast at construction, then the same all-reduced
gradients and the same optimiser step), so the averages are identical too, with no
communication -- broadcasting rank 0's average would cost a model-sized transfer per update
and buy nothing -- and every rank can evaluate and resume them.

**Evaluation** is sharded: rank ``r`` scores a contiguous ``1/W`` of each split and one float64
all-reduce of the sums (cross-entropy, clamped NLL, correct predictions, count) gives every rank
the exact whole-set metrics. BN recomputation: the unaugmented batches of the single-process
pass, batch ``j`` on rank ``j mod W``, all-reduced by ``update_bn`` -- the union is the
single-process pass, so the statistics agree to rounding.

**Files.** Rank 0 alone takes the run folder's lock, reads the cache (its answer is broadcast),
writes ``config.json``, checkpoints (atomically), ``metrics.csv`` and the final files; every rank
resumes from the checkpoint itself (the run folder must be on a file system all ranks see). The
key and the folder do not involve the number of ranks, so a cached single-process run serves a
distributed call and the other way round; ``final.json`` records ``world_size``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import ArrayDataset, iterate_batches
from ..metrics import evaluate, predict_logits
from .config import resolve_device
from .runs import locked

__all__ = ["Ranks", "ranks_for"]

_EPS = 1e-12  # the probability clamp of swa_lib.metrics.nll


@dataclass(frozen=True)
class Ranks:
    """This process's place in a training run: ``rank`` of ``world`` ranks on ``device``.

    ``Ranks()`` (one rank) is the single-process run; every method is then the plain code path.
    ``comm`` is the device collectives run on (the CPU for gloo, the rank's GPU for nccl).
    """

    rank: int = 0
    world: int = 1
    device: str = "cpu"
    comm: str = "cpu"

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_writer(self) -> bool:
        """Rank 0 writes the run folder's files."""
        return self.rank == 0

    # -- coordination ---------------------------------------------------------------------------
    @contextmanager
    def lock(self, path: str | Path) -> Iterator[Path]:
        """The run folder's lock, held by rank 0 alone (a second launch of the same run, with
        any number of ranks, waits for it); the other ranks wait for rank 0 in
        :meth:`from_rank0`."""
        if self.is_writer:
            with locked(path) as p:
                yield p
        else:
            yield Path(path)

    def from_rank0(self, compute: Callable[[], Any]) -> Any:
        """``compute()`` on rank 0, its result (a picklable object) on every rank. An exception
        on rank 0 is raised on every rank (as ``ValueError`` with rank 0's message elsewhere),
        so no rank is left waiting in a collective."""
        if not self.distributed:
            return compute()
        import torch.distributed as dist

        box: list[Any] = [None]
        error: Exception | None = None
        if self.is_writer:
            try:
                box[0] = ("ok", compute())
            except Exception as exc:  # sent to the other ranks, re-raised below
                error, box[0] = exc, ("error", f"{type(exc).__name__}: {exc}")
        dist.broadcast_object_list(box, src=0)
        if error is not None:
            raise error
        status, value = box[0]
        if status == "error":
            raise ValueError(f"rank 0 failed: {value}")
        return value

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    # -- training -------------------------------------------------------------------------------
    def step_model(self, model: nn.Module, *, compile: bool = False) -> nn.Module:
        """The module the steps call: ``model`` itself (``torch.compile``-d when asked) or, with
        several ranks, ``DistributedDataParallel`` over it (BatchNorm made ``SyncBatchNorm`` in
        place, sharing ``model``'s parameters and buffers; active dropout refused)."""
        if self.distributed:
            _check_ddp_model(model, self.device)
            if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
                nn.SyncBatchNorm.convert_sync_batchnorm(model)  # children replaced in place
            ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
            model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        return torch.compile(model) if compile else model

    def shard(self) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor, float]] | None:
        """``train_epoch``'s ``shard``: ``(x, y)`` of a global batch -> this rank's slice and the
        factor ``W / |B|`` of its summed loss; ``None`` with one rank."""
        if not self.distributed:
            return None
        rank, world = self.rank, self.world

        def split(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, float]:
            return x.tensor_split(world)[rank], y.tensor_split(world)[rank], world / x.shape[0]

        return split

    def epoch_loss(self, loss: Any) -> tuple[float, int | None]:
        """``(running mean loss over the global batches, first non-finite step or None)`` of a
        :class:`~swa_lib.training.loop.EpochLoss`: with several ranks one float64 all-reduce of
        the summed losses and counts, and one of the first bad step (minimum over ranks)."""
        first = loss.first_nonfinite_step()
        if not self.distributed:
            return loss.mean, first
        import torch.distributed as dist

        sums = torch.stack(
            [
                loss.loss_sum.double().to(self.comm),
                torch.tensor(float(loss.n_samples), dtype=torch.float64, device=self.comm),
            ]
        )
        dist.all_reduce(sums)
        bad = torch.tensor([first if first is not None else 2**62], device=self.comm)
        dist.all_reduce(bad, op=dist.ReduceOp.MIN)
        total, n = sums.tolist()
        step = int(bad.item())
        return total / max(n, 1.0), (step if step < 2**62 else None)

    # -- evaluation -----------------------------------------------------------------------------
    def bn_batches(self, ds: ArrayDataset, batch_size: int) -> Iterable[tuple[Tensor, Tensor]]:
        """Unaugmented training batches in order (BN recomputation consumes no randomness);
        batch ``j`` goes to rank ``j mod W``, so the ranks' union is the single-process pass."""
        batches = iterate_batches(ds.x_train, ds.y_train, batch_size, shuffle=False)
        if not self.distributed:
            return batches
        return (b for j, b in enumerate(batches) if j % self.world == self.rank)

    def evaluate_splits(self, model: nn.Module, ds: ArrayDataset, prefix: str) -> dict[str, float]:
        """``{prefix}_{train|test}_{loss|accuracy|nll}``: exact whole-set metrics of the
        *unaugmented* splits in eval mode (accuracy a fraction), each rank scoring a shard."""
        row: dict[str, float] = {}
        for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
            m = evaluate(model, x, y) if not self.distributed else self._sharded(model, x, y)
            row.update({f"{prefix}_{split}_{k}": m[k] for k in ("loss", "accuracy", "nll")})
        return row

    def _sharded(self, model: nn.Module, x: Tensor, y: Tensor) -> dict[str, float]:
        r"""Sums over this rank's contiguous shard, all-reduced in float64: ``loss`` = mean CE,
        ``nll`` = mean :math:`-\log\max(p_y, 10^{-12})`, ``accuracy`` = correct / N."""
        import torch.distributed as dist

        xs, ys = x.tensor_split(self.world)[self.rank], y.tensor_split(self.world)[self.rank]
        logits = predict_logits(model, xs).double()
        ys = ys.to(logits.device)
        ce = F.cross_entropy(logits, ys, reduction="sum")
        p = F.softmax(logits, dim=1).gather(1, ys.long().view(-1, 1)).clamp_min(_EPS)
        correct = (logits.argmax(1) == ys).double().sum()
        sums = torch.stack(
            [
                ce,
                (-p.log()).sum(),
                correct,
                torch.tensor(float(ys.shape[0]), dtype=torch.float64, device=logits.device),
            ]
        ).to(self.comm)
        dist.all_reduce(sums)
        ce_sum, nll_sum, n_correct, n = sums.tolist()
        acc = n_correct / n
        return {"loss": ce_sum / n, "nll": nll_sum / n, "accuracy": acc, "error": 1.0 - acc}


def _check_ddp_model(model: nn.Module, device: str) -> None:
    """Refuse what would make the ranks' run differ from the single-process one."""
    dropout = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0
    ]
    if dropout:
        raise ValueError(
            f"a model with dropout ({', '.join(dropout)}) cannot train over several ranks here: "
            f"each rank would draw its own masks, so the run would not be the single-process run "
            f"its cache key names; train it in one process (or set its dropout to 0)"
        )
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if has_bn and not device.startswith("cuda"):
        raise ValueError(
            "a model with BatchNorm trains over several ranks with SyncBatchNorm (the statistics "
            "of the global batch, as one process computes them), which PyTorch runs on CUDA "
            "only: use device='cuda' with the nccl backend, or train it in one process"
        )


def ranks_for(config: Any) -> Ranks:
    """This process's :class:`Ranks` for ``config`` (its ``device`` and ``batch_size``).

    One rank unless a process group of more than one rank is initialised, or the process was
    started by ``torchrun`` (``WORLD_SIZE > 1`` and ``MASTER_ADDR`` set) -- then the group is
    created here: nccl for a CUDA device (rank ``r`` on ``cuda:LOCAL_RANK``), gloo otherwise.

    Raises ``ValueError`` for an inconsistent launch: ``batch_size`` not divisible by the world
    size; a CUDA device with the gloo backend, or the CPU with nccl; ``device="cuda:N"`` with
    several ranks (use ``"cuda"``: each rank takes its local GPU); more ranks on a node than
    GPUs; ranks whose configs differ.
    """
    import torch.distributed as dist

    device = resolve_device(config.device)
    if not dist.is_available():
        return Ranks(device=device)
    if not dist.is_initialized():
        launched = int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ
        if not launched:
            return Ranks(device=device)
        if device.startswith("cuda"):
            torch.cuda.set_device(_local_gpu(device))
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    world, rank = dist.get_world_size(), dist.get_rank()
    if world == 1:
        return Ranks(device=device)
    backend = str(dist.get_backend()).lower()
    name = type(config).__name__
    if device.startswith("cuda"):
        if "nccl" not in backend:
            raise ValueError(
                f"{name}.device={config.device!r} is invalid with the {backend} "
                f"process group: CUDA training over ranks needs nccl (or train "
                f"on device='cpu' with gloo)"
            )
        device = f"cuda:{_local_gpu(device)}"
        comm = device
    else:
        if "gloo" not in backend:
            raise ValueError(
                f"{name}.device={config.device!r} is invalid with the {backend} "
                f"process group: CPU training over ranks needs gloo"
            )
        comm = "cpu"
    if config.batch_size % world:
        raise ValueError(
            f"{name}.batch_size={config.batch_size} is invalid: the global batch "
            f"is split over {world} ranks, so it must be a multiple of {world}"
        )
    keys: list[Any] = [None] * world
    dist.all_gather_object(keys, config.key())
    if len(set(keys)) > 1:
        raise ValueError(
            f"the ranks train different configs (keys by rank: {keys}); launch "
            f"every rank with the same arguments"
        )
    return Ranks(rank, world, device, comm)


def _local_gpu(device: str) -> int:
    """This rank's GPU index: ``LOCAL_RANK``; ``ValueError`` for ``cuda:N`` or too few GPUs."""
    if device != "cuda":
        raise ValueError(
            f"device={device!r} is invalid over several ranks: pass 'cuda' (or "
            f"'auto'), each rank then uses cuda:LOCAL_RANK"
        )
    local, count = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
    if local >= count:
        raise ValueError(
            f"LOCAL_RANK={local} but {count} GPU(s) are visible: launch at most "
            f"{count} ranks per node (torchrun --nproc_per_node {count})"
        )
    return local
