r"""Averaging a chosen subset of a model's parameters (``TrainConfig.average_only`` / ``_exclude``).

SWA, EMA and SWAG are elementwise: the average of parameter ``p`` depends on the values of ``p``
alone. So the average of a subset ``S`` is the full average with every parameter outside ``S``
replaced, after each update, by the iterate's own value:

.. math:: w^{\mathrm{avg}}_p = \begin{cases} \text{average of } w_p & p \in S \\
          w_p \text{ at the last update} & p \notin S \end{cases}

-- the rule the averages already follow for BatchNorm buffers. For SWAG the parameters outside
``S`` get a point mass at that iterate: mean ``w_p``, variance 0 (SWAG's floor ``var_clamp``)
and zero deviations, so a sample moves only the chosen parameters ("last-layer SWAG" with
``average_only=["fc2.*"]``). Nothing here changes the averaging classes: the subset is applied
to their results with :func:`follow_iterate` and :func:`pin_swag`, and the saved files keep the
full model's layout (``swa.pt`` loads into the model; ``swag.pt`` into ``SWAG(model)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["select_parameters", "follow_iterate", "pin_swag", "swag_fixed_mask"]


def select_parameters(
    model: nn.Module,
    only: Sequence[str] | None,
    exclude: Sequence[str] | None,
    *,
    owner: str = "TrainConfig",
) -> list[str]:
    """Names (``model.named_parameters()`` order) of the parameters to average.

    A name is chosen when it matches a pattern of ``only`` (``None``: every name) and none of
    ``exclude`` (``fnmatch`` patterns, case-sensitive: ``"fc2.*"``, ``"*.bias"``). Raises
    ``ValueError`` naming ``<owner>.average_only`` / ``average_exclude`` when a pattern matches
    no parameter (a typo would otherwise average nothing, or everything) or nothing is left.
    """
    names = [n for n, _ in model.named_parameters()]
    for field, patterns in (("average_only", only), ("average_exclude", exclude)):
        for pat in patterns or ():
            if not any(fnmatchcase(n, pat) for n in names):
                raise ValueError(
                    f"{owner}.{field}={list(patterns)!r} is invalid: {pat!r} "
                    f"matches no parameter; the model's are {names}"
                )
    chosen = [
        n
        for n in names
        if (only is None or any(fnmatchcase(n, p) for p in only))
        and not any(fnmatchcase(n, p) for p in exclude or ())
    ]
    if not chosen:
        raise ValueError(
            f"{owner}.average_only={only!r} with average_exclude={exclude!r} is "
            f"invalid: it leaves no parameter to average; the model's are {names}"
        )
    return chosen


@torch.no_grad()
def follow_iterate(average_module: nn.Module, model: nn.Module, fixed: Sequence[str]) -> None:
    """Copy the parameters named ``fixed`` from ``model`` into ``average_module`` (the module of
    an :class:`~swa_lib.averaging.SWA` / :class:`~swa_lib.averaging.EMA`), after an update.
    ``model`` may be wrapped (DDP, compile): its bare module's names are used."""
    if not fixed:
        return
    from ..averaging.wrappers import unwrap_model

    src = dict(unwrap_model(model).named_parameters())
    dst = dict(average_module.named_parameters())
    for name in fixed:
        dst[name].copy_(src[name])


def swag_fixed_mask(model: nn.Module, chosen: Sequence[str]) -> Tensor | None:
    """Boolean ``(P,)`` mask, ``parameters_to_vector`` order, of the entries *not* averaged
    (``None`` when every parameter is chosen)."""
    keep = set(chosen)
    parts = [
        torch.full((p.numel(),), name not in keep, dtype=torch.bool)
        for name, p in model.named_parameters()
    ]
    mask = torch.cat(parts)
    return mask if bool(mask.any()) else None


@torch.no_grad()
def pin_swag(swag: Any, model: nn.Module, fixed_mask: Tensor | None) -> None:
    """After ``swag.update(model)``: make the posterior a point mass at ``model``'s values on the
    entries of ``fixed_mask`` (mean = the iterate, second moment and deviations 0), through
    :meth:`SWAG.state_dict` / :meth:`SWAG.load_state_dict`. The chosen entries are untouched:
    Welford's update and the deviations are elementwise, so they are exactly those of a SWAG
    collected over the chosen parameters alone."""
    if fixed_mask is None:
        return
    state = swag.state_dict()
    mask = fixed_mask.to(state["mean"].device)
    w = nn.utils.parameters_to_vector(p.detach() for p in model.parameters())
    state["mean"][mask] = w.to(state["mean"])[mask]
    state["m2"][mask] = 0.0
    state["deviations"][:, mask] = 0.0
    swag.load_state_dict(state)
