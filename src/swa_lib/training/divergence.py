"""A run whose training loss stops being finite: :class:`TrainingDiverged`.

A learning rate far too large sends the weights to infinity within a few steps; every later loss
is NaN, and a run that carried on would cache NaN metrics as a finished result. :func:`~swa_lib.
training.run` checks each epoch's losses once at its end (no per-step host synchronisation: the
losses stay on the device until then), raises :class:`TrainingDiverged` naming the first
non-finite step, keeps the last checkpoint written before it (a good state) and writes no
``final.json``, so nothing of the diverged epoch is cached.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """The training loss (or, for ``iteration=None``, the evaluated model) is NaN or infinite.

    Attributes:
        epoch: the epoch it happened in, 1-based (the ``epoch`` column of ``metrics.csv``).
        iteration: the first step of that epoch whose mini-batch loss is not finite, 1-based;
            ``None`` when every step's loss was finite but the weights after the epoch evaluate
            to a non-finite loss (the last step overflowed).
        loss: the offending value (``nan``, ``inf``).
        path: the run folder (its checkpoint, if any, is the last good state).
    """

    def __init__(
        self, epoch: int, iteration: int | None, loss: float, path: str | Path | None = None
    ) -> None:
        self.epoch, self.iteration, self.loss = int(epoch), iteration, float(loss)
        self.path = Path(path) if path is not None else None
        where = (
            f"the mini-batch loss of iteration {iteration} of epoch {epoch} is {loss}"
            if iteration is not None
            else f"the weights after epoch {epoch} evaluate to a training loss of {loss}"
        )
        kept = (
            ""
            if self.path is None
            else (
                f"; {self.path} keeps its last checkpoint from before that epoch (if one was "
                f"written) and no final.json"
            )
        )
        super().__init__(
            f"training diverged: {where}{kept}. Lower lr_init / swa_lr (or use "
            f"amp=False) and run again."
        )


TrainingDiverged.__module__ = "swa_lib.training"  # its public home
