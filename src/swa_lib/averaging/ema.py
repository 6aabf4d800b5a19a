r"""Exponential moving average of the weights, with timm's warm-up, sparse updates and a start.

:class:`EMA` keeps ``w_ema <- d * w_ema + (1 - d) * w``. Three options that the reference
implementations offer one or two of (timm ``timm/utils/model_ema.py`` ``ModelEmaV3``: warm-up
and ``update_after_step``; ``ema-pytorch``: ``update_every``, without adjusting the decay;
``torch.optim.swa_utils.get_ema_multi_avg_fn``: none):

* **warm-up** (``warmup=True``), ``ModelEmaV3``'s formula: at step ``t`` (the ``t``-th call of
  ``update``) with ``s = t - start_step - 1``,

  .. math:: d_t = \max\bigl(\mathrm{min\_decay},\ \min\bigl(\mathrm{decay},\
            1 - (1 + s/\gamma)^{-p}\bigr)\bigr),

  ``gamma = warmup_gamma``, ``p = warmup_power``; early averages forget the random start fast.
  With ``gamma = 1, p = 1`` it is the running mean (``d_t = s/(s+1)``).
* **update_every = k**: only every ``k``-th call averages, with the decay raised to ``k``,
  ``w_ema <- d_t^k w_ema + (1 - d_t^k) w``: the same time constant in steps as updating every
  step, at ``1/k`` of the cost. Exact when the model is the same over the ``k`` steps; in
  general it replaces the last ``k - 1`` models by the current one.
* **start_step**: up to call ``start_step + 1`` the EMA is a copy of the model (``d = 0``,
  timm's ``update_after_step``).

The step counter is in :meth:`state_dict`, so an EMA restored from a checkpoint continues with
exactly the decays it would have used.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .average import ModuleSource, _Averager

__all__ = ["EMA"]


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


class EMA(_Averager):
    r"""Exponential moving average of the weights: ``w_ema <- d * w_ema + (1 - d) * w``.

    The first averaging update copies the model (so the average starts at a real model, not at
    the weights seen at construction). Same interface as :class:`SWA` (``update(model)``,
    ``n_averaged`` -- the number of updates that changed the average -- ``module``,
    ``state_dict``); see the module docstring for the decay schedule.

    Args:
        model: the model to follow (deep-copied into ``.module``; wrappers removed).
        decay: in ``[0, 1)``; the weight kept by the old average at each update (the cap of the
            warm-up).
        warmup: use timm ``ModelEmaV3``'s warm-up ``1 - (1 + s/warmup_gamma)^-warmup_power``.
        warmup_gamma, warmup_power: its ``gamma > 0`` and ``power > 0`` (timm's defaults 1 and
            2/3 reach 0.999 after ~31.6k steps; power 3/4 after 10k).
        min_decay: floor of the warm-up decay, in ``[0, decay]``.
        update_every: average on every ``k``-th call only, with ``d^k``.
        start_step: calls up to ``start_step + 1`` copy the model.
        module, use_buffers, device, dtype: as for :class:`SWA` (a bf16 model's EMA is float32).

    Example::

        ema = EMA(model, decay=0.9999, warmup=True, update_every=4)
        for step, batch in enumerate(loader):
            train_step(model, batch)
            ema.update(model)                  # every call; averages every 4th
        torch.save(ema.state_dict(), "ema.pt") # step counter included
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        decay: float = 0.999,
        *,
        warmup: bool = False,
        warmup_gamma: float = 1.0,
        warmup_power: float = 2 / 3,
        min_decay: float = 0.0,
        update_every: int = 1,
        start_step: int = 0,
        module: ModuleSource | None = None,
        use_buffers: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        if not 0.0 <= float(min_decay) <= float(decay):
            raise ValueError(f"min_decay must be in [0, decay={decay}], got {min_decay!r}")
        for name, value in (("warmup_gamma", warmup_gamma), ("warmup_power", warmup_power)):
            if not float(value) > 0.0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.warmup_gamma = float(warmup_gamma)
        self.warmup_power = float(warmup_power)
        self.min_decay = float(min_decay)
        self.update_every = _check_int("update_every", update_every, 1)
        self.start_step = _check_int("start_step", start_step, 0)
        self.step: int = 0
        super().__init__(model, module=module, use_buffers=use_buffers, device=device, dtype=dtype)

    def decay_at(self, step: int) -> float:
        """The decay ``d`` used at call number ``step`` (1-based), before ``update_every``'s
        power: 0 up to ``start_step + 1`` (a copy), then ``decay`` or the warm-up value."""
        s = step - self.start_step - 1
        if s <= 0:
            return 0.0
        if not self.warmup:
            return self.decay
        d = 1.0 - (1.0 + s / self.warmup_gamma) ** -self.warmup_power
        return max(min(d, self.decay), self.min_decay)

    def update(self, model: nn.Module) -> None:
        """Count a step; on every ``update_every``-th, fold ``model`` in with weight
        ``1 - decay_at(step) ** update_every`` (a copy at the first fold or when the decay
        is 0)."""
        self.step += 1
        if self.step % self.update_every:
            return
        d = self.decay_at(self.step)
        if self.n_averaged == 0 or d == 0.0:
            self._fold(model, None)
        else:
            self._fold(model, 1.0 - d**self.update_every)

    # -- checkpoints ----------------------------------------------------------------------------
    def _config(self) -> dict[str, float | int | bool]:
        return {
            "decay": self.decay,
            "warmup": self.warmup,
            "warmup_gamma": self.warmup_gamma,
            "warmup_power": self.warmup_power,
            "min_decay": self.min_decay,
            "update_every": self.update_every,
            "start_step": self.start_step,
        }

    def state_dict(self) -> dict[str, Any]:
        """:class:`SWA`'s state plus ``"step"`` (calls of :meth:`update`) and ``"config"`` (the
        decay schedule, checked on load). ``weights_only=True``-loadable."""
        state = super().state_dict()
        state["step"] = int(self.step)
        state["config"] = self._config()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore, step counter included (a dict without ``"step"``, saved before it existed,
        counts one step per average). A ``"config"`` that differs from this EMA's schedule is a
        ``ValueError`` naming the field: a resumed EMA must continue with the same decays."""
        saved = state.get("config") if isinstance(state, dict) else None
        if saved is not None:
            mine = self._config()
            for key, value in saved.items():
                if key in mine and mine[key] != value:
                    raise ValueError(
                        f"EMA state was saved with {key}={value!r} but this EMA has "
                        f"{key}={mine[key]!r}; build the EMA with the saved schedule"
                    )
        super().load_state_dict(state)
        self.step = int(state.get("step", self.n_averaged))


EMA.__module__ = "swa_lib.averaging"
