"""The stale-BatchNorm guard of an average: refuse an empty average, warn on stale statistics.

After ``update`` (with ``use_buffers=False``, the default) an average's BatchNorm running
statistics are those of the *last model* folded in, copied; they do not describe the activations
of the averaged weights (Izmailov et al. 2018 recompute them with one additional pass over the
training data after training; torch's ``swa_utils`` documentation says the same, but nothing
there stops one from evaluating without it).

:class:`BNFreshness` remembers, right after each ``update``, the version counters of every BN's
``running_mean``, ``running_var`` and ``num_batches_tracked``. Any later recomputation bumps one
of them: :func:`~swa_lib.averaging.update_bn` resets the statistics (``zero_``/``fill_``), every
train-mode BN forward increments ``num_batches_tracked``, ``load_state_dict`` copies in place.
So "no counter moved since the update" means "nothing recomputed the statistics" -- checked in
O(number of BN layers), without looking at a single value.

:class:`StaleBNGuard` is the forward pre-hook the averages put on their ``.module``:

* an average with ``n_averaged == 0`` holds the weights it was built with, not an average:
  any forward raises ``RuntimeError``;
* a forward with some BN in eval mode while the statistics are stale warns once per average
  (``UserWarning`` naming ``update_bn``).

The hook holds only a weak reference to its average and acts only on the average's own module:
a ``copy.deepcopy`` of ``swa.module`` (the copy is the user's now) shares the hook object, which
then does nothing; a pickled module gets an inert hook.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["BNFreshness", "StaleBNGuard"]


def tracked_bns(module: nn.Module) -> list[_BatchNorm]:
    """The BatchNorm layers of ``module`` that keep running statistics."""
    return [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


class BNFreshness:
    """Whether ``module``'s BN statistics changed since :meth:`mark_stale` (see module doc)."""

    def __init__(self, module: nn.Module) -> None:
        self.bns = tracked_bns(module)
        self._at_update: tuple[int, ...] | None = None

    def _versions(self) -> tuple[int, ...]:
        out = []
        for bn in self.bns:
            for t in (bn.running_mean, bn.running_var, bn.num_batches_tracked):
                if t is not None:
                    out.append(t._version)
        return tuple(out)

    def mark_stale(self) -> None:
        """Call right after the statistics were copied from a model (an ``update``)."""
        self._at_update = self._versions() if self.bns else None

    def mark_fresh(self) -> None:
        self._at_update = None

    @property
    def stale(self) -> bool:
        """True while nothing has recomputed (reset, train-mode forward, load) the statistics
        since the last :meth:`mark_stale`."""
        if self._at_update is None:
            return False
        if self._versions() != self._at_update:
            self._at_update = None  # recomputed: fresh until the next update
            return False
        return True

    def any_eval(self) -> bool:
        """Whether some BN would use its running statistics (eval mode)."""
        return any(not bn.training for bn in self.bns)


class StaleBNGuard:
    """Forward pre-hook of an average's ``.module`` (see the module docstring)."""

    def __init__(self, average: Any | None) -> None:
        self._ref = weakref.ref(average) if average is not None else None

    def __call__(self, module: nn.Module, args: Any) -> None:
        average = self._ref() if self._ref is not None else None
        if average is None or module is not average.module:
            return None
        name = type(average).__name__
        if average.n_averaged == 0:
            raise RuntimeError(
                f"this {name} has had no update() (n_averaged == 0): its module holds the weights "
                f"it was built with, not an average; call update(model) before evaluating it"
            )
        bn = average._bn
        if not average._warned_stale and bn.bns and bn.any_eval() and bn.stale:
            average._warned_stale = True
            warnings.warn(
                f"evaluating the {name} average in eval mode with BatchNorm statistics copied from "
                f"the last model, not computed for the averaged weights; call "
                f"swa_lib.averaging.update_bn(average.module, train_batches) first (this warning "
                f"is shown once per average)",
                UserWarning,
                stacklevel=4,
            )
        return None

    def __deepcopy__(self, memo: dict[int, Any]) -> StaleBNGuard:
        return self  # a copy of the module is not the average's module: the hook ignores it

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_inert_guard, ())


def _inert_guard() -> StaleBNGuard:
    """What an unpickled guard becomes: a hook that does nothing."""
    return StaleBNGuard(None)
