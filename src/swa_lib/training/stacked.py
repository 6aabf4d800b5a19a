r"""K models of one architecture as one module: stacked weights, batched matmuls, grouped convs.

:func:`stacked_model` turns a member model (``models.MLP`` or ``models.CNN1d``) into a module
that holds the weights of ``K`` such models and runs all of them in one forward pass;
:func:`stack_state` / :func:`unstack_state` move state between the members and the stack.
:func:`swa_lib.training.run_many` trains seeds together with it.

**Layout.** Every tensor of the stack is the concatenation along dim 0 of the members' tensors,
so the stack has exactly the member's state-dict keys, and member ``k`` owns rows
``k*n .. (k+1)*n - 1`` of each (``n`` = the member tensor's first size):

* ``Linear(in, out)``: weight ``(K*out, in)``, bias ``(K*out,)``, read as ``(K, out, in)`` for
  ``torch.baddbmm`` over inputs ``(K, B, in)``: member ``k``'s output is
  :math:`x_k W_k^\top + b_k`;
* ``Conv1d(c, w, ...)``: weight ``(K*w, c, k)`` -- exactly the weight of a convolution of
  ``K*c`` to ``K*w`` channels with ``groups=K``, whose group ``k`` sees input channels
  ``k*c .. (k+1)*c - 1``, i.e. member ``k``'s batch. It runs as a 2-D grouped convolution over
  ``(B, K*c, 1, L)`` in channels-last memory (:class:`StackedConv1d`): on a 1-thread CPU that
  is 1.3x (width 32) to 2.7x (width 16) faster than ``K`` plain ``conv1d`` calls for forward
  + backward, where a channels-first grouped ``conv1d`` is no faster than them;
* ``BatchNorm1d(w)``: every buffer and parameter ``(K*w,)``: one ``BatchNorm2d(K*w)`` (the
  same keys and shapes), whose statistics are taken per channel over ``(B, 1, L)`` -- member
  ``k``'s channels over member ``k``'s batch, so the running statistics (and
  :func:`~swa_lib.averaging.update_bn`, which sees a real BatchNorm) are the member's own;
* 0-dim tensors (``num_batches_tracked``, an optimiser's step count) are shared: members
  trained on one schedule have equal counts.

Optimiser states and averages (:class:`~swa_lib.averaging.SWA`, ``EMA``) stack the same way,
tensor by tensor (SGD, Adam, SWA's ``lerp`` and EMA are elementwise, so a stacked update is
each member's update). Inputs: :meth:`stack_inputs` puts the members' batches in the layout of
the stack (``(K, B, F)`` for the MLP, channels-last ``(B, K*c, 1, L)`` for the CNN),
:meth:`repeat_input` gives every member the same batch (evaluation, BN recomputation); outputs
are ``(K, B, C)``.
Measured against ``torch.func.vmap`` over ``functional_call`` in ``benchmarks/bench_batched.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models import MLP, CNN1d

__all__ = [
    "StackedLinear",
    "StackedConv1d",
    "StackedMLP",
    "StackedCNN1d",
    "stacked_model",
    "stack_state",
    "unstack_state",
    "STACKABLE_MODELS",
]

#: Model names whose classes :func:`stacked_model` can stack.
STACKABLE_MODELS = ("mlp", "cnn1d")


class StackedLinear(nn.Module):
    """``K`` ``Linear(in_features, out_features)`` layers: input ``(K, B, in)``, output
    ``(K, B, out)``; weight ``(K*out, in)`` and bias ``(K*out,)`` (the members' concatenated)."""

    def __init__(self, k: int, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.k, self.in_features, self.out_features = k, in_features, out_features
        self.weight = nn.Parameter(torch.empty(k * out_features, in_features))
        self.bias = nn.Parameter(torch.empty(k * out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.view(self.k, self.out_features, self.in_features).transpose(1, 2)
        if self.bias is None:
            return torch.bmm(x, w)
        return torch.baddbmm(self.bias.view(self.k, 1, self.out_features), x, w)


class StackedConv1d(nn.Module):
    """``K`` ``Conv1d(c, w, kernel, stride, padding, dilation)`` layers as one grouped 2-D
    convolution: input and output ``(B, K*c, 1, L)`` / ``(B, K*w, 1, L')`` (channels-last
    memory); weight ``(K*w, c, kernel)`` and bias ``(K*w,)``, the members' concatenated (a
    ``Conv1d``'s keys and shapes)."""

    def __init__(self, k: int, member: nn.Conv1d) -> None:
        super().__init__()
        if (
            member.groups != 1
            or not isinstance(member.padding, tuple)
            or member.padding_mode != "zeros"
        ):
            raise ValueError("cannot stack a grouped, string-padded or non-zero-padded Conv1d")
        self.k = k
        self.stride, self.padding = (1, member.stride[0]), (0, member.padding[0])
        self.dilation = (1, member.dilation[0])
        self.weight = nn.Parameter(
            torch.empty(k * member.out_channels, member.in_channels, member.kernel_size[0])
        )
        self.bias = (
            nn.Parameter(torch.empty(k * member.out_channels)) if member.bias is not None else None
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(
            x,
            self.weight.unsqueeze(2),
            self.bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.k,
        )


class StackedMLP(nn.Module):
    """``K`` :class:`~swa_lib.models.MLP` of one shape; input ``(K, B, ...)`` (flattened per
    sample), output ``(K, B, C)``. Keys and parameter order are the MLP's."""

    def __init__(self, member: MLP, k: int) -> None:
        super().__init__()
        self.k = k
        layers: list[nn.Module] = []
        for layer in member.net:
            if isinstance(layer, nn.Linear):
                layers.append(
                    StackedLinear(
                        k, layer.in_features, layer.out_features, bias=layer.bias is not None
                    )
                )
            elif isinstance(layer, nn.ReLU):
                layers.append(nn.ReLU(inplace=layer.inplace))
            else:
                raise ValueError(f"cannot stack an MLP layer {type(layer).__name__}")
        self.net = nn.Sequential(*layers)

    def stack_inputs(self, xs: Sequence[Tensor]) -> Tensor:
        """The members' batches ``(B, ...)`` as ``(K, B, ...)``."""
        return torch.stack(list(xs))

    def repeat_input(self, x: Tensor) -> Tensor:
        """One batch ``(B, ...)`` for every member: an expanded view ``(K, B, ...)``."""
        return x.unsqueeze(0).expand(self.k, *x.shape)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(2))


class StackedCNN1d(nn.Module):
    """``K`` :class:`~swa_lib.models.CNN1d` of one shape as grouped convolutions; input
    ``(B, K*c, 1, L)`` in channels-last memory (:meth:`stack_inputs`), output ``(K, B, C)``.
    Keys and shapes are the CNN's."""

    def __init__(self, member: CNN1d, k: int) -> None:
        super().__init__()
        self.k = k
        self.in_channels = member.features[0].in_channels
        layers: list[nn.Module] = []
        for layer in member.features:
            if isinstance(layer, nn.Conv1d):
                layers.append(StackedConv1d(k, layer))
            elif isinstance(layer, nn.BatchNorm1d):
                layers.append(
                    nn.BatchNorm2d(
                        k * layer.num_features,
                        eps=layer.eps,
                        momentum=layer.momentum,
                        affine=layer.affine,
                        track_running_stats=layer.track_running_stats,
                    )
                )
            elif isinstance(layer, nn.ReLU):
                layers.append(nn.ReLU(inplace=layer.inplace))
            else:
                raise ValueError(f"cannot stack a CNN1d layer {type(layer).__name__}")
        self.features = nn.Sequential(*layers)
        head = member.classifier
        self.classifier = StackedLinear(
            k, head.in_features, head.out_features, bias=head.bias is not None
        )

    @staticmethod
    def _last(x: Tensor) -> Tensor:
        """``(B, L)`` or ``(B, c, L)`` -> ``(B, L, c)`` (a view)."""
        return x.unsqueeze(2) if x.dim() == 2 else x.transpose(1, 2)

    def stack_inputs(self, xs: Sequence[Tensor]) -> Tensor:
        """The members' batches ``(B, L)`` or ``(B, c, L)`` as ``(B, K*c, 1, L)`` in
        channels-last memory: member ``k``'s channels are ``k*c .. (k+1)*c - 1``, the input
        channels of group ``k``."""
        x = torch.stack([self._last(x) for x in xs], dim=2)  # (B, L, K, c), contiguous
        b, length = x.shape[:2]
        return x.view(b, 1, length, -1).permute(0, 3, 1, 2)

    def repeat_input(self, x: Tensor) -> Tensor:
        """One batch for every member: ``(B, K*c, 1, L)``, the channels tiled ``K`` times."""
        x = self._last(x)
        b, length = x.shape[:2]
        x = x.unsqueeze(2).expand(b, length, self.k, x.shape[2]).reshape(b, 1, length, -1)
        return x.permute(0, 3, 1, 2)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)  # (B, K*w, 1, L), channels-last
        b, length = h.shape[0], h.shape[3]
        # (B, L, K, w) -> (K, B, w, L) -> (K, B, w*L): each member's flatten order
        h = h.permute(0, 2, 3, 1).reshape(b, length, self.k, -1).permute(2, 0, 3, 1)
        return self.classifier(h.reshape(self.k, b, -1))


def stacked_model(member: nn.Module, k: int) -> StackedMLP | StackedCNN1d:
    """The stack of ``k`` models shaped like ``member`` (an ``MLP`` or a ``CNN1d``), on
    ``member``'s device and dtype; its values are set with ``load_state_dict(stack_state(...))``.
    ``ValueError`` for any other model."""
    if type(member) is MLP:
        stacked: StackedMLP | StackedCNN1d = StackedMLP(member, k)
    elif type(member) is CNN1d:
        stacked = StackedCNN1d(member, k)
    else:
        raise ValueError(f"cannot stack a {type(member).__name__} (stackable: MLP, CNN1d)")
    mine, theirs = stacked.state_dict(), member.state_dict()
    if list(mine) != list(theirs) or [n for n, _ in stacked.named_parameters()] != [
        n for n, _ in member.named_parameters()
    ]:
        raise ValueError(f"the stack of {type(member).__name__} does not have its keys")
    first = next(iter(theirs.values()))
    return stacked.to(device=first.device, dtype=first.dtype)


def stack_state(states: Sequence[Any]) -> Any:
    """One state from the members' ``states`` (state dicts of models, optimisers or averages,
    all of one structure): tensors with a dim are concatenated along dim 0, 0-dim tensors and
    plain values are member 0's (equal in members trained on one schedule), mappings are
    stacked key by key."""
    first = states[0]
    if isinstance(first, Tensor):
        return torch.cat(list(states)) if first.dim() else first.clone()
    if isinstance(first, Mapping):
        return {key: stack_state([s[key] for s in states]) for key in first}
    return first


def unstack_state(state: Any, index: int, k: int) -> Any:
    """Member ``index``'s part (of ``k``) of a state made by :func:`stack_state`: rows
    ``index*n .. (index+1)*n - 1`` of each tensor with a dim, copied (so the member's state
    never aliases the stack)."""
    if isinstance(state, Tensor):
        return state.unflatten(0, (k, -1))[index].clone() if state.dim() else state.clone()
    if isinstance(state, Mapping):
        return {key: unstack_state(value, index, k) for key, value in state.items()}
    if isinstance(state, list):
        return [unstack_state(v, index, k) for v in state]
    return state
